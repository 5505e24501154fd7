#!/usr/bin/env bash
# Sweeps settings of the tiny R1-Zero recipe (fast on a GPU: ~30 s a run) and prints, per run, the
# GRPO accuracy of the first and last 10 steps, response length, reflection rate and the accuracy
# of reflective and of direct completions — how the embedded default's settings were chosen.
# Usage: bash tools/tune_tiny.sh BUILD_DIR [overrides]...
# Each further argument is one run's overrides, space-separated in one quoted string; RECIPE=FILE
# sweeps another recipe than the embedded default.
set -uo pipefail
build=$1; shift
mkdir -p /tmp/tune
for run in "$@"; do
  dir=/tmp/tune/run_$(echo "${RECIPE:-} ${run:-default}" | md5sum | cut -c1-12)
  rm -rf "$dir"
  "$build/retort" run ${RECIPE:-} run_dir="$dir" device=cuda $run >"$dir.log" 2>&1 || { echo "FAILED $run"; tail -3 "$dir.log"; continue; }
  python3 - "$dir/metrics.jsonl" "$run" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
g = [r for r in rows if r["stage"] == "grpo"]
mean = lambda xs: sum(xs) / max(1, len(xs))
acc = [r.get("accuracy", 0) for r in g]
refl = [r["reflection_rate"] for r in g]
# Accuracy of reflective and of direct completions, pooled over a block of steps.
rc = [r.get("reflection_accuracy", 0) * r["reflection_rate"] for r in g]
def split(a, b):
    rr, cc, aa = sum(refl[a:b]), sum(rc[a:b]), sum(acc[a:b])
    n = len(acc[a:b])
    return (f"{cc / rr:.2f}" if rr > 0 else "-"), (f"{(aa - cc) / (n - rr):.2f}" if n > rr else "-")
(r0, d0), (r1, d1) = split(0, 10), split(len(g) - 10, len(g))
print(f"{sys.argv[2]:60s} acc {mean(acc[:10]):.3f}->{mean(acc[-10:]):.3f} "
      f"({mean(acc[-10:]) / max(mean(acc[:10]), 1e-9):.2f}x) "
      f"len {mean([r['response_length/mean'] for r in g[:10]]):.1f}->{mean([r['response_length/mean'] for r in g[-10:]]):.1f} "
      f"refl {mean(refl[:10]):.2f}->{mean(refl[-10:]):.2f} acc|refl {r0}->{r1} acc|direct {d0}->{d1} "
      f"time {sum(r.get('time/step_s', 0) for r in rows):.0f}s")
PY
done
