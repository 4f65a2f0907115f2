"""The scored backtest: scores, answering questions from simulated runs, the questions
file, perceiving recent history at the forecast start, and a small end-to-end run."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import math
import tomllib
from pathlib import Path

import numpy as np
import pytest
from conftest import day, ev, run, staff, two_state

from sim.analysis import backtest as bt
from sim.analysis import calibrate as cal
from sim.cli import main
from sim.engine.missions import Kind
from sim.scenario import ScenarioError

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "scenarios" / "backtest" / "questions.toml"


class TestScores:
    def test_brier_and_log_score(self):
        assert bt.brier(0.8, True) == pytest.approx(0.04)
        assert bt.brier(0.8, False) == pytest.approx(0.64)
        assert bt.log_score(0.8, True) == pytest.approx(-math.log(0.8))
        assert bt.log_score(0.8, False) == pytest.approx(-math.log(0.2))

    def test_model_probability_is_never_certain(self):
        assert 0 < bt.model_probability(0, 10_000) < 1e-4
        assert 1 - 1e-4 < bt.model_probability(10_000, 10_000) < 1
        assert bt.model_probability(5_000, 10_000) == pytest.approx(0.5, abs=1e-4)


def _question(**fields) -> bt.Question:
    base = dict(id="q", window="w", text="", kind="event", outcome=True, baseline=0.5)
    base.update(fields)
    return bt.Question(**base)


class TestAnswer:
    """Arrays (steps, missions, runs) as the engine records them; missions a_in_b, b_in_a."""

    @pytest.fixture()
    def arrays(self):
        sc = two_state(horizon_steps=30)
        steps, runs = sc.n_steps, 4
        announced = np.zeros((steps, 2, runs))
        kinds = np.zeros((steps, 2, runs), dtype=np.int8)
        totals = np.full((steps, 2, runs), 100)
        # Run 0: b expels 12 of a's staff (mission a_in_b) at step 5.
        announced[5, 0, 0], kinds[5, 0, 0] = 12, Kind.EXPEL
        # Run 1: a expels 3 of b's staff at step 20 (outside the question's period).
        announced[20, 1, 1], kinds[20, 1, 1] = 3, Kind.EXPEL
        # Run 2: b bans a's local hires at step 6; a's mission falls to 40 at step 6.
        announced[6, 0, 2], kinds[6, 0, 2] = 30, Kind.BAN_LOCAL_HIRES
        totals[6:, 0, 2] = 40
        # Run 3: a's mission is emptied at step 8.
        totals[8:, 0, 3] = 0
        return sc, announced, kinds, totals

    def test_expulsion_by_actor_size_and_period(self, arrays):
        sc, announced, kinds, totals = arrays
        q = _question(actor="any", action="expel", start=day(0), end=day(10))
        assert bt.answer(q, sc, announced, kinds, totals).tolist() == [True, False, False, False]
        q = _question(actor="a", action="expel", start=day(0), end=day(10))
        assert not bt.answer(q, sc, announced, kinds, totals).any()
        q = _question(actor="b", action="expel", min_size=13, start=day(0), end=day(10))
        assert not bt.answer(q, sc, announced, kinds, totals).any()
        q = _question(actor="any", action="expel", start=day(0), end=day(25))
        assert bt.answer(q, sc, announced, kinds, totals).tolist() == [True, True, False, False]

    def test_ban_suspension_and_level(self, arrays):
        sc, announced, kinds, totals = arrays
        q = _question(actor="b", action="ban_local_hires", start=day(0), end=day(10))
        assert bt.answer(q, sc, announced, kinds, totals).tolist() == [False, False, True, False]
        q = _question(actor="any", action="suspend", start=day(0), end=day(29))
        assert bt.answer(q, sc, announced, kinds, totals).tolist() == [False, False, False, True]
        q = _question(kind="level", mission="a_in_b", below=50, on=day(10, 6))
        assert bt.answer(q, sc, announced, kinds, totals).tolist() == [False, False, True, True]
        q = _question(kind="level", mission="a_in_b", below=50, on=day(5, 6))
        assert not bt.answer(q, sc, announced, kinds, totals).any()


class TestQuestionsFile:
    def test_shipped_questions(self):
        path, windows, questions = bt.load_questions(QUESTIONS)
        assert path.name == "us_russia_2016_2023_replay.toml" and path.exists()
        assert [w.id for w in windows] == ["2021", "2022"]
        assert len(questions) == 10
        assert {q.outcome for q in questions} == {True, False}
        raw = tomllib.loads(QUESTIONS.read_text())
        for q in raw["question"]:
            k, n = q["baseline_k"], q["baseline_n"]
            assert q["baseline"] == pytest.approx((k + 1) / (n + 2), abs=5.01e-4), q[
                "id"
            ]  # rounded to 3 decimals

    def test_errors_name_the_field(self, tmp_path):
        bad = tmp_path / "q.toml"
        bad.write_text(
            'scenario = "x.toml"\n[[window]]\nid = "w"\ncutoff = 2020-01-01\n'
            "start = 2020-01-02\nend = 2020-12-31\n"
            '[[question]]\nid = "q"\nwindow = "nope"\ntext = ""\nkind = "event"\n'
            'action = "bribe"\noutcome = true\nbaseline = 1.5\n'
        )
        with pytest.raises(ScenarioError) as info:
            bt.load_questions(bad)
        text = str(info.value)
        for path in ("question.0.window", "question.0.action", "question.0.baseline"):
            assert path in text


class TestRecall:
    """Acts shortly before the forecast start can be answered (scenario.recall_days)."""

    def _scenario(self, recall_days: int):
        sc = two_state(
            {"kind": "tit_for_tat"},
            {"kind": "scripted"},
            events=[ev(3, "b", "a", "expel", size=7)],
            horizon_steps=12,
            forecast_step=5,
        )
        if recall_days:
            sc = sc.with_overrides({"scenario.recall_days": recall_days})
        return sc

    def test_without_recall_history_is_not_answered(self):
        assert staff(run(self._scenario(0)), "b_in_a")[-1] == 100

    def test_recalled_act_is_answered_in_kind(self):
        assert staff(run(self._scenario(21)), "b_in_a")[-1] == 93

    def test_act_in_the_forecast_step_but_dated_before_it_is_answered(self):
        # The act is dated two days into step 5, the forecast four days into it.
        sc = two_state(
            {"kind": "tit_for_tat"},
            {"kind": "scripted"},
            events=[{**ev(5, "b", "a", "expel", size=7), "date": day(5, 1)}],
            horizon_steps=12,
        )
        sc = sc.with_overrides({"scenario.forecast_start": day(5, 4), "scenario.recall_days": 7})
        assert sc.forecast_step == 5
        assert staff(run(sc), "b_in_a")[-1] == 93
        no_recall = sc.with_overrides({"scenario.recall_days": 0})
        assert staff(run(no_recall), "b_in_a")[-1] == 100

    def test_acts_older_than_the_recall_are_not_answered(self):
        assert staff(run(self._scenario(7)), "b_in_a")[-1] == 100


@pytest.fixture(scope="module")
def small_backtest(tmp_path_factory):
    """``backtest`` run once from the command line, and the calibration of each window it
    made (kept by watching ``cal.calibrate``, which the backtest calls once per window)."""
    out = tmp_path_factory.mktemp("backtest") / "bt"
    made = []
    real = cal.calibrate

    def watched(*args, **kwargs):
        made.append(real(*args, **kwargs))
        return made[-1]

    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cal, "calibrate", watched)
        with contextlib.redirect_stdout(printed):
            args = ["backtest", str(QUESTIONS), "--runs", "300", "--particles", "60"]
            code = main([*args, "--out", str(out)])
    return code, out, printed.getvalue(), made


class TestEndToEnd:
    def test_small_backtest_and_command_line(self, small_backtest):
        code, out, printed, _ = small_backtest
        assert code == 0
        names = {p.name for p in out.iterdir()}
        assert {"answers.csv", "scores.csv", "backtest.json"} <= names
        assert {"fitted_2021.toml", "fitted_2022.toml"} <= names
        assert "q2021_expel_any_h1" in printed and "Brier" in printed
        import pandas as pd

        scores = pd.read_csv(out / "scores.csv").set_index("window")
        answers = pd.read_csv(out / "answers.csv")
        assert scores.loc["all", "questions"] == len(answers) == 10
        diff = answers["brier_model"] - answers["brier_baseline"]
        assert scores.loc["all", "brier_diff"] == pytest.approx(diff.mean())
        assert scores.loc["all", "brier_diff_se"] == pytest.approx(diff.std() / 10**0.5)
        assert ((answers["p_model"] > 0) & (answers["p_model"] < 1)).all()

    def test_forecast_scenario_has_no_events_after_the_cutoff(self, small_backtest):
        _, windows, _ = bt.load_questions(QUESTIONS)
        window = windows[1]
        # The small backtest's calibration up to this window's cut-off (60 particles).
        made = [c for c in small_backtest[3] if c.until == window.cutoff]
        if made:
            calibration = made[0]
        else:  # the backtest no longer calls cal.calibrate: calibrate here
            from sim.scenario import load_scenario

            replay = load_scenario(ROOT / "scenarios" / "us_russia_2016_2023_replay.toml")
            calibration = cal.calibrate(
                replay,
                until=window.cutoff,
                settings=cal.SMCSettings(particles=60, generations=2),
                seed=1,
            )
        sc = bt.forecast_scenario(calibration, window, runs=10)
        assert max(e.date for e in sc.events) <= window.cutoff
        assert sc.forecast_start == dt.date(2021, 12, 1)
        assert sc.recall_days == calibration.window * 7
