#!/usr/bin/env python3
"""The harness's overhead per case in a fuzz campaign, by case size: from the progress records
of a campaign.jsonl (each case: [number, outcome, coverage mask, wall ms, the subject's ms]),
the overhead is wall - subject (generation, the oracle, the checks, the bookkeeping). A case's
size is its number mod 101 (the generator's size, 0..100; campaign.hpp), so the small cases
of the default distribution are the low sizes.

  bench/harness/campaign_overhead.py fuzz-out/campaign.jsonl [--csv FILE]"""
import argparse, csv, json, statistics, sys

BUCKETS = [(0, 10), (0, 25), (26, 50), (51, 75), (76, 100), (0, 100)]

def quantile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]

def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("jsonl")
    parser.add_argument("--csv", help="write the table here too")
    args = parser.parse_args()
    cases = []
    with open(args.jsonl) as records:
        for line in records:
            record = json.loads(line)
            if record.get("record") == "progress":
                cases += [c for c in record["cases"] if len(c) >= 5]
    if not cases:
        print(f"{args.jsonl}: no case carries its timing (records before per-case times)", file=sys.stderr)
        return 2
    rows = []
    for low, high in BUCKETS:
        chosen = [c for c in cases if low <= c[0] % 101 <= high]
        if not chosen:
            continue
        overhead = [c[3] - c[4] for c in chosen]
        rows.append({"sizes": f"{low}-{high}", "cases": len(chosen),
                     "overhead_median_ms": round(statistics.median(overhead), 2),
                     "overhead_p90_ms": round(quantile(overhead, 0.9), 2),
                     "subject_median_ms": round(statistics.median(c[4] for c in chosen), 2)})
    for row in rows:
        print(f"sizes {row['sizes']:>7}: {row['cases']:6} cases, overhead median {row['overhead_median_ms']:8.2f} ms, "
              f"p90 {row['overhead_p90_ms']:8.2f} ms; subject median {row['subject_median_ms']:7.2f} ms")
    if args.csv:
        with open(args.csv, "w", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return 0

if __name__ == "__main__":
    sys.exit(main())
