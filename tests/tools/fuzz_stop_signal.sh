#!/usr/bin/env bash
# A scheduler's stop signal (SIGTERM; SIGHUP and SIGINT alike) ends `gdr fuzz` as a bound
# does: normal exit code (0 or 1, not 128+N), the --json summary written, campaign.jsonl
# ending with a summary record that names the signal.   usage: fuzz_stop_signal.sh GDR WORKDIR SIGNAL
set -euo pipefail
gdr=$1 dir=$2 signal=$3
rm -rf "$dir" && mkdir -p "$dir"
"$gdr" fuzz --subject cpu-emulated-reversed --seconds 120 --out "$dir/out" --json "$dir/summary.json" \
    --progress-seconds 0.5 > "$dir/fuzz.log" 2>&1 &
pid=$!
# Wait until cases are being recorded (a progress record), at most 60 s.
for _ in $(seq 600); do
  grep -q '"record":"progress"' "$dir/out/campaign.jsonl" 2>/dev/null && break
  sleep 0.1
done
kill -s "$signal" "$pid"
set +e; wait "$pid"; rc=$?; set -e
cat "$dir/fuzz.log" | tail -5
if [[ $rc -ne 0 && $rc -ne 1 ]]; then echo "exit code $rc after SIG$signal: not a normal stop"; exit 1; fi
test -s "$dir/summary.json" || { echo "--json file not written"; exit 1; }
python3 - "$dir" "SIG$signal" <<'PY'
import json, sys
d, signal = sys.argv[1], sys.argv[2]
records = [json.loads(line) for line in open(f"{d}/out/campaign.jsonl")]
assert records[-1]["record"] == "summary", records[-1]["record"]
assert records[-1]["stopped_by"] == signal, records[-1]["stopped_by"]
summary = json.load(open(f"{d}/summary.json"))
assert summary["stopped_by"] == signal and summary["cases"] > 0, summary
recorded = [c[0] for r in records if r["record"] == "progress" for c in r["cases"]]
assert len(recorded) == summary["cases"], (len(recorded), summary["cases"])
print(f"stopped by {signal} after {summary['cases']} cases, all recorded")
PY
