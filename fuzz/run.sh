#!/bin/sh
# fuzz/run.sh TARGET [SECONDS] [TAG]: one libFuzzer run of fuzz_TARGET (safetensors,
# tokenizer, config) on one core, as measured in docs/fuzzing.md. Needs the clang tree
# (LACO_FUZZ_BUILD, default build/fuzz). New inputs go to $B/corpus_work/TARGET, crashes to
# $B/artifacts/, the log to $B/logs/TARGET-TAG.log (libFuzzer's own in $B/logs/TARGET-TAG/).
set -eu
t=$1; secs=${2:-1860}; tag=${3:-run}
R=$(cd "$(dirname "$0")/.." && pwd); B=${LACO_FUZZ_BUILD:-$R/build/fuzz}
mkdir -p "$B/corpus_work/$t" "$B/artifacts" "$B/logs/$t-$tag"
cd "$B/logs/$t-$tag"  # -jobs=1 makes libFuzzer write fuzz-0.log into the current directory
exec nice -n 10 "$B/fuzz/fuzz_$t" -jobs=1 -workers=1 -max_total_time="$secs" -rss_limit_mb=4096 \
  -timeout=10 -print_final_stats=1 -artifact_prefix="$B/artifacts/$t-$tag-" \
  "$B/corpus_work/$t" "$R/fuzz/corpus/$t" > "$B/logs/$t-$tag.log" 2>&1
