"""The outcome table of a peers/verify-peers run: for each subject, verify's counts and the
campaign's (cases, outcomes, failures by class, coverage), as Markdown.
    python3 peers/outcome_table.py OUT_DIR > OUT_DIR/outcomes.md"""

import json
import pathlib
import sys

OUTCOMES = ("PASSED", "INCORRECT", "FAILED", "NOT_SUPPORTED", "NOT_RUN")


def load(path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def counts_text(counts):
    return " | ".join(str(counts.get(outcome, 0)) for outcome in OUTCOMES)


def main(out_dir):
    out = pathlib.Path(out_dir)
    subjects = sorted(p.name for p in out.iterdir() if p.is_dir())
    lines = ["| subject | run | cases | " + " | ".join(OUTCOMES) + " | NOT_SUPPORTED undeclared | failures by class |",
             "|---|---|---|" + "---|" * len(OUTCOMES) + "---|---|"]
    coverage = {}
    for name in subjects:
        verify = load(out / name / "verify.json")
        if verify:
            lines.append(f"| {name} | verify | {verify['total']} | {counts_text(verify['counts'])} | "
                         f"{verify['not_supported']['unexpected']} | - |")
        fuzz = load(out / name / "fuzz.json")
        if fuzz:
            classes = ", ".join(f"{k}: {v}" for k, v in sorted(fuzz["failures_by_class"].items())) or "-"
            lines.append(f"| {name} | fuzz {fuzz['seconds']:.0f} s, seed {fuzz['seed']} | {fuzz['cases']} | "
                         f"{counts_text(fuzz.get('counts', {}))} | {fuzz['not_supported_unexpected']} | {classes} |")
            coverage[name] = fuzz["coverage"]
    if coverage:
        classes = sorted({c for per in coverage.values() for c in per})
        lines += ["", "Campaign coverage (cases per class, NOT_SUPPORTED cases included):", "",
                  "| class | " + " | ".join(coverage) + " |", "|---|" + "---|" * len(coverage)]
        lines += [f"| {c} | " + " | ".join(str(coverage[n].get(c, 0)) for n in coverage) + " |" for c in classes]
    print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
