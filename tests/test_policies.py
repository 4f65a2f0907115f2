"""Policies and measures, Axelrod-library style: small deterministic scenarios, exact staff.

Timing used throughout (docs/scenario-format.md §2): an event announced in step s takes
effect in step s + 1 unless it has a deadline; a policy sees an act in the step after its
announcement, announces its answer ``lag`` steps later and the answer takes effect
``notice`` steps after that. So an answer to an event of step 0 is decided in step 1,
announced in step 1 + lag and takes effect in step 1 + lag + notice. Staff series are
"total after step k" (``keep_trajectories``).

Where a decision is random (respond_prob, lag, noise, forgiveness, solidarity, ...), the
expected outcome of every single run is computed from the run's own random numbers
(``RunStreams`` at the documented slot), so these checks are exact too; the share of
runs is also compared with the probability (4 standard errors).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import (
    Recorder,
    bernoulli_p,
    ev,
    path,
    rate_for,
    run,
    scenario,
    staff,
    two_state,
    uniforms,
)

from sim.engine.missions import NO_LIMIT, Kind
from sim.engine.model import DE_ESCALATION, SPIRAL, UNRESOLVED, EscalationModel
from sim.engine.rng import RunStreams, slot
from sim.policies import POLICIES
from sim.spec import ScenarioError

TFT = {"kind": "tit_for_tat", "lag": [1, 1], "notice": 2}


def lost(ens, state: str) -> np.ndarray:
    return ens.staff_lost[ens.state_ids.index(state)]


def acts(ens, state: str) -> np.ndarray:
    return ens.hostile_acts[ens.state_ids.index(state)]


def within_4se(count: int, n: int, p: float) -> bool:
    return abs(count / n - p) <= 4 * np.sqrt(p * (1 - p) / n)


# --------------------------------------------------------------------------- policies
class TestTitForTat:
    def test_mirrors_size_with_lag_and_notice(self):
        sc = two_state(None, TFT, events=[ev(0, "a", "b", "expel", size=3)], horizon_steps=8)
        rec = Recorder(sc)
        ens = run(sc)
        assert staff(ens, "b_in_a") == path(100, {1: -3}, 8)
        # decided in step 1, announced in step 2 (lag 1), effect in step 4 (notice 2)
        assert staff(ens, "a_in_b") == path(100, {4: -3}, 8)
        announced = rec.size[:, rec.m("a_in_b"), 0]
        assert announced.tolist() == [0, 0, 3, 0, 0, 0, 0, 0]
        assert rec.kind[2, rec.m("a_in_b"), 0] == Kind.EXPEL
        assert acts(ens, "a").tolist() == [1] and acts(ens, "b").tolist() == [1]

    def test_two_tit_for_tat_echo_forever(self):
        tft = {"kind": "tit_for_tat", "lag": [1, 1], "notice": 1}
        sc = two_state(tft, tft, events=[ev(0, "a", "b", "expel", size=2)], horizon_steps=14)
        rec = Recorder(sc)
        on_a = rec.size[:, rec.m("a_in_b"), 0]  # b's acts
        on_b = rec.size[:, rec.m("b_in_a"), 0]  # a's acts (event at 0, then answers)
        assert np.flatnonzero(on_b).tolist() == [0, 4, 8, 12]
        assert np.flatnonzero(on_a).tolist() == [2, 6, 10]
        assert set(on_a[on_a > 0]) == {2} and set(on_b[on_b > 0]) == {2}
        assert rec.total[-1, rec.m("b_in_a"), 0] == 100 - 2 * 4  # effects in steps 1, 5, 9, 13
        assert rec.total[-1, rec.m("a_in_b"), 0] == 100 - 2 * 3

    def test_mirrors_the_kind_of_measure(self):
        # A caps B's mission of 50 at 40 (10 staff-equivalents); B answers with a cap
        # taking 10 from A's mission of 60: level 60 - 10 = 50, locals leave first.
        sc = two_state(
            None,
            TFT,
            a_in_b={"diplomats": 50, "local_staff": 10},
            b_in_a={"diplomats": 40, "local_staff": 10},
            events=[ev(0, "a", "b", "cap", level=40)],
            horizon_steps=6,
        )
        rec = Recorder(sc)
        m = rec.m("a_in_b")
        assert rec.kind[2, m, 0] == Kind.CAP and rec.size[2, m, 0] == 10
        assert rec.total[:, m, 0].tolist() == [60, 60, 60, 60, 50, 50]
        assert rec.cap[4, m, 0] == 50
        assert rec.model.missions.local[m, 0] == 0 and rec.model.missions.diplomats[m, 0] == 50

    def test_mirrors_the_kind_of_the_largest_act_of_the_step(self):
        # three acts on B's mission in step 0: expel 3, a ban taking 2 locals, a cap at 53
        # counted net of the 3 expulsions already pending (60 - 3 - 53 = 4). B perceives 9
        # in all, as the largest act's kind: a cap (docs §7.2).
        mission = {"diplomats": 50, "local_staff": 10}
        events = [
            ev(0, "a", "b", "expel", size=3),
            ev(0, "a", "b", "ban_local_hires", level=8),
            ev(0, "a", "b", "cap", level=53),
        ]
        sc = two_state(None, TFT, a_in_b=mission, b_in_a=mission, events=events, horizon_steps=6)
        rec = Recorder(sc)
        assert rec.size[0, rec.m("b_in_a"), 0] == 9
        assert rec.kind[0, rec.m("b_in_a"), 0] == Kind.CAP
        # in effect in step 1: 47 diplomats and 8 locals, then the cap cuts 2 more locals
        assert rec.total[1:, rec.m("b_in_a"), 0].tolist() == [53] * 5
        m = rec.m("a_in_b")
        assert rec.kind[2, m, 0] == Kind.CAP and rec.size[2, m, 0] == 9
        assert rec.cap[4, m, 0] == 51 and rec.total[4, m, 0] == 51

    def test_a_cap_is_counted_net_of_pending_expulsions(self):
        # expel 3 and a cap at 56 in the same step: the cap takes only 60 - 3 - 56 = 1
        # more, so B perceives 4, the largest act is the expulsion, and B expels 4.
        mission = {"diplomats": 50, "local_staff": 10}
        events = [ev(0, "a", "b", "expel", size=3), ev(0, "a", "b", "cap", level=56)]
        sc = two_state(None, TFT, a_in_b=mission, b_in_a=mission, events=events, horizon_steps=6)
        rec = Recorder(sc)
        assert rec.size[0, rec.m("b_in_a"), 0] == 4
        assert rec.kind[0, rec.m("b_in_a"), 0] == Kind.EXPEL
        assert rec.total[1:, rec.m("b_in_a"), 0].tolist() == [56] * 5
        m = rec.m("a_in_b")
        assert rec.kind[2, m, 0] == Kind.EXPEL and rec.size[2, m, 0] == 4
        assert rec.total[:, m, 0].tolist() == path(60, {4: -4}, 6)


class TestProportional:
    # ratio * size, rounded down to whole staff (sim.engine.missions.whole_staff): 4.5 -> 4,
    # 7.5 -> 7, 3.5 -> 3, 1.8 -> 1, 0.9 -> nothing; the 1e-9 slack makes
    # 1.16 * 25 = 28.999999999999996 a 29.
    @pytest.mark.parametrize(
        ("ratio", "size", "answer"),
        [
            (2.0, 3, 6),
            (1.0, 7, 7),
            (0.4, 3, 1),
            (0.1, 3, 0),
            (0.5, 5, 2),
            (0.5, 7, 3),
            (0.5, 1, 0),
            (0.3, 3, 0),
            (0.6, 3, 1),
            (1.5, 3, 4),
            (1.5, 5, 7),
            (1.16, 25, 29),
        ],
    )
    def test_ratio_times_size_rounded_down(self, ratio, size, answer):
        pol = {"kind": "proportional", "ratio": ratio, "lag": [1, 1], "notice": 2}
        sc = two_state(None, pol, events=[ev(0, "a", "b", "expel", size=size)], horizon_steps=6)
        ens = run(sc)
        assert staff(ens, "a_in_b") == path(100, {4: -answer}, 6)
        assert acts(ens, "b").tolist() == [1 if answer else 0]


class TestGenerous:
    def test_no_forgiveness_is_tit_for_tat(self):
        events = [ev(0, "a", "b", "expel", size=3), ev(3, "a", "b", "cap", level=90)]
        gen = {**TFT, "kind": "generous", "forgiveness": 0.0}
        e_gen = run(two_state(TFT, gen, events=events, horizon_steps=25))
        e_tft = run(two_state(TFT, TFT, events=events, horizon_steps=25))
        assert np.array_equal(e_gen.trajectories, e_tft.trajectories)
        assert staff(e_gen, "a_in_b")[-1] < 100

    def test_full_forgiveness_never_answers(self):
        gen = {**TFT, "kind": "generous", "forgiveness": 1.0}
        ens = run(two_state(None, gen, events=[ev(0, "a", "b", "expel", size=3)], runs=50))
        assert (acts(ens, "b") == 0).all()
        assert (ens.final_staff[ens.mission_ids.index("a_in_b")] == 100).all()

    def test_forgives_with_probability_run_by_run(self):
        n, seed, f = 3000, 5, 0.4
        gen = {**TFT, "kind": "generous", "forgiveness": f}
        sc = two_state(None, gen, events=[ev(0, "a", "b", "expel", size=3)], runs=n, seed=seed)
        ens = run(sc)
        forgiven = uniforms(seed, n, 1, "policy", "forgive", "b", "a") < f
        assert np.array_equal(lost(ens, "a"), np.where(forgiven, 0, 3))
        assert within_4se(int(forgiven.sum()), n, f)


class TestGrim:
    def test_waits_for_the_threshold_then_punishes_every_step_up_the_ladder(self):
        grim = {"kind": "grim", "threshold": 5, "punishment": 2, "lag": [1, 1], "notice": 1}
        sc = two_state(
            None,
            grim,
            a_in_b={"diplomats": 6, "local_staff": 4},
            events=[ev(0, "a", "b", "expel", size=3), ev(2, "a", "b", "expel", size=3)],
            horizon_steps=14,
        )
        rec = Recorder(sc)
        m = rec.m("a_in_b")
        # grievance 3 after step 1 (below 5), 6 after step 3: punishes from step 3 on,
        # announced from step 4. Expulsions while diplomats not already ordered out remain
        # (steps 4, 5, 6), then caps (next on the ladder) at total - pending - 2.
        assert np.flatnonzero(rec.size[:, m, 0]).tolist() == [4, 5, 6, 7, 8, 9, 10]
        kinds = rec.kind[4:11, m, 0].tolist()
        assert kinds == [Kind.EXPEL] * 3 + [Kind.CAP] * 4
        # caps announced at 7: level 6 - 2 - 2 = 2; at 8: 4 - 0 - 2 = 2; at 9, 10: level 0
        assert rec.total[:, m, 0].tolist() == [10] * 5 + [8, 6, 4, 2, 2] + [0] * 4
        assert rec.result.outcome[0] == SPIRAL and rec.result.outcome_step[0] == 10


class TestParity:
    def test_caps_a_larger_mission_at_its_own_size(self):
        parity = {"kind": "parity", "lag": [1, 1], "notice": 2}
        sc = two_state(
            None,
            parity,
            a_in_b=30,
            b_in_a=20,
            events=[ev(0, "a", "b", "expel", size=2, deadline=3)],
            horizon_steps=7,
        )
        rec = Recorder(sc)
        m = rec.m("a_in_b")
        # decided in step 1: B's own mission is 20 less the 2 expulsions pending against it
        # (deadline step 3), A's mission 30 > 18 -> cap A's at 18 (size 12)
        assert rec.kind[2, m, 0] == Kind.CAP and rec.size[2, m, 0] == 12
        assert rec.total[:, m, 0].tolist() == [30, 30, 30, 30, 18, 18, 18]
        assert (rec.cap[4:, m, 0] == 18).all()
        # parity once both have taken effect
        assert rec.total[:, rec.m("b_in_a"), 0].tolist() == path(20, {3: -2}, 7)

    def test_answers_in_kind_when_not_outnumbered(self):
        parity = {"kind": "parity", "lag": [1, 1], "notice": 2}
        sc = two_state(
            None, parity, a_in_b=15, b_in_a=20, events=[ev(0, "a", "b", "expel", size=2)]
        )
        rec = Recorder(sc)
        m = rec.m("a_in_b")
        assert rec.kind[2, m, 0] == Kind.EXPEL and rec.size[2, m, 0] == 2
        assert rec.total[-1, m, 0] == 13 and (rec.cap[:, m, 0] == NO_LIMIT).all()


PARITY_TARGET = {"kind": "parity_target", "lag": [1, 1], "notice": 2}


class TestParityTarget:
    """Parity as a target (docs/model.md §5.9); more on the mechanisms every policy has
    in tests/test_policy_mechanisms.py."""

    def test_answers_with_exactly_the_excess_then_stops_at_parity(self):
        events = [ev(0, "a", "b", "expel", size=2), ev(6, "a", "b", "expel", size=1)]
        tolerant = {**PARITY_TARGET, "tolerance": 0.1}
        sc = two_state(None, tolerant, a_in_b=30, b_in_a=20, events=events, horizon_steps=12)
        rec = Recorder(sc)
        m = rec.m("a_in_b")
        # Step 1: B's mission is 20 - 2 pending = 18, A's 30: capped at 18, size 12.
        assert rec.kind[2, m, 0] == Kind.CAP and rec.size[2, m, 0] == 12
        assert rec.total[-1, m, 0] == 18
        # Step 7: 17 against 18 is parity within 10%: no answer at all.
        assert rec.size[3:, m, 0].sum() == 0
        # Without the tolerance, the new excess of 1 is answered, and nothing more.
        rec = Recorder(two_state(None, PARITY_TARGET, a_in_b=30, b_in_a=20, events=events))
        assert rec.size[8, m, 0] == 1 and rec.size[:, m, 0].sum() == 13
        assert rec.total[-1, m, 0] == 17 == rec.total[-1, rec.m("b_in_a"), 0]

    def test_no_answer_when_not_outnumbered(self):
        # parity would answer in kind here (TestParity); parity as a target does not.
        sc = two_state(
            None, PARITY_TARGET, a_in_b=15, b_in_a=20, events=[ev(0, "a", "b", "expel", size=2)]
        )
        rec = Recorder(sc)
        assert rec.size[:, rec.m("a_in_b"), 0].sum() == 0

    def test_by_expulsion(self):
        by_expulsion = {**PARITY_TARGET, "instrument": "expel"}
        sc = two_state(
            None, by_expulsion, a_in_b=30, b_in_a=20, events=[ev(0, "a", "b", "expel", size=2)]
        )
        rec = Recorder(sc)
        m = rec.m("a_in_b")
        assert rec.kind[2, m, 0] == Kind.EXPEL and rec.size[2, m, 0] == 12
        assert rec.total[-1, m, 0] == 18 and (rec.cap[:, m, 0] == NO_LIMIT).all()

    def test_instrument_is_validated(self):
        with pytest.raises(ScenarioError) as err:
            two_state(None, {**PARITY_TARGET, "instrument": "lift"})
        assert [p.path for p in err.value.problems] == ["states.b.policy.instrument"]


class TestGrit:
    def test_answers_in_kind_then_cancels_then_restores_every_quiet_period(self):
        grit = {"kind": "grit", "quiet_steps": 3, "step_size": 2, "lag": [1, 1], "notice": 2}
        events = [
            ev(0, "a", "b", "expel", size=4),
            ev(0, "b", "a", "expel", size=5),  # b's own scripted act: 5 of A's staff out
        ]
        sc = two_state(None, grit, events=events, horizon_steps=20)
        rec = Recorder(sc)
        m = rec.m("a_in_b")
        # answer in kind announced in step 2 (deadline 4); quiet for 3 steps in step 4 ->
        # the answer is cancelled before it takes effect; then every 3 steps a restore of
        # 2 staff (steps 7, 10, 13; effect 2 steps later) -- but only the 5 that measures
        # removed can come back: 2, 2, then 1, and from step 16 on there is nothing left
        # to restore, so no move at all (none announced, none counted).
        assert np.flatnonzero(rec.size[:, m, 0]).tolist() == [0, 2]
        assert np.flatnonzero(rec.concil[:, m, 0]).tolist() == [4, 7, 10, 13]
        assert rec.concil[[4, 7, 10, 13], m, 0].tolist() == [4, 2, 2, 1]
        assert rec.total[:, m, 0].tolist() == path(100, {1: -5, 9: 2, 12: 2, 15: 1}, 20)
        assert rec.total[:, rec.m("b_in_a"), 0].tolist() == path(100, {1: -4}, 20)
        assert rec.result.conciliatory_acts[rec.model.state_ids.index("b"), 0] == 4
        assert rec.model.missions.restorable(m)[0] == 0

    def test_lifts_its_restriction_before_restoring(self):
        grit = {"kind": "grit", "quiet_steps": 4, "step_size": 3, "lag": [1, 1], "notice": 1}
        sc = two_state(
            None,
            grit,
            a_in_b={"diplomats": 40, "local_staff": 10},
            b_in_a={"diplomats": 40, "local_staff": 10},
            events=[ev(0, "a", "b", "cap", level=45)],
            horizon_steps=13,
        )
        rec = Recorder(sc)
        m = rec.m("a_in_b")
        # mirrored cap (level 45) announced in step 2, in force from step 3; quiet for 4
        # steps in step 5 -> the cap is lifted; in step 9 a restore of 3 (effect step 10).
        assert rec.cap[:, m, 0].tolist() == [NO_LIMIT] * 3 + [45, 45] + [NO_LIMIT] * 8
        assert rec.total[:, m, 0].tolist() == path(50, {3: -5, 10: 3}, 13)


class TestPassive:
    def test_never_answers_hostility_nor_conciliation(self):
        passive = {"kind": "passive", "lag": [1, 1], "notice": 2}
        events = [ev(0, "a", "b", "expel", size=3), ev(3, "a", "b", "restore", size=2)]
        ens = run(two_state(None, passive, events=events, horizon_steps=12))
        assert staff(ens, "a_in_b") == [100] * 12
        assert staff(ens, "b_in_a") == path(100, {1: -3, 4: 2}, 12)
        assert acts(ens, "b").tolist() == [0]
        # the same with tit-for-tat: answered in kind, and the restore reciprocated
        ens = run(two_state(None, TFT, events=events, horizon_steps=12))
        assert staff(ens, "a_in_b") == path(100, {4: -3, 7: 2}, 12)


class TestScripted:
    def test_only_the_events_happen_identically_in_every_run(self):
        busy = {"kind": "scripted", "provocation_rate": 300.0, "conciliation_rate": 300.0}
        events = [ev(0, "a", "b", "expel", size=3), ev(2, "b", "a", "expel", size=5)]
        ens = run(two_state(busy, busy, events=events, horizon_steps=15, runs=40, seed=3))
        assert (ens.trajectories == ens.trajectories[:, :, :1]).all()
        assert staff(ens, "b_in_a") == path(100, {1: -3}, 15)
        assert staff(ens, "a_in_b") == path(100, {3: -5}, 15)
        assert acts(ens, "a").tolist() == [1] * 40 and acts(ens, "b").tolist() == [1] * 40


def test_every_policy_has_a_test_class():
    classes = {name for name, obj in globals().items() if isinstance(obj, type)}
    for kind in POLICIES:
        assert "Test" + kind.title().replace("_", "") in classes, kind


# ------------------------------------------------------------------ common parameters
class TestCommonParameters:
    def test_respond_prob_run_by_run(self):
        n, seed, p = 2000, 11, 0.3
        pol = {**TFT, "respond_prob": p}
        sc = two_state(None, pol, events=[ev(0, "a", "b", "expel", size=3)], runs=n, seed=seed)
        ens = run(sc)
        answered = uniforms(seed, n, 1, "respond", "b", "a") < p
        assert np.array_equal(lost(ens, "a"), np.where(answered, 3, 0))
        assert np.array_equal(acts(ens, "b"), answered.astype(int))
        assert within_4se(int(answered.sum()), n, p)

    def test_lag_range_is_uniform_run_by_run(self):
        n, seed = 2000, 12
        pol = {"kind": "tit_for_tat", "lag": [2, 5], "notice": 1}
        sc = two_state(None, pol, events=[ev(0, "a", "b", "expel", size=1)], runs=n, seed=seed)
        ens = run(sc)
        u = uniforms(seed, n, 1, "lag", "b", "a")
        lag = 2 + np.minimum(np.floor(u * 4), 3).astype(int)
        traj = ens.trajectories[:, ens.mission_ids.index("a_in_b"), :]
        first_drop = np.argmax(traj < 100, axis=0)
        assert np.array_equal(first_drop, 1 + lag + 1)
        counts = np.bincount(lag - 2, minlength=4)
        assert all(within_4se(int(c), n, 0.25) for c in counts)

    @pytest.mark.parametrize("notice", [1, 3, 7])
    def test_notice_is_the_delay_to_the_deadline(self, notice):
        pol = {"kind": "tit_for_tat", "lag": [1, 1], "notice": notice}
        ens = run(two_state(None, pol, events=[ev(0, "a", "b", "expel", size=4)], horizon_steps=12))
        assert staff(ens, "a_in_b") == path(100, {2 + notice: -4}, 12)

    def test_perception_noise_run_by_run(self):
        n, seed, sigma = 2000, 13, 0.7
        pol = {**TFT, "noise": sigma}
        sc = two_state(None, pol, events=[ev(0, "a", "b", "expel", size=3)], runs=n, seed=seed)
        ens = run(sc)
        z = RunStreams(seed, np.arange(n)).normal(1, slot("noise", "b", "a"))
        perceived = 3 * np.exp(sigma * z)
        expected = np.minimum(np.where(perceived >= 0.5, np.rint(perceived), 0), 100)
        assert np.array_equal(lost(ens, "a"), expected)
        assert len(np.unique(expected)) > 4  # the noise really varies the answer

    def test_perceived_size_is_a_whole_head_count_run_by_run(self):
        # perceived = rint(3 exp(noise Z)), a head count; then the ratio, rounded down
        n, seed, sigma, ratio = 2000, 18, 0.7, 1.5
        pol = {**TFT, "kind": "proportional", "ratio": ratio, "noise": sigma}
        sc = two_state(None, pol, events=[ev(0, "a", "b", "expel", size=3)], runs=n, seed=seed)
        ens = run(sc)
        z = RunStreams(seed, np.arange(n)).normal(1, slot("noise", "b", "a"))
        perceived = np.rint(3 * np.exp(sigma * z))
        expected = np.minimum(np.floor(ratio * perceived + 1e-9), 100)
        assert np.array_equal(lost(ens, "a"), expected)
        assert np.array_equal(acts(ens, "b"), (expected >= 1).astype(int))
        # not the ratio of an unrounded perception: 1.5 x 1.4 would be 2, 1.5 x 1 is 1
        unrounded = np.minimum(np.floor(ratio * 3 * np.exp(sigma * z) + 1e-9), 100)
        assert (unrounded != expected).mean() > 0.1
        assert len(np.unique(expected)) > 4

    def test_reciprocate_run_by_run(self):
        n, seed = 2000, 14
        pol = {**TFT, "reciprocate": 0.5}
        events = [
            ev(0, "a", "b", "expel", size=3),  # history (before the forecast start, step 2):
            ev(0, "b", "a", "expel", size=3),  # 3 out of each mission, unanswered
            ev(2, "a", "b", "restore", size=5),
        ]
        sc = two_state(None, pol, events=events, runs=n, seed=seed, forecast_step=2)
        ens = run(sc)
        recip = uniforms(seed, n, 3, "reciprocate", "b", "a") < 0.5
        # a's restore of 5 brings back the 3 removed (step 3); b sees a conciliatory move
        # of 5 in step 3 and reciprocates (announced step 4): nothing pending, nothing
        # restricted -> a restore of min(5, 3 restorable) = 3, in effect in step 6
        assert (ens.final_staff[ens.mission_ids.index("b_in_a")] == 100).all()
        a_in_b = ens.final_staff[ens.mission_ids.index("a_in_b")]
        assert np.array_equal(a_in_b, np.where(recip, 100, 97))
        assert np.array_equal(ens.conciliatory_acts[ens.state_ids.index("b")], recip)
        assert within_4se(int(recip.sum()), n, 0.5)

    # The ladder: the preferred instrument where it can bite, else the next one above it.
    def test_ladder_cap_when_no_diplomats_are_left(self):
        sc = two_state(
            None,
            TFT,
            a_in_b={"diplomats": 0, "local_staff": 10},
            events=[ev(0, "a", "b", "expel", size=5)],
            horizon_steps=6,
        )
        rec = Recorder(sc)
        m = rec.m("a_in_b")
        assert rec.kind[2, m, 0] == Kind.CAP
        assert rec.total[:, m, 0].tolist() == [10, 10, 10, 10, 5, 5]
        assert rec.cap[-1, m, 0] == 5

    def test_ladder_order_is_the_states_own(self):
        pol = {**TFT, "ladder": ["expel", "ban_local_hires", "cap"]}
        sc = two_state(
            None,
            pol,
            a_in_b={"diplomats": 0, "local_staff": 10},
            events=[ev(0, "a", "b", "expel", size=5)],
            horizon_steps=6,
        )
        rec = Recorder(sc)
        m = rec.m("a_in_b")
        assert rec.kind[2, m, 0] == Kind.BAN_LOCAL_HIRES
        assert rec.total[-1, m, 0] == 5 and rec.cap[-1, m, 0] == NO_LIMIT
        assert rec.model.missions.ceiling[m, 0] == 5

    def test_ladder_takes_the_next_instrument_above_not_below(self):
        # B's locals are banned (size 6). A's mission in B has no locals: the next
        # instrument above ban_local_hires that bites is close_consulate (ceil(6/3) = 2
        # posts), not expel (below it on the ladder).
        sc = two_state(
            None,
            TFT,
            a_in_b={"diplomats": 50, "consulates": 2, "staff_per_consulate": 3},
            b_in_a={"diplomats": 50, "local_staff": 6},
            events=[ev(0, "a", "b", "ban_local_hires")],
            horizon_steps=6,
        )
        rec = Recorder(sc)
        m = rec.m("a_in_b")
        assert rec.kind[2, m, 0] == Kind.CLOSE_CONSULATE
        assert rec.total[:, m, 0].tolist() == [56, 56, 56, 56, 50, 50]
        assert rec.model.missions.posts[m, 0] == 0 and rec.model.missions.diplomats[m, 0] == 50

    def test_ladder_from_the_bottom_when_preferred_is_not_on_it(self):
        # A closes a B consulate (2 x 3 staff = 6); A's mission has no posts and B's ladder
        # has no close_consulate: the ladder from the bottom -> expel 6.
        pol = {**TFT, "ladder": ["expel", "cap"]}
        sc = two_state(
            None,
            pol,
            b_in_a={"diplomats": 50, "consulates": 2, "staff_per_consulate": 3},
            events=[ev(0, "a", "b", "close_consulate", size=2)],
            horizon_steps=6,
        )
        rec = Recorder(sc)
        m = rec.m("a_in_b")
        assert rec.kind[2, m, 0] == Kind.EXPEL and rec.size[2, m, 0] == 6
        assert rec.total[-1, m, 0] == 94

    def test_nothing_left_to_hit_means_no_measure(self):
        sc = two_state(None, TFT, a_in_b=0, events=[ev(0, "a", "b", "expel", size=5)])
        ens = run(sc)
        assert acts(ens, "b").tolist() == [0] and staff(ens, "a_in_b") == [0] * 20

    def test_provocations_run_by_run_and_step_by_step(self):
        n, seed, p, steps = 400, 15, 0.2, 30
        pol = {"kind": "passive", "provocation_rate": rate_for(p), "provocation_size": [1, 3]}
        sc = two_state(None, pol, a_in_b=10_000, horizon_steps=steps, runs=n, seed=seed)
        rec = Recorder(sc)
        streams = RunStreams(seed, np.arange(n))
        m = rec.m("a_in_b")
        for t in range(steps):
            provoked = streams.uniform(t, slot("provoke", "b", "a")) < p
            size = 1 + np.minimum(
                np.floor(streams.uniform(t, slot("provoke_size", "b", "a")) * 3), 2
            )
            assert np.array_equal(rec.size[t, m], np.where(provoked, size, 0)), t
            assert (rec.kind[t, m][provoked] == Kind.EXPEL).all()
        assert within_4se(int((rec.size[:, m] > 0).sum()), n * steps, p)
        assert (rec.size[:, rec.m("b_in_a")] == 0).all()  # a is scripted

    def test_bernoulli_probability_from_the_yearly_rate(self):
        pol = {"kind": "passive", "provocation_rate": 12.0, "conciliation_rate": 3.0}
        model = EscalationModel(two_state(None, pol, runs=1))
        rel = model.state_agents["b"].relations["a"]
        assert rel.p_provoke == pytest.approx(1 - np.exp(-12.0 * 7 / 365.25), rel=1e-12)
        assert rel.p_conciliate == pytest.approx(bernoulli_p(3.0), rel=1e-12)

    def test_conciliation_restores_when_nothing_is_pending(self):
        # b's history expulsion (step 0, before the forecast start) takes 12 of A's staff
        # out; from step 2 b's exogenous conciliatory steps restore 2-4 each, but only
        # while staff removed and not yet restored or on the way remain: the last restore
        # is cut to what is left, after that none is made (nor announced).
        n, seed, p, steps, notice, removed, first = 300, 16, 0.3, 20, 3, 12, 2
        pol = {
            "kind": "passive",
            "conciliation_rate": rate_for(p),
            "conciliation_size": [2, 4],
            "notice": notice,
        }
        events = [ev(0, "b", "a", "expel", size=removed)]
        sc = two_state(
            None, pol, events=events, horizon_steps=steps, runs=n, seed=seed, forecast_step=first
        )
        rec = Recorder(sc)
        streams = RunStreams(seed, np.arange(n))
        m = rec.m("a_in_b")
        landed = np.zeros(n)
        committed = np.zeros(n)  # restores announced so far
        for t in range(steps):
            fired = streams.uniform(t, slot("conciliate", "b", "a")) < p
            u = streams.uniform(t, slot("conciliate_size", "b", "a"))
            wanted = np.where(fired & (t >= first), 2 + np.minimum(np.floor(u * 3), 2), 0)
            size = np.minimum(wanted, removed - committed)
            assert np.array_equal(rec.concil[t, m], size), t
            committed += size
            if t + notice < steps:
                landed += size
        capped = (committed == removed).mean()
        assert 0.1 < capped < 0.9  # the restorable limit binds in some runs, not all
        assert np.array_equal(rec.total[-1, m], 100 - removed + landed)
        conciliatory = rec.result.conciliatory_acts[rec.model.state_ids.index("b")]
        assert np.array_equal(conciliatory, (rec.concil[:, m] > 0).sum(axis=0))


class TestToward:
    @staticmethod
    def three(policy_a, toward_a):
        states = {
            "a": {"policy": policy_a, "toward": toward_a},
            "b": {"policy": {"kind": "scripted"}},
            "c": {"policy": {"kind": "scripted"}},
        }
        missions = {
            f"{s}_in_{h}": {"sender": s, "host": h, "diplomats": 100}
            for s, h in [("a", "b"), ("a", "c"), ("b", "a"), ("c", "a")]
        }
        events = [ev(0, "b", "a", "expel", size=2), ev(0, "c", "a", "expel", size=3)]
        return run(scenario(states, missions, events, horizon_steps=8))

    def test_per_counterpart_kind(self):
        ens = self.three(TFT, {"c": {"kind": "passive"}})
        assert staff(ens, "b_in_a") == path(100, {4: -2}, 8)
        assert staff(ens, "c_in_a") == [100] * 8

    def test_per_counterpart_parameter_merged_over_the_policy(self):
        prop = {"kind": "proportional", "ratio": 1.0, "lag": [1, 1], "notice": 2}
        ens = self.three(prop, {"c": {"ratio": 2.0, "notice": 5}})
        assert staff(ens, "b_in_a") == path(100, {4: -2}, 8)
        assert staff(ens, "c_in_a") == path(100, {7: -6}, 8)


class TestSolidarity:
    @staticmethod
    def coalition(solidarity, runs=1, seed=0, c_kind="passive"):
        states = {
            "a": {"policy": {"kind": "scripted"}},
            "b": {"policy": TFT},
            "c": {
                "policy": {"kind": c_kind, "notice": 3},
                "allies": ["a"],
                "solidarity": solidarity,
                "solidarity_size": 3,
            },
        }
        missions = {
            f"{s}_in_{h}": {"sender": s, "host": h, "diplomats": 100}
            for s, h in [("a", "b"), ("b", "a"), ("b", "c"), ("c", "b")]
        }
        events = [ev(0, "a", "b", "expel", size=2)]
        return run(scenario(states, missions, events, horizon_steps=10, runs=runs, seed=seed))

    def test_ally_joins_and_the_target_answers_each(self):
        ens = self.coalition(1.0)
        assert staff(ens, "b_in_a") == path(100, {1: -2}, 10)
        # c joins in step 1 (it saw a's act of step 0): 3 from b's mission, notice 3
        assert staff(ens, "b_in_c") == path(100, {4: -3}, 10)
        # b answers a (announced step 2) and c (announced step 3), notice 2
        assert staff(ens, "a_in_b") == path(100, {4: -2}, 10)
        assert staff(ens, "c_in_b") == path(100, {5: -3}, 10)
        assert acts(ens, "c").tolist() == [1] and acts(ens, "b").tolist() == [2]

    def test_no_solidarity_no_join(self):
        ens = self.coalition(0.0)
        assert staff(ens, "b_in_c") == [100] * 10 and staff(ens, "c_in_b") == [100] * 10

    def test_a_scripted_state_never_joins(self):
        ens = self.coalition(1.0, c_kind="scripted")
        assert staff(ens, "b_in_c") == [100] * 10 and staff(ens, "c_in_b") == [100] * 10
        assert acts(ens, "c").tolist() == [0] and acts(ens, "b").tolist() == [1]

    def test_joins_with_probability_run_by_run(self):
        n, seed = 2000, 17
        ens = self.coalition(0.5, runs=n, seed=seed)
        joined = uniforms(seed, n, 1, "solidarity", "c", "a", "b") < 0.5
        assert np.array_equal(lost(ens, "b"), 2 + 3 * joined)
        assert np.array_equal(lost(ens, "c"), 3 * joined)
        assert within_4se(int(joined.sum()), n, 0.5)


# ----------------------------------------------------------- the conditional offer
class TestOffer:
    def test_reciprocated_cancel_meets_the_offer_both_sides_cancelled(self):
        pol = {"kind": "tit_for_tat", "lag": [1, 1], "notice": 6}
        events = [
            ev(0, "a", "b", "expel", size=3, deadline=8),
            ev(0, "b", "a", "expel", size=3, deadline=8),
            ev(1, "a", "b", "offer"),
        ]
        rec = Recorder(two_state(None, pol, events=events, horizon_steps=10))
        # b answers a's expulsion (announced step 2, pending), sees the offer in step 2 and
        # reciprocates in step 3 by cancelling everything pending against a: that meets
        # the offer, so a's pending expulsion is cancelled too.
        assert rec.size[2, rec.m("a_in_b"), 0] == 3
        assert rec.result.offer_accepted.tolist() == [True]
        assert (rec.total[:, :, 0] == 100).all()
        assert (rec.model.missions.pending_hostile == 0).all()

    def test_cancel_event_meets_the_offer(self):
        events = [
            ev(0, "a", "b", "expel", size=3, deadline=6),
            ev(0, "b", "a", "expel", size=4, deadline=6),
            ev(1, "a", "b", "offer"),
            ev(2, "b", "a", "cancel"),
        ]
        ens = run(two_state(events=events, horizon_steps=10))
        assert staff(ens, "b_in_a") == [100] * 10
        assert staff(ens, "a_in_b") == [100] * 10
        assert ens.offer_accepted.tolist() == [True]

    def test_offer_lapses_when_a_measure_takes_effect(self):
        events = [
            ev(0, "a", "b", "expel", size=1, deadline=2),
            ev(0, "a", "b", "expel", size=3, deadline=8),
            ev(0, "b", "a", "expel", size=4, deadline=8),
            ev(1, "a", "b", "offer"),
            ev(3, "b", "a", "cancel"),
        ]
        ens = run(two_state(events=events, horizon_steps=10))
        assert staff(ens, "b_in_a") == path(100, {2: -1, 8: -3}, 10)
        assert staff(ens, "a_in_b") == [100] * 10
        assert ens.offer_accepted.tolist() == [False]


# --------------------------------------------------------------- measures and events
class TestMeasures:
    def test_cancel_calls_off_what_is_pending_not_what_took_effect(self):
        events = [
            ev(0, "a", "b", "expel", size=2, deadline=2),
            ev(1, "a", "b", "expel", size=5, deadline=5),
            ev(3, "a", "b", "cancel"),
        ]
        ens = run(two_state(events=events, horizon_steps=8))
        assert staff(ens, "b_in_a") == path(100, {2: -2}, 8)

    def test_a_cancel_is_a_conciliatory_move_even_with_nothing_pending(self):
        events = [
            ev(0, "a", "b", "expel", size=5, deadline=3),
            ev(1, "a", "b", "cancel"),  # calls off 5
            ev(4, "a", "b", "cancel"),  # nothing left to call off: still a move of size 1
        ]
        rec = Recorder(two_state(events=events, horizon_steps=6))
        m = rec.m("b_in_a")
        assert rec.concil[:, m, 0].tolist() == [0, 5, 0, 0, 1, 0]
        assert rec.result.conciliatory_acts[rec.model.state_ids.index("a"), 0] == 2
        assert (rec.total[:, m, 0] == 100).all()

    def test_cancel_in_the_deadline_step_is_in_time(self):
        # events are announced before the step's effects (docs §2)
        events = [ev(0, "a", "b", "expel", size=5, deadline=3), ev(3, "a", "b", "cancel")]
        ens = run(two_state(events=events, horizon_steps=6))
        assert staff(ens, "b_in_a") == [100] * 6

    def test_restore(self):
        # a restore brings back only staff that measures removed: 5 of the 7
        events = [ev(0, "a", "b", "expel", size=5), ev(2, "a", "b", "restore", size=7, deadline=3)]
        ens = run(two_state(events=events, horizon_steps=5))
        assert staff(ens, "b_in_a") == [100, 95, 95, 100, 100]

    def test_restores_never_take_a_mission_above_where_measures_took_it_from(self):
        events = [
            ev(0, "a", "b", "expel", size=5),
            ev(2, "a", "b", "restore", size=3),
            ev(3, "a", "b", "restore", size=3),  # 2 left to bring back
            ev(5, "a", "b", "restore", size=3),  # nothing left
            ev(6, "a", "b", "expel", size=4),
            ev(8, "a", "b", "restore", size=10),  # the 4 of the second expulsion
        ]
        ens = run(two_state(events=events, horizon_steps=11))
        assert staff(ens, "b_in_a") == path(100, {1: -5, 3: 3, 4: 2, 7: -4, 9: 4}, 11)

    @pytest.mark.parametrize(
        ("level", "diplomats", "local", "posts"),
        [(20, 10, 2, 2), (14, 6, 0, 2), (8, 0, 0, 2), (6, 0, 0, 1), (0, 0, 0, 0)],
    )
    def test_cap_cuts_locals_then_diplomats_then_posts(self, level, diplomats, local, posts):
        b_in_a = {"diplomats": 10, "local_staff": 5, "consulates": 2, "staff_per_consulate": 4}
        sc = two_state(b_in_a=b_in_a, events=[ev(0, "a", "b", "cap", level=level, deadline=2)])
        rec = Recorder(sc)
        m, mi = rec.m("b_in_a"), rec.model.missions
        assert (mi.diplomats[m, 0], mi.local[m, 0], mi.posts[m, 0]) == (diplomats, local, posts)
        assert rec.total[:2, m, 0].tolist() == [23, 23]
        assert rec.total[2, m, 0] == diplomats + local + 4 * posts <= level

    def test_cap_persists_and_blocks_restores_above_it_until_lifted(self):
        events = [
            ev(0, "a", "b", "cap", level=50),
            ev(2, "a", "b", "cap", level=55),  # a later cap can only lower it
            ev(2, "a", "b", "restore", size=20),
            ev(4, "a", "b", "expel", size=5),
            ev(6, "a", "b", "restore", size=20),
            ev(8, "a", "b", "lift", lifts="cap"),
            ev(9, "a", "b", "restore", size=20),
        ]
        rec = Recorder(two_state(b_in_a=60, events=events, horizon_steps=12))
        m = rec.m("b_in_a")
        # 10 removed by the cap, none back under it (step 3); 5 expelled, 5 back up to the
        # cap (step 7); after the lift 20 are let back but only the 10 still missing come
        assert rec.total[:, m, 0].tolist() == path(60, {1: -10, 5: -5, 7: 5, 10: 10}, 12)
        assert (rec.cap[1:8, m, 0] == 50).all() and rec.cap[8, m, 0] == NO_LIMIT

    def test_ban_local_hires_with_a_ceiling_czechia_19(self):
        # Russia 2021: the Czech embassy may employ at most 19 local staff.
        events = [
            ev(0, "a", "b", "ban_local_hires", level=19),
            ev(2, "a", "b", "restore", size=5),
        ]
        b_in_a = {"diplomats": 30, "local_staff": 80}
        rec = Recorder(two_state(b_in_a=b_in_a, events=events, horizon_steps=8))
        m, mi = rec.m("b_in_a"), rec.model.missions
        assert rec.size[0, m, 0] == 61  # seen as 80 - 19 local staff
        assert rec.total[:, m, 0].tolist() == path(110, {1: -61, 3: 5}, 8)
        assert (mi.local[m, 0], mi.ceiling[m, 0], mi.diplomats[m, 0]) == (19, 19, 35)

    def test_lifting_a_ban_brings_nobody_back(self):
        events = [
            ev(0, "a", "b", "ban_local_hires"),
            ev(2, "a", "b", "lift", lifts="ban_local_hires"),
            ev(3, "a", "b", "restore", size=4),
        ]
        b_in_a = {"diplomats": 30, "local_staff": 10}
        rec = Recorder(two_state(b_in_a=b_in_a, events=events, horizon_steps=6))
        m, mi = rec.m("b_in_a"), rec.model.missions
        assert rec.total[:, m, 0].tolist() == path(40, {1: -10, 4: 4}, 6)
        assert (mi.local[m, 0], mi.ceiling[m, 0], mi.diplomats[m, 0]) == (0, NO_LIMIT, 34)

    def test_ban_mirrored_takes_the_same_number_of_locals(self):
        sc = two_state(
            None,
            TFT,
            a_in_b={"diplomats": 30, "local_staff": 70},
            b_in_a={"diplomats": 30, "local_staff": 80},
            events=[ev(0, "a", "b", "ban_local_hires", level=19)],
            horizon_steps=6,
        )
        rec = Recorder(sc)
        m, mi = rec.m("a_in_b"), rec.model.missions
        assert rec.kind[2, m, 0] == Kind.BAN_LOCAL_HIRES and rec.size[2, m, 0] == 61
        assert rec.total[:, m, 0].tolist() == path(100, {4: -61}, 6)
        assert (mi.local[m, 0], mi.ceiling[m, 0]) == (9, 9)

    def test_close_consulate(self):
        b_in_a = {"diplomats": 10, "consulates": 3, "staff_per_consulate": 5}
        a_in_b = {"diplomats": 50, "consulates": 3, "staff_per_consulate": 5}
        events = [
            ev(0, "a", "b", "close_consulate", size=2, deadline=3),
            ev(1, "a", "b", "close_consulate", size=2),  # only one post not yet closing
        ]
        sc = two_state(None, TFT, a_in_b=a_in_b, b_in_a=b_in_a, events=events, horizon_steps=6)
        rec = Recorder(sc)
        m, ma = rec.m("b_in_a"), rec.m("a_in_b")
        assert rec.total[:, m, 0].tolist() == [25, 25, 20, 10, 10, 10]
        assert rec.model.missions.posts[m, 0] == 0
        # seen by b as 2 x 5 = 10 staff (step 0) and 1 x 5 (step 1); mirrored in steps 2
        # and 3 as ceil(10 / 5) = 2 and 1 posts, effective 2 steps later
        assert rec.size[[2, 3], ma, 0].tolist() == [10, 5]
        assert (rec.kind[[2, 3], ma, 0] == Kind.CLOSE_CONSULATE).all()
        assert rec.total[:, ma, 0].tolist() == [65, 65, 65, 65, 55, 50]

    @pytest.mark.parametrize(
        ("a_in_b", "pending", "suspends"),
        [(5, 0, True), (6, 0, False), (100, 0, False), (8, 3, True), (9, 3, False)],
    )
    def test_mirroring_an_instrument_the_counterpart_cannot_suffer_climbs_the_ladder(
        self, a_in_b, pending, suspends
    ):
        # A closes a B consulate (5 staff); A's mission in B has no posts. The next
        # instrument above close_consulate on the default ladder is suspend, and climbing
        # keeps the response's size: it substitutes only where the mission, net of the
        # expulsions pending against it, is no more than the 5 (docs §7.3). Otherwise no
        # measure at all.
        b_in_a = {"diplomats": 10, "consulates": 3, "staff_per_consulate": 5}
        events = [ev(0, "a", "b", "close_consulate", size=1)]
        if pending:  # b's own scripted expulsion, in effect in step 3
            events.append(ev(0, "b", "a", "expel", size=pending, deadline=3))
        rec = Recorder(
            two_state(None, TFT, a_in_b=a_in_b, b_in_a=b_in_a, events=events, horizon_steps=6)
        )
        ma = rec.m("a_in_b")
        after = a_in_b - pending
        if suspends:
            assert rec.kind[2, ma, 0] == Kind.SUSPEND and rec.size[2, ma, 0] == a_in_b
            expected = [a_in_b] * 3 + [after, 0, 0]
        else:
            assert (rec.size[1:, ma, 0] == 0).all()
            expected = [a_in_b] * 3 + [after] * 3
        assert rec.total[:, ma, 0].tolist() == expected
        assert rec.model.missions.suspended[ma, 0] == suspends
        b_acts = rec.result.hostile_acts[rec.model.state_ids.index("b"), 0]
        assert b_acts == int(suspends) + (pending > 0)

    def test_suspend_mirrored_is_used_whatever_the_size(self):
        b_in_a = {"diplomats": 3}
        events = [ev(0, "a", "b", "suspend")]
        rec = Recorder(two_state(None, TFT, b_in_a=b_in_a, events=events, horizon_steps=6))
        ma = rec.m("a_in_b")
        assert rec.size[0, rec.m("b_in_a"), 0] == 3
        assert rec.kind[2, ma, 0] == Kind.SUSPEND and rec.size[2, ma, 0] == 100
        assert rec.total[:, ma, 0].tolist() == [100, 100, 100, 100, 0, 0]

    @pytest.mark.parametrize("rate", [0.1, 0.3, 0.5, 1.0, 1.5, 2.7])
    def test_visa_denial_departures_accumulate_fractions(self, rate):
        steps = 40
        events = [ev(0, "a", "b", "visa_denial", rate=rate, deadline=2)]
        ens = run(two_state(events=events, b_in_a=200, horizon_steps=steps))
        # from the deadline (step 2) on, floor(j * rate) have left after j steps
        expected = [
            200 - (int(np.floor(round((k - 1) * rate, 9))) if k >= 2 else 0) for k in range(steps)
        ]
        assert staff(ens, "b_in_a") == expected

    def test_one_visa_denial_at_a_time(self):
        # b mirrors a's two visa denials (26 and 13 staff-equivalents). Its first (step 2,
        # rate 1, in force from step 4) is pending when it answers the second (step 3):
        # visa_denial cannot bite, and as it is not on b's (default) ladder, the ladder is
        # taken from the bottom -- an expulsion of the same 13.
        events = [
            ev(0, "a", "b", "visa_denial", rate=1.0),
            ev(1, "a", "b", "visa_denial", rate=0.5),
        ]
        rec = Recorder(two_state(None, TFT, events=events, horizon_steps=8))
        m = rec.m("a_in_b")
        assert rec.size[[0, 1], rec.m("b_in_a"), 0].tolist() == [26, 13]
        assert rec.kind[[2, 3], m, 0].tolist() == [Kind.VISA_DENIAL, Kind.EXPEL]
        assert rec.size[[2, 3], m, 0].tolist() == [26, 13]
        # one departure a step from step 4, and the 13 expelled in step 5
        assert rec.total[:, m, 0].tolist() == [100] * 4 + [99, 85, 84, 83]
        assert rec.model.missions.visa_rate[m, 0] == 1.0

    def test_visa_denial_lifted_stops_departures(self):
        events = [
            ev(0, "a", "b", "visa_denial", rate=1.0),
            ev(5, "a", "b", "lift", lifts="visa_denial"),
        ]
        ens = run(two_state(events=events, horizon_steps=10))
        assert staff(ens, "b_in_a") == [100, 99, 98, 97, 96, 96, 96, 96, 96, 96]

    def test_suspend_closes_the_mission_and_blocks_restores(self):
        b_in_a = {"diplomats": 10, "local_staff": 5, "consulates": 1, "staff_per_consulate": 3}
        events = [
            ev(0, "a", "b", "suspend", deadline=3),
            ev(4, "a", "b", "restore", size=10),
        ]
        rec = Recorder(two_state(b_in_a=b_in_a, events=events, horizon_steps=8))
        m = rec.m("b_in_a")
        assert rec.total[:, m, 0].tolist() == [18, 18, 18, 0, 0, 0, 0, 0]
        assert rec.result.outcome[0] == SPIRAL and rec.result.outcome_step[0] == 3
        assert rec.result.closed_mission[0] == m

    def test_self_inflicted_measure_is_nobodys_hostile_act(self):
        # b closes one of its own consulates in a (mission = [sender, host]); both states
        # play tit-for-tat, and neither answers.
        b_in_a = {"diplomats": 10, "consulates": 2, "staff_per_consulate": 5}
        events = [ev(0, "b", "b", "close_consulate", size=1, mission=["b", "a"], deadline=5)]
        sc = two_state(
            TFT, TFT, b_in_a=b_in_a, events=events, horizon_steps=8, outcomes={"quiet_steps": 3}
        )
        ens = run(sc)
        assert staff(ens, "b_in_a") == path(20, {5: -5}, 8)
        assert staff(ens, "a_in_b") == [100] * 8
        assert acts(ens, "a").tolist() == [0] and acts(ens, "b").tolist() == [0]
        # nothing hostile is pending: quiet for 3 steps -> de-escalation in step 3
        assert ens.outcome.tolist() == [DE_ESCALATION] and ens.outcome_step.tolist() == [3]

    def test_host_cancel_does_not_call_off_the_senders_own_measure(self):
        b_in_a = {"diplomats": 10, "consulates": 2, "staff_per_consulate": 5}
        events = [
            ev(0, "b", "b", "close_consulate", size=1, mission=["b", "a"], deadline=5),
            ev(0, "a", "b", "expel", size=3, deadline=5),
            ev(2, "a", "b", "cancel"),
        ]
        rec = Recorder(two_state(b_in_a=b_in_a, events=events, horizon_steps=8))
        m = rec.m("b_in_a")
        assert rec.total[:, m, 0].tolist() == path(20, {5: -5}, 8)
        assert (rec.model.missions.pending_expel == 0).all()
        assert (rec.model.missions.pending_posts == 0).all()

    def test_history_is_not_answered(self):
        events = [ev(0, "a", "b", "expel", size=3), ev(3, "a", "b", "expel", size=2)]
        sc = two_state(TFT, TFT, events=events, horizon_steps=12, forecast_step=2)
        ens = run(sc)
        # the step-0 expulsion is history: unanswered; the step-3 one starts an echo
        assert staff(ens, "b_in_a") == path(100, {1: -3, 4: -2, 9: -2}, 12)
        assert staff(ens, "a_in_b") == path(100, {7: -2, 11: -2}, 12)
        assert ens.outcome.tolist() == [UNRESOLVED]

    @pytest.mark.parametrize(("history", "calm_step"), [(False, 3), (True, 4)])
    def test_history_restarts_the_quiet_clock(self, history, calm_step):
        events = [ev(1, "a", "b", "expel", size=3)] if history else []
        sc = two_state(events=events, forecast_step=2, outcomes={"quiet_steps": 3})
        ens = run(sc)
        assert ens.outcome.tolist() == [DE_ESCALATION]
        assert ens.outcome_step.tolist() == [calm_step]
