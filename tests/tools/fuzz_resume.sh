#!/usr/bin/env bash
# A campaign stopped by its --seconds bound, resumed, killed by SIGKILL, resumed again: the
# merge has every case 0..N-1 exactly once, no recorded case ran twice, and resuming with
# another configuration is refused (exit 2).   usage: fuzz_resume.sh GDR WORKDIR [CASES]
set -euo pipefail
# CASES: more than the first two runs (2.5 s) can finish: 400 in an optimised build (about
# 30 cases/s on 2 cores), 60 under the sanitizers (10-20x slower).
gdr=$1 dir=$2 cases=${3:-400}
rm -rf "$dir" && mkdir -p "$dir"
campaign=(fuzz --subject cpu-emulated-reversed --seed 9 --cases "$cases" --workers 2 --progress-seconds 0.2)

"$gdr" "${campaign[@]}" --seconds 1 --out "$dir/run" > "$dir/run1.log" 2>&1
# Resumed, then killed without a chance to write anything more (at most 0.2 s of cases lost).
"$gdr" "${campaign[@]}" --resume "$dir/run" > "$dir/run2.log" 2>&1 &
pid=$!
sleep 1.5
kill -s KILL "$pid" 2>/dev/null || true
wait "$pid" || true
# Without --seed: the recorded campaign's seed.
"$gdr" fuzz --subject cpu-emulated-reversed --cases "$cases" --workers 2 --resume "$dir/run" --json "$dir/summary.json" \
    > "$dir/run3.log" 2>&1
"$gdr" merge "$dir/run" --json "$dir/merged.json" > /dev/null

python3 - "$dir" "$cases" <<'PY'
import collections, json, sys
d, cases = sys.argv[1], int(sys.argv[2])
records = [json.loads(line) for line in open(f"{d}/run/campaign.jsonl")]
starts = [r for r in records if r["record"] == "start"]
assert len(starts) >= 2 and not starts[0]["resumed"] and starts[-1]["resumed"], starts
ran = collections.Counter(c[0] for r in records if r["record"] == "progress" for c in r["cases"])
failed = {r["case_number"] for r in records if r["record"] == "failure"}
twice = [n for n, k in ran.items() if k > 1]
assert not twice, f"recorded cases ran again: {twice}"
assert sorted(ran) == list(range(cases)), sorted(set(range(cases)) - set(ran))
merged = json.load(open(f"{d}/merged.json"))
assert merged["case_ranges"] == [[0, cases - 1]] and merged["cases"] == cases, merged
summary = json.load(open(f"{d}/summary.json"))
assert summary["cases"] == cases and 0 < summary["resumed_cases"] < cases, summary
print(f"resumed twice: {cases} cases once each ({summary['resumed_cases']} from earlier runs)")
PY
set +e
"$gdr" fuzz --subject cpu-emulated-reversed --seed 10 --cases "$cases" --resume "$dir/run" > "$dir/bad.log" 2>&1
rc=$?
set -e
if [[ $rc -ne 2 ]] || ! grep -q -- "--resume: not the same campaign: seed" "$dir/bad.log"; then
  echo "resume with another seed: expected exit 2 naming --resume, got $rc"; cat "$dir/bad.log"; exit 1
fi
# A campaign with a shape palette resumes with the same palette, and refuses another one.
"$gdr" fuzz --subject cpu-emulated-reversed --seed 4 --cases 20 --shape-palette 3 --key-dims 8,16 --out "$dir/paletted" \
    > "$dir/paletted.log" 2>&1
"$gdr" fuzz --subject cpu-emulated-reversed --cases 30 --shape-palette 3 --key-dims 8,16 --resume "$dir/paletted" \
    > "$dir/paletted2.log" 2>&1
set +e
"$gdr" fuzz --subject cpu-emulated-reversed --cases 30 --shape-palette 4 --key-dims 8,16 --resume "$dir/paletted" \
    > "$dir/bad-palette.log" 2>&1
rc=$?
set -e
if [[ $rc -ne 2 ]] || ! grep -q -- "--resume: not the same campaign: distribution" "$dir/bad-palette.log"; then
  echo "resume with another palette: expected exit 2 naming the distribution, got $rc"; cat "$dir/bad-palette.log"; exit 1
fi
echo "a paletted campaign resumes with its palette and refuses another"
