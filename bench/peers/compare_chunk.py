#!/usr/bin/env python3
"""compare_chunk: issue 14's prefill targets read off bench_chunked's and fla_chunk.py's CSVs.

One markdown row per case of ours (layout, state dtype, N sequences x L tokens): each
kernel's ms per call and Mtok/s, fla's time over ours (> 1: ours is faster), and whether
ours meets the targets:
- at least 3x fla's speed at every case (fla time / ours time >= 3);
- at least 77 Mtok/s at 4x8192 and 32x8192.

    python3 bench/peers/compare_chunk.py ours.csv fla.csv > table.md
Compare only CSVs written in one call (one card).
"""

from __future__ import annotations

import argparse
import sys

from plot import read_rows

SPEEDUP_TARGET = 3.0
MTOK_TARGET = 77.0
MTOK_TARGET_CASES = {(4, 8192), (32, 8192)}  # (N, L)


def verdict(met: bool, target: str) -> str:
    return f"{'met' if met else 'MISSED'} ({target})"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("csv", nargs="+", help="bench_chunked's CSV (ours) and fla_chunk.py's, of the same call")
    a = parser.parse_args(argv)
    by_case = {}
    for r in read_rows(a.csv):
        key = (r["layout"], r["state_dtype"], int(r["N"]), int(r["L"]))
        by_case.setdefault(key, {})[r["kernel"]] = r
    if not any("ours" in kernels for kernels in by_case.values()):
        print("compare_chunk: no rows of ours (bench_chunked's CSV) among the files", file=sys.stderr)
        return 2
    print("| layout | state | N x L | tokens | ours ms | ours Mtok/s | fla ms | fla Mtok/s | fla / ours time "
          "| >= 3x fla | >= 77 Mtok/s |")
    print("|" + "---|" * 11)
    missed = 0
    for key in sorted(by_case):
        kernels = by_case[key]
        ours, fla = kernels.get("ours"), kernels.get("fla")
        if ours is None:
            continue
        layout, state, n, length = key
        ours_ms = float(ours["ms_per_call"])
        cells = [layout, state, f"{n}x{length}", ours["tokens"], f"{ours_ms:.3f}", f"{float(ours['mtok_per_s']):.1f}"]
        if fla:
            ratio = float(fla["ms_per_call"]) / ours_ms
            speed = verdict(ratio >= SPEEDUP_TARGET, f"{ratio:.2f}x")
            missed += ratio < SPEEDUP_TARGET
            cells += [f"{float(fla['ms_per_call']):.3f}", f"{float(fla['mtok_per_s']):.1f}", f"{ratio:.2f}", speed]
        else:
            cells += ["-", "-", "-", "no fla row"]
        if (n, length) in MTOK_TARGET_CASES:
            mtok = float(ours["mtok_per_s"])
            cells.append(verdict(mtok >= MTOK_TARGET, f"{mtok:.1f}"))
            missed += mtok < MTOK_TARGET
        else:
            cells.append("-")
        print("| " + " | ".join(cells) + " |")
    print(f"\n{missed} target(s) MISSED" if missed else "\nevery target met where measured")
    return 0


if __name__ == "__main__":
    sys.exit(main())
