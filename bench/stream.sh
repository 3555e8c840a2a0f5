#!/usr/bin/env bash
# The 70B-shaped slice (issue 12 item 7): random checkpoints with Llama-3-70B layer shapes
# (bench_stream_slice: bfloat16, head_dim 128, llama3 RoPE, vocabulary 32000; one layer is
# 1.71 GB in bfloat16, 3.42 GB in float32) of 3 and 6 layers, pruned on one rank in float32
# (C = 2, 4 samples x 64 tokens, threshold 0.9999 so that no merge is accepted and the
# figures show the streaming working set alone; an accepted merge adds one layer in the
# compute dtype). Runs resident at 3 layers (the only size whose float32 replica fits 24 GB)
# and stream at 3 and 6 layers, each best of REPEATS, and prints wall time, peak anonymous
# memory (RssAnon sampled every 0.1 s by this script, and the run's own /memory
# peak_anon_bytes), layers fetched and their float32 bytes, and layers/s. Targets: stream's
# peak anonymous memory grows by less than one float32 layer from 3 to 6 layers and stays
# <= activation cache + (C + 2) float32 layers + 400 MB; stream at 3 layers <= 1.3x resident;
# the memory plan's peak per rank (`laco_dist plan`, without accepted merges) within 15 % of
# the run's /memory peak_anon_bytes - baseline_anon_bytes (needs h5dump).
#   bench/stream.sh                  # slices in $BENCH_OUT (default /tmp/laco_stream_bench, kept)
#   HIDDEN=1024 bench/stream.sh      # the small version (seconds instead of minutes)
# Environment: LACO_BIN, LACO_ASSETS (default ../shared), BENCH_OUT, HIDDEN (default 8192),
# THREADS (model.threads, default 2), REPEATS (default 1).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${LACO_BIN:-$repo/build/release/laco_dist}"
slice_bin="$(dirname "$bin")/bench/bench_stream_slice"
[[ -x "$bin" && -x "$slice_bin" ]] || { echo "$0: laco_dist or bench_stream_slice missing next to $bin (set LACO_BIN)" >&2; exit 2; }
export LACO_ASSETS="${LACO_ASSETS:-$repo/../shared}"
tok="$LACO_ASSETS/tokenizers/llama2/tokenizer.json"
[[ -f "$tok" ]] || { echo "$0: $tok not found (set LACO_ASSETS)" >&2; exit 2; }
out="${BENCH_OUT:-/tmp/laco_stream_bench}"
hidden="${HIDDEN:-8192}"
threads="${THREADS:-2}"
repeats="${REPEATS:-1}"
mkdir -p "$out"

layer_f32=$(python3 -c "h=$hidden; f=h*7//2; kv=max(1,h//128//8)*128; print(4*(2*h*h + 2*kv*h + 3*f*h + 2*h))")

settings=(--set model.dtype=float32 --set model.threads="$threads" --set calibration.samples=4
          --set calibration.max_tokens=64 --set laco.merge_layers=2 --set laco.threshold=0.9999)

slice() {  # slice N -> its directory, written once
  local dir="$out/slice$1-h$hidden"
  if [[ ! -f "$dir/config.json" ]]; then
    "$slice_bin" "$dir" "$1" "$hidden" >&2
    cp "$tok" "$dir/tokenizer.json"
  fi
  echo "$dir"
}

# run PLACEMENT N: one prune; prints "wall_s sampled_peak_anon_bytes".
run() {
  local dir; dir="$(slice "$2")"
  local o="$out/run-$1-$2"
  local t0; t0=$(date +%s.%N)
  "$bin" prune "$repo/configs/quickstart.toml" --quiet --set "model.path=$dir" --set "output.dir=$o" \
    --set model.placement="$1" "${settings[@]}" >"$o.log" 2>&1 &
  local pid=$! peak=0 kb
  while kill -0 "$pid" 2>/dev/null; do
    kb=$(awk '/^RssAnon:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)
    (( ${kb:-0} > peak )) && peak=$kb
    sleep 0.1
  done
  wait "$pid" || { echo "$0: prune $1 $2 failed, see $o.log" >&2; tail -3 "$o.log" >&2; exit 1; }
  echo "$(python3 -c "import time; print(f'{time.time() - $t0:.2f}')") $((peak * 1024))"
}

profile() {  # profile PLACEMENT N -> "peak_anon_bytes layers_fetched" from `laco_dist report`
  local rep="$out/run-$1-$2/report.txt"
  "$bin" report "$out/run-$1-$2/profile.h5" --svg "$out/run-$1-$2/profile.svg" >"$rep"
  python3 - "$rep" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
units = {"B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}
mem = re.search(r"^0\s+([\d.]+) (\w+)\s+([\d.]+) (\w+)", text, re.M)  # rank 0: peak RSS, peak anon
anon = float(mem.group(3)) * units[mem.group(4)] if mem else 0
fetched = re.search(r"^fetched\s+(\d+)", text, re.M)
print(int(anon), fetched.group(1) if fetched else 0)
EOF
}

# plan_vs_run PLACEMENT N -> "planned measured" bytes: the plan's peak per rank without
# accepted merges (none are accepted here), and the run's peak RssAnon above its baseline.
plan_vs_run() {
  local col=$([[ $1 == resident ]] && echo 1 || echo 2)
  "$bin" plan "$repo/configs/quickstart.toml" --set "model.path=$(slice "$2")" "${settings[@]}" >"$out/plan-$2.txt"
  h5dump -d /memory "$out/run-$1-$2/profile.h5" >"$out/memory-$1-$2.txt"
  python3 - "$out/plan-$2.txt" "$out/memory-$1-$2.txt" "$col" <<'EOF'
import re, sys
plan, memory, col = open(sys.argv[1]).read(), open(sys.argv[2]).read(), int(sys.argv[3])
scale = {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}
def row(label):  # (resident, stream) bytes of a plan row; "-" is 0
    line = next(l for l in plan.splitlines() if label in l).split(label)[-1]
    cells = re.findall(r"([\d.]+) (B|kB|MB|GB|TB)|(?<!\S)-(?!\S)", line)
    return [float(v) * scale[u] if v else 0.0 for v, u in cells[-2:]]
planned = row("peak per rank (host memory)")[col - 1] - row("accepted merges, up to")[col - 1]
rank0 = re.search(r"\(0\): \{\s*0,\s*(\d+),\s*(\d+),\s*(\d+),\s*(\d+)", memory)
print(int(planned), int(rank0.group(3)) - int(rank0.group(4)))
EOF
}

best() {  # best PLACEMENT N -> the fastest of REPEATS runs (its wall and sampled peak)
  local b="" r
  for ((i = 0; i < repeats; ++i)); do
    r="$(run "$1" "$2")"
    if [[ -z "$b" ]] || python3 -c "import sys; sys.exit(0 if float('${r% *}') < float('${b% *}') else 1)"; then b="$r"; fi
  done
  echo "$b"
}

gb() { python3 -c "print(f'{$1 / 1e9:.2f}')"; }

printf "slice: hidden %s, one float32 layer %s GB, %s threads\n" "$hidden" "$(gb "$layer_f32")" "$threads"
printf "%-10s %6s %9s %16s %16s %9s %10s %9s %22s\n" placement layers "wall s" "peak anon GB" "(profile) GB" fetched "GB moved" \
  "layers/s" "plan / measured GB"
declare -A wall anon
for cfg in "resident 3" "stream 3" "stream 6"; do
  set -- $cfg
  r="$(best "$1" "$2")"
  read -r w a <<<"$r"
  read -r pa fetched <<<"$(profile "$1" "$2")"
  read -r planned measured <<<"$(plan_vs_run "$1" "$2")"
  wall[$1$2]=$w; anon[$1$2]=$a
  printf "%-10s %6s %9s %16s %16s %9s %10s %9s %22s\n" "$1" "$2" "$w" "$(gb "$a")" "$(gb "$pa")" "$fetched" \
    "$(gb "$((fetched * layer_f32))")" "$(python3 -c "print(f'{$fetched / $w:.2f}')")" \
    "$(python3 -c "print(f'{$planned / 1e9:.3f} / {$measured / 1e9:.3f} ({100 * ($planned - $measured) / $measured:+.1f} %)')")"
done
# The activation cache at 6 layers: (H - C - L + 1 = 4 cached inputs + 1 reference) x 4 x 64 tokens.
cache=$(python3 -c "print(5 * 4 * 64 * $hidden * 4)")
python3 - "$layer_f32" "${anon[stream3]}" "${anon[stream6]}" "${wall[stream3]}" "${wall[resident3]}" "$cache" <<'EOF'
import sys
layer, a3, a6, ws, wr, cache = (float(x) for x in sys.argv[1:])
print(f"stream peak anon growth 3 -> 6 layers: {(a6 - a3) / 1e9:.2f} GB (target < one float32 layer, {layer / 1e9:.2f} GB)")
print(f"stream peak anon at 6 layers: {a6 / 1e9:.2f} GB (target <= cache + 4 float32 layers + 400 MB = {(cache + 4 * layer + 400e6) / 1e9:.2f} GB)")
print(f"stream / resident wall time at 3 layers: {ws / wr:.2f}x (target <= 1.3x)")
EOF
