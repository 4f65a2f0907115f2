"""Speed and memory of the ensemble engine on the 2021 scenario.

    python benchmarks/bench_core.py [--scenario FILE] [--repeats N]

Prints the wall time of 1,000 / 10,000 / 100,000 runs (best of N, in one process),
and the peak resident memory of a fresh process running 100,000 runs without saved
trajectories (each measured in its own subprocess so the peaks do not mix).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "scenarios" / "us_russia_2021.toml"


def _timed(scenario: Path, runs: int, repeats: int) -> tuple[float, dict]:
    from sim.runner import run_ensemble
    from sim.scenario import load_scenario

    sc = load_scenario(scenario)
    best, summary = float("inf"), {}
    for _ in range(repeats):
        started = time.perf_counter()
        ens = run_ensemble(sc, runs=runs)
        best = min(best, time.perf_counter() - started)
        summary = ens.summary()["outcomes"]
    return best, summary


def _peak_child(scenario: Path, runs: int, trajectories: bool) -> float:
    """Peak RSS (MiB) of a fresh interpreter that imports sim and runs the ensemble."""
    code = (
        "import resource, sys\n"
        "from sim.runner import run_ensemble\n"
        "from sim.scenario import load_scenario\n"
        f"e = run_ensemble(load_scenario({str(scenario)!r}), runs={runs}, "
        f"keep_trajectories={trajectories})\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return int(out.strip().splitlines()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", type=Path, default=DEFAULT)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from sim.scenario import load_scenario

    sc = load_scenario(args.scenario)
    steps = sc.n_steps
    print(f"scenario: {args.scenario.name} ({steps} steps, {steps - sc.forecast_step} forecast)")
    _timed(args.scenario, 1000, 1)  # warm up imports and caches
    rows = []
    for runs in (1_000, 10_000, 100_000):
        seconds, outcomes = _timed(args.scenario, runs, args.repeats if runs < 100_000 else 1)
        rows.append((runs, seconds))
        print(
            f"{runs:>8,} runs: {seconds:7.3f} s  {runs / seconds:>10,.0f} runs/s  "
            f"{1e9 * seconds / (runs * steps):6.1f} ns per run-step  "
            f"P(spiral) {outcomes['spiral']['p']:.3f}"
        )
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak_plain = _peak_child(args.scenario, 100_000, False)
    print(f"peak RSS, 100,000 runs, no trajectories: {peak_plain:,.0f} MiB")
    print(f"(this benchmark process itself: {base_rss:,.0f} MiB)")
    print(
        json.dumps(
            {
                "seconds_10k": round(dict(rows)[10_000], 4),
                "seconds_100k": round(dict(rows)[100_000], 4),
                "peak_mib_100k_no_trajectories": round(peak_plain, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
