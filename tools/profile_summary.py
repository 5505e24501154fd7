#!/usr/bin/env python3
"""Where a decode step's GPU time goes, from a Kineto trace (bench_generate --profile).

The trace's CUDA kernels, in order, are cut into steps at each launch of the sampler kernel
(one per decode step); the steady steps (after the first quarter) are summarised:
  per kernel family: launches and microseconds per step, share of the step;
  per step: kernel time (busy), span from the first kernel's start to the last one's end, and
  the idle gaps between kernels (launch latency inside the graph, or host waits);
and the kernel sequence of one median step, with each gap, for a look at one layer.
  python3 tools/profile_summary.py TRACE.json [--step-marker sample] [--layers 28]
"""
import argparse
import collections
import json
import re
import statistics


def family(name):
    """A short, stable name: template arguments and parameter lists dropped."""
    n = re.sub(r"<.*", "", name)
    n = re.sub(r"\(.*", "", n)
    n = n.replace("void ", "").strip()
    return n[:70] or name[:70]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("trace")
    ap.add_argument("--step-marker", default="sample_kernel",
                    help="substring of the kernel launched once per step")
    ap.add_argument("--layers", type=int, default=0, help="print per-layer figures too")
    ap.add_argument("--sequence", type=int, default=40,
                    help="kernels of the median step to list")
    args = ap.parse_args()
    events = json.load(open(args.trace))["traceEvents"]
    kernels = sorted((e for e in events if e.get("cat") == "kernel" and e.get("ph") == "X"),
                     key=lambda e: e["ts"])
    if not kernels:
        raise SystemExit(f"{args.trace}: no CUDA kernels recorded (CUPTI unavailable?)")
    starts = [i for i, k in enumerate(kernels) if args.step_marker in k["name"]]
    if len(starts) < 8:
        raise SystemExit(f"{args.trace}: only {len(starts)} '{args.step_marker}' kernels; "
                         "pass --step-marker with a kernel launched once per step")
    steps = [kernels[a + 1:b + 1] for a, b in zip(starts, starts[1:])]
    steady = steps[len(steps) // 4:]
    per_family = collections.defaultdict(lambda: [0, 0.0])
    busy, span, gaps = [], [], []
    for step in steady:
        for k in step:
            f = per_family[family(k["name"])]
            f[0] += 1
            f[1] += k["dur"]
        busy.append(sum(k["dur"] for k in step))
        span.append(step[-1]["ts"] + step[-1]["dur"] - step[0]["ts"])
        gaps.append(sum(max(0.0, b["ts"] - (a["ts"] + a["dur"])) for a, b in zip(step, step[1:])))
    n = len(steady)
    step_us = statistics.median(span)
    print(f"{args.trace}: {len(steps)} steps, {n} steady; per step (median): span {step_us:.1f} us, "
          f"kernels {statistics.median(busy):.1f} us, gaps {statistics.median(gaps):.1f} us, "
          f"{len(steady[0])} kernels")
    print(f"{'kernel family':70s} {'n/step':>7s} {'us/step':>8s} {'us each':>8s} {'share':>6s}")
    for name, (count, total) in sorted(per_family.items(), key=lambda x: -x[1][1]):
        print(f"{name:70s} {count / n:7.1f} {total / n:8.1f} {total / count:8.2f} "
              f"{100 * total / n / step_us:5.1f}%")
    if args.layers:
        print(f"per layer ({args.layers}): span {step_us / args.layers:.1f} us, gaps "
              f"{statistics.median(gaps) / args.layers:.1f} us")
    mid = sorted(steady, key=lambda s: s[-1]["ts"] + s[-1]["dur"] - s[0]["ts"])[n // 2]
    print(f"one median step, first {args.sequence} kernels (gap before, duration, us):")
    prev_end = None
    for k in mid[:args.sequence]:
        gap = k["ts"] - prev_end if prev_end is not None else 0.0
        print(f"  {gap:6.2f} {k['dur']:7.2f}  {k['name'][:110]}")
        prev_end = k["ts"] + k["dur"]


if __name__ == "__main__":
    main()
