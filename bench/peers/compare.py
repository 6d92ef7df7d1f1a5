#!/usr/bin/env python3
"""compare: issue 13's targets read off decode CSVs of one call, as a markdown table.

For each (shape, layout, state dtype, T, B) of ours (bench_decode's CSV): each kernel's
fraction of its copy ceiling and time per call (the faster of plain and graph), and, for
each peer whose bytes per call equal ours (the same work: lmdeploy always, fla only where
it moves the same bytes), the peer's time over ours (> 1: ours is faster). The last
columns say whether ours meets the targets:
- fraction >= 0.90 at B >= 64 (>= 0.92 for VK bf16, T = 1, B >= 256);
- B = 1, T = 1, f32 state: <= 3.0 us;
- never slower than a peer at equal work (by more than NOISE).

    python3 bench/peers/compare.py ours.csv fla.csv lmdeploy.csv > table.md
Compare only CSVs written in one call (one card, one copy ceiling each).
"""

from __future__ import annotations

import argparse
import sys

from plot import per_call_us, read_rows, shape_of

FRACTION_TARGET, VK_BF16_TARGET, B1_TARGET_US = 0.90, 0.92, 3.0
NOISE = 0.02  # repeats of one version in one call differ by up to ~2 % (bench/NOTES.md): closer is a tie


def target_verdict(key, ours) -> str:
    _, layout, state, T, B = key
    if B >= 64:
        want = VK_BF16_TARGET if (layout, state, T) == ("vk", "bf16", 1) and B >= 256 else FRACTION_TARGET
        return f"{'met' if float(ours['fraction_of_copy']) >= want else 'MISSED'} (>= {want:.2f})"
    if B == 1 and T == 1 and state == "f32":
        return f"{'met' if per_call_us(ours) <= B1_TARGET_US else 'MISSED'} (<= {B1_TARGET_US} us)"
    return "-"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("csv", nargs="+", help="bench_decode's CSV (ours) and the peers' CSVs of the same call")
    a = parser.parse_args(argv)
    rows = read_rows(a.csv)
    by_key = {}
    for r in rows:
        key = (shape_of(r), r["layout"], r["state_dtype"], int(r["T"]), int(r["B"]))
        by_key.setdefault(key, {})[r["kernel"]] = r
    peers = sorted({r["kernel"] for r in rows} - {"ours"})
    if not any("ours" in kernels for kernels in by_key.values()):
        print("compare: no rows of ours (bench_decode's CSV) among the files", file=sys.stderr)
        return 2
    header = ["shape", "layout", "state", "T", "B", "ours"] + peers + [f"{p} / ours time" for p in peers]
    print("| " + " | ".join(header + ["target", "slower than a peer"]) + " |")
    print("|" + "---|" * (len(header) + 2))
    for key in sorted(by_key):
        kernels = by_key[key]
        ours = kernels.get("ours")
        if ours is None:
            continue
        cells = [str(x) for x in key]
        for name in ["ours"] + peers:
            r = kernels.get(name)
            cells.append(f"{float(r['fraction_of_copy']):.3f} ({per_call_us(r):.1f} us)" if r else "-")
        slower = []
        for name in peers:
            r = kernels.get(name)
            if r is None or int(r["bytes"]) != int(ours["bytes"]):
                cells.append("-")  # not run, or not the same work
                continue
            ratio = per_call_us(r) / per_call_us(ours)
            cells.append(f"{ratio:.2f}")
            if ratio < 1.0 - NOISE:
                slower.append(name)
        print("| " + " | ".join(cells + [target_verdict(key, ours), ", ".join(slower) or "no"]) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
