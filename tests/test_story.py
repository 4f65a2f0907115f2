"""The story of one run (sim.analysis.story): a line per act, in date order, and why the outcome."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.analysis.runner import run_ensemble
from sim.analysis.story import StoryError, parse_run_choice, tell, typical_run
from sim.cli import main
from sim.outcome_classes import OUTCOMES, outcome_class
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
MAIN = ROOT / "scenarios" / "us_russia_2021.toml"
SKRIPAL = ROOT / "scenarios" / "skripal_2018_forecast.toml"
TEACHING = ROOT / "scenarios" / "teaching_tit_for_tat.toml"

HOSTILE = ("expel", "cap", "ban_local_hires", "close_consulate", "visa_denial", "suspend")
ACT_LINE = re.compile(r"^(\d{4}-\d{2}-\d{2})  #(\d+) ")
#: Instruments and conciliatory moves of every kind, and departures under visa denials.
VARIED = {
    "states.russia.policy.ladder": ["visa_denial", "cap", "suspend"],
    "states.russia.policy.escalate_instrument": 0.5,
    "states.us.policy.ladder": ["cap", "ban_local_hires", "close_consulate", "suspend"],
    "states.us.policy.escalate_instrument": 0.7,
    "states.us.policy.provocation_rate": 3,
    "states.russia.policy.conciliation_rate": 2,
    "states.us.policy.conciliation_rate": 1,
}
#: A calm only by the watched missions being back at a level.
RESTORED = {
    "outcomes.quiet": False,
    "outcomes.restored_level": 150,
    "states.russia.policy.conciliation_rate": 2,
    "states.us.policy.conciliation_rate": 2,
}


class Ensemble:
    """An ensemble run with the event record and trajectories kept, and its runs table."""

    def __init__(self, scenario, runs: int) -> None:
        self.scenario = scenario
        self.result = run_ensemble(scenario, runs, keep_trajectories=True, keep_events=True)
        self.runs = self.result.runs_table()
        self.events = dict(tuple(self.result.events.groupby("run")))
        self.missions = list(scenario.missions)
        self.n_runs = runs
        self._told: dict[tuple, str] = {}

    def row(self, run: int) -> dict:
        return self.runs.iloc[run].to_dict()

    def staff(self, run: int) -> np.ndarray:
        return self.result.trajectories[:, :, run]

    def tell(self, run: int, **kw) -> str:
        """The run's story, told once per ensemble and reused: most tests below read
        the stories of every run. (Telling it again gives the same text:
        test_run_row_may_be_a_series compares a fresh ``tell`` with this one.)"""
        key = (run, tuple(sorted(kw.items())))
        if key not in self._told:
            self._told[key] = tell(
                self.events[run], self.row(run), self.scenario, self.staff(run), **kw
            )
        return self._told[key]

    def runs_of(self, name: str) -> np.ndarray:
        return np.flatnonzero(self.result.outcome == OUTCOMES.index(name))


@pytest.fixture(scope="module")
def main_ensemble() -> Ensemble:
    return Ensemble(load_scenario(MAIN), 300)


@pytest.fixture(scope="module")
def skripal_ensemble() -> Ensemble:
    return Ensemble(load_scenario(SKRIPAL), 120)


@pytest.fixture(scope="module")
def varied_ensemble() -> Ensemble:
    return Ensemble(load_scenario(MAIN).with_overrides(VARIED), 120)


@pytest.fixture(params=["main", "skripal", "varied"])
def ensemble(request) -> Ensemble:
    return request.getfixturevalue(f"{request.param}_ensemble")


def new_hostile(events: pd.DataFrame) -> pd.Series:
    """Rows that are new hostile measures (not own, of some size, not departures)."""
    return (
        events["instrument"].astype(str).isin(HOSTILE)
        & ~events["own"]
        & (events["size"] > 0)
        & ~events["cause"].isin(["departure", "standing"])
    )


def act_lines(text: str) -> list[re.Match]:
    return [m for m in map(ACT_LINE.match, text.splitlines()) if m]


class TestTell:
    def test_one_line_per_forecast_row_in_date_order(self, ensemble):
        for run in range(ensemble.n_runs):
            events = ensemble.events[run]
            text = ensemble.tell(run)
            lines = act_lines(text)
            forecast = events[~events["history"]]
            assert len(lines) == len(forecast), text
            assert sorted(int(m.group(2)) for m in lines) == sorted(forecast["seq"])
            dates = [dt.date.fromisoformat(m.group(1)) for m in lines]
            assert dates == sorted(dates), text
            for line in text.splitlines():
                assert "None" not in line and "nan" not in line.lower(), line

    def test_history_rows_on_request_and_counted_when_left_out(self, main_ensemble):
        events = main_ensemble.events[0]
        n_history = int(events["history"].sum())
        assert n_history > 0
        short = main_ensemble.tell(0)
        assert f"({n_history} history rows before the forecast start" in short
        full = main_ensemble.tell(0, history=True)
        assert len(act_lines(full)) == len(events)
        assert "history rows" not in full

    def test_header_and_final_line_name_the_runs_outcome(self, ensemble):
        for run in range(ensemble.n_runs):
            text = ensemble.tell(run)
            lines = text.splitlines()
            label = outcome_class(ensemble.row(run)["outcome"]).label
            assert lines[0].startswith(f"run {run} of {ensemble.scenario.name} — {label}")
            assert lines[-1].startswith(f"outcome: {label} — "), lines[-1]

    def test_spiral_quotes_the_trajectory_at_the_outcome_step(self, main_ensemble):
        ens = main_ensemble
        spirals = ens.runs_of("spiral")
        assert len(spirals) >= 10
        for run in spirals:
            step = int(ens.result.outcome_step[run])
            closed = int(ens.result.closed_mission[run])
            mission = ens.missions[closed]
            level = int(ens.result.trajectories[step, closed, run])
            text = ens.tell(run)
            head, last = text.splitlines()[0], text.splitlines()[-1]
            date = ens.scenario.date_of(step).isoformat()
            assert f"spiral on {date} ({mission}" in head
            assert f"at {level} staff" in head
            assert f"{mission} reached {level} staff on {date}" in last or (
                f"{mission} was suspended" in last and f"at {level} staff" in last
            )
            if level <= ens.scenario.outcomes.closure_threshold:
                assert "closure threshold" in last

    def test_suspension_is_said_to_count_as_closure(self, varied_ensemble):
        suspended = [
            run
            for run in varied_ensemble.runs_of("spiral")
            if "suspend" in set(varied_ensemble.events[run]["instrument"].astype(str))
        ]
        assert suspended
        texts = [varied_ensemble.tell(run).splitlines()[-1] for run in suspended]
        assert any("a suspended mission counts as closed" in t for t in texts)

    def test_staff_from_the_record_alone_equal_the_trajectory(self, ensemble):
        for run in range(0, ensemble.n_runs, 3):
            with_traj = ensemble.tell(run, history=True)
            without = tell(
                ensemble.events[run], ensemble.row(run), ensemble.scenario, None, history=True
            )
            assert without == with_traj

    def test_run_row_may_be_a_series(self, main_ensemble):
        ens = main_ensemble
        for run in ens.runs_of("spiral")[:3].tolist() + ens.runs_of("unresolved")[:2].tolist():
            row = pd.Series(ens.row(run))
            assert tell(ens.events[run], row, ens.scenario, ens.staff(run)) == ens.tell(run)

    def test_calm_date_is_the_runs_tables(self, ensemble):
        runs = ensemble.runs
        calmed = np.flatnonzero(runs["outcome"].isin(["de_escalation", "relapse"]).to_numpy())
        assert len(calmed)
        for run in calmed:
            row = ensemble.row(run)
            label = outcome_class(row["outcome"]).label
            calm = row["calm_date"].date().isoformat()
            text = ensemble.tell(run)
            last = text.splitlines()[-1]
            assert last.startswith(f"outcome: {label} — calm from {calm}: "), last
            if row["outcome"] == "de_escalation":
                assert row["calm_date"] == row["outcome_date"]
                assert f"— {label} on {calm} (calm from then to the horizon" in text
                assert "no hostile measure from then to the horizon" in last
            else:
                first = text.splitlines()[0]
                assert re.search(rf"\(calm from {calm}, broken by #\d+\)$", first), first

    def test_quiet_calm_names_the_last_hostile_measure_before_it(self, ensemble):
        for run in np.flatnonzero(ensemble.runs["calm_step"].notna().to_numpy()):
            row = ensemble.row(run)
            if row["outcome"] not in ("de_escalation", "relapse"):
                continue
            last = ensemble.tell(run).splitlines()[-1]
            assert "and nothing pending" in last, last
            since = re.search(r"no hostile measure since #(\d+) \(", last)
            events = ensemble.events[run]
            hostile = events[new_hostile(events) & (events["step"] < row["calm_step"])]
            assert since, last
            assert int(since.group(1)) == int(hostile["seq"].max())

    @pytest.mark.parametrize("name", ["main", "varied"])  # skripal: no relapse
    def test_relapse_names_the_measure_that_broke_the_calm(self, name, request):
        ensemble = request.getfixturevalue(f"{name}_ensemble")
        relapses = ensemble.runs_of("relapse")
        assert len(relapses)
        for run in relapses:
            row = ensemble.row(run)
            last = ensemble.tell(run).splitlines()[-1]
            outcome = row["outcome_date"].date().isoformat()
            broke = re.search(
                r"; then #(\d+) \((.*) of (\d{4}-\d{2}-\d{2})\) broke it on (.*)$", last
            )
            assert broke, last
            assert broke.group(4) == outcome
            events = ensemble.events[run]
            act = events[events["seq"] == int(broke.group(1))].iloc[0]
            assert int(act["step"]) == row["outcome_step"]
            assert str(act["instrument"]) in HOSTILE and not act["own"] and act["size"] > 0
            if act["cause"] != "event":  # a scenario event keeps its own date
                assert broke.group(3) == outcome
            earlier = events[(events["step"] == row["outcome_step"]) & (events["seq"] < act["seq"])]
            assert not new_hostile(earlier).any()

    def test_restored_calm_says_the_missions_are_back(self):
        sc = load_scenario(MAIN).with_overrides(RESTORED)
        ens = Ensemble(sc, 100)
        calmed = np.flatnonzero(ens.runs["outcome"].isin(["de_escalation", "relapse"]).to_numpy())
        assert len(calmed)
        for run in calmed:
            last = ens.tell(run).splitlines()[-1]
            assert ": the watched missions back at 150 staff or more;" in last, last

    def test_results_of_an_older_version_are_refused(self, main_ensemble):
        ens = main_ensemble
        run = int(ens.runs_of("relapse")[0])
        row = ens.row(run)
        del row["calm_step"]
        with pytest.raises(StoryError, match="written by an older version: rerun"):
            tell(ens.events[run], row, ens.scenario, ens.staff(run))
        row["calm_step"] = pd.NA
        with pytest.raises(StoryError, match="written by an older version: rerun"):
            tell(ens.events[run], row, ens.scenario, ens.staff(run))

    def test_words_for_causes_fates_and_instruments(self, main_ensemble, varied_ensemble):
        text = "\n".join(
            ens.tell(run) for ens in (main_ensemble, varied_ensemble) for run in range(ens.n_runs)
        )
        for phrase in (
            "scenario event 7: A29 (Zakharova)",
            "answer to #",
            "(initiative)",
            "reciprocation of #",
            "accepted its offer with #",
            "departures under Russia's visa denial #",
            " expels ",
            " caps ",
            " denies visas to ",
            " suspends ",
            " cancels its pending measures on ",
            " lifts a restriction on ",
            " lets 1 staff back into ",
            " offers to drop its measures on ",
            "→ carried out ",
            "→ cancelled ",
            "→ lapsed ",
            "→ accepted ",
            "→ not feasible",
            "→ still pending at the horizon",
            ", lifted ",
            " → ",
        ):
            assert phrase in text, phrase

    def test_display_names_of_states(self, skripal_ensemble):
        text = skripal_ensemble.tell(0)
        assert "United States expels 60 staff from russia_in_us" in text
        assert "North Macedonia (then Macedonia) expels" in text


class TestTypicalRun:
    def table(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "run": [4, 1, 7, 2, 9, 3, 8, 5, 6],
                "outcome": pd.Categorical(
                    [
                        "spiral",
                        "spiral",
                        "spiral",
                        "spiral",
                        "de_escalation",
                        "de_escalation",
                        "de_escalation",
                        "unresolved",
                        "unresolved",
                    ],
                    categories=list(OUTCOMES),
                ),
                "outcome_step": pd.array([10, 30, 20, 20, 50, 40, 60, None, None], dtype="Int64"),
            }
        )

    def test_median_outcome_step_lower_median_ties_to_lowest_run(self):
        table = self.table()
        # spiral steps 10, 20, 20, 30: the lower median is 20, runs 7 and 2 -> run 2
        assert typical_run(table, "spiral") == 2
        # de-escalation steps 40, 50, 60: the median 50 is run 9's
        assert typical_run(table, "de_escalation") == 9
        assert typical_run(table, "de-escalation") == 9

    def test_unresolved_runs_have_no_step_lowest_run(self):
        assert typical_run(self.table(), "unresolved") == 5

    def test_outcome_codes_accepted(self):
        table = self.table()
        table["outcome"] = [OUTCOMES.index(str(o)) for o in table["outcome"]]
        assert typical_run(table, "spiral") == 2

    def test_no_run_of_that_outcome(self):
        with pytest.raises(StoryError, match="no run has the outcome relapse"):
            typical_run(self.table(), "relapse")

    def test_unknown_outcome(self):
        with pytest.raises(StoryError, match="unknown outcome 'sprial'"):
            typical_run(self.table(), "sprial")

    def test_parse_run_choice(self):
        assert parse_run_choice("17") == 17
        assert parse_run_choice(" spiral ") == "spiral"
        assert parse_run_choice("de-escalation") == "de_escalation"
        for bad in ("-1", "spirals", "1.5"):
            with pytest.raises(StoryError, match="--run"):
                parse_run_choice(bad)


@pytest.fixture(scope="module")
def teaching_out(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("story") / "out"
    assert main(["run", str(TEACHING), "--runs", "60", "--out", str(out), "--quiet"]) == 0
    return out


class TestCommandLine:
    def test_run_then_story_of_a_typical_spiral(self, tmp_path):
        out = tmp_path / "out"
        made = subprocess.run(
            [
                sys.executable,
                "-m",
                "sim",
                "run",
                str(MAIN),
                "--runs",
                "200",
                "--out",
                str(out),
                "--quiet",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert made.returncode == 0, made.stderr
        assert (out / "events.parquet").is_file()
        told = subprocess.run(
            [sys.executable, "-m", "sim", "story", str(out), "--run", "spiral"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert told.returncode == 0, told.stderr
        runs = pd.read_parquet(out / "runs.parquet")
        run = typical_run(runs, "spiral")
        lines = told.stdout.splitlines()
        assert lines[0].startswith(f"run {run} of us_russia_2021 — spiral on ")
        assert lines[-1].startswith("outcome: spiral — ")
        events = pd.read_parquet(out / "events.parquet")
        mine = events[(events["run"] == run) & ~events["history"]]
        assert len(act_lines(told.stdout)) == len(mine)

    def test_story_by_index_with_history(self, teaching_out, capsys):
        assert main(["story", str(teaching_out), "--run", "3", "--history"]) == 0
        out = capsys.readouterr().out
        assert out.startswith("run 3 of teaching_tit_for_tat — ")
        assert "history rows" not in out

    def test_unknown_run_is_exit_2(self, teaching_out, capsys):
        assert main(["story", str(teaching_out), "--run", "60"]) == 2
        err = capsys.readouterr().err
        assert "escalation-sim: error:" in err and "no run 60 (runs 0 to 59)" in err
        assert "Traceback" not in err

    def test_outcome_without_runs_is_exit_2(self, teaching_out, capsys):
        runs = pd.read_parquet(teaching_out / "runs.parquet")
        absent = [name for name in OUTCOMES if not (runs["outcome"] == name).any()]
        assert absent, "the teaching scenario has every outcome in 60 runs"
        assert main(["story", str(teaching_out), "--run", absent[0]]) == 2
        err = capsys.readouterr().err
        assert f"no run has the outcome {absent[0]}" in err

    def test_bad_run_choice_is_exit_2(self, teaching_out, capsys):
        assert main(["story", str(teaching_out), "--run", "sometimes"]) == 2
        assert "--run: unknown outcome 'sometimes'" in capsys.readouterr().err

    def test_results_without_event_record_is_exit_2(self, tmp_path, capsys):
        out = tmp_path / "noev"
        code = main(
            ["run", str(TEACHING), "--runs", "20", "--out", str(out), "--quiet", "--no-events"]
        )
        assert code == 0
        assert not (out / "events.parquet").exists()
        capsys.readouterr()
        assert main(["story", str(out), "--run", "0"]) == 2
        err = capsys.readouterr().err
        assert err.strip() == (
            f"escalation-sim: error: {out}: written without the event record: rerun with "
            "run --out DIR (without --no-events)"
        )

    def test_not_a_results_directory_is_exit_2(self, tmp_path, capsys):
        assert main(["story", str(tmp_path), "--run", "0"]) == 2
        err = capsys.readouterr().err
        assert "cannot read results" in err and "Traceback" not in err
