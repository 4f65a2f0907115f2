"""Calibration: the forward model batched (one model, many particles) against one model
per particle (what an ABC library calling the simulator once per particle would do),
and the time of a whole calibration.

    python benchmarks/bench_calibrate.py [--quick] [--coverage N]

The forward model is the conditional replay of the US–Russia record 2016-2020 (210
weekly steps). Both ways give the same summary statistics for the same particles and
run numbers (checked); the ratio is the speed-up that batching buys.

``--coverage N`` instead calibrates N synthetic histories (16 acts 20 weeks apart,
answered with known parameters, as in tests/test_calibrate.py) and prints how often
the 50% and 90% intervals hold the truth: for one fixed truth, and for truths drawn
from the prior.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

import numpy as np

from sim.analysis import calibrate as cal
from sim.scenario import load_scenario, scenario_from_dict

REPLAY = Path(__file__).resolve().parents[1] / "scenarios" / "us_russia_2016_2023_replay.toml"
UNTIL = dt.date(2020, 12, 31)


def main() -> None:
    parser = argparse.ArgumentParser(description="Calibration forward-model throughput.")
    parser.add_argument("--quick", action="store_true", help="fewer particles")
    parser.add_argument("--coverage", type=int, default=0, metavar="N", help="N histories")
    args = parser.parse_args()
    if args.coverage:
        coverage(args.coverage)
        return
    batch, single = (1024, 20) if args.quick else (4096, 100)
    replay = load_scenario(REPLAY)
    raw = cal._conditional_raw(replay, UNTIL, "russia", "us", {})
    cond = scenario_from_dict(raw, str(REPLAY))
    params = list(cal.CALIBRATED)
    bounds = np.array([cal.CALIBRATED[p].box for p in params])
    rng = np.random.default_rng(0)
    theta = bounds[:, 0] + (bounds[:, 1] - bounds[:, 0]) * rng.random((batch, len(params)))
    ids = np.arange(batch)

    batched = cal.ConditionalReplay(cond, "russia", "us", params, 10, batch, seed=1)
    started = time.perf_counter()
    stats = batched(theta, ids)
    t_batch = (time.perf_counter() - started) / batch

    one = cal.ConditionalReplay(cond, "russia", "us", params, 10, 1, seed=1)
    started = time.perf_counter()
    stats_one = one(theta[:single], ids[:single])
    t_one = (time.perf_counter() - started) / single
    same = np.array_equal(stats[:single], stats_one, equal_nan=True)

    print(f"steps per simulation: {cond.n_steps}")
    print(f"batched ({batch:,} particles in one model): {1e6 * t_batch:,.0f} us per particle")
    print(f"one model per particle ({single} particles):  {1e6 * t_one:,.0f} us per particle")
    print(f"same statistics: {same}")
    print(f"speedup_batched_over_one_per_particle: {t_one / t_batch:.0f}")

    particles = 300 if args.quick else 1000
    started = time.perf_counter()
    result = cal.calibrate(
        replay, until=UNTIL, settings=cal.SMCSettings(particles=particles), seed=1
    )
    elapsed = time.perf_counter() - started
    sims = sum(p.simulations for f in result.fits.values() for p in f.smc.populations)
    print(
        f"calibration of both states to 2020-12-31, {particles} particles: {elapsed:.1f} s, "
        f"{sims:,} simulations ({1e6 * elapsed / sims:,.0f} us each, all included)"
    )
    print(f"the same simulations one model per particle: about {sims * t_one / 60:.0f} min")


def coverage(repetitions: int) -> None:
    """Interval coverage over synthetic histories (the test's design, more of them)."""
    events = [
        {
            "date": dt.date(2021, 1, 1) + dt.timedelta(days=7 * (5 + 20 * i)),
            "actor": "b",
            "target": "a",
            "kind": "expel",
            "size": 5,
            "source": "synthetic",
        }
        for i in range(16)
    ]
    raw = {
        "scenario": {
            "name": "synthetic",
            "start": dt.date(2021, 1, 1),
            "horizon_steps": 330,
            "runs": 1,
        },
        "states": {"a": {"policy": {"kind": "proportional"}}, "b": {}},
        "missions": {
            "a_in_b": {"sender": "a", "host": "b", "diplomats": 200},
            "b_in_a": {"sender": "b", "host": "a", "diplomats": 200},
        },
        "events": events,
    }
    sc = scenario_from_dict(raw, "<synthetic>")
    truth = {
        "respond_prob": 0.7,
        "ratio": 1.5,
        "lag": 2,
        "escalate_instrument": 0.3,
        "provocation_rate": 1.0,
    }
    settings = cal.SMCSettings(particles=500, generations=8)
    for label, values in (("fixed truth", truth), ("truth drawn from the prior", None)):
        started = time.perf_counter()
        study = cal.coverage_study(sc, "a", values, repetitions, settings)
        elapsed = time.perf_counter() - started
        by_param = study.groupby("parameter", sort=False)[["covered_50", "covered_90"]].mean()
        print(f"\n{label}: coverage over {repetitions} synthetic histories ({elapsed:.0f} s)")
        print(by_param.round(3).to_string())
        print(
            f"coverage_50: {study['covered_50'].mean():.3f}  "
            f"coverage_90: {study['covered_90'].mean():.3f}  "
            f"({len(study)} intervals)"
        )


if __name__ == "__main__":
    main()
