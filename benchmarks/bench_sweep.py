"""Sweep throughput: a 20 x 20 grid at 1,000 runs per point on the 2021 scenario.

    python benchmarks/bench_sweep.py [--quick]

Runs the same sweep with 1 worker and with 2 worker processes, checks that the two
tables are identical, and prints the wall times and the speed-up (target: under 60 s
with 2 workers on a 2-core machine).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from sim.analysis.sweep import SweepSpec, parse_param, run_sweep
from sim.scenario import load_scenario

MAIN = Path(__file__).resolve().parents[1] / "scenarios" / "us_russia_2021.toml"


def main() -> None:
    parser = argparse.ArgumentParser(description="Sweep throughput, 1 worker against 2.")
    parser.add_argument("--quick", action="store_true", help="a 6 x 6 grid")
    args = parser.parse_args()
    n = 6 if args.quick else 20
    scenario = load_scenario(MAIN)
    spec = SweepSpec(
        [
            parse_param(f"states.us.policy.ratio=0.5:1.5:{n}"),
            parse_param(f"states.russia.policy.ratio=0.5:2:{n}"),
        ],
        runs=1000,
        seed=scenario.seed,
    )
    times, tables = {}, {}
    for workers in (1, 2):
        started = time.perf_counter()
        result = run_sweep(scenario, spec, workers=workers)
        times[workers] = time.perf_counter() - started
        tables[workers] = result.points.drop(columns=["wall_time_s"])
        print(
            f"{n} x {n} grid, {spec.runs:,} runs per point ({n * n * spec.runs:,} runs), "
            f"{workers} worker(s): {times[workers]:.1f} s"
        )
    pd.testing.assert_frame_equal(tables[1], tables[2])
    print("tables identical: True")
    print(f"speedup_2_workers_over_1: {times[1] / times[2]:.2f}")


if __name__ == "__main__":
    main()
