#!/usr/bin/env bash
# 4 shards of a campaign, their index from each scheduler's variables, merged: the merge has
# exactly the unsharded campaign's case set and counts; overlapping or foreign parts are
# rejected (exit 2) naming the problem.   usage: fuzz_shards_merge.sh GDR WORKDIR
set -euo pipefail
gdr=$1 dir=$2
rm -rf "$dir" && mkdir -p "$dir"
campaign=(fuzz --subject cpu-emulated-reversed --seed 5 --cases 40 --workers 2)

"$gdr" "${campaign[@]}" --out "$dir/whole" --json "$dir/whole.json" > "$dir/whole.log"
# Shard 0 and 1: Slurm job array 10-13; shard 2: Kubernetes Indexed Job; shard 3: explicit.
env SLURM_ARRAY_TASK_ID=10 SLURM_ARRAY_TASK_MIN=10 SLURM_ARRAY_TASK_COUNT=4 \
    "$gdr" "${campaign[@]}" --shard auto --out "$dir/shard0" > "$dir/shard0.log"
env SLURM_ARRAY_TASK_ID=11 SLURM_ARRAY_TASK_MIN=10 SLURM_ARRAY_TASK_COUNT=4 \
    "$gdr" "${campaign[@]}" --shard auto --out "$dir/shard1" > "$dir/shard1.log"
env JOB_COMPLETION_INDEX=2 "$gdr" "${campaign[@]}" --shard auto/4 --out "$dir/shard2" > "$dir/shard2.log"
"$gdr" "${campaign[@]}" --shard 3/4 --out "$dir/shard3" > "$dir/shard3.log"

"$gdr" merge "$dir"/shard{0,1,2,3} --json "$dir/merged.json" --junit "$dir/merged.xml" > "$dir/merge.log"
"$gdr" merge "$dir/whole" --json "$dir/whole-merged.json" > /dev/null

python3 - "$dir" <<'PY'
import json, sys
d = sys.argv[1]
merged = json.load(open(f"{d}/merged.json"))
whole_merged = json.load(open(f"{d}/whole-merged.json"))
whole = json.load(open(f"{d}/whole.json"))
assert sorted(merged["shards"]) == ["0/4", "1/4", "2/4", "3/4"], merged["shards"]
assert merged["case_ranges"] == [[0, 39]], merged["case_ranges"]
assert merged["cases"] == whole["cases"] == 40, (merged["cases"], whole["cases"])
for key in ("case_ranges", "cases", "not_supported", "coverage", "failure_count", "failures_by_class"):
    assert merged[key] == whole_merged[key], (key, merged[key], whole_merged[key])
for key in ("not_supported", "coverage", "failures_by_class"):
    assert merged[key] == whole[key], (key, merged[key], whole[key])
assert merged["failure_count"] == whole["failure_count"]
print("merge of 4 shards == unsharded campaign:", merged["cases"], "cases")
PY
grep -q '<testsuite' "$dir/merged.xml"

expect_usage_error() {  # expected message, then the command
  local expected=$1; shift
  set +e; "$@" > "$dir/error.log" 2>&1; local rc=$?; set -e
  if [[ $rc -ne 2 ]] || ! grep -q "$expected" "$dir/error.log"; then
    echo "expected exit 2 and '$expected' from: $*"; cat "$dir/error.log"; exit 1
  fi
}
# A shard and the whole campaign overlap; another seed is another campaign.
expect_usage_error "overlap" "$gdr" merge "$dir/shard1" "$dir/whole"
"$gdr" fuzz --subject cpu-emulated-reversed --seed 6 --cases 4 --shard 0/4 --out "$dir/other-seed" > /dev/null
expect_usage_error "not the same campaign: seed" "$gdr" merge "$dir/shard1" "$dir/other-seed"
# Bad scheduler variables name themselves.
expect_usage_error "SLURM_ARRAY_TASK_ID='x'" env SLURM_ARRAY_TASK_ID=x SLURM_ARRAY_TASK_MIN=0 SLURM_ARRAY_TASK_COUNT=4 \
    "$gdr" fuzz --subject cpu-emulated-reversed --cases 1 --shard auto
expect_usage_error "JOB_COMPLETION_INDEX" env -u SLURM_ARRAY_TASK_ID -u SLURM_ARRAY_TASK_COUNT JOB_COMPLETION_INDEX=1 \
    "$gdr" fuzz --subject cpu-emulated-reversed --cases 1 --shard auto
expect_usage_error "JOB_COMPLETION_INDEX=4, count 4" env JOB_COMPLETION_INDEX=4 \
    "$gdr" fuzz --subject cpu-emulated-reversed --cases 1 --shard auto/4
echo "shards, merge and their errors: ok"
