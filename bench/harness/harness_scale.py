#!/usr/bin/env python3
"""The harness's own cost: wall time and peak host memory of one `gdr check` per case, against
the batch B and the bank's size N, at Qwen3-Next's heads (H = 16, HV = 32, K = V = 128, bf16
inputs). Each case runs in its own process, so the peak memory is that case's.

  bench/harness/harness_scale.py --gdr build/default/tools/gdr/gdr --subject cpu-emulated-reversed \
      --grid quick --csv bench/results/harness-cpu.csv

--grid quick: the issue's cases (B = 64, N = 640 f32; B = 64 T = 4 circular; B = 512 N = 600 bf16)
and B in 1, 8, 64, 256; --grid gpu-host adds B = 1024 with N = 2048 and B = 256 T = 4 circular.
The per-stage seconds come from the report's stages (gdr check --json)."""
import argparse, csv, json, os, subprocess, sys, tempfile, time

HEADS = "H=16 HV=32 K=128 V=128 in=bf16"

def grid(name):
    cases = []
    for b in (1, 8, 64, 256):
        cases.append(f"B={b} T=1 {HEADS} state=f32 N={b}")
    cases += [
        f"B=64 T=1 {HEADS} state=f32 N=640 indices=permutation",
        f"B=64 T=4 {HEADS} state=f32 slots=4 circular=1 seqlen_max=64",
        f"B=512 T=1 {HEADS} state=bf16 N=600 indices=permutation",
    ]
    if name == "gpu-host":
        cases += [f"B=1024 T=1 {HEADS} state=bf16 N=2048 indices=permutation",
                  f"B=256 T=4 {HEADS} state=bf16 slots=4 circular=1 seqlen_max=64"]
    return cases

def run(gdr, subject, case, extra):
    with tempfile.TemporaryDirectory() as tmp:
        report_file = os.path.join(tmp, "report.json")
        start = time.monotonic()
        done = subprocess.run([gdr, "check", "--subject", subject, "--case", case + " seed=1", "--json", report_file, *extra],
                              capture_output=True, text=True)
        wall = time.monotonic() - start
        if not os.path.exists(report_file):
            return {"case": case, "outcome": f"exit {done.returncode}: {done.stderr.strip()[:200]}", "wall_s": wall}
        report = json.load(open(report_file))["cases"][0]
    stages = {s["stage"]: s["seconds"] for s in report["stages"]}
    peak = max((s["peak_rss_bytes"] for s in report["stages"]), default=0)
    subject_s = stages.get("subject run", 0.0) + stages.get("determinism", 0.0)  # the subject's two runs (and the compare)
    return {"case": case, "outcome": report["outcome"], "wall_s": round(wall, 3), "peak_gb": round(peak / 1e9, 3),
            "generation_s": round(stages.get("generation", 0.0), 3),
            "oracle_s": round(sum(v for k, v in stages.items() if k.startswith("R64") or k == "Rlp"), 3),
            "subject_and_determinism_s": round(subject_s, 3),
            "checks_s": round(sum(v for k, v in stages.items()
                                  if k not in ("generation", "Rlp", "subject run", "determinism", "subject buffers")
                                  and not k.startswith("R64")), 3)}

def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gdr", required=True)
    parser.add_argument("--subject", default="cpu-emulated-reversed")
    parser.add_argument("--grid", choices=["quick", "gpu-host"], default="quick")
    parser.add_argument("--csv", help="write the rows here")
    parser.add_argument("extra", nargs="*", help="more gdr check options, after --")
    args = parser.parse_args()
    rows = []
    for case in grid(args.grid):
        row = run(args.gdr, args.subject, case, args.extra)
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.csv:
        fields = ["case", "outcome", "wall_s", "peak_gb", "generation_s", "oracle_s", "subject_and_determinism_s", "checks_s"]
        with open(args.csv, "w", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=fields)
            writer.writeheader()
            for row in rows:
                writer.writerow({k: row.get(k, "") for k in fields})
    return 0 if all(r["outcome"] == "PASSED" for r in rows) else 1

if __name__ == "__main__":
    sys.exit(main())
