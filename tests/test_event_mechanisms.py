"""Behaviour the record shows (issue 13): temporary measures (``until``), ultimatums
(``kind = "ultimatum"``, the ``comply`` parameter) and settlements at agreed levels
(``kind = "settle"``), each with exact expectations on small scenarios."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import day, ev, run, staff, two_state, uniforms
from test_event_record import reconcile

import sim
from sim.analysis.runner import run_ensemble
from sim.analysis.story import run_of, tell
from sim.engine import instruments
from sim.engine.event_record import CAUSES, FATES
from sim.engine.missions import NO_LIMIT, Missions
from sim.engine.model import EscalationModel
from sim.policies import COMMON_PARAMS
from sim.scenario import ScenarioError, parse_event_spec

ROOT = Path(__file__).resolve().parent.parent
TFT = {"kind": "tit_for_tat", "lag": [1, 1], "notice": 2}
#: b's mission in a with three consulates of ten: 20 diplomats, 10 local staff, 30 at posts.
B_IN_A = {"diplomats": 20, "local_staff": 10, "consulates": 3, "staff_per_consulate": 10}


def problems(events, **kw) -> list[str]:
    with pytest.raises(ScenarioError) as err:
        two_state(events=events, **kw)
    return [str(p) for p in err.value.problems]


def steps(sc, until: int):
    """A model of ``sc`` (one run) stepped through step ``until``, yielding it after each."""
    model = EscalationModel(sc, keep_trajectories=True, keep_events=True)
    for _ in range(until + 1):
        model.step()
        yield model


# ---------------------------------------------------------- temporary measures
class TestTemporary:
    def test_a_consulate_closed_until_a_date_has_its_posts_and_staff_back_then_not_before(self):
        # Two of three posts close at step 3 and reopen at step 8 (A12: CG Vladivostok,
        # suspended for COVID-19 before its closure).
        sc = two_state(
            b_in_a=B_IN_A,
            events=[ev(1, "a", "b", "close_consulate", size=2, deadline=3, until=day(8, 2))],
            horizon_steps=12,
        )
        assert sc.events[0].until_step == 8
        m = 1  # b_in_a
        posts, diplomats = [], []
        for model in steps(sc, 11):
            posts.append(int(model.missions.posts[m, 0]))
            diplomats.append(int(model.missions.diplomats[m, 0]))
        assert posts == [3, 3, 3, 1, 1, 1, 1, 1, 3, 3, 3, 3]
        assert diplomats == [20] * 12
        ens = run(sc, keep_events=True)
        assert staff(ens, "b_in_a") == [60, 60, 60, 40, 40, 40, 40, 40, 60, 60, 60, 60]
        rec = ens.events
        end = rec[rec["cause"] == "temporary_end"]
        assert len(end) == 1
        row = end.iloc[0]
        assert (row["step"], row["instrument"], row["cause_seq"]) == (8, "restore", 0)
        assert (row["actor"], row["mission"], row["amount"], row["staff_restored"]) == (
            "a", "b_in_a", 20, 20,
        )  # fmt: skip
        assert row["fate"] == "carried_out"
        assert rec.iloc[0]["fate"] == "carried_out"  # the closure itself stands in the record
        reconcile(ens)

    def test_never_more_posts_than_it_closed_nor_above_a_cap(self):
        # Only one post was left to close (two were already closing); and a cap of 45
        # leaves room for one post of ten when the temporary closure ends.
        sc = two_state(
            b_in_a=B_IN_A,
            events=[
                ev(1, "a", "b", "close_consulate", size=2, deadline=3),
                ev(1, "a", "b", "close_consulate", size=2, deadline=3, until=day(8)),
                ev(1, "a", "b", "cap", level=45, deadline=5),
            ],
            horizon_steps=12,
        )
        ens = run(sc, keep_events=True)
        # 60 -> 30 (three posts close), still 30 under the cap of 45, 40 at step 8.
        assert staff(ens, "b_in_a") == [60, 60, 60, 30, 30, 30, 30, 30, 40, 40, 40, 40]
        end = ens.events[ens.events["cause"] == "temporary_end"].iloc[0]
        assert end["staff_restored"] == 10
        reconcile(ens)

    @pytest.mark.parametrize(
        ("kind", "fields", "expected"),
        [
            # expel: the five expelled come back at step 8 (a restore).
            ("expel", {"size": 5}, [60, 60, 60, 55, 55, 55, 55, 55, 60, 60]),
            # cap, ban and visa denial: lifted at step 8; lifting lets nobody back.
            ("cap", {"level": 30}, [60, 60, 60, 30, 30, 30, 30, 30, 30, 30]),
            ("ban_local_hires", {"level": 2}, [60, 60, 60, 52, 52, 52, 52, 52, 52, 52]),
            ("visa_denial", {"rate": 1.0}, [60, 60, 60, 59, 58, 57, 56, 55, 55, 55]),
            # suspend: the mission reopens, and the 60 it lost may come back.
            ("suspend", {}, [60, 60, 60, 0, 0, 0, 0, 0, 60, 60]),
        ],
    )
    def test_each_instrument_ends_its_measure_at_until(self, kind, fields, expected):
        sc = two_state(
            b_in_a=B_IN_A,
            events=[ev(1, "a", "b", kind, deadline=3, until=day(8), **fields)],
            horizon_steps=10,
        )
        ens = run(sc, keep_events=True)
        assert staff(ens, "b_in_a") == expected
        rec = ens.events
        end = rec[rec["cause"] == "temporary_end"]
        assert list(end["step"]) == [8] and list(end["cause_seq"]) == [0]
        instrument = instruments.INSTRUMENTS[kind]
        if instrument.liftable:
            assert end.iloc[0]["instrument"] == "lift"
            assert rec.iloc[0]["fate"] == "lifted" and rec.iloc[0]["fate_step"] == 8
            model = EscalationModel(sc)
            model.run()
            assert not instrument.restricts(model.missions, 1).any()
        else:
            assert end.iloc[0]["instrument"] == "restore"
        reconcile(ens)

    def test_a_measure_cancelled_or_lifted_before_until_has_nothing_to_end(self):
        sc = two_state(
            events=[
                ev(1, "a", "b", "expel", size=5, deadline=4, until=day(8)),
                ev(2, "a", "b", "cancel"),
                ev(2, "a", "b", "cap", level=50, deadline=3, until=day(8)),
                ev(5, "a", "b", "lift", lifts="cap"),
            ],
            horizon_steps=10,
        )
        ens = run(sc, keep_events=True)
        assert not (ens.events["cause"] == "temporary_end").any()
        assert staff(ens, "b_in_a")[-1] == 50

    def test_a_states_own_measure_may_be_temporary(self):
        # a closes one of its own consulates in b for a while (A12).
        sc = two_state(
            a_in_b=B_IN_A,
            events=[
                ev(1, "a", "a", "close_consulate", size=1, deadline=2, until=day(6),
                   mission=["a", "b"])
            ],
            horizon_steps=8,
        )  # fmt: skip
        ens = run(sc, keep_events=True)
        assert staff(ens, "a_in_b") == [60, 60, 50, 50, 50, 50, 60, 60]
        end = ens.events[ens.events["cause"] == "temporary_end"].iloc[0]
        assert end["actor"] == "a" and end["staff_restored"] == 10

    def test_until_in_the_deadlines_step_ends_it_one_step_later_and_after_the_horizon_never(self):
        sc = two_state(
            events=[
                ev(1, "a", "b", "expel", size=5, deadline=3, until=day(3, 3)),
                ev(1, "a", "b", "expel", size=5, deadline=3, until=day(40)),
            ],
            horizon_steps=10,
        )
        assert [e.until_step for e in sc.events] == [4, 10]
        ens = run(sc, keep_events=True)
        assert staff(ens, "b_in_a") == [100, 100, 100, 90, 95, 95, 95, 95, 95, 95]

    def test_until_is_checked(self):
        assert problems([ev(1, "a", "b", "cancel", until=day(5))]) == [
            "events.0.until: only a hostile measure can be temporary (end at until); an event "
            "of kind cancel takes no until"
        ]
        assert problems([ev(1, "a", "b", "expel", size=2, deadline=4, until=day(3))]) == [
            "events.0.until: expected a date after the deadline, 2021-01-29, found 2021-01-22"
        ]
        assert problems([ev(1, "a", "b", "expel", size=2, until=day(1))]) == [
            "events.0.until: expected a date after its date, 2021-01-08, found 2021-01-08"
        ]

    @pytest.mark.parametrize("name", [i.name for i in instruments.hostile()])
    def test_an_end_never_brings_back_more_than_the_measure_removed(self, name):
        instrument = instruments.INSTRUMENTS[name]
        initial = [
            {"diplomats": 40, "local_staff": 30, "consulates": 3, "staff_per_consulate": 10,
             "cap": NO_LIMIT, "local_hire_ceiling": NO_LIMIT}
        ]  # fmt: skip
        missions = Missions(initial, 4, 4)
        missions.track_effects = True
        missions.diplomats[0] -= np.arange(4, dtype=np.int32) * 10
        before = missions.totals().copy()
        count = np.full(4, 7.0)
        amount = np.asarray(instrument.amount_for(missions, 0, count), dtype=float)
        kind = np.full(4, instrument.code, dtype=np.int8)
        size = missions.announce(0, kind, amount, 1)
        missions.apply_due(0)
        missions.apply_due(1)
        removed = (before - missions.totals())[0].astype(np.int64)
        where = np.array([True, True, False, True])
        back, restoring = instrument.end_temporary(missions, 0, where, size, removed, 2)
        missions.apply_due(2)
        assert (back >= 0).all() and (restoring >= 0).all()
        assert (back + restoring <= np.where(where, removed, 0)).all()
        assert (missions.totals() <= before).all()
        if instrument.liftable:
            assert not instrument.restricts(missions, 0)[where].any()


# ------------------------------------------------------------------ ultimatums
def ultimatum(step=1, deadline=4, **fields):
    return ev(step, "a", "b", "ultimatum", deadline=deadline,
              **{"then": "expel", "size": 5, **fields})  # fmt: skip


class TestUltimatum:
    def test_with_comply_0_the_consequence_comes_at_the_deadline_in_every_run(self):
        sc = two_state(TFT, TFT, events=[ultimatum()], horizon_steps=8, runs=50)
        ens = run_ensemble(sc, keep_trajectories=True, keep_events=True)
        rec = ens.events
        issued = rec[rec["instrument"] == "ultimatum"]
        assert len(issued) == 50
        assert (issued["fate"] == "carried_out").all() and (issued["fate_step"] == 4).all()
        assert (issued["size"] == 0).all() and (issued["amount"] == 5).all()
        fired = rec[rec["cause"] == "ultimatum"]
        assert len(fired) == 50 and fired["run"].nunique() == 50
        assert (fired["step"] == 4).all() and (fired["instrument"] == "expel").all()
        # With a's notice of 2 steps; it refers to the ultimatum's row.
        assert (fired["deadline_step"] == 6).all() and (fired["cause_seq"] == 0).all()
        assert (ens.trajectories[:6, 1] == 100).all() and (ens.trajectories[6, 1] == 95).all()
        # b perceives it: its answer (tit for tat, lag 1) comes at step 6.
        answers = rec[(rec["actor"] == "b") & (rec["cause"] == "answer")]
        assert (answers["step"] == 6).all() and len(answers) == 50

    def test_then_notice_is_in_days(self):
        sc = two_state(TFT, TFT, events=[ultimatum(then_notice=30)], horizon_steps=12)
        rec = run(sc, keep_events=True).events
        assert rec[rec["cause"] == "ultimatum"].iloc[0]["deadline_step"] == 4 + 4

    def test_a_conciliatory_cancel_by_the_target_before_the_deadline_meets_it(self):
        events = [
            ev(0, "b", "a", "expel", size=3, deadline=6),
            ultimatum(),
            ev(3, "b", "a", "cancel"),
        ]
        sc = two_state(events=events, horizon_steps=10, runs=20)
        ens = run(sc, keep_events=True)
        rec = ens.events
        assert not (rec["cause"] == "ultimatum").any()
        issued = rec[rec["instrument"] == "ultimatum"]
        assert (issued["fate"] == "met").all() and (issued["fate_step"] == 4).all()
        assert (ens.trajectories[:, 1] == 100).all()

    @pytest.mark.parametrize(
        "late_or_other",
        [
            ev(5, "b", "a", "cancel"),  # after the deadline
            ev(2, "b", "a", "offer"),  # an offer proposes, and undoes nothing
            ev(2, "a", "b", "cancel"),  # the actor's own cancel
        ],
    )
    def test_anything_else_leaves_it_unmet(self, late_or_other):
        events = [ultimatum(), late_or_other]
        events.sort(key=lambda e: e["date"])
        rec = run(two_state(events=events, horizon_steps=10), keep_events=True).events
        assert len(rec[rec["cause"] == "ultimatum"]) == 1

    def test_with_comply_one_half_about_half_the_runs_fire_exactly_where_the_draw_says(self):
        runs = 4000
        events = [ev(0, "b", "a", "expel", size=3, deadline=8), ultimatum()]
        b = {"kind": "scripted", "comply": 0.5}
        sc = two_state(policy_b=b, events=events, horizon_steps=6, runs=runs)
        rec = run_ensemble(sc, keep_events=True).events
        fired = np.zeros(runs, dtype=bool)
        consequences = (rec["cause"] == "ultimatum") & (rec["instrument"] == "expel")
        fired[rec.loc[consequences, "run"].to_numpy()] = True
        index = sc.events[1].index
        complied = uniforms(sc.seed, runs, 1, "comply", "b", "a", index) < 0.5
        np.testing.assert_array_equal(fired, ~complied)
        assert abs(fired.sum() - runs / 2) < 4 * math.sqrt(runs / 4)
        # The complying move: b cancels its pending expulsion at step 2, because of it.
        moves = rec[(rec["actor"] == "b") & (rec["instrument"] == "cancel")]
        assert (moves["step"] == 2).all() and (moves["cause"] == "ultimatum").all()
        np.testing.assert_array_equal(np.sort(moves["run"].to_numpy()), np.flatnonzero(complied))
        met = rec[(rec["instrument"] == "ultimatum") & (rec["fate"] == "met")]
        np.testing.assert_array_equal(np.sort(met["run"].to_numpy()), np.flatnonzero(complied))

    def test_an_ultimatum_of_the_history_is_not_complied_with_but_fires(self):
        events = [ev(0, "b", "a", "expel", size=3, deadline=8), ultimatum()]
        b = {"kind": "scripted", "comply": 1.0}
        sc = two_state(policy_b=b, events=events, horizon_steps=8, forecast_step=3)
        rec = run(sc, keep_events=True).events
        fired = rec[rec["cause"] == "ultimatum"]
        assert len(fired) == 1 and not fired.iloc[0]["history"]

    @pytest.mark.parametrize(
        ("then", "fields", "after"),
        [
            ("cap", {"level": 60}, 60),
            ("close_consulate", {}, 50),  # one post (the default), ten staff
            ("suspend", {}, 0),
            ("ban_local_hires", {}, 50),  # the default level, 0
        ],
    )
    def test_any_hostile_consequence_with_its_amount(self, then, fields, after):
        b_in_a = {"diplomats": 40, "local_staff": 10, "consulates": 1, "staff_per_consulate": 10}
        events = [ev(1, "a", "b", "ultimatum", deadline=3, then=then, **fields)]
        sc = two_state(b_in_a=b_in_a, events=events, horizon_steps=8)
        assert staff(run(sc), "b_in_a")[-1] == after

    def test_checks(self):
        assert problems([ev(1, "a", "b", "ultimatum", then="expel")]) == [
            "events.0.deadline: required for an ultimatum: the date by which the target must "
            "comply",
            "events.0.size: required: the consequence, expel, needs its size",
        ]
        assert problems([ultimatum(then="suspend")]) == [
            "events.0.size: not used by the consequence: suspend takes no size"
        ]
        assert problems([ev(1, "a", "b", "ultimatum", deadline=4, then="cancel")])[0].startswith(
            "events.0.then: expected one of ban_local_hires, cap, close_consulate, expel, "
        )
        assert problems([ultimatum(size=0)]) == [
            "events.0.size: expected an integer >= 1 and <= 10,000,000, found 0 (an integer)"
        ]
        assert problems([ev(1, "a", "b", "expel", size=1, then="cap")]) == [
            "events.0.then: not used by an event of kind expel"
        ]

    def test_from_the_command_line_syntax(self):
        spec = parse_event_spec(
            "date=2021-01-08,actor=a,target=b,kind=ultimatum,then=expel,size=5,"
            "deadline=2021-01-29,then_notice=14"
        )
        assert spec["then"] == "expel" and spec["then_notice"] == 14
        sc = two_state(TFT, TFT, horizon_steps=8).with_events([spec])
        (added,) = sc.events
        assert added.options == {"then": "expel", "then_notice": 14}
        assert (added.deadline_step, added.size) == (4, 5)

    def test_neither_hostile_nor_conciliatory(self):
        ult = instruments.INSTRUMENTS["ultimatum"]
        assert ult not in instruments.hostile() and ult not in instruments.conciliatory()
        assert instruments.INSTRUMENTS["settle"] in instruments.conciliatory()
        comply = COMMON_PARAMS["comply"]
        assert (comply.default, comply.kind) == (0.0, "prob")
        # Not calibrated by default (no record of ultimatums to fit it on yet).
        assert comply.prior is None


# ----------------------------------------------------------------- settlements
def round_then_settle(settle_step=5, **kw):
    """a (a_in_b: 120) and b (b_in_a: 100), both tit for tat: a expels 10 at step 0,
    b answers at step 2, a's answer at step 4 is pending when b proposes, and a
    accepts, a settlement at 100 from step 7."""
    events = [ev(0, "a", "b", "expel", size=10, deadline=2)]
    if settle_step is not None:
        events.append(ev(settle_step, "b", "a", "settle", level=100, deadline=7))
    return two_state(
        TFT, TFT, a_in_b=120, b_in_a=100, events=events, horizon_steps=30,
        outcomes={"quiet_steps": 4, "require_reciprocation": True}, **kw,
    )  # fmt: skip


class TestSettle:
    def test_a_settlement_ends_the_round(self):
        sc = round_then_settle()
        *_, model = steps(sc, 5)
        # After the settlement: nothing pending on either mission, grievance forgotten.
        assert not model.missions.pending_hostile.any()
        for rel in model.relations:
            assert rel.grievance[0] == 0 and rel.conciliated[0]
            assert not rel.sched_size.any() and not rel.sched_concil.any()
        assert model.reciprocated()[0]
        ens = run(sc, keep_events=True)
        # a_in_b 120 -> 110 at step 4, cut to 100 at step 7; b_in_a 100 -> 90 at step 2,
        # back to 100 at step 7.
        assert staff(ens, "a_in_b") == [120] * 4 + [110] * 3 + [100] * 23
        assert staff(ens, "b_in_a") == [100] * 2 + [90] * 5 + [100] * 23
        rec = ens.events
        hostile = rec[rec["instrument"].isin([i.name for i in instruments.hostile()])]
        assert list(hostile["step"]) == [0, 2, 4]  # and none after the settlement
        assert rec.iloc[2]["fate"] == "cancelled" and rec.iloc[2]["fate_step"] == 5
        settled = rec[rec["instrument"] == "settle"]
        assert list(settled["mission"]) == ["a_in_b", "b_in_a"]
        assert list(settled["actor"]) == ["b", "a"]
        assert list(settled["staff_removed"]) == [10, 0]
        assert list(settled["staff_restored"]) == [0, 10]
        assert (settled["fate"] == "carried_out").all() and (settled["fate_step"] == 7).all()
        reconcile(ens)
        # The de-escalation class, reciprocation required, is reached: quiet for four
        # steps after the last hostile act (step 4), nothing pending since step 5.
        result = sim.run(sc, runs=1)
        assert result.runs["outcome"].iloc[0] == "de_escalation"
        assert result.runs["calm_step"].iloc[0] == 8
        assert list(result.runs["conciliatory_acts.a"]) == [1]
        assert list(result.runs["conciliatory_acts.b"]) == [1]

    def test_without_it_the_round_goes_on(self):
        ens = run(round_then_settle(settle_step=None), keep_events=True)
        assert len(ens.events) == 15  # an exchange every two steps to the horizon
        assert staff(ens, "b_in_a")[-1] < 100

    def test_the_agreed_level_replaces_a_lower_cap(self):
        events = [
            ev(0, "a", "b", "cap", level=50, deadline=1),
            ev(3, "a", "b", "settle", level=80),
        ]
        sc = two_state(events=events, horizon_steps=6)
        model = EscalationModel(sc, keep_trajectories=True)
        model.run()
        assert model.missions.cap[:, 0].tolist() == [80, 80]
        assert model.trajectories[:, 1, 0].tolist() == [100, 50, 50, 50, 80, 80]
        assert model.trajectories[:, 0, 0].tolist() == [100, 100, 100, 100, 80, 80]

    def test_policies_propose_settlements_at_parity_with_settle_rate(self):
        # a proposes (settle_rate) once it has perceived hostility: from step 3, when it
        # sees b's answer of step 2; b (tit for tat, reciprocate 1) always accepts. The
        # level is the smaller mission (b_in_a: 90 if settled in the first exchanges).
        runs, rate = 200, 20.0
        sc = two_state(
            {**TFT, "settle_rate": rate}, TFT, a_in_b=120, b_in_a=100,
            events=[ev(0, "a", "b", "expel", size=10, deadline=2)], horizon_steps=30, runs=runs,
        )  # fmt: skip
        ens = run(sc, keep_events=True)
        rec = ens.events
        p = -math.expm1(-rate * 7 / 365.25)
        draws = np.array([uniforms(sc.seed, runs, t, "settle", "a", "b") for t in range(30)])
        proposing = draws < p
        proposing[:3] = False
        expected = np.where(proposing.any(axis=0), proposing.argmax(axis=0), -1)
        proposals = rec[(rec["instrument"] == "settle") & (rec["cause"] == "initiative")]
        got = np.full(runs, -1)
        got[proposals["run"].to_numpy()] = proposals["step"].to_numpy()
        np.testing.assert_array_equal(got, expected)
        assert (proposals["actor"] == "a").all()
        level = np.zeros(runs)
        level[proposals["run"].to_numpy()] = proposals["amount"].to_numpy()
        assert (level[expected == 3] == 90).all()
        accepted = rec[(rec["instrument"] == "settle") & (rec["cause"] == "reciprocation")]
        assert len(accepted) == len(proposals) and (accepted["actor"] == "b").all()
        settled = expected >= 0
        assert settled.sum() > runs * 0.9
        hostile = rec[rec["instrument"] == "expel"]
        after = hostile["step"].to_numpy() >= expected[hostile["run"].to_numpy()]
        assert not (after & settled[hostile["run"].to_numpy()]).any()
        final = ens.trajectories[-1][:, settled]
        assert (final == level[settled]).all()  # both missions at the agreed level
        reconcile(ens)

    def test_a_counterpart_that_never_reciprocates_never_settles(self):
        sc = two_state(
            {**TFT, "settle_rate": 50.0}, {**TFT, "reciprocate": 0.0},
            events=[ev(0, "a", "b", "expel", size=10, deadline=2)], horizon_steps=20, runs=20,
        )  # fmt: skip
        assert not (run(sc, keep_events=True).events["instrument"] == "settle").any()

    def test_level_is_required_and_checked(self):
        assert problems([ev(1, "a", "b", "settle")]) == [
            "events.0.level: required: expected an integer >= 0 and <= 10,000,000"
        ]


# ----------------------------------------------------------------- the record
def test_the_new_causes_and_fates_are_in_the_record():
    assert {"ultimatum", "temporary_end"} <= set(CAUSES)
    assert "met" in FATES
    sc = two_state(
        TFT, TFT, b_in_a=B_IN_A,
        events=[
            ev(0, "b", "a", "expel", size=3, deadline=8),
            ev(1, "a", "b", "close_consulate", size=1, deadline=2, until=day(4)),
            ultimatum(),
            ev(9, "a", "b", "settle", level=40),
        ],
        horizon_steps=14, runs=20,
    )  # fmt: skip
    ens = run(sc, keep_events=True)
    reconcile(ens)
    result = sim.run(sc, runs=1, keep_trajectories=True)
    story = tell(*run_of(result, 0))
    assert "the temporary consulate closure #1 on b_in_a ends: its posts reopen with 10 staff" in (
        story
    )
    assert "a gives b until 2021-01-29 to back down, or it expels 5 diplomats (b_in_a)" in story
    assert "not met: carried out 2021-01-29" in story
    assert "consequence of #2, a's ultimatum of 2021-01-08, not met" in story
    assert "a settles with b: b_in_a at 40 staff" in story


def test_a_temporary_closure_reopens_the_posts_it_closed_whatever_the_weights():
    """A closure of 2 posts (no staff counted per post) ends by reopening 2 posts, not
    the staff-equivalents of its size (found when consulate staff weighed 2)."""
    sc = sim.scenario.scenario_from_dict(
        {
            "scenario": {
                "name": "weighted_temporary",
                "start": dt.date(2025, 1, 6),
                "step_days": 7,
                "horizon_steps": 12,
                "runs": 3,
                "seed": 1,
            },
            "states": {
                "a": {"policy": {"kind": "scripted"}},
                "b": {"policy": {"kind": "scripted"}},
            },
            "missions": {
                "a_in_b": {"sender": "a", "host": "b", "diplomats": 10, "consulates": 3},
                "b_in_a": {"sender": "b", "host": "a", "diplomats": 10},
            },
            "staff_weights": {"consulate_staff": 2.0},
            "events": [
                {
                    "date": dt.date(2025, 1, 6),
                    "actor": "b",
                    "target": "a",
                    "kind": "close_consulate",
                    "size": 2,
                    "deadline": dt.date(2025, 1, 20),
                    "until": dt.date(2025, 2, 17),
                    "source": "test",
                }
            ],
        }
    )
    model = EscalationModel(sc, keep_trajectories=True)
    posts = []
    while model.running:
        model.step()
        posts.append(int(model.missions.posts[0, 0]))
    assert posts[1] == 3 and posts[2] == 1  # closed at the deadline (step 2)
    assert posts[5] == 1 and posts[6] == 3  # both reopen at the until step (6), not 4
    assert max(posts) == 3


def test_an_ultimatum_to_cap_needs_the_caps_level():
    """A cap's level is optional only for a parity cap, which an ultimatum's consequence
    cannot be: without a level it would cap at no limit and remove nobody."""
    doc = {
        "scenario": {
            "name": "cap_threat",
            "start": dt.date(2025, 1, 6),
            "step_days": 7,
            "horizon_steps": 10,
            "runs": 2,
            "seed": 1,
        },
        "states": {"a": {"policy": {"kind": "scripted"}}, "b": {"policy": {"kind": "scripted"}}},
        "missions": {
            "a_in_b": {"sender": "a", "host": "b", "diplomats": 10},
            "b_in_a": {"sender": "b", "host": "a", "diplomats": 10},
        },
        "events": [
            {
                "date": dt.date(2025, 1, 6),
                "actor": "a",
                "target": "b",
                "kind": "ultimatum",
                "then": "cap",
                "deadline": dt.date(2025, 1, 20),
                "source": "test",
            }
        ],
    }
    with pytest.raises(ScenarioError, match=r"events\.0\.level: required: the consequence, cap"):
        sim.scenario.scenario_from_dict(doc)
    doc["events"][0]["level"] = 4
    sc = sim.scenario.scenario_from_dict(doc)
    assert sc.events[0].level == 4


def test_a_scenario_with_an_ultimatum_draws_its_fan_chart(tmp_path):
    """The fan chart marks the forecast's events by their instrument's name: an
    ultimatum's kind is a plain code (found when the main scenario gained one)."""
    import matplotlib

    matplotlib.use("Agg")
    result = sim.run(ROOT / "scenarios" / "us_russia_2021.toml", runs=50, keep_events=False)
    assert any(ev.kind == instruments.code_of("ultimatum") for ev in result.scenario.events)
    figure = result.plot_fan_chart()
    assert figure.axes
    assert result.plot_all(tmp_path)
