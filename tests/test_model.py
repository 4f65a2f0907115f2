"""The model as a whole: many states, allies, per-counterpart policies, agent order, Mesa."""

from __future__ import annotations

import mesa
import numpy as np
from conftest import Recorder, ev, scenario

from sim.analysis.runner import run_ensemble
from sim.engine.agents import StateAgent
from sim.engine.missions import Kind
from sim.engine.model import EscalationModel
from sim.scenario import scenario_from_dict

WEST = ["uk", "us", "de", "fr"]


def skripal(west_policy: dict, russia: dict, solidarity: float, extra_events=(), **kw):
    """Russia and four western states; us, de and fr are allies of the uk (one way)."""
    sizes = {"us": 4, "de": 3, "fr": 2}
    states: dict = {"uk": {"policy": west_policy}}
    for sid, size in sizes.items():
        states[sid] = {
            "policy": {"kind": "passive", "lag": [1, 1], "notice": 2},
            "allies": ["uk"],
            "solidarity": solidarity,
            "solidarity_size": size,
        }
    states["russia"] = russia
    missions = {}
    for s in WEST:
        missions[f"russia_in_{s}"] = {"sender": "russia", "host": s, "diplomats": 100}
        missions[f"{s}_in_russia"] = {"sender": s, "host": "russia", "diplomats": 100}
    events = [ev(0, "uk", "russia", "expel", size=23), *extra_events]
    return scenario(states, missions, events, **kw)


TFT = {"kind": "tit_for_tat", "lag": [1, 1], "notice": 2}
RUSSIA = {
    "policy": TFT,
    "toward": {
        "de": {"kind": "proportional", "ratio": 0.5},
        "fr": {"kind": "passive"},
    },
}


def test_five_states_allies_and_per_counterpart_policies_exactly():
    rec = Recorder(skripal(TFT, RUSSIA, solidarity=1.0, horizon_steps=14))

    def acts(mid):
        series = rec.size[:, rec.m(mid), 0]
        return {int(t): int(series[t]) for t in np.flatnonzero(series)}

    # the UK and Russia echo 23 for 23 (tit for tat, lag 1): the UK in steps 0, 4, 8, 12
    assert acts("russia_in_uk") == {0: 23, 4: 23, 8: 23, 12: 23}
    assert acts("uk_in_russia") == {2: 23, 6: 23, 10: 23}
    # each ally joins every UK measure in the next step with its solidarity_size
    assert acts("russia_in_us") == {1: 4, 5: 4, 9: 4, 13: 4}
    assert acts("russia_in_de") == {1: 3, 5: 3, 9: 3, 13: 3}
    assert acts("russia_in_fr") == {1: 2, 5: 2, 9: 2, 13: 2}
    # Russia answers each ally by its policy toward it: in kind (us), at half rounded
    # down (de: 1.5 -> 1), not at all (fr: passive)
    assert acts("us_in_russia") == {3: 4, 7: 4, 11: 4}
    assert acts("de_in_russia") == {3: 1, 7: 1, 11: 1}
    assert acts("fr_in_russia") == {}
    assert (rec.kind[rec.size > 0] == Kind.EXPEL).all()
    res = rec.result
    order = rec.model.state_ids
    hostile = dict(zip(order, res.hostile_acts[:, 0].tolist(), strict=True))
    assert hostile == {"uk": 4, "us": 4, "de": 4, "fr": 4, "russia": 9}
    # staff lost: every act has taken effect 2 steps after it was announced (horizon 14)
    lost = dict(zip(order, res.staff_lost[:, 0].tolist(), strict=True))
    assert lost == {"uk": 69, "us": 12, "de": 3, "fr": 0, "russia": 3 * 23 + 3 * (4 + 3 + 2)}


def test_mutual_allies_join_each_others_own_acts_only():
    # uk and us are each other's allies: us joins the UK's expulsion (step 1), but the UK
    # does not join that solidarity act in turn (no cascade), nor does us join its own.
    # Russia is scripted, so nothing else happens.
    states = {
        sid: {
            "policy": {"kind": "passive", "notice": 2},
            "allies": [other],
            "solidarity": 1.0,
            "solidarity_size": size,
        }
        for sid, other, size in (("uk", "us", 5), ("us", "uk", 4))
    }
    states["russia"] = {"policy": {"kind": "scripted"}}
    missions = {}
    for s in ("uk", "us"):
        missions[f"russia_in_{s}"] = {"sender": "russia", "host": s, "diplomats": 100}
        missions[f"{s}_in_russia"] = {"sender": s, "host": "russia", "diplomats": 100}
    events = [ev(0, "uk", "russia", "expel", size=23), ev(5, "us", "russia", "expel", size=7)]
    rec = Recorder(scenario(states, missions, events, horizon_steps=12))

    def acts(mid):
        series = rec.size[:, rec.m(mid), 0]
        return {int(t): int(series[t]) for t in np.flatnonzero(series)}

    assert acts("russia_in_uk") == {0: 23, 6: 5}  # the UK joins the US's own act of step 5
    assert acts("russia_in_us") == {1: 4, 5: 7}
    assert (rec.kind[rec.size > 0] == Kind.EXPEL).all()
    assert rec.total[-1, rec.m("russia_in_uk"), 0] == 100 - 23 - 5
    assert rec.total[-1, rec.m("russia_in_us"), 0] == 100 - 4 - 7


def test_no_solidarity_no_coalition():
    rec = Recorder(skripal(TFT, RUSSIA, solidarity=0.0, horizon_steps=14))
    for s in ("us", "de", "fr"):
        assert (rec.size[:, rec.m(f"russia_in_{s}")] == 0).all()
        assert (rec.size[:, rec.m(f"{s}_in_russia")] == 0).all()


def noisy_world(order: list[str], mission_order: list[str] | None = None):
    """A random-rich five-state scenario whose states (and missions) are listed in ``order``."""
    west = {
        "kind": "generous",
        "forgiveness": 0.2,
        "noise": 0.3,
        "lag": [1, 3],
        "respond_prob": 0.8,
        "provocation_rate": 2.0,
        "conciliation_rate": 1.0,
    }
    common = {k: v for k, v in west.items() if k != "forgiveness"}
    russia = {
        "policy": {**common, "kind": "tit_for_tat"},
        "toward": {"de": {"kind": "proportional", "ratio": 1.3}, "fr": {"kind": "grit"}},
    }
    sc = skripal(
        west,
        russia,
        solidarity=0.5,
        extra_events=[
            ev(2, "russia", "uk", "offer"),
            ev(3, "us", "russia", "cap", level=80, deadline=6),
        ],
        horizon_steps=60,
        runs=400,
        seed=42,
    )
    raw = sc.raw
    raw["states"] = {sid: raw["states"][sid] for sid in order}
    if mission_order is not None:
        raw["missions"] = {mid: raw["missions"][mid] for mid in mission_order}
    return scenario_from_dict(raw, "<reordered>")


def test_results_do_not_depend_on_agent_order():
    forward = noisy_world(["uk", "us", "de", "fr", "russia"])
    missions = list(forward.missions)
    backward = noisy_world(["russia", "fr", "de", "us", "uk"], missions[::-1])
    shuffled = noisy_world(["de", "russia", "uk", "fr", "us"], missions[3:] + missions[:3])
    base = run_ensemble(forward, keep_trajectories=True)
    assert base.trajectories.std(axis=2).max() > 0  # runs differ: the comparison is not vacuous
    for other_sc in (backward, shuffled):
        other = run_ensemble(other_sc, keep_trajectories=True)
        assert list(other.scenario.states) != list(forward.states)
        for i, mid in enumerate(base.mission_ids):
            j = other.mission_ids.index(mid)
            assert np.array_equal(base.trajectories[:, i], other.trajectories[:, j]), mid
        for i, sid in enumerate(base.state_ids):
            j = other.state_ids.index(sid)
            assert np.array_equal(base.staff_lost[i], other.staff_lost[j]), sid
            assert np.array_equal(base.hostile_acts[i], other.hostile_acts[j]), sid
            assert np.array_equal(base.conciliatory_acts[i], other.conciliatory_acts[j]), sid
        assert np.array_equal(base.outcome, other.outcome)
        assert np.array_equal(base.outcome_step, other.outcome_step)
        assert np.array_equal(base.offer_accepted, other.offer_accepted)
        closed = [base.mission_ids[m] if m >= 0 else None for m in base.closed_mission]
        closed_other = [other.mission_ids[m] if m >= 0 else None for m in other.closed_mission]
        assert closed == closed_other


def test_mesa_integration():
    sc = skripal(TFT, RUSSIA, solidarity=1.0, horizon_steps=6, runs=3)
    model = EscalationModel(sc)
    assert isinstance(model, mesa.Model)
    agents = list(model.agents)
    assert len(agents) == len(sc.states) == 5
    assert all(isinstance(a, mesa.Agent) and isinstance(a, StateAgent) for a in agents)
    assert {a.state_id for a in agents} == set(sc.states)
    assert len({a.unique_id for a in agents}) == 5
    assert all(a.model is model for a in agents)
    assert model.state_agents["russia"] in agents
    # one relation per counterpart with a mission either way; Russia has four
    assert sorted(model.state_agents["russia"].relations) == ["de", "fr", "uk", "us"]
    assert sorted(model.state_agents["us"].relations) == ["russia"]
    # Mesa's step counter and running flag drive the run
    assert model.running and model.steps == 0
    while model.running:
        model.step()
    assert model.steps == model.t == sc.n_steps == 6
    res = model.result()
    assert res.trajectories is None and res.final_staff.shape == (8, 3)
    assert res.outcome.shape == (3,) and res.staff_lost.shape == (5, 3)
