"""A fitted scenario (``calibrate --write-scenario``) never draws outside the prior.

The posterior lies inside each parameter's prior range, so the distributions fitted to
it and written into the scenario must too: a lognormal fitted to a ratio posterior
piled against the prior's upper bound (5) once drew ratios up to 9.9 (notebook 04).
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim
from sim.analysis import calibrate as cal
from sim.distributions import U_MAX, U_MIN, scenario_distributions
from sim.scenario import scenario_from_dict

ROOT = Path(__file__).resolve().parent.parent
REPLAY = ROOT / "scenarios" / "us_russia_2016_2023_replay.toml"
PRIORS = cal.CALIBRATED  # respond_prob, ratio, lag, escalate_instrument, provocation_rate
#: Uniforms at which every fitted distribution is evaluated: both extremes (which give a
#: distribution's exact support) and a fine grid between them.
UNIFORMS = np.concatenate([[U_MIN, U_MAX], np.linspace(U_MIN, U_MAX, 2_001)])


def allowed(name: str) -> tuple[float, float]:
    """The values the prior gives mass to (a ``floor`` prior's whole numbers)."""
    box = PRIORS[name]
    if box.scale == "floor":
        return box.low, box.high - 1
    return box.low, box.high


def pair_with(policy: dict) -> sim.Scenario:
    """A two-state scenario in which state a has ``policy`` (as fitted)."""
    raw = {
        "scenario": {"name": "fitted", "start": dt.date(2025, 1, 6), "horizon_steps": 10},
        "states": {
            "a": {"policy": {"notice": 2, "noise": 0.2, **policy}},
            "b": {"policy": {"kind": "tit_for_tat"}},
        },
        "missions": {
            "a_in_b": {"sender": "a", "host": "b", "diplomats": 100, "source": "invented"},
            "b_in_a": {"sender": "b", "host": "a", "diplomats": 100, "source": "invented"},
        },
        "events": [],
    }
    return scenario_from_dict(raw, "fitted policy")


def check_support(scenario: sim.Scenario) -> int:
    """Every fitted distribution's values lie in its prior's range; how many were checked."""
    checked = 0
    for path, dist in scenario_distributions(scenario).items():
        name = path.rsplit(".", 1)[-1]
        if name not in PRIORS:
            continue
        low, high = allowed(name)
        values = dist.sample(UNIFORMS)
        assert values.min() >= low and values.max() <= high, (path, dist.describe())
        lo, hi = dist.support()
        assert low <= lo <= hi <= high, (path, dist.describe(), (lo, hi))
        checked += 1
    return checked


def natural_values(name: str, size: int):
    """A posterior sample of parameter ``name``: anywhere in its prior, often at an edge."""
    low, high = allowed(name)
    if PRIORS[name].scale == "floor":
        whole = st.integers(int(low), int(high)).map(float)
        return st.lists(whole, min_size=size, max_size=size)
    edge = st.sampled_from([low, high, low * 1.0001 + 1e-9, high * 0.9999])
    inside = st.floats(low, high, allow_nan=False)
    return st.lists(st.one_of(edge, inside), min_size=size, max_size=size)


@st.composite
def posteriors(draw) -> SimpleNamespace:
    """A stand-in for a StateFit: what ``fitted_policy`` reads of one (its weighted final
    population on the natural scale, the parameters, their priors, the policy)."""
    size = draw(st.integers(2, 40))
    table = {name: draw(natural_values(name, size)) for name in PRIORS}
    weights = np.array(draw(st.lists(st.floats(0.01, 1.0), min_size=size, max_size=size)))
    table["weight"] = weights / weights.sum()
    samples = pd.DataFrame(table)
    return SimpleNamespace(
        params=list(PRIORS),
        priors=dict(PRIORS),
        policy="proportional",
        fixed={},
        samples=lambda: samples,
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(posteriors())
def test_every_fitted_distribution_stays_in_its_prior(fit):
    policy = cal.fitted_policy(fit, {})
    assert policy["ratio"]["dist"] == "lognormal"
    assert check_support(pair_with(policy)) == len(PRIORS)


def test_a_ratio_posterior_against_the_upper_bound():
    """The case of notebook 04: the posterior's log-mean near log 5 with a wide spread.
    Untruncated, that lognormal puts about a third of its draws above 5."""
    rng = np.random.default_rng(0)
    ratios = np.exp(rng.uniform(math.log(0.9), math.log(5.0), 400))
    fit = SimpleNamespace(
        params=["ratio"],
        priors={"ratio": PRIORS["ratio"]},
        policy="proportional",
        fixed={},
        samples=lambda: pd.DataFrame({"ratio": ratios, "weight": np.full(400, 1 / 400)}),
    )
    policy = cal.fitted_policy(fit, {})
    ratio = policy["ratio"]
    assert (ratio["low"], ratio["high"]) == (0.2, 5.0)
    untruncated = {k: v for k, v in ratio.items() if k not in ("low", "high")}
    wide = scenario_distributions(pair_with({"kind": "proportional", "ratio": untruncated}))
    assert wide["states.a.policy.ratio"].support()[1] > 5  # what the fix prevents
    assert check_support(pair_with(policy)) == 1


def test_a_written_fitted_scenario_draws_inside_the_priors(tmp_path):
    """End to end: calibrate on the record, write the scenario as --write-scenario does,
    run it, and read the values each run drew."""
    fit = cal.calibrate(
        sim.load_scenario(REPLAY),
        until=dt.date(2020, 12, 31),
        states=["russia"],
        settings=cal.SMCSettings(particles=50, generations=2, batch=1024),
        seed=2,
    )
    path = tmp_path / "fitted.toml"
    path.write_text(cal.fitted_toml(fit), encoding="utf-8")
    scenario = sim.load_scenario(path)
    assert check_support(scenario) == len(PRIORS)
    runs = sim.run(scenario, runs=2000, keep_trajectories=False, keep_events=False).runs
    for name in PRIORS:
        drawn = runs[f"param.states.russia.policy.{name}"]
        low, high = allowed(name)
        assert drawn.between(low, high).all(), (name, drawn.min(), drawn.max())
