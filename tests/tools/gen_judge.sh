#!/usr/bin/env bash
# gdr gen writes a case's inputs file; gdr judge refuses what it cannot read (exit 2) and
# finds the poison of starting buffers handed back unchanged (exit 1, poison survivors).
#   gen_judge.sh GDR WORKDIR
set -euo pipefail
gdr=$1
work=$2
rm -rf "$work" && mkdir -p "$work"
case_text="B=2 T=2 H=1 HV=2 K=8 V=4 slots=2 circular=1 seqlen_max=3 seed=3"

"$gdr" gen --case "$case_text" --out "$work/in.safetensors" > "$work/gen.txt"
grep -q "wrote the inputs of" "$work/gen.txt"

status=0
"$gdr" judge --case "$case_text" --result "$work/missing.safetensors" > "$work/missing.txt" 2>&1 || status=$?
[[ $status == 2 ]] || { echo "judge of a missing file: exit $status, expected 2"; exit 1; }
grep -q "missing.safetensors: cannot read the file" "$work/missing.txt"

status=0
"$gdr" judge --case "$case_text" --result "$work/in.safetensors" > "$work/judge.txt" 2>&1 || status=$?
[[ $status == 1 ]] || { echo "judge of the untouched inputs: exit $status, expected 1"; cat "$work/judge.txt"; exit 1; }
grep -q "poison survivors   INCORRECT" "$work/judge.txt"
grep -q "guard bands        NOT_RUN       judged from a results file" "$work/judge.txt"
echo "gen and judge: as expected"
