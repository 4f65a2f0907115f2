"""Monte Carlo throughput, scaling and memory, side by side against one Mesa model per run.

    python benchmarks/bench_montecarlo.py [--quick]

Measured in one process, on scenarios/us_russia_2021.toml unless stated:

1. the ensemble engine at 1,000, 10,000 and 100,000 runs (one model steps a block of
   runs): wall time, runs/s, run-steps/s, time per run-step;
2. the per-run baseline: the same model, scenario and seeds run the way Mesa users
   usually run a model, one model instance per run (block size 1), on a few hundred runs;
3. a cross-check that (1) and (2) give identical outcomes, outcome steps and final staff
   for the runs they share;
4. peak memory (fresh subprocesses) at 100,000 runs with and without saved trajectories,
   and at 1,000,000 runs without (processed in blocks);
5. scaling in the number of states: generated complete-graph scenarios with 2, 8 and 22
   states, runs/s and cost per run-step per pair of states;
6. the event record returned as a table (``keep_events``, what ``run --out`` writes and
   ``sim.run`` keeps) against the same runs without it, as a ratio of wall times. (The
   engine keeps its log while a block runs in every case: it is part of (1).)

The last line is ``speedup_vs_per_run_mesa: X`` (ensemble runs/s over baseline runs/s).
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MAIN = ROOT / "scenarios" / "us_russia_2021.toml"


def best_time(fn, repeats: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def peak_rss_mib(runs: int, trajectories: bool, block_size: int) -> float:
    """Peak resident memory of a fresh interpreter running the ensemble (MiB)."""
    code = (
        "import resource\n"
        "from sim.analysis.runner import run_ensemble\n"
        "from sim.scenario import load_scenario\n"
        f"e = run_ensemble(load_scenario({str(MAIN)!r}), runs={runs}, "
        f"keep_trajectories={trajectories}, block_size={block_size})\n"
        "assert len(e.outcome) == e.n_runs\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return int(out.strip().splitlines()[-1]) / 1024


def generated_scenario(n_states: int, runs: int):
    """A complete graph of n states, every pair with missions both ways, noisy policies."""
    from sim.scenario import scenario_from_dict

    ids = [f"s{i:02d}" for i in range(n_states)]
    states = {
        sid: {
            "policy": {
                "kind": "proportional",
                "ratio": 0.9 + 0.2 * (i % 3) / 2,
                "noise": 0.3,
                "respond_prob": 0.7,
                "lag": [1, 4],
                "provocation_rate": 0.5,
                "provocation_size": [1, 5],
            }
        }
        for i, sid in enumerate(ids)
    }
    missions = {
        f"{a}_in_{b}": {"sender": a, "host": b, "diplomats": 80, "local_staff": 40}
        for a in ids
        for b in ids
        if a != b
    }
    raw = {
        "scenario": {
            "name": f"generated_{n_states}",
            "start": dt.date(2022, 1, 5),
            "horizon_steps": 104,
            "runs": runs,
            "seed": 7,
        },
        "states": states,
        "missions": missions,
        "events": [
            {
                "date": dt.date(2022, 1, 5),
                "actor": ids[0],
                "target": ids[1],
                "kind": "expel",
                "size": 10,
                "source": "generated",
            }
        ],
        "outcomes": {"closure_threshold": 20},
    }
    return scenario_from_dict(raw, f"<generated {n_states} states>")


def main() -> None:
    parser = argparse.ArgumentParser(description="Monte Carlo throughput and memory.")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, under a minute")
    args = parser.parse_args()

    import mesa

    from sim.analysis.runner import DEFAULT_BLOCK_SIZE, run_ensemble
    from sim.scenario import load_scenario

    quick = args.quick
    sc = load_scenario(MAIN)
    steps = sc.n_steps
    print(
        f"machine: {platform.machine()}, {__import__('os').cpu_count()} cores; Python "
        f"{platform.python_version()}, numpy {np.__version__}, Mesa {mesa.__version__}"
    )
    print(f"scenario: {MAIN.name}, {steps} steps ({steps - sc.forecast_step} forecast)\n")
    run_ensemble(sc, runs=500)  # warm-up

    # 1. the ensemble engine
    sizes = (1_000, 10_000) if quick else (1_000, 10_000, 100_000)
    print("1. ensemble engine (one model steps a block of runs)")
    print(f"{'runs':>10} {'wall s':>9} {'runs/s':>10} {'run-steps/s':>13} {'ns/run-step':>12}")
    engine_rate = {}
    for runs in sizes:
        seconds, _ = best_time(lambda r=runs: run_ensemble(sc, runs=r), 1 if runs > 10_000 else 3)
        engine_rate[runs] = runs / seconds
        print(
            f"{runs:>10,} {seconds:>9.3f} {runs / seconds:>10,.0f} {runs * steps / seconds:>13,.0f}"
            f" {1e9 * seconds / (runs * steps):>12.1f}"
        )

    # 2. the per-run baseline: one Mesa model per run
    base_runs = 50 if quick else 300
    print(f"\n2. per-run baseline (one Mesa model instance per run), {base_runs} runs")
    seconds, baseline = best_time(
        lambda: run_ensemble(sc, runs=base_runs, block_size=1, keep_trajectories=True), 1
    )
    base_rate = base_runs / seconds
    print(f"{base_runs:>10,} {seconds:>9.3f} {base_rate:>10,.1f} runs/s")

    # 3. cross-check on the shared runs
    engine = run_ensemble(sc, runs=max(sizes), keep_trajectories=False)
    shared = slice(0, base_runs)
    same = (
        np.array_equal(engine.outcome[shared], baseline.outcome)
        and np.array_equal(engine.outcome_step[shared], baseline.outcome_step)
        and np.array_equal(engine.final_staff[:, shared], baseline.final_staff)
        and np.array_equal(engine.staff_lost[:, shared], baseline.staff_lost)
    )
    print(f"\n3. cross-check, runs 0-{base_runs - 1}: identical = {same}")
    if not same:
        raise SystemExit("the ensemble engine and the per-run baseline disagree")

    # 4. memory
    print("\n4. peak resident memory (fresh process)")
    memory_cases = (
        [(10_000, False), (10_000, True)]
        if quick
        else [
            (100_000, False),
            (100_000, True),
            (1_000_000, False),
        ]
    )
    for runs, traj in memory_cases:
        mib = peak_rss_mib(runs, traj, DEFAULT_BLOCK_SIZE)
        label = "with" if traj else "without"
        print(f"{runs:>10,} runs {label:>7} trajectories: {mib:8,.0f} MiB")

    # 5. scaling in states
    print("\n5. scaling in the number of states (complete graph, 104 steps)")
    print(f"{'states':>7} {'pairs':>6} {'runs':>7} {'runs/s':>9} {'ns/run-step/pair':>17}")
    per_pair = {}
    # 22 states: the largest complete graph within a scenario's 512 missions.
    for n in (2, 8) if quick else (2, 8, 22):
        runs = {2: 10_000, 8: 2_000, 22: 400}[n]
        gen = generated_scenario(n, runs)
        run_ensemble(gen, runs=min(runs, 100))  # warm-up
        seconds, _ = best_time(lambda g=gen, r=runs: run_ensemble(g, runs=r), 1)
        pairs = n * (n - 1) // 2
        per_pair[n] = 1e9 * seconds / (runs * gen.n_steps * pairs)
        print(f"{n:>7} {pairs:>6} {runs:>7,} {runs / seconds:>9,.1f} {per_pair[n]:>17.1f}")
    worst = max(per_pair)
    print(f"cost per run-step per pair, {worst} vs 2 states: {per_pair[worst] / per_pair[2]:.2f}x")

    # 6. the event record as a table
    print("\n6. event record returned as a table, 10,000 runs")
    plain, _ = best_time(lambda: run_ensemble(sc, runs=10_000), 3)
    kept, ens = best_time(lambda: run_ensemble(sc, runs=10_000, keep_events=True), 3)
    rows = len(ens.events)
    print(f"without {plain:.3f} s, with {kept:.3f} s ({rows:,} rows): {kept / plain:.2f}x")

    rate = engine_rate[10_000]
    print(f"\nspeedup_vs_per_run_mesa: {rate / base_rate:.0f}")


if __name__ == "__main__":
    main()
