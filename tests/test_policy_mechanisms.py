"""The behaviour mechanisms every policy has (issue 13, docs/model.md "Behaviour
mechanisms"): restraint above a floor, saturation and a ceiling of answers, the choice of
an answer's channel, and answering several counterparts together.

Each test builds a small scenario from dicts (through the real validator) and checks
exact expectations: the answer's size in closed form, the runs that answer read from
the very uniforms the engine draws, and results identical to today's when a mechanism
is left at its default. ``parity_target`` is tested with the other policies, in
tests/test_policies.py (TestParityTarget).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import Recorder, ev, run, scenario, two_state, uniforms
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.analysis.runner import run_ensemble
from sim.engine import instruments
from sim.engine.missions import Kind
from sim.engine.model import EscalationModel
from sim.policies import COMMON_PARAMS, POLICIES, choice_params
from sim.spec import ScenarioError

TFT = {"kind": "tit_for_tat", "lag": [1, 1]}


def within_4se(count: int, n: int, p: float) -> bool:
    return abs(count - n * p) <= 4 * math.sqrt(n * p * (1 - p))


def answers_of_a(rec: Recorder, step: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Size and instrument of a's answers on b's mission in ``step`` (an act of b in
    step 0 is perceived in step 1 and, after a lag of 1, answered in step 2)."""
    m = rec.m("b_in_a")
    return rec.size[step, m], rec.kind[step, m]


def same_results(x, y) -> None:
    assert np.array_equal(x.trajectories, y.trajectories)
    for name in ("outcome", "final_staff", "staff_lost", "hostile_acts", "conciliatory_acts"):
        assert np.array_equal(getattr(x, name), getattr(y, name)), name
    assert x.events.equals(y.events)


def busy_pair(policy_a: dict, runs: int = 60):
    """A noisy, lagged, provoking exchange in which every mechanism has work to do."""
    a = {"kind": "proportional", "ratio": 1.2, "noise": 0.4, "lag": [0, 2], **policy_a}
    b = {
        "kind": "tit_for_tat",
        "noise": 0.3,
        "lag": [1, 3],
        "provocation_rate": 6.0,
        "provocation_size": [1, 5],
        "escalate_instrument": 0.3,
    }
    mission = {"diplomats": 60, "local_staff": 20, "consulates": 2, "staff_per_consulate": 5}
    events = [ev(0, "b", "a", "expel", size=6), ev(3, "b", "a", "ban_local_hires", level=5)]
    return two_state(
        a, b, a_in_b=mission, b_in_a=mission, events=events, horizon_steps=40, runs=runs, seed=5
    )


# ------------------------------------------------------------------ declarations
def test_the_mechanisms_are_common_parameters_off_by_default():
    for key in ("restraint_floor", "restraint_width", "saturation", "answer_ceiling"):
        assert COMMON_PARAMS[key].default == 0
    generated = choice_params()
    names = [k for k in generated if not k.endswith("_amount")]
    by_code = sorted(instruments.hostile(), key=lambda i: i.code)
    assert names == [f"choice_{i.name}" for i in by_code]  # every hostile one, by code
    assert names[:6] == [
        "choice_expel",
        "choice_cap",
        "choice_ban_local_hires",
        "choice_close_consulate",
        "choice_visa_denial",
        "choice_suspend",
    ]
    for name in names:
        assert generated[name].default == 0.0 and generated[name].prior is not None
        assert generated[f"{name}_amount"].default == -1.0
    for cls in POLICIES.values():
        assert set(generated) <= set(cls.all_params())


def test_defaults_given_explicitly_change_nothing():
    explicit = {
        "restraint_floor": 0,
        "restraint_width": 7,
        "saturation": 0.0,
        "answer_ceiling": 0,
        **{k: (0.0 if not k.endswith("_amount") else 3.0) for k in choice_params()},
    }
    today = run_ensemble(busy_pair({}), keep_trajectories=True, keep_events=True)
    again = run_ensemble(busy_pair(explicit), keep_trajectories=True, keep_events=True)
    assert today.hostile_acts.sum() > 100  # not vacuous
    same_results(today, again)


# ------------------------------------------------------------------ restraint
class TestRestraint:
    FLOOR = 40

    def exchange(self, floor: int | None, runs: int = 200):
        a = {"kind": "proportional", "ratio": 1.0, "noise": 0.5, "lag": [0, 2]}
        if floor is not None:
            a["restraint_floor"] = floor
        b = {"kind": "tit_for_tat", "lag": [1, 2]}  # mirrors exactly what it suffers
        return two_state(
            a,
            b,
            a_in_b=60,
            b_in_a=100,
            events=[ev(0, "b", "a", "expel", size=10)],
            horizon_steps=40,
            runs=runs,
            seed=3,
        )

    def test_the_mission_never_falls_below_the_floor(self):
        ens = run(self.exchange(self.FLOOR))
        a_in_b = ens.trajectories[:, ens.mission_ids.index("a_in_b")]
        assert (a_in_b[1:] >= self.FLOOR).all()  # after the initial act (60 -> 50)
        assert (a_in_b[-1] == self.FLOOR).any()  # and it does go down to the floor
        free = run(self.exchange(None))
        assert (free.trajectories[:, free.mission_ids.index("a_in_b")] < self.FLOOR).any()

    def test_a_floor_of_zero_is_no_floor(self):
        off = run_ensemble(self.exchange(0, 50), keep_trajectories=True, keep_events=True)
        unset = run_ensemble(self.exchange(None, 50), keep_trajectories=True, keep_events=True)
        same_results(off, unset)

    def test_the_answer_is_what_can_be_lost_above_the_floor(self):
        # A's mission is 40 once b's 10 are gone: above a floor of 36, 4 can be lost.
        a = {**TFT, "restraint_floor": 36}
        rec = Recorder(two_state(a, None, a_in_b=50, events=[ev(0, "b", "a", "expel", size=10)]))
        size, kind = answers_of_a(rec)
        assert size[0] == 4 and kind[0] == Kind.EXPEL

    @pytest.mark.parametrize("floor", [40, 45])
    def test_no_answer_at_or_below_the_floor(self, floor):
        a = {**TFT, "restraint_floor": floor}
        sc = two_state(a, None, a_in_b=50, events=[ev(0, "b", "a", "expel", size=10)])
        assert Recorder(sc).size[:, Recorder(sc).m("b_in_a")].sum() == 0

    def test_readiness_rises_over_the_width(self):
        # Own mission 30 once b's 10 are gone, floor 20, width 20: ready with
        # probability (30 - 20) / 20 = 0.5, in exactly the runs whose uniform says so.
        n, seed = 4000, 8
        a = {**TFT, "restraint_floor": 20, "restraint_width": 20}
        sc = two_state(
            a, None, a_in_b=40, events=[ev(0, "b", "a", "expel", size=10)], runs=n, seed=seed
        )
        size, _ = answers_of_a(Recorder(sc))
        ready = uniforms(seed, n, 1, "restraint", "a", "b") < 0.5
        assert np.array_equal(size > 0, ready)
        assert (size[ready] == 10).all()
        assert within_4se(int(ready.sum()), n, 0.5)


# ------------------------------------------------------------------ saturation, ceiling
class TestSaturationAndCeiling:
    def answer(self, act: int, **params) -> float:
        a = {**TFT, **params}
        sc = two_state(a, None, a_in_b=100, events=[ev(0, "b", "a", "expel", size=act)])
        size, kind = answers_of_a(Recorder(sc))
        assert kind[0] in (Kind.EXPEL, Kind.NONE)
        return float(size[0])

    def test_the_ceiling_caps_an_answer(self):
        assert self.answer(20, answer_ceiling=5) == 5
        assert self.answer(4, answer_ceiling=5) == 4

    @pytest.mark.parametrize(("scale", "act"), [(10.0, 20), (10.0, 40), (25.0, 60), (3.0, 7)])
    def test_saturation_in_closed_form(self, scale, act):
        expected = math.floor(scale * (1 + math.log(act / scale)))
        assert self.answer(act, saturation=scale) == expected

    @pytest.mark.parametrize("act", [1, 5, 10])
    def test_answers_up_to_the_scale_keep_their_size(self, act):
        assert self.answer(act, saturation=10.0) == act

    def test_saturation_then_ceiling_then_restraint(self):
        # 40 saturates at 10 * (1 + log 4) = 23.86; the ceiling of 12 takes it to 12; a
        # mission of 60 after the act, with a floor of 53, affords 7.
        assert self.answer(40, saturation=10.0) == 23
        assert self.answer(40, saturation=10.0, answer_ceiling=12) == 12
        assert self.answer(40, saturation=10.0, answer_ceiling=12, restraint_floor=53) == 7

    @settings(max_examples=30, deadline=None)
    @given(
        ceiling=st.integers(1, 8),
        ratio=st.sampled_from([0.5, 1.0, 2.5]),
        noise=st.sampled_from([0.0, 0.8]),
        saturation=st.sampled_from([0.0, 2.0, 30.0]),
        acts=st.lists(st.tuples(st.integers(0, 8), st.integers(1, 40)), min_size=1, max_size=4),
    )
    def test_no_answer_exceeds_the_ceiling(self, ceiling, ratio, noise, saturation, acts):
        # A fixed lag: answers to acts perceived in different steps are announced in
        # different steps (with a random lag they may fall due together and be announced
        # as one, which the ceiling of each answer does not bound).
        a = {
            "kind": "proportional",
            "ratio": ratio,
            "noise": noise,
            "lag": [1, 1],
            "saturation": saturation,
            "answer_ceiling": ceiling,
        }
        events = [ev(step, "b", "a", "expel", size=size) for step, size in sorted(acts)]
        sc = two_state(a, None, a_in_b=200, b_in_a=200, events=events, runs=8, horizon_steps=14)
        rec = Recorder(sc)
        assert rec.size[:, rec.m("b_in_a")].max() <= ceiling  # only a acts on b's mission


# ------------------------------------------------------------------ choice of instrument
B_MISSION = {"diplomats": 40, "local_staff": 30}


class TestChoice:
    def test_an_expulsion_answered_by_a_full_ban_on_local_staff(self):
        a = {**TFT, "choice_ban_local_hires": 1.0, "choice_ban_local_hires_amount": 0}
        sc = two_state(
            a, None, b_in_a=B_MISSION, events=[ev(0, "b", "a", "expel", size=10)], runs=3
        )
        ens = run_ensemble(sc, keep_trajectories=True, keep_events=True)
        rows = ens.events[(ens.events["actor"] == "a") & (ens.events["cause"] == "answer")]
        assert len(rows) == 3  # one answer per run
        assert (rows["instrument"] == "ban_local_hires").all()
        assert (rows["amount"] == 0).all() and (rows["size"] == 30).all()
        assert (ens.trajectories[-1, ens.mission_ids.index("b_in_a")] == 40).all()

    def test_sized_by_the_answer_by_default(self):
        a = {**TFT, "choice_ban_local_hires": 1.0}
        sc = two_state(a, None, b_in_a=B_MISSION, events=[ev(0, "b", "a", "expel", size=10)])
        size, kind = answers_of_a(Recorder(sc))
        assert kind[0] == Kind.BAN_LOCAL_HIRES and size[0] == 10  # level 30 - 10 = 20

    def test_a_fixed_number_of_diplomats(self):
        a = {**TFT, "choice_expel": 1.0, "choice_expel_amount": 5}
        sc = two_state(a, None, a_in_b=60, events=[ev(0, "b", "a", "cap", level=40)])
        size, kind = answers_of_a(Recorder(sc))
        assert kind[0] == Kind.EXPEL and size[0] == 5  # not the 20 the cap removes

    def test_the_share_chosen_follows_its_probability(self):
        n, seed, p = 4000, 21, 0.3
        a = {**TFT, "choice_ban_local_hires": p, "choice_ban_local_hires_amount": 0}
        sc = two_state(
            a,
            None,
            b_in_a=B_MISSION,
            events=[ev(0, "b", "a", "expel", size=10)],
            runs=n,
            seed=seed,
        )
        size, kind = answers_of_a(Recorder(sc))
        banned = kind == Kind.BAN_LOCAL_HIRES
        assert np.array_equal(banned, uniforms(seed, n, 1, "choice", "a", "b") < p)
        assert (kind[~banned] == Kind.EXPEL).all() and (size[~banned] == 10).all()
        assert (size[banned] == 30).all()
        assert within_4se(int(banned.sum()), n, p)

    def test_a_channel_that_cannot_bite_falls_back_on_the_ladder_sized_by_the_answer(self):
        a = {
            **TFT,
            "choice_ban_local_hires": 1.0,
            "choice_ban_local_hires_amount": 0,
            "ladder": ["ban_local_hires", "expel"],
        }
        sc = two_state(a, None, b_in_a=40, events=[ev(0, "b", "a", "expel", size=10)])
        size, kind = answers_of_a(Recorder(sc))  # no local staff to ban
        assert kind[0] == Kind.EXPEL and size[0] == 10

    def test_escalation_applies_only_to_mirrored_answers(self):
        n, seed = 400, 4
        a = {**TFT, "choice_close_consulate": 0.5, "escalate_instrument": 1.0}
        b_mission = {"diplomats": 40, "consulates": 3, "staff_per_consulate": 5}
        sc = two_state(
            a, None, b_in_a=b_mission, events=[ev(0, "b", "a", "expel", size=4)], runs=n, seed=seed
        )
        _, kind = answers_of_a(Recorder(sc))
        closed = uniforms(seed, n, 1, "choice", "a", "b") < 0.5
        assert (kind[closed] == Kind.CLOSE_CONSULATE).all()  # not a suspension
        assert (kind[~closed] == Kind.CAP).all()  # expel, one rung up

    def test_only_answers_to_perceived_acts_are_chosen(self):
        grim = {"kind": "grim", "threshold": 1, "punishment": 3, "lag": [1, 1], "choice_cap": 1.0}
        sc = two_state(
            grim, None, events=[ev(0, "b", "a", "expel", size=2)], horizon_steps=6, runs=2
        )
        kinds = Recorder(sc).kind[:, 1]  # b_in_a
        assert (kinds[2] == Kind.CAP).all()  # the answer to b's act
        assert (kinds[3:] == Kind.EXPEL).all()  # grim's own punishments

    def test_choices_summing_above_one_are_refused(self):
        a = {**TFT, "choice_cap": 0.6, "choice_expel": 0.5}
        with pytest.raises(ScenarioError) as err:
            two_state(a, None)
        [problem] = err.value.problems
        assert problem.path == "states.a.policy.choice_cap"
        assert "sum to at most 1" in problem.message and "1.1" in problem.message

    def test_choices_drawn_per_run_are_scaled_down_to_one(self):
        n, seed = 500, 6
        sc = two_state(
            TFT, None, b_in_a=B_MISSION, events=[ev(0, "b", "a", "expel", size=10)], seed=seed
        )
        given = {
            "states.a.policy.choice_cap": np.full(n, 0.8),
            "states.a.policy.choice_ban_local_hires": np.full(n, 0.8),
        }
        model = EscalationModel(sc, runs=np.arange(n), param_values=given)
        kinds = []
        while model.running:
            model.step()
            kinds.append(model.last.kind[1].copy())
        cap = uniforms(seed, n, 1, "choice", "a", "b") < 0.5  # cap's code comes first
        assert (kinds[2][cap] == Kind.CAP).all()
        assert (kinds[2][~cap] == Kind.BAN_LOCAL_HIRES).all()  # nobody mirrors

    def test_a_plugin_instrument_is_a_channel_too(self):
        # tests/plugins/example_instrument.py: close the mission's cultural institute.
        state = instruments.registry_state()
        try:
            if "close_institute" not in instruments.INSTRUMENTS:
                from tests.plugins import example_instrument

                instruments.register_instrument(example_instrument.CloseInstitute)
            assert "choice_close_institute" in POLICIES["tit_for_tat"].all_params()
            a = {**TFT, "choice_close_institute": 1.0}
            b_mission = {"diplomats": 40, "institute_staff": 12}
            sc = two_state(a, None, b_in_a=b_mission, events=[ev(0, "b", "a", "expel", size=3)])
            size, kind = answers_of_a(Recorder(sc))
            assert kind[0] == instruments.code_of("close_institute") and size[0] == 12
        finally:
            instruments.restore_registry(state)
        assert "choice_close_institute" not in POLICIES["tit_for_tat"].all_params()

    def test_all_zero_is_today(self):
        zeros = {k: 0.0 for k in choice_params() if not k.endswith("_amount")}
        today = run_ensemble(busy_pair({}), keep_trajectories=True, keep_events=True)
        again = run_ensemble(busy_pair(zeros), keep_trajectories=True, keep_events=True)
        same_results(today, again)


# ------------------------------------------------------------------ answering together
def wave(answer_together: bool, runs: int = 200):
    """Three states each expel a different number of d's diplomats on the same day."""
    d = {"policy": {"kind": "tit_for_tat", "lag": [0, 3]}}
    if answer_together:
        d["answer_together"] = True
    states = {s: {"policy": {"kind": "scripted"}} for s in "abc"}
    states["d"] = d
    missions = {}
    for s in "abc":
        missions[f"d_in_{s}"] = {"sender": "d", "host": s, "diplomats": 20}
        missions[f"{s}_in_d"] = {"sender": s, "host": "d", "diplomats": 20}
    events = [ev(0, s, "d", "expel", size=n) for s, n in zip("abc", (2, 3, 4), strict=True)]
    return scenario(states, missions, events, horizon_steps=8, runs=runs, seed=2)


def answer_steps(rec: Recorder) -> tuple[np.ndarray, np.ndarray]:
    """Per counterpart (a, b, c) and run, the step of d's answer and its size."""
    steps, sizes = [], []
    for s in "abc":
        announced = rec.size[:, rec.m(f"{s}_in_d")]
        assert ((announced > 0).sum(axis=0) == 1).all()  # one answer each, in every run
        step = (announced > 0).argmax(axis=0)
        steps.append(step)
        sizes.append(announced[step, np.arange(announced.shape[1])])
    return np.array(steps), np.array(sizes)


class TestAnswerTogether:
    def test_a_wave_is_answered_in_one_announcement(self):
        steps, sizes = answer_steps(Recorder(wave(True)))
        assert (steps == steps[0]).all()  # the same step in every run
        assert len(set(steps[0].tolist())) > 1  # with lags that differ between runs
        assert (sizes == np.array([[2], [3], [4]])).all()  # each with its own size

    def test_without_it_the_answers_are_not_always_together(self):
        steps, sizes = answer_steps(Recorder(wave(False)))
        assert not (steps == steps[0]).all()
        assert (sizes == np.array([[2], [3], [4]])).all()

    def test_validated_as_a_boolean(self):
        sc = wave(True, runs=1)
        assert sc.states["d"].answer_together and not sc.states["a"].answer_together
        raw = {**sc.raw, "states": {**sc.raw["states"], "d": {"answer_together": "yes"}}}
        from sim.scenario import scenario_from_dict

        with pytest.raises(ScenarioError) as err:
            scenario_from_dict(raw, "<test>")
        assert any(p.path == "states.d.answer_together" for p in err.value.problems)
