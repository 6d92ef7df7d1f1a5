#!/usr/bin/env python3
"""plot: any number of decode CSVs side by side, as one PNG.

The CSVs are bench_decode's (ours) and the peers' (fla_decode.py, lmdeploy_decode.py, ...).
One panel per (layout, state dtype); x: B (log2); y: fraction of the copy ceiling (each
CSV's own, measured in its own run) or, with --metric us, the per-call time (the faster
of plain and graph, log y). T = 1 solid, T = 4 dashed (other T with --tokens); kernel by
colour (ours blue, fla red, lmdeploy green, others after); one shape per figure (--shape).
A CSV without a `kernel` column is bench_decode's and is labelled "ours". Where one kernel
comes from more than one CSV (two runs), each file is its own series, named after it.

Note: the kernels' bytes differ for T > 1. Ours and lmdeploy's are circular (Slots = T:
T state writes per call, in place); fla writes one fp32 final state. The fraction is each
kernel's own bytes over its own time, so it compares how close each gets to the copy
ceiling, not speed; --metric us compares time.

    python3 bench/peers/plot.py ours.csv fla.csv lmdeploy.csv -o decode.png [--shape qwen3next]
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import sys
from collections import defaultdict

LINESTYLES = {1: "-", 2: ":", 4: "--", 8: "-."}
KERNEL_COLOURS = {"ours": "tab:blue", "fla": "tab:red", "lmdeploy": "tab:green"}  # the same in every plot
OTHER_COLOURS = ["tab:purple", "tab:orange", "tab:brown", "tab:pink", "tab:olive", "tab:cyan", "tab:grey"]


def read_rows(paths):
    rows = []
    for path in paths:
        with open(path, newline="") as f:
            for r in csv.DictReader(f):
                r.setdefault("kernel", None)
                if not r["kernel"]:
                    r["kernel"] = "ours"
                r["_file"] = path
                rows.append(r)
    # One series per kernel; a kernel found in several files gets one series per file.
    files_of = defaultdict(set)
    for r in rows:
        files_of[r["kernel"]].add(r["_file"])
    for r in rows:
        several = len(files_of[r["kernel"]]) > 1
        r["_series"] = f"{r['kernel']} ({os.path.basename(r['_file'])})" if several else r["kernel"]
    return rows


def series_colours(names):
    """Known kernels keep their colour; the rest take the others in order."""
    colours, others = {}, iter(OTHER_COLOURS * (len(names) // len(OTHER_COLOURS) + 1))
    for name in names:
        kernel = name.split(" (")[0]
        colours[name] = KERNEL_COLOURS.get(kernel) if kernel == name else None
        colours[name] = colours[name] or next(others)
    return colours


def shape_of(r):
    return {("16", "32"): "qwen3next", ("4", "8"): "tp"}.get((r["H"], r["HV"]), f"H{r['H']}-HV{r['HV']}")


def per_call_us(r):
    times = [float(r["us_per_call"])]
    if r.get("us_per_call_graph"):
        times.append(float(r["us_per_call_graph"]))
    return min(times)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="plot decode CSVs (bench_decode, fla_decode.py, lmdeploy_decode.py, "
                                            "...) side by side")
    p.add_argument("csv", nargs="+", help="CSV files (bench_decode --csv, fla_decode.py --csv, "
                                          "lmdeploy_decode.py --csv, any number)")
    p.add_argument("-o", "--out", default="decode.png", help="PNG to write")
    p.add_argument("--shape", default="qwen3next", help="qwen3next or tp (by H and HV)")
    p.add_argument("--tokens", default="1,4", help="T values to draw (default 1,4)")
    p.add_argument("--allow-empty", action="store_true",
                   help="no rows for the shape is not an error (side-by-side draws every shape it may have run)")
    p.add_argument("--metric", choices=["fraction", "us"], default="fraction",
                   help="fraction of copy ceiling (default) or us per call")
    a = p.parse_args(argv)

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tokens = [int(t) for t in a.tokens.split(",") if t]
    rows = [r for r in read_rows(a.csv) if shape_of(r) == a.shape and int(r["T"]) in tokens]
    if not rows:
        print(f"plot: no rows for shape {a.shape} and T in {tokens}", file=sys.stderr)
        return 0 if a.allow_empty else 1
    panels = sorted({(r["layout"], r["state_dtype"]) for r in rows},
                    key=lambda k: (k[0], ["f32", "bf16", "f16"].index(k[1]) if k[1] in ("f32", "bf16", "f16") else 9))
    kernels = sorted({r["_series"] for r in rows}, key=lambda k: (not k.startswith("ours"), k))
    colour = series_colours(kernels)

    ncols = min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, 4.0 * nrows), squeeze=False, sharey=a.metric == "fraction")
    series = defaultdict(list)  # (panel, kernel, T) -> [(B, y)]
    for r in rows:
        y = float(r["fraction_of_copy"]) if a.metric == "fraction" else per_call_us(r)
        series[((r["layout"], r["state_dtype"]), r["_series"], int(r["T"]))].append((int(r["B"]), y))

    gpus = sorted({r["gpu"] for r in rows})
    copies = sorted({f"{r['_series']} {float(r['copy_tbps']):.2f}" for r in rows})
    for idx, panel in enumerate(panels):
        ax = axes[idx // ncols][idx % ncols]
        for k in kernels:
            for t in tokens:
                pts = sorted(series.get((panel, k, t), []))
                if not pts:
                    continue
                ax.plot([b for b, _ in pts], [y for _, y in pts], LINESTYLES.get(t, "-"), marker="o", markersize=3,
                        color=colour[k], label=f"{k} T={t}")
        ax.set_xscale("log", base=2)
        if a.metric == "fraction":
            ax.set_ylim(0, 1.05)
            ax.axhline(1.0, color="grey", linewidth=0.6)
            ax.set_ylabel("fraction of copy ceiling")
        else:
            ax.set_yscale("log")
            ax.set_ylabel("us per call (min of plain, graph)")
        ax.set_xlabel("B (rows)")
        ax.set_title(f"{a.shape}: state {panel[0].upper()} {panel[1]}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, handlelength=3)
    for idx in range(len(panels), nrows * ncols):
        axes[idx // ncols][idx % ncols].axis("off")
    fig.suptitle(f"decode, {a.shape}: {'; '.join(gpus)} (copy TB/s: {', '.join(copies)})", fontsize=9)
    fig.tight_layout()
    fig.savefig(a.out, dpi=120)
    print(f"wrote {a.out}: {len(panels)} panels, kernels {', '.join(kernels)}, {len(rows)} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
