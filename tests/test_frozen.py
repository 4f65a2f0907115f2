"""The frozen backtest across dyads: the pre-registered file (its questions and their
resolutions, read without any forecast), the baselines' rules, and a small run of the
whole pipeline on a window that is not a frozen one (2021)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.analysis import calibrate as cal
from sim.analysis import frozen, pooling, scoring

ROOT = Path(__file__).resolve().parents[1]
FROZEN = ROOT / "scenarios" / "backtest" / "frozen_2022_2023.toml"
SMALL = ROOT / "tests" / "fixtures" / "frozen" / "window_2021.toml"


@pytest.fixture(scope="module")
def spec() -> frozen.FrozenSpec:
    return frozen.load_frozen(FROZEN)


@pytest.fixture(scope="module")
def dyads() -> dict[str, pooling.Dyad]:
    ds = pooling.load_dyad_set(ROOT / "scenarios" / "backtest" / "russia_dyads.toml")
    return {d.name: d for d in ds.dyads}


@pytest.fixture(scope="module")
def records(dyads) -> dict[str, frozen.Runs]:
    return {name: frozen.replay_record(dyads[name].scenario) for name in ("poland", "uk", "us")}


def _q(spec, qid: str) -> frozen.FrozenQuestion:
    return next(q for q in spec.questions if q.id == qid)


# ------------------------------------------------------------------ the frozen file
class TestFrozenFile:
    def test_what_the_issue_asks_of_it(self, spec):
        binary = [q for q in spec.questions if q.kind in frozen.BINARY_KINDS]
        assert len(binary) >= 30
        assert [(w.id, w.cutoff) for w in spec.windows] == [
            ("2022", dt.date(2021, 12, 31)),
            ("2023", dt.date(2022, 12, 31)),
        ]
        for w in spec.windows:
            asked = {q.dyad for q in binary if q.window == w.id}
            assert len(asked) >= 3
        kinds = {q.kind for q in spec.questions}
        assert {"event", "level", "answer", "ratio", "lag", "staff"} <= kinds
        assert spec.pooling == "partial" and "choice_ban_local_hires" in spec.params

    def test_every_question_names_a_dyad_a_mission_and_an_act_of_the_record(self, spec, dyads):
        acts_of = {}
        for q in spec.questions:
            sc = dyads[q.dyad].scenario
            if q.mission is not None:
                assert q.mission in sc.missions, q.id
            if q.act_date is not None:
                if q.dyad not in acts_of:
                    acts_of[q.dyad] = cal.record_acts(sc, sc.end)
                acts = acts_of[q.dyad]
                target = "russia" if q.act_actor != "russia" else q.dyad
                dates = {a.date for a in acts[(q.act_actor, target)]}
                assert q.act_date in dates, q.id
                window = next(w for w in spec.windows if w.id == q.window)
                assert window.start <= q.act_date <= window.end

    def test_it_is_what_the_drafting_code_gives(self, spec):
        ds = pooling.load_dyad_set(spec.dyads)
        names = sorted({q.dyad for q in spec.questions}, key=[d.name for d in ds.dyads].index)
        drafted = frozen.draft_questions(ds, names, spec.windows)
        assert [d["id"] for d in drafted] == [q.id for q in spec.questions]

    def test_a_bad_file_is_a_clear_error(self, tmp_path):
        bad = tmp_path / "q.toml"
        bad.write_text("[backtest]\nstate = 'russia'\ndyads = 'x.toml'\n", encoding="utf-8")
        with pytest.raises(cal.CalibrationError, match=r"\[\[window\]\]"):
            frozen.load_frozen(bad)
        bad.write_text(
            FROZEN.read_text(encoding="utf-8").replace(
                '\nkind = "level"\n', '\nkind = "levels"\n', 1
            ),
            encoding="utf-8",
        )
        with pytest.raises(cal.CalibrationError, match="kind"):
            frozen.load_frozen(bad)
        assert not frozen.is_frozen(ROOT / "scenarios" / "backtest" / "questions.toml")
        assert frozen.is_frozen(FROZEN)


# ------------------------------------------------------------------ resolutions
class TestResolutions:
    """What happened, read from the replayed record by the code that reads runs."""

    def _binary(self, spec, records, qid: str) -> bool:
        q = _q(spec, qid)
        w = next(w for w in spec.windows if w.id == q.window)
        level0 = 0.0
        if q.kind == "level":
            level0 = float(frozen.level_at(records[q.dyad], q.mission, w.cutoff)[0])
        return bool(frozen.read_binary(q, records[q.dyad], w.start, w.end, level0)[0])

    @pytest.mark.parametrize(
        ("qid", "happened"),
        [
            ("2022_poland_russia_expels", True),  # 45 Poles, 2022-04-08
            ("2022_poland_other_expels", True),  # 45 Russians, 2022-03-23
            ("2022_poland_expel_10", True),
            ("2022_poland_closed", False),
            ("2022_poland_cap", False),
            ("2023_poland_consulate", True),  # Smolensk, 2023-07-14
            ("2023_poland_russia_expels", False),
            ("2022_uk_russia_expels", False),  # nothing found for 2022
            ("2022_us_expel_10", True),  # the 12 of the UN mission, 2022-02-28
            ("2022_us_russia_expels", True),  # the DCM, February 2022
        ],
    )
    def test_binary(self, spec, records, qid, happened):
        assert self._binary(spec, records, qid) is happened

    def test_answers_are_read_as_calibration_reads_the_record(self, dyads):
        sc = dyads["poland"].scenario
        acts = cal.record_acts(sc, sc.end)
        answered, lag, ratio = frozen.record_answer(
            acts, "poland", "russia", dt.date(2022, 3, 23), 10, 7
        )
        assert answered and lag == 2 and ratio == pytest.approx(1.0)  # 16 days, 45 for 45
        sc = dyads["germany"].scenario
        acts = cal.record_acts(sc, sc.end)
        answered, lag, _ = frozen.record_answer(
            acts, "germany", "russia", dt.date(2022, 4, 4), 10, 7
        )
        assert answered and lag == 3  # 21 days: not "within 3 weeks"
        with pytest.raises(cal.CalibrationError, match="no act"):
            frozen.record_answer(acts, "germany", "russia", dt.date(2022, 4, 5), 10, 7)


# ------------------------------------------------------------------ baselines' rules
class TestBaselines:
    def test_past_windows_tile_back_from_the_cutoff_inside_the_record(self, dyads):
        sc = dyads["germany"].scenario  # starts 2018-03-19
        past = frozen._past_windows(sc, dt.date(2021, 12, 31), dt.timedelta(days=365))
        assert past[0] == (dt.date(2021, 1, 1), dt.date(2021, 12, 31))
        assert len(past) == 3 and past[-1][0] >= sc.start

    def test_a_certainty_is_tempered_as_the_rule_of_succession_tempers_it(self):
        assert frozen._temper(1.0, 4) == pytest.approx(5 / 6)
        assert frozen._temper(0.0, 4) == pytest.approx(1 / 6)
        assert frozen._temper(0.5, 4) == 0.5


# ------------------------------------------------------------------ a small run
@pytest.fixture(scope="module")
def small() -> frozen.FrozenBacktest:
    return frozen.run_frozen(frozen.load_frozen(SMALL))


class TestSmallRun:
    def test_every_question_is_scored_by_every_forecaster(self, small):
        table = small.table
        spec = small.spec
        for q in spec.questions:
            rows = table[table.question == q.id]
            expected = {"brier", "log"} if q.kind in frozen.BINARY_KINDS else {"crps"}
            assert set(rows.score) == expected, q.id
            for who in frozen.FORECASTERS:
                assert np.isfinite(rows[who]).all(), (q.id, who)
        binary = table[table.score == "brier"]
        for who in frozen.FORECASTERS:
            p = binary[f"p_{who}"]
            assert ((p > 0) & (p < 1)).all()
            assert np.allclose(binary[who], (p - binary.outcome) ** 2)

    def test_the_scores_are_the_means_and_paired_differences_of_the_table(self, small):
        scores = small.scores(by=["window"])
        row = scores[(scores.score == "brier") & (scores.window == "2021")].iloc[0]
        part = small.table[small.table.score == "brier"]
        assert row.mean_model == pytest.approx(part.model.mean())
        diff = scoring.paired_difference(part.model.to_numpy(), part.laplace.to_numpy())
        assert row.diff_laplace == pytest.approx(diff["diff"])
        assert row.se_laplace == pytest.approx(diff["se"])
        kinds = set(scores[scores.score == "crps"].kind)
        assert kinds == {"staff", "ratio", "lag"}  # CRPS is never averaged across units

    def test_the_outcomes_are_the_record_s(self, small):
        table = small.table.set_index(["question", "score"])
        assert table.loc[("2021_france_russia_expels", "brier"), "outcome"] == 0.0
        # Czechia's 18 of 2021-04-17: Russia's 20 came the next day (lag 0, ratio 20/18).
        assert table.loc[("2021_czechia_czechia_20210417_answer_3w", "brier"), "outcome"] == 1
        ratio = table.loc[("2021_czechia_czechia_20210417_ratio", "crps"), "outcome"]
        assert ratio == pytest.approx(20 / 18)
        one = table.loc[("2021_czechia_czechia_20210417_ratio", "crps"), "one_for_one"]
        assert one == pytest.approx(abs(1 - 20 / 18))

    def test_the_cli_writes_the_same_answers_in_another_process(self, small, tmp_path):
        out = tmp_path / "bt"
        proc = subprocess.run(
            [sys.executable, "-m", "sim", "backtest", str(SMALL), "--out", str(out)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stderr
        assert "vs laplace" in proc.stdout
        written = pd.read_csv(out / "answers.csv")
        mine = small.table.reset_index(drop=True)
        assert written.question.tolist() == mine.question.tolist()
        assert np.allclose(written.model.to_numpy(), mine.model.to_numpy())
        report = json.loads((out / "backtest.json").read_text())
        assert report["runs"] == small.spec.runs and report["pooling"] == "partial"
        posterior = pd.read_csv(out / "posterior.csv")
        assert {"state (mu)", "france", "czechia"} <= set(posterior.dyad)
        assert not posterior["median"].isna().any()


# ------------------------------------------------------------------ the scored run, in the docs
RUN1 = ROOT / "docs" / "results" / "frozen_2022_2023" / "run1"


class TestDocumentedRun:
    """docs/validation.md part II quotes scoring run 1 (docs/results/...): each table is
    what sim.analysis.validation_tables makes of the run's files, and the prose's
    claims hold for them."""

    def test_every_table_is_the_run_s(self):
        import re

        from sim.analysis.validation_tables import render_all

        text = (ROOT / "docs" / "validation.md").read_text(encoding="utf-8")
        for name, table in render_all(RUN1).items():
            found = re.search(rf"<!-- {name} -->\n(.*?)\n<!-- /{name} -->", text, re.S)
            assert found, name
            assert found.group(1) == table, name

    def test_the_run_is_the_frozen_file_s(self):
        report = json.loads((RUN1 / "backtest.json").read_text())
        spec = frozen.load_frozen(FROZEN)
        assert report["questions_file"].endswith("frozen_2022_2023.toml")
        assert (report["runs"], report["particles"], report["seed"]) == (
            spec.runs,
            spec.particles,
            spec.seed,
        )
        answers = pd.read_csv(RUN1 / "answers.csv")
        assert set(answers.question) == {q.id for q in spec.questions}
        binary = answers[answers.score == "brier"]
        assert len(binary) == 106 and len(answers[answers.score == "crps"]) == 68

    def test_the_prose_reads_the_scores_right(self):
        """ "ahead of both in 2022, behind both in 2023, behind the base rates over the
        two years" (README; docs/validation.md II.4)."""
        scores = pd.read_csv(RUN1 / "scores.csv")
        binary = scores[scores.score.isin(["brier", "log"])].set_index(["score", "window"])
        for score in ("brier", "log"):
            for who in ("laplace", "one_for_one"):
                assert binary.loc[(score, "2022"), f"diff_{who}"] < 0
                assert binary.loc[(score, "2023"), f"diff_{who}"] > 0
            assert binary.loc[(score, "all"), "diff_laplace"] > 0
        crps = scores[(scores.score == "crps") & (scores.window == "all")].set_index("kind")
        assert crps.loc["lag", "diff_laplace"] < 0 and crps.loc["lag", "diff_one_for_one"] < 0
        readme = (ROOT / "README.md").read_text(encoding="utf-8")
        assert "**The model does not beat both**" in readme
        assert "106 binary questions and 68 continuous targets" in readme
