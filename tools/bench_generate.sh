#!/usr/bin/env bash
# The rollout engine on the GPU machine in one run: build what the engine needs, run its GPU and
# unit tests, then bench_generate (retort) beside bench_generate_hf.py (transformers generate) on
# the same GPU, and print the table of docs/measurements.md. Logs and JSON lines go to $OUT.
#
# transformers' decode is bound by its host thread, so it runs last, alone on the machine (run
# beside the build, pinned to 4 cores, it was 4-18% slower).
# Usage (repo root, .deps carried; see ../shared/gpu/README.md): bash tools/bench_generate.sh
#   PRESETS="qwen2.5-0.5b ..." BATCHES=1,16,64,256 NEW=960 COMPARE=128 HF=1 TESTS=1
set -uo pipefail
out=${OUT:-$PWD/gpu-out}
mkdir -p "$out"
export LD_LIBRARY_PATH=$PWD/.deps/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
export PYTHONUNBUFFERED=1
build=${BUILD_DIR:-build-gpu}
presets=${PRESETS:-qwen2.5-0.5b qwen2.5-1.5b qwen2.5-7b}
batches=${BATCHES:-1,16,64,256}
new=${NEW:-960}
compare=${COMPARE:-128}
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; date -u; } 2>&1 \
  | tee "$out/env.txt"

torch_prefix=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
start=$(date +%s)
cores=0-15
taskset -c $cores cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$PWD/.deps/usr;$torch_prefix" >"$out/build.log" 2>&1 \
  && taskset -c $cores cmake --build "$build" -j16 --target retort_core bench_generate \
       generation_test core_gpu_test >>"$out/build.log" 2>&1 \
  || { tail -40 "$out/build.log"; exit 1; }
echo "build: $(($(date +%s) - start)) s"
grep -E "retort: (CUDA|Torch)" "$out/build.log"

if [ "${TESTS:-1}" = 1 ]; then
  for t in core_gpu_test generation_test; do
    timeout 200 "./$build/tests/$t" >"$out/$t.log" 2>&1
    echo "$t rc=$? $(grep -E '^\[  (PASSED|FAILED)  \]' "$out/$t.log" | tr '\n' ' ')"
    grep -E '^\[  FAILED  \] [A-Za-z]' "$out/$t.log" | head -20
  done
  grep -E '^\[fused vs aten\]' "$out/core_gpu_test.log"
fi

for p in $presets; do
  timeout 200 "./$build/bench_generate" --preset "$p" --batch "$batches" --prompt 64 \
    --new "$new" --compare "$compare" 2>>"$out/bench.err" | tee -a "$out/bench.jsonl"
done
# Attribution on the 1.5B shape at batch 64: CUDA graphs without retort's kernels, and neither.
if [ "${VARIANTS:-1}" = 1 ]; then
  timeout 100 "./$build/bench_generate" --preset qwen2.5-1.5b --batch 64 --new "$new" --fused 0 \
    2>>"$out/bench.err" | tee -a "$out/variants.jsonl"
  timeout 100 "./$build/bench_generate" --preset qwen2.5-1.5b --batch 64 --new 128 --fused 0 \
    --graphs 0 2>>"$out/bench.err" | tee -a "$out/variants.jsonl"
fi
if [ "${HF:-1}" = 1 ]; then
  for p in $presets; do
    python3 tools/bench_generate_hf.py --preset "$p" --batch "$batches" --prompt 64 \
      --new "$compare" 2>>"$out/hf.err" | tee -a "$out/hf.jsonl"
  done
fi

# A kernel-time breakdown of the 1.5B shape at batch 64, when Nsight Systems is there.
if [ "${PROFILE:-0}" = 1 ] && command -v nsys >/dev/null; then
  timeout 120 nsys profile -o /tmp/retort_decode --force-overwrite true --stats=false \
    "./$build/bench_generate" --preset qwen2.5-1.5b --batch 64 --new 128 >/dev/null 2>&1
  timeout 60 nsys stats --report cuda_gpu_kern_sum --format csv /tmp/retort_decode.nsys-rep \
    >"$out/nsys.txt" 2>&1
  head -25 "$out/nsys.txt" | cut -c1-200
fi

python3 - "$out" <<'PY'
import json, os, sys
out = sys.argv[1]
def rows(name):
    path = os.path.join(out, name)
    return [json.loads(l) for l in open(path) if l.startswith("{")] if os.path.exists(path) else []
hf = {(r["preset"], r["batch"]): r for r in rows("hf.jsonl")}
print("| shape | batch | step ms | decode tok/s | MBU | prefill tok/s | tok/s at %s new: retort / transformers | ratio |" % (rows("bench.jsonl") or [{}])[0].get("compare_new", "?"))
print("|---|---|---|---|---|---|---|---|")
for r in rows("bench.jsonl"):
    h = hf.get((r["preset"], r["batch"]))
    mine = r.get("compare_hf_style_tok_s", 0)
    theirs = h["decode_tok_s"] if h else float("nan")
    print(f"| {r['preset']} | {r['batch']} | {r['step_ms']:.2f} | {r['decode_tok_s']:.0f} | "
          f"{100 * r['mbu']:.0f}% | {r['prefill_tok_s']:.0f} | {mine:.0f} / {theirs:.0f} | "
          f"{mine / theirs:.1f}x |")
for r in rows("variants.jsonl"):
    print(f"variant graphs={r['graphs']} fused={r['fused']} {r['preset']} B={r['batch']} new={r['new']}: "
          f"step {r['step_ms']:.2f} ms, MBU {100 * r['mbu']:.0f}%")
PY
