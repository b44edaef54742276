#!/usr/bin/env python3
"""Summarises Nsight Compute's per-kernel durations of a profiled run (read from a file holding
`ncu --csv --print-units base --metrics gpu__time_duration.sum ...` output, other lines ignored):
the kernels of one step in launch order, then the time per step of each kernel name, largest first.

    python3 benchmarks/kernel_times.py NCU_OUTPUT STEPS [--title TEXT]

STEPS is how many steps the profiled region held (dptrain bench and compare_pytorch_gpu.py bracket
their timed steps with cudaProfilerStart/Stop: run ncu with --profile-from-start off).
"""
import argparse
import csv
import io
from collections import defaultdict


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file")
    ap.add_argument("steps", type=int)
    ap.add_argument("--title", default="")
    a = ap.parse_args()
    lines = [l for l in open(a.file, errors="replace") if l.startswith('"')]
    rows = [r for r in csv.DictReader(io.StringIO("".join(lines)))
            if r.get("Metric Name") == "gpu__time_duration.sum"]
    if not rows:
        raise SystemExit(f"{a.file}: no gpu__time_duration.sum rows (did ncu profile anything?)")
    launches = [(r["Kernel Name"][:70], float(r["Metric Value"].replace(",", "")) / 1000.0, r.get("Grid Size", ""),
                 r.get("Block Size", "")) for r in rows]  # microseconds
    per_step = len(launches) // a.steps if a.steps else len(launches)
    total = sum(t for _, t, _, _ in launches)
    print(f"{a.title}: {len(launches)} kernels in {a.steps} steps ({per_step} a step), "
          f"{total / a.steps / 1000:.3f} ms of kernel time a step")
    print("one step, in launch order (us, grid, block):")
    for name, t, grid, block in launches[-per_step:]:
        print(f"  {t:9.1f}  {name:70} {grid} {block}")
    by = defaultdict(lambda: [0, 0.0])
    for name, t, _, _ in launches:
        by[name][0] += 1
        by[name][1] += t
    print("by kernel, per step (us):")
    for name, (n, t) in sorted(by.items(), key=lambda kv: -kv[1][1]):
        print(f"  {t / a.steps:9.1f}  x{n / a.steps:<4.3g} {name}")


if __name__ == "__main__":
    main()
