#!/usr/bin/env python3
"""A/B of two `together` builds on the canonical workload, interleaved in one session.

    scripts/bench-ab.py OLD NEW [--runs 12] [--batches 2] [--frames 300] [-- BENCH ARGS...]

OLD and NEW are `together` binaries (for example a release build of an earlier commit, made
in a `git worktree`, and `target/release/together`). Each batch runs them alternately, OLD
first on even runs and NEW first on odd ones, `RUNS` times each, with `bench --serial
--participants 49` (the canonical W(49) on one thread; more bench options after `--`), and
prints both medians of `cpu_ms_per_frame` and NEW/OLD. Interleaving puts the machine's load
drift on both sides alike; a refactor is held to NEW/OLD <= 1.03 in every batch (BENCHMARKS.md).
Exits 1 when a batch is over the bound given with --bound.
"""

import argparse
import re
import statistics
import subprocess
import sys

FIELD = re.compile(r"\bcpu_ms_per_frame=([0-9.]+)")


def run(binary, frames, extra):
    cmd = [binary, "bench", "--serial", "--participants", "49", "--frames", str(frames), *extra]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    lines = [l for l in out.splitlines() if l.startswith("participants=")]
    m = FIELD.search(lines[-1]) if lines else None
    if not m:
        sys.exit(f"bench-ab: no cpu_ms_per_frame in the output of {' '.join(cmd)}")
    return float(m.group(1))


def main():
    argv = sys.argv[1:]
    extra = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1 :]
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("old")
    p.add_argument("new")
    p.add_argument("--runs", type=int, default=12)
    p.add_argument("--batches", type=int, default=2)
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--bound", type=float, default=1.03)
    a = p.parse_args(argv)
    worst = 0.0
    for b in range(a.batches):
        old, new = [], []
        for r in range(a.runs):
            order = [(a.old, old), (a.new, new)]
            if r % 2:
                order.reverse()
            for binary, into in order:
                into.append(run(binary, a.frames, extra))
        mo, mn = statistics.median(old), statistics.median(new)
        ratio = mn / mo
        worst = max(worst, ratio)
        print(
            f"batch {b + 1}: runs={a.runs} old_median={mo:.3f} new_median={mn:.3f} "
            f"new/old={ratio:.3f}  old={[round(x, 3) for x in old]} new={[round(x, 3) for x in new]}",
            flush=True,
        )
    print(f"worst new/old={worst:.3f} (bound {a.bound})")
    return 0 if worst <= a.bound else 1


if __name__ == "__main__":
    sys.exit(main())
