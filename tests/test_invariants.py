"""Properties of every run of every scenario (hypothesis), and reproducibility by run.

Random small scenarios: 2-4 states with any policy kind and parameters anywhere in
their valid ranges, per-counterpart overrides, allies, random missions (caps and
local-hire ceilings included) and random dated events of every kind, self-inflicted
ones included. Checked after every step of every run: no pool of staff is negative,
no mission is above the cap in force nor its locals above the ceiling in force, the
pending counters are consistent; and over the ensemble: outcomes are a partition of
the runs and the reported probabilities sum to one. And the reproducibility property:
run r's results do not depend on how many runs were asked for nor on the block size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import ev, scenario
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.analysis.outcomes import cumulative_incidence, outcome_table
from sim.analysis.runner import run_ensemble
from sim.engine.model import OUTCOMES, UNRESOLVED, EscalationModel
from sim.policies import POLICIES, Param
from sim.scenario import load_scenario, scenario_from_dict

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
LADDER = ["expel", "cap", "ban_local_hires", "close_consulate", "visa_denial", "suspend"]
HOSTILE = ["expel", "cap", "ban_local_hires", "close_consulate", "visa_denial", "suspend"]
CONCILIATORY = ["cancel", "lift", "restore", "offer"]

PROPERTY = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def modest_values(param: Param) -> list:
    """A few valid values of a policy's own parameter, small enough for fast runs.

    Its lower bound and default, halfway between them, and values above the default (at
    most about twice it, so a bound of 10,000,000 staff stays out of a 40-staff
    mission's test). Every value passes the parameter's own check.
    """
    if param.kind == "ladder":
        candidates = [list(param.default), list(param.default)[:1], LADDER[::-1]]
    elif param.kind == "instrument":
        candidates = [param.default, *HOSTILE]
    elif param.kind == "range":
        low, high = int(param.low), int(param.high)
        top = min(high, low + 3)
        candidates = [[low, low], [low, top], [top, top], param.default]
    else:
        low = 0.0 if param.kind == "prob" else param.low
        high = 1.0 if param.kind == "prob" else param.high
        default = float(param.default)
        floor = default - 5 if low is None else low
        above = default * 2 + 1
        if high is not None:
            above = min(above, high)
        candidates = [floor, (floor + default) / 2, default, (default + above) / 2, above]
        if param.kind == "int":
            candidates = [round(c) for c in candidates]
    values = []
    for candidate in candidates:
        value, problem = param.check(candidate)
        if problem is None and value not in values:
            values.append(value)
    assert values, f"no modest value for {param}"
    return values


@st.composite
def policies(draw) -> dict:
    kind = draw(st.sampled_from(sorted(POLICIES)))
    lag_lo = draw(st.integers(0, 3))
    pol: dict = {
        "kind": kind,
        "respond_prob": draw(st.sampled_from([1.0, 0.0, 0.5, 0.9])),
        "lag": [lag_lo, lag_lo + draw(st.integers(0, 3))],
        "notice": draw(st.integers(1, 6)),
        "noise": draw(st.sampled_from([0.0, 0.0, 0.3, 1.5])),
        "reciprocate": draw(st.sampled_from([0.0, 0.5, 1.0])),
        "provocation_rate": draw(st.sampled_from([0.0, 2.0, 20.0])),
        "provocation_size": [1, draw(st.integers(1, 4))],
        "conciliation_rate": draw(st.sampled_from([0.0, 2.0, 20.0])),
        "conciliation_size": [1, draw(st.integers(1, 4))],
    }
    if draw(st.booleans()):
        pol["ladder"] = draw(st.permutations(LADDER))[: draw(st.integers(1, 6))]
    # The policy's own parameters, from its declaration: a new policy is covered as is.
    for key, param in POLICIES[kind].params.items():
        pol[key] = draw(st.sampled_from(modest_values(param)))
    return pol


@st.composite
def mission_specs(draw) -> dict:
    spec = {
        "diplomats": draw(st.integers(0, 30)),
        "local_staff": draw(st.integers(0, 10)),
        "consulates": draw(st.integers(0, 3)),
        "staff_per_consulate": draw(st.integers(0, 5)),
    }
    total = (
        spec["diplomats"] + spec["local_staff"] + spec["consulates"] * spec["staff_per_consulate"]
    )
    if draw(st.booleans()):
        spec["cap"] = total + draw(st.integers(0, 10))
    if draw(st.booleans()):
        spec["local_hire_ceiling"] = spec["local_staff"] + draw(st.integers(0, 5))
    return spec


@st.composite
def scenarios(draw, max_runs: int = 12):
    n_states = draw(st.integers(2, 4))
    ids = [f"s{i}" for i in range(n_states)]
    pairs = [(a, b) for a in ids for b in ids if a != b]
    chosen = draw(st.lists(st.sampled_from(pairs), min_size=1, max_size=len(pairs), unique=True))
    missions = {f"{a}_in_{b}": {"sender": a, "host": b, **draw(mission_specs())} for a, b in chosen}
    states = {}
    for sid in ids:
        st_spec: dict = {"policy": draw(policies())}
        others = [o for o in ids if o != sid]
        if draw(st.booleans()):
            other = draw(st.sampled_from(others))
            st_spec["toward"] = {other: draw(policies())}
        if n_states > 2 and draw(st.booleans()):
            st_spec["allies"] = draw(st.lists(st.sampled_from(others), min_size=1, unique=True))
            st_spec["solidarity"] = draw(st.sampled_from([0.3, 1.0]))
            st_spec["solidarity_size"] = draw(st.integers(1, 3))
        states[sid] = st_spec
    horizon = draw(st.integers(4, 30))
    events = []
    for _ in range(draw(st.integers(0, 8))):
        a, b = draw(st.sampled_from(chosen))  # mission a_in_b: host b acts on a
        step = draw(st.integers(0, horizon - 1))
        kind = draw(st.sampled_from(HOSTILE + CONCILIATORY))
        fields: dict = {}
        if kind in ("expel", "restore"):
            fields["size"] = draw(st.integers(1, 12))
        elif kind == "close_consulate":
            fields["size"] = draw(st.integers(1, 3))
        elif kind in ("cap", "ban_local_hires"):
            fields["level"] = draw(st.integers(0, 40))
        elif kind == "visa_denial":
            fields["rate"] = draw(st.sampled_from([0.1, 0.5, 1.0, 2.5]))
        elif kind == "lift":
            fields["lifts"] = draw(st.sampled_from(["cap", "ban_local_hires", "visa_denial"]))
        if draw(st.booleans()):
            fields["deadline"] = step + draw(st.integers(1, 6))
        own = kind in HOSTILE and draw(st.integers(0, 4)) == 0
        if own:  # the sender's measure on its own mission
            events.append(ev(step, a, a, kind, mission=[a, b], **fields))
        else:
            events.append(ev(step, b, a, kind, **fields))
    events.sort(key=lambda e: e["date"])
    outcomes = {
        "closure_threshold": draw(st.integers(0, 5)),
        "quiet": draw(st.booleans()),
        "quiet_steps": draw(st.integers(1, 8)),
        "require_reciprocation": draw(st.booleans()),
    }
    if draw(st.booleans()):
        # Above the smallest starting total, as validation demands.
        smallest = min(
            m["diplomats"] + m["local_staff"] + m["consulates"] * m["staff_per_consulate"]
            for m in missions.values()
        )
        outcomes["restored_level"] = smallest + draw(st.integers(1, 50))
    return scenario(
        states,
        missions,
        events,
        outcomes,
        horizon_steps=horizon,
        runs=draw(st.integers(1, max_runs)),
        seed=draw(st.integers(0, 2**32)),
        forecast_step=draw(st.integers(0, min(3, horizon - 1))),
    )


FIELDS = (
    "outcome",
    "outcome_step",
    "final_staff",
    "staff_lost",
    "hostile_acts",
    "conciliatory_acts",
    "offer_accepted",
    "closed_mission",
    "trajectories",
)


def assert_same_runs(big, small, k: int, offset: int = 0) -> None:
    """Runs offset..offset+k-1 of ``big`` equal runs 0..k-1 of ``small``, bit for bit."""
    for name in FIELDS:
        x, y = getattr(big, name), getattr(small, name)
        if x is None:
            assert y is None
            continue
        assert x.dtype == y.dtype, name
        assert np.array_equal(x[..., offset : offset + k], y[..., :k]), name


# ------------------------------------------------------------------ invariants
@PROPERTY
@given(scenarios())
def test_staff_and_pending_invariants_at_every_step(sc):
    model = EscalationModel(sc, keep_trajectories=True)
    mi = model.missions
    while model.running:
        model.step()
        for pool in (mi.diplomats, mi.local, mi.posts):
            assert (pool >= 0).all()
        totals = mi.totals()
        assert (totals >= 0).all()
        assert (totals <= mi.cap).all()  # never above the cap in force
        assert (mi.local <= mi.ceiling).all()  # nor locals above the ceiling in force
        assert (mi.diplomats[mi.suspended] == 0).all() and (totals[mi.suspended] == 0).all()
        # running pending counters equal the sums over the ring buffers
        assert np.array_equal(mi.pending_expel, mi.p_expel.buf.sum(axis=0))
        assert np.array_equal(mi.pending_posts, mi.p_posts.buf.sum(axis=0))
        assert np.array_equal(mi.pending_hostile, mi.p_hostile.sum(axis=0))
        assert (mi.pending_hostile >= 0).all() and (mi.visa_rate >= 0).all()
        assert np.isfinite(model.last.size).all() and (model.last.size >= 0).all()
    res = model.result()
    assert np.array_equal(res.trajectories[-1], res.final_staff)
    assert (res.staff_lost >= 0).all() and (res.hostile_acts >= 0).all()
    assert (res.conciliatory_acts >= 0).all()


@PROPERTY
@given(scenarios())
def test_outcomes_partition_the_runs(sc):
    ens = run_ensemble(sc)
    n = sc.runs
    counts = np.bincount(ens.outcome, minlength=len(OUTCOMES))
    assert counts.sum() == n and len(counts) == len(OUTCOMES)
    table = outcome_table(ens.outcome)
    assert sum(row["count"] for row in table.values()) == n
    assert sum(row["p"] for row in table.values()) == pytest.approx(1.0)
    for row in table.values():
        lo, hi = row["ci95"]
        assert 0 <= lo <= row["p"] <= hi <= 1
    resolved = ens.outcome != UNRESOLVED
    assert (ens.outcome_step[~resolved] == -1).all()
    assert (ens.outcome_step[resolved] >= sc.forecast_step).all()
    assert (ens.outcome_step < sc.n_steps).all()
    n_forecast = sc.n_steps - sc.forecast_step
    cif = cumulative_incidence(ens.outcome, ens.outcome_step, sc.forecast_step, n_forecast)
    total = np.zeros(n_forecast)
    for code, name in enumerate(OUTCOMES[1:], start=1):
        curve = cif[name]
        assert (np.diff(curve) >= 0).all()
        assert curve[-1] == pytest.approx((ens.outcome == code).mean())
        total += curve
    assert (total <= 1 + 1e-12).all()
    summary = ens.summary()
    assert sum(summary["outcomes"][o]["p"] for o in OUTCOMES) == pytest.approx(1.0)
    # a spiral names a watched mission at or below the threshold, or suspended
    spiral = ens.outcome == OUTCOMES.index("spiral")
    assert (ens.closed_mission[spiral] >= 0).all() and (ens.closed_mission[~spiral] == -1).all()


@settings(PROPERTY, max_examples=25)
@given(scenarios(max_runs=20), st.data())
def test_runs_do_not_depend_on_the_ensemble_or_the_block_size(sc, data):
    big_n = sc.runs
    k = data.draw(st.integers(1, big_n))
    block_big = data.draw(st.integers(1, big_n))
    block_small = data.draw(st.integers(1, k))
    big = run_ensemble(sc, big_n, keep_trajectories=True, block_size=block_big)
    small = run_ensemble(sc, k, keep_trajectories=True, block_size=block_small)
    assert_same_runs(big, small, k)
    # and any window of runs, started anywhere
    first = data.draw(st.integers(0, big_n - 1))
    width = data.draw(st.integers(1, big_n - first))
    window = run_ensemble(sc, width, first_run=first, keep_trajectories=True, block_size=3)
    assert np.array_equal(window.run_ids, np.arange(first, first + width))
    assert_same_runs(big, window, width, offset=first)


@settings(PROPERTY, max_examples=25)
@given(scenarios(), st.randoms(use_true_random=False))
def test_results_do_not_depend_on_the_order_of_states_and_missions(sc, rnd):
    raw = dict(sc.raw)
    state_ids, mission_ids = list(raw["states"]), list(raw["missions"])
    rnd.shuffle(state_ids)
    rnd.shuffle(mission_ids)
    raw["states"] = {sid: raw["states"][sid] for sid in state_ids}
    raw["missions"] = {mid: raw["missions"][mid] for mid in mission_ids}
    other_sc = scenario_from_dict(raw, "<shuffled>")
    base = run_ensemble(sc, keep_trajectories=True)
    other = run_ensemble(other_sc, keep_trajectories=True)
    m_perm = [other.mission_ids.index(mid) for mid in base.mission_ids]
    s_perm = [other.state_ids.index(sid) for sid in base.state_ids]
    assert np.array_equal(base.trajectories, other.trajectories[:, m_perm])
    for name in ("staff_lost", "hostile_acts", "conciliatory_acts"):
        assert np.array_equal(getattr(base, name), getattr(other, name)[s_perm]), name
    for name in ("outcome", "outcome_step", "offer_accepted"):
        assert np.array_equal(getattr(base, name), getattr(other, name)), name
    closed = np.array([*base.mission_ids, None], dtype=object)[base.closed_mission]
    closed_other = np.array([*other.mission_ids, None], dtype=object)[other.closed_mission]
    assert list(closed) == list(closed_other)


# --------------------------------------------------------------- reproducibility
@pytest.mark.parametrize("name", ["us_russia_2021.toml", "teaching_tit_for_tat.toml"])
def test_first_100_runs_of_100_equal_first_100_of_1000(name):
    sc = load_scenario(SCENARIOS / name)
    hundred = run_ensemble(sc, 100, keep_trajectories=True)
    thousand = run_ensemble(sc, 1000, keep_trajectories=True, block_size=256)
    assert_same_runs(thousand, hundred, 100)
    # the runs really differ from each other (the comparison is not vacuous)
    assert len({tuple(t) for t in hundred.final_staff.T}) > 1 or len(set(hundred.outcome)) > 1


def test_first_100_runs_of_100_equal_first_100_of_1000_rich_scenario():
    # every source of randomness at once: noise, lag ranges, respond_prob, forgiveness,
    # provocations and conciliations of random size, solidarity
    def pol(kind, **kw):
        base = {
            "kind": kind,
            "noise": 0.4,
            "lag": [0, 3],
            "respond_prob": 0.8,
            "provocation_rate": 6.0,
            "provocation_size": [1, 4],
            "conciliation_rate": 3.0,
            "conciliation_size": [1, 3],
        }
        return {**base, **kw}

    states = {
        "x": {"policy": pol("generous", forgiveness=0.2)},
        "y": {"policy": pol("proportional", ratio=1.2), "toward": {"z": {"kind": "grit"}}},
        "z": {"policy": pol("tit_for_tat"), "allies": ["x"], "solidarity": 0.5},
    }
    missions = {
        f"{a}_in_{b}": {"sender": a, "host": b, "diplomats": 60, "local_staff": 20}
        for a in states
        for b in states
        if a != b
    }
    sc = scenario(states, missions, [ev(0, "x", "y", "expel", size=5)], horizon_steps=80, seed=9)
    hundred = run_ensemble(sc, 100, keep_trajectories=True, block_size=100)
    thousand = run_ensemble(sc, 1000, keep_trajectories=True, block_size=333)
    assert_same_runs(thousand, hundred, 100)
    assert len({tuple(t) for t in hundred.final_staff.T}) > 50
    # and one run at a time (block size 1) is the same again
    ones = run_ensemble(sc, 10, keep_trajectories=True, block_size=1)
    assert_same_runs(thousand, ones, 10)
