"""Staff categories, staff-equivalents and caps tied to parity (issue 13).

A mission holds diplomats, administrative and technical staff, local staff and consulate
staff (sim.engine.categories); ``[staff_weights]`` says what a head of each is worth
when a state weighs a measure; a cap may exempt consulates, take the counterpart's level
(``parity``) and follow it (``hold``). Expectations are exact, worked out by hand.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import START, STEP_DAYS, ev
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.analysis.runner import run_ensemble
from sim.engine import instruments
from sim.engine.categories import CATEGORIES, CATEGORY_NAMES, StaffWeights, category
from sim.engine.missions import NO_LIMIT, Missions
from sim.engine.model import EscalationModel
from sim.scenario import ScenarioError, scenario_from_dict

SCRIPTED = {"kind": "scripted"}


def build(
    a_in_b: dict,
    b_in_a: dict | None,
    events: list[dict] = (),
    *,
    policy_a: dict = SCRIPTED,
    policy_b: dict = SCRIPTED,
    weights: dict | None = None,
    horizon_steps: int = 12,
    runs: int = 1,
):
    """States a and b, mission a_in_b (and b_in_a unless None), scripted by default."""
    missions = {"a_in_b": {"sender": "a", "host": "b", **a_in_b}}
    if b_in_a is not None:
        missions["b_in_a"] = {"sender": "b", "host": "a", **b_in_a}
    raw = {
        "scenario": {
            "name": "categories",
            "start": START,
            "step_days": STEP_DAYS,
            "horizon_steps": horizon_steps,
            "runs": runs,
            "seed": 3,
        },
        "states": {"a": {"policy": policy_a}, "b": {"policy": policy_b}},
        "missions": missions,
    }
    if events:
        raw["events"] = list(events)
    if weights is not None:
        raw["staff_weights"] = weights
    return scenario_from_dict(raw, "<test>")


def problems(*args, **kwargs) -> dict[str, str]:
    with pytest.raises(ScenarioError) as info:
        build(*args, **kwargs)
    return {p.path: p.message for p in info.value.problems}


def run(sc):
    """The model after its run (its missions' arrays), the result and the record."""
    model = EscalationModel(sc, keep_trajectories=True, keep_events=True)
    result = model.run()
    return model, result, result.events


def heads(model, mid: str) -> dict[str, int]:
    m = model.mission_ids.index(mid)
    return {c.name: int(c.heads(model.missions, m)[0]) for c in CATEGORIES}


def total(result, model, mid: str, step: int) -> int:
    return int(result.trajectories[step, model.mission_ids.index(mid), 0])


# ------------------------------------------------------------------ categories
def test_the_categories_are_declared_once_and_instruments_name_theirs():
    assert CATEGORY_NAMES == ("diplomats", "admin_technical", "local_staff", "consulate_staff")
    assert category("local_staff").mission_field == "local_staff"
    assert category("consulate_staff").mission_field is None
    found = {i.name: (i.category, i.categories) for i in instruments.hostile()}
    assert found["expel"] == ("diplomats", ("diplomats", "admin_technical"))
    assert found["visa_denial"] == ("diplomats", ("diplomats",))
    assert found["ban_local_hires"] == ("local_staff", ("local_staff",))
    assert found["close_consulate"] == ("consulate_staff", ("consulate_staff",))
    assert found["cap"][1] == ("local_staff", "admin_technical", "diplomats", "consulate_staff")
    assert set(found["suspend"][1]) == set(CATEGORY_NAMES)
    for name, (one, several) in found.items():
        assert one is None or one in several, name
        assert set(several) <= set(CATEGORY_NAMES), name


def test_admin_technical_counts_in_every_total_and_leaves_with_a_suspension():
    sc = build(
        {
            "diplomats": 10,
            "admin_technical": 7,
            "local_staff": 3,
            "consulates": 1,
            "staff_per_consulate": 4,
        },
        {"diplomats": 5},
        [ev(2, "b", "a", "suspend", deadline=4)],
    )
    assert sc.missions["a_in_b"].admin_technical == 7
    assert sc.missions["a_in_b"].total == 24
    model, result, events = run(sc)
    assert total(result, model, "a_in_b", 3) == 24
    assert total(result, model, "a_in_b", 4) == 0
    assert heads(model, "a_in_b") == dict.fromkeys(CATEGORY_NAMES, 0)
    row = events[events["instrument"] == "suspend"].iloc[0]
    assert (row["size"], row["staff_removed"]) == (24.0, 24)


def test_a_cap_cuts_admin_technical_after_local_staff_and_before_diplomats():
    sc = build(
        {"diplomats": 10, "admin_technical": 5, "local_staff": 3},
        {"diplomats": 5},
        [ev(0, "b", "a", "cap", level=12, deadline=2)],
    )
    model, _, _ = run(sc)
    assert heads(model, "a_in_b") == {
        "diplomats": 10,
        "admin_technical": 2,
        "local_staff": 0,
        "consulate_staff": 0,
    }


def test_restores_still_return_diplomats():
    sc = build(
        {"diplomats": 10, "admin_technical": 5},
        {"diplomats": 5},
        [
            ev(0, "b", "a", "expel", size=4, category="admin_technical", deadline=1),
            ev(2, "b", "a", "restore", size=3, deadline=3),
        ],
    )
    model, _, _ = run(sc)
    assert heads(model, "a_in_b")["admin_technical"] == 1
    assert heads(model, "a_in_b")["diplomats"] == 13


def test_an_expulsion_may_name_administrative_and_technical_staff():
    sc = build(
        {"diplomats": 10, "admin_technical": 5},
        {"diplomats": 5},
        [
            ev(0, "b", "a", "expel", size=7, category="admin_technical", deadline=2),
            ev(0, "b", "a", "expel", size=3, deadline=2),
        ],
    )
    assert sc.events[0].options == {"category": "admin_technical"}
    assert sc.events[1].options == {"category": "diplomats"}
    model, _, events = run(sc)
    # Only the 5 administrative and technical staff there were could be expelled.
    assert heads(model, "a_in_b")["admin_technical"] == 0
    assert heads(model, "a_in_b")["diplomats"] == 7
    expel = events[events["instrument"] == "expel"]
    assert expel["amount"].tolist() == [5.0, 3.0]
    assert expel["size"].tolist() == [5.0, 3.0]
    assert expel["staff_removed"].tolist() == [5, 3]


def test_a_pending_admin_expulsion_is_counted_in_the_net_total():
    sc = build(
        {"diplomats": 10, "admin_technical": 5},
        {"diplomats": 5},
        [ev(0, "b", "a", "expel", size=4, category="admin_technical", deadline=5)],
    )
    model = EscalationModel(sc)
    model.step()
    assert int(model.missions.net_total(0)[0]) == 11
    cancelled = model.missions.cancel(0, np.ones(1, dtype=bool))
    assert cancelled.tolist() == [4]
    assert int(model.missions.net_total(0)[0]) == 15


def test_admin_technical_may_be_drawn_per_run_and_given_per_run():
    sc = build(
        {"diplomats": 10, "admin_technical": {"dist": "choice", "values": [2, 8]}},
        {"diplomats": 5},
        runs=64,
    )
    ens = run_ensemble(sc, keep_trajectories=True)
    drawn = ens.drawn["missions.a_in_b.admin_technical"]
    assert set(drawn.tolist()) == {2, 8}
    np.testing.assert_array_equal(ens.trajectories[0, 0], 10 + drawn)
    given = EscalationModel(sc, param_values={"missions.a_in_b.admin_technical": np.arange(64)})
    np.testing.assert_array_equal(given.missions.admin_technical[0], np.arange(64))


def test_validation_of_admin_technical():
    found = problems({"diplomats": 10, "admin_technical": -1}, {"diplomats": 5})
    assert "expected an integer >= 0" in found["missions.a_in_b.admin_technical"]
    found = problems({"diplomats": 10, "admin_technical": 20, "cap": 25}, {"diplomats": 5})
    assert "total staff 30" in found["missions.a_in_b.cap"]
    found = problems({"diplomats": 10, "admin_technical": 9_999_995}, {"diplomats": 5})
    assert "diplomats + admin_technical + local_staff" in found["missions.a_in_b"]
    found = problems(
        {"diplomats": 10},
        {"diplomats": 5},
        [
            ev(0, "b", "a", "expel", size=1, category="local_staff"),
        ],
    )
    assert "expected one of diplomats, admin_technical" in found["events.0.category"]


# -------------------------------------------------------------- staff weights
def test_staff_weights_are_validated_with_their_paths():
    found = problems(
        {"diplomats": 10},
        {"diplomats": 5},
        weights={"local_staff": 0, "diplomats": 101, "consulate_staff": "x", "locals": 1.0},
    )
    for name in ("local_staff", "diplomats", "consulate_staff"):
        assert "expected a number > 0 and <= 100" in found[f"staff_weights.{name}"]
    assert "did you mean 'local_staff'" in found["staff_weights.locals"]
    assert "staff_weights.admin_technical" not in found
    found = problems({"diplomats": 10}, {"diplomats": 5}, weights=[1.0])
    assert "expected a table" in found["staff_weights"]


def test_staff_weights_are_filled_in_and_set_by_dotted_path():
    sc = build({"diplomats": 10}, {"diplomats": 5})
    assert sc.staff_weights == dict.fromkeys(CATEGORY_NAMES, 1.0)
    assert StaffWeights(sc.staff_weights).uniform
    again = sc.with_overrides({"staff_weights.local_staff": 0.1})
    assert again.staff_weights["local_staff"] == 0.1
    assert not StaffWeights(again.staff_weights).uniform
    assert again.raw["staff_weights"] == {"local_staff": 0.1}


LOCALS = {"diplomats": 100, "local_staff": 182}
TFT_EXPEL = {"kind": "tit_for_tat", "lag": [1, 1], "notice": 2, "ladder": ["expel"]}


def test_a_ban_of_182_locals_at_a_tenth_is_perceived_as_18_2_and_answered_with_18():
    sc = build(
        LOCALS,
        {"diplomats": 100},
        [ev(0, "b", "a", "ban_local_hires", deadline=2)],
        policy_a=TFT_EXPEL,
        weights={"local_staff": 0.1},
    )
    model, _, events = run(sc)
    ban = events[events["instrument"] == "ban_local_hires"].iloc[0]
    assert ban["size"] == 182 * 0.1 and ban["amount"] == 0 and ban["staff_removed"] == 182
    # a cannot ban locals b has none of: its ladder has only expulsions; 18 whole staff.
    answer = events[(events["actor"] == "a") & (events["cause"] == "answer")]
    assert answer["instrument"].tolist() == ["expel"]
    assert (answer["amount"].iloc[0], answer["size"].iloc[0]) == (18.0, 18.0)
    assert heads(model, "b_in_a")["diplomats"] == 82


def test_an_answer_of_12_staff_equivalents_through_a_ban_lowers_the_ceiling_by_120():
    tft = {"kind": "tit_for_tat", "lag": [1, 1], "notice": 2}
    sc = build(
        {"diplomats": 100, "local_staff": 500},
        {"diplomats": 50, "local_staff": 300},
        [ev(0, "b", "a", "ban_local_hires", level=380, deadline=2)],
        policy_a=tft,
        weights={"local_staff": 0.1},
    )
    model, _, events = run(sc)
    ban = events[events["actor"] == "b"].iloc[0]
    assert ban["size"] == 120 * 0.1  # 12 staff-equivalents, perceived as such
    answer = events[(events["actor"] == "a") & (events["cause"] == "answer")].iloc[0]
    assert answer["instrument"] == "ban_local_hires"
    assert answer["amount"] == 300 - 120  # the ceiling: 120 local staff fewer
    assert int(model.missions.ceiling[model.mission_ids.index("b_in_a"), 0]) == 180
    assert heads(model, "b_in_a")["local_staff"] == 180


def test_weighted_expulsions_and_closures_record_heads_and_staff_equivalents():
    sc = build(
        {"diplomats": 10, "consulates": 2, "staff_per_consulate": 10},
        {"diplomats": 5},
        [
            ev(0, "b", "a", "expel", size=5, deadline=2),
            ev(0, "b", "a", "close_consulate", size=1, deadline=2),
        ],
        weights={"diplomats": 2.0, "consulate_staff": 0.5},
    )
    model, _, events = run(sc)
    rows = events.set_index("instrument")
    assert (rows.loc["expel", "amount"], rows.loc["expel", "size"]) == (5.0, 10.0)
    assert rows.loc["expel", "staff_removed"] == 5
    assert (rows.loc["close_consulate", "amount"], rows.loc["close_consulate", "size"]) == (1, 5)
    assert rows.loc["close_consulate", "staff_removed"] == 10
    assert heads(model, "a_in_b") == {
        "diplomats": 5,
        "admin_technical": 0,
        "local_staff": 0,
        "consulate_staff": 10,
    }


def test_amounts_for_a_decision_in_staff_equivalents():
    initial = [
        {
            "diplomats": 40,
            "admin_technical": 10,
            "local_staff": 30,
            "consulates": 3,
            "staff_per_consulate": 10,
            "cap": NO_LIMIT,
            "local_hire_ceiling": NO_LIMIT,
        }
    ]
    weights = {"diplomats": 2.0, "admin_technical": 1.0, "local_staff": 0.1, "consulate_staff": 0.5}
    missions = Missions(initial, 1, 4, weights=weights)
    count = np.array([12.0])

    def amount(name):
        return float(instruments.INSTRUMENTS[name].amount_for(missions, 0, count)[0])

    assert amount("expel") == 6  # 12 / 2
    assert amount("ban_local_hires") == 30 - 30  # 120 locals wanted, 30 there
    assert amount("close_consulate") == 3  # 12 / (10 x 0.5) = 2.4 posts: 3
    assert amount("visa_denial") == pytest.approx(12 / (26 * 2.0))
    # A cap cuts locals first (30 at 0.1: 3), then admin (9 at 1: 9): 39 heads.
    assert amount("cap") == 110 - 39
    assert float(instruments.INSTRUMENTS["expel"].amount_for(missions, 0, np.array([1.0]))[0]) == 1


def _world(weights=None, runs=40):
    """A noisy two-state world using every hostile instrument."""
    policy = {
        "kind": "proportional",
        "ratio": 1.1,
        "noise": 0.3,
        "lag": [1, 3],
        "notice": 2,
        "escalate_instrument": 0.3,
        "respond_prob": 0.8,
    }
    mission = {
        "diplomats": 120,
        "admin_technical": 30,
        "local_staff": 200,
        "consulates": 3,
        "staff_per_consulate": 15,
    }
    events = [
        ev(0, "b", "a", "ban_local_hires", level=50, deadline=2),
        ev(1, "a", "b", "expel", size=10, category="admin_technical", deadline=3),
        ev(2, "a", "b", "cap", parity=True, deadline=4),
        ev(3, "b", "a", "visa_denial", rate=0.5, deadline=5),
    ]
    return build(
        mission,
        dict(mission),
        events,
        policy_a=policy,
        policy_b=policy,
        weights=weights,
        horizon_steps=40,
        runs=runs,
    )


def test_weights_of_one_give_the_same_runs_as_no_table():
    plain = run_ensemble(_world(), keep_trajectories=True, keep_events=True)
    ones = run_ensemble(
        _world(dict.fromkeys(CATEGORY_NAMES, 1.0)), keep_trajectories=True, keep_events=True
    )
    np.testing.assert_array_equal(plain.trajectories, ones.trajectories)
    pd.testing.assert_frame_equal(plain.events, ones.events)
    weighted = run_ensemble(_world({"local_staff": 0.1}), keep_events=True)
    assert not plain.events["size"].equals(weighted.events["size"])


# ---------------------------------------------------------------- parity caps
PARITY_A = {"diplomats": 50, "local_staff": 40}  # a's mission in b: 90
PARITY_B = {"diplomats": 60}  # b's mission in a: 60, 5 of them being expelled


def parity_events(*cap_fields, later=(), **fields):
    return [
        ev(0, "a", "b", "expel", size=5, deadline=5),
        ev(1, "b", "a", "cap", parity=True, deadline=3, **fields),
        *later,
    ]


def test_a_parity_cap_brings_the_mission_to_the_counterparts_net_level_and_stops():
    later = [ev(6, "a", "b", "expel", size=10, deadline=8)]
    model, result, events = run(build(PARITY_A, PARITY_B, parity_events(later=later)))
    cap = events[events["instrument"] == "cap"].iloc[0]
    # 60 less the 5 pending: 55; the cap removes 35 (all local staff first).
    assert (cap["amount"], cap["size"]) == (55.0, 35.0)
    assert [total(result, model, "a_in_b", t) for t in (2, 3, 11)] == [90, 55, 55]
    assert heads(model, "a_in_b")["local_staff"] == 5
    assert total(result, model, "b_in_a", 11) == 45  # no hold: a_in_b stays at 55


def test_a_held_parity_cap_follows_the_counterpart_down():
    later = [ev(6, "a", "b", "expel", size=10, deadline=8)]
    model, result, _ = run(build(PARITY_A, PARITY_B, parity_events(later=later, hold=True)))
    series = [total(result, model, "a_in_b", t) for t in range(12)]
    # In force from step 3; the expulsion of step 6 is counted from its announcement.
    assert series == [90, 90, 90, 55, 55, 55, 45, 45, 45, 45, 45, 45]
    assert total(result, model, "b_in_a", 11) == 45


def test_a_held_parity_cap_with_a_level_keeps_the_lower():
    model, result, events = run(build(PARITY_A, PARITY_B, parity_events(hold=True, level=50)))
    assert events[events["instrument"] == "cap"]["amount"].tolist() == [50.0]
    assert total(result, model, "a_in_b", 11) == 50


def test_a_lift_ends_a_held_parity_cap():
    later = [ev(7, "b", "a", "lift", lifts="cap"), ev(8, "a", "b", "expel", size=10, deadline=9)]
    model, result, events = run(build(PARITY_A, PARITY_B, parity_events(later=later, hold=True)))
    assert total(result, model, "a_in_b", 11) == 55
    assert not instruments.INSTRUMENTS["cap"].restricts(model.missions, 0).any()
    assert events[events["instrument"] == "cap"]["fate"].tolist() == ["lifted"]


def test_a_cap_exempting_consulates_leaves_consulate_staff_untouched():
    mission = {"diplomats": 50, "local_staff": 40, "consulates": 2, "staff_per_consulate": 10}
    sc = build(
        mission,
        {"diplomats": 5},
        [ev(0, "b", "a", "cap", level=60, exempt_consulates=True, deadline=2)],
    )
    model, _, events = run(sc)
    assert heads(model, "a_in_b") == {
        "diplomats": 50,
        "admin_technical": 0,
        "local_staff": 10,
        "consulate_staff": 20,
    }
    assert events[events["instrument"] == "cap"]["size"].tolist() == [30.0]
    # A plain cap at 60 would have cut 50: all local staff and 10 diplomats.
    model, _, _ = run(build(mission, {"diplomats": 5}, [ev(0, "b", "a", "cap", level=60)]))
    assert heads(model, "a_in_b")["diplomats"] == 40


def test_a_parity_cap_exempting_consulates_counts_the_counterpart_without_them():
    a = {"diplomats": 50, "local_staff": 40, "consulates": 2, "staff_per_consulate": 10}
    b = {"diplomats": 30, "admin_technical": 12, "consulates": 3, "staff_per_consulate": 9}
    sc = build(a, b, [ev(0, "b", "a", "cap", parity=True, exempt_consulates=True, deadline=2)])
    model, _, events = run(sc)
    assert events[events["instrument"] == "cap"]["amount"].tolist() == [42.0]
    assert heads(model, "a_in_b") == {
        "diplomats": 42,
        "admin_technical": 0,
        "local_staff": 0,
        "consulate_staff": 20,
    }


def test_validation_of_parity_caps():
    found = problems(PARITY_A, PARITY_B, [ev(0, "b", "a", "cap")])
    assert found["events.0.level"].startswith("required")
    assert "parity = true" in found["events.0.level"]
    found = problems(PARITY_A, PARITY_B, [ev(0, "b", "a", "cap", level=3, hold=True)])
    assert "expected parity = true" in found["events.0.hold"]
    found = problems(PARITY_A, None, [ev(0, "b", "a", "cap", parity=True)])
    assert "expected a counterpart mission" in found["events.0.parity"]
    assert "sender 'b', host 'a'" in found["events.0.parity"]
    found = problems(PARITY_A, PARITY_B, [ev(0, "b", "a", "expel", size=1, parity=True)])
    assert "not used by an event of kind expel" in found["events.0.parity"]
    # With parity, a level is optional.
    build(PARITY_A, PARITY_B, [ev(0, "b", "a", "cap", parity=True)])


# ----------------------------------------------------------------- invariants
HOSTILE = [
    i
    for i in instruments.hostile()
    if i.name in ("expel", "cap", "ban_local_hires", "close_consulate", "visa_denial", "suspend")
]
OPTIONS = [
    {},
    {"category": "admin_technical"},
    {"exempt_consulates": True},
    {"parity": True},
    {"parity": True, "hold": True},
    {"parity": True, "hold": True, "exempt_consulates": True},
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    staff=st.lists(st.integers(0, 60), min_size=8, max_size=8),
    weights=st.lists(st.sampled_from([0.1, 0.5, 1.0, 2.5]), min_size=4, max_size=4),
    moves=st.lists(
        st.tuples(
            st.integers(0, 1),
            st.integers(0, len(HOSTILE) - 1),
            st.integers(0, len(OPTIONS) - 1),
            st.floats(0, 80),
            st.integers(1, 3),
        ),
        max_size=8,
    ),
)
def test_heads_never_negative_and_the_total_is_the_sum_of_the_categories(staff, weights, moves):
    initial = [
        {
            "diplomats": staff[4 * i],
            "admin_technical": staff[4 * i + 1],
            "local_staff": staff[4 * i + 2],
            "consulates": staff[4 * i + 3] % 4,
            "staff_per_consulate": 5,
            "cap": NO_LIMIT,
            "local_hire_ceiling": NO_LIMIT,
        }
        for i in range(2)
    ]
    missions = Missions(
        initial, 2, 5, weights=dict(zip(CATEGORY_NAMES, weights, strict=True)), counterpart=[1, 0]
    )
    before = missions.totals().copy()
    for t, (m, which, option, count, delay) in enumerate(moves):
        instrument = HOSTILE[which]
        kind = np.full(2, instrument.code, dtype=np.int8)
        amount = instrument.amount_for(missions, m, np.full(2, count))
        options = OPTIONS[option] if instrument.name in ("expel", "cap") else {}
        if instrument.name == "expel":
            options = {k: v for k, v in options.items() if k == "category"}
        size = missions.announce(m, kind, amount, t + delay, options=options)
        assert np.all(size >= 0) and np.all(np.isfinite(size))
        missions.apply_due(t)
        for c in CATEGORIES:
            assert np.all(c.heads(missions, slice(None)) >= 0), c.name
        parts = sum(c.heads(missions, slice(None)) for c in CATEGORIES)
        np.testing.assert_array_equal(missions.totals(), parts)
        assert np.all(missions.totals() <= before)
