"""A scored backtest: calibrate on the record up to a cut-off, forecast what came next.

For each window of a questions file (``scenarios/backtest/questions.toml``) the policies
are calibrated on the events up to the cut-off (:mod:`sim.analysis.calibrate`), the fitted
scenario is run from the day after it, and each binary question is answered in every
run. The model's probability of a question is scored against what happened with the
Brier score and the log score, beside the questions' naive baseline (base rates from
the record before the cut-off). Lower is better for both scores.
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis import calibrate as cal
from sim.analysis.runner import check_stop
from sim.engine import instruments
from sim.engine.model import EscalationModel
from sim.scenario import Problem, Scenario, ScenarioError, load_scenario, scenario_from_dict

__all__ = ["Backtest", "Question", "Window", "brier", "load_questions", "log_score", "run_backtest"]


def _actions() -> dict[str, instruments.Instrument]:
    """The instruments a question may ask about: every hostile one registered."""
    return {i.name: i for i in instruments.hostile()}


@dataclass(frozen=True)
class Window:
    id: str
    cutoff: dt.date
    start: dt.date
    end: dt.date


@dataclass(frozen=True)
class Question:
    id: str
    window: str
    text: str
    kind: str  # event | level
    outcome: bool
    baseline: float
    actor: str = "any"
    action: str = "expel"
    min_size: int = 1
    start: dt.date | None = None
    end: dt.date | None = None
    mission: str | None = None
    below: int | None = None
    on: dt.date | None = None
    resolution: str = ""
    source: str = ""


def load_questions(path: str | Path) -> tuple[Path, list[Window], list[Question]]:
    """The scenario path, windows and questions of a questions file (errors name the field)."""
    path = Path(path)
    source = str(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError(source, [Problem("", "no such file")]) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ScenarioError(source, [Problem("", f"is not valid TOML: {exc}")]) from None
    problems: list[Problem] = []
    scenario = raw.get("scenario")
    if not isinstance(scenario, str):
        problems.append(Problem("scenario", "expected the path of the replay scenario"))
        scenario = ""
    windows = []
    for i, w in enumerate(raw.get("window", [])):
        try:
            windows.append(Window(str(w["id"]), w["cutoff"], w["start"], w["end"]))
        except (KeyError, TypeError):
            problems.append(Problem(f"window.{i}", "expected id, cutoff, start and end"))
    ids = {w.id for w in windows}
    questions = []
    fields = set(Question.__dataclass_fields__)
    for i, q in enumerate(raw.get("question", [])):
        where = f"question.{i}"
        if not isinstance(q, dict):
            problems.append(Problem(where, "expected a table"))
            continue
        values = {k: v for k, v in q.items() if k in fields}
        try:
            question = Question(**values)
        except TypeError as exc:
            problems.append(Problem(where, f"expected the fields of a question ({exc})"))
            continue
        if question.window not in ids:
            problems.append(Problem(f"{where}.window", f"expected one of {sorted(ids)}"))
        if question.kind == "event" and question.action not in _actions():
            problems.append(Problem(f"{where}.action", f"expected one of {sorted(_actions())}"))
        if question.kind == "level" and (question.mission is None or question.on is None):
            problems.append(Problem(where, "a level question needs mission, below and on"))
        if question.kind not in ("event", "level"):
            problems.append(Problem(f"{where}.kind", "expected event or level"))
        if not 0 < question.baseline < 1:
            problems.append(Problem(f"{where}.baseline", "expected a probability in (0, 1)"))
        questions.append(question)
    if problems:
        raise ScenarioError(source, problems)
    return (path.parent / scenario).resolve(), windows, questions


# ------------------------------------------------------------------ scores
def brier(p: float, outcome: bool) -> float:
    return (p - float(outcome)) ** 2


def log_score(p: float, outcome: bool) -> float:
    """Negative log of the probability given to what happened (nats; lower is better)."""
    return -math.log(p if outcome else 1.0 - p)


def model_probability(yes: int, runs: int) -> float:
    """The share of runs answering yes, kept off 0 and 1 by half a run (the log score
    of a certainty that failed would be infinite, and 10,000 runs cannot show one)."""
    return (yes + 0.5) / (runs + 1.0)


# ------------------------------------------------------------------ answering
def answer(
    question: Question,
    scenario: Scenario,
    announced: np.ndarray,
    announced_kind: np.ndarray,
    totals: np.ndarray,
) -> np.ndarray:
    """Per run: is the question's answer yes? Arrays are (steps, missions, runs)."""
    missions = list(scenario.missions)
    runs = announced.shape[2]
    if question.kind == "level":
        last = scenario.step_of(question.on + dt.timedelta(days=1)) - 1
        last = min(max(last, 0), totals.shape[0] - 1)
        return totals[last, missions.index(question.mission)] < question.below
    steps = [
        s
        for s in range(announced.shape[0])
        if question.start <= scenario.date_of(s) <= question.end
    ]
    yes = np.zeros(runs, dtype=bool)
    if not steps:
        return yes
    sl = slice(steps[0], steps[-1] + 1)
    actors = list(scenario.states) if question.actor == "any" else [question.actor]
    for actor in actors:
        for m, spec in enumerate(scenario.missions.values()):
            if spec.host != actor or spec.sender == actor:
                continue  # only measures of the host against another state's mission
            kind = announced_kind[sl, m]
            size = announced[sl, m]
            instrument = _actions()[question.action]
            hit = kind == instrument.code
            # Sizes are staff-equivalents, and an instrument is recorded for a step only
            # when its act had a size above 0, so min_size = 1 asks for any such act.
            hit &= size >= question.min_size
            yes |= hit.any(axis=0)
            if instrument.empties_mission:
                # A mission emptied by other means counts as closed too.
                yes |= (totals[sl, m] <= 0).any(axis=0)
    return yes


@dataclass
class WindowResult:
    window: Window
    calibration: cal.Calibration
    scenario: Scenario
    table: pd.DataFrame  # one row per question


@dataclass
class Backtest:
    windows: list[WindowResult]
    runs: int
    seed: int

    def table(self) -> pd.DataFrame:
        return pd.concat([w.table for w in self.windows], ignore_index=True)

    def scores(self) -> pd.DataFrame:
        """Mean Brier and log scores of the model and the baseline, per window and overall,
        with the mean paired difference (model - baseline) and its standard error."""
        table = self.table()
        rows = []
        for name, part in [*table.groupby("window", sort=False), ("all", table)]:
            row = {"window": name, "questions": len(part)}
            for who in ("model", "baseline"):
                row[f"brier_{who}"] = part[f"brier_{who}"].mean()
                row[f"log_{who}"] = part[f"log_{who}"].mean()
            row["brier_skill"] = 1.0 - row["brier_model"] / row["brier_baseline"]
            # Paired by question: the difference and its standard error say whether ten
            # questions can tell the two forecasters apart at all.
            for score in ("brier", "log"):
                diff = part[f"{score}_model"] - part[f"{score}_baseline"]
                row[f"{score}_diff"] = diff.mean()
                row[f"{score}_diff_se"] = (
                    diff.std(ddof=1) / math.sqrt(len(diff)) if len(diff) > 1 else float("nan")
                )
            rows.append(row)
        return pd.DataFrame(rows)


def forecast_scenario(calibration: cal.Calibration, window: Window, runs: int) -> Scenario:
    """The fitted scenario run from the window's start to its end."""
    raw = cal.fitted_raw(calibration)
    meta = raw["scenario"]
    meta.pop("horizon_steps", None)
    meta["horizon"] = window.end
    meta["forecast_start"] = window.start
    meta["runs"] = runs
    # fitted_raw set recall_days: the policies perceive the acts of the last weeks before
    # the cut-off (the US order of 27 November 2021 falls three days before the 2022
    # window), as they would have.
    return scenario_from_dict(raw, calibration.scenario.source)


def run_backtest(
    questions_path: str | Path,
    runs: int = 10_000,
    seed: int = 20210101,
    settings: cal.SMCSettings | None = None,
    block: int = 4096,
) -> Backtest:
    """Calibrate, forecast and score every window of a questions file."""
    scenario_path, windows, questions = load_questions(questions_path)
    replay = load_scenario(scenario_path)
    results = []
    for window in windows:
        calibration = cal.calibrate(replay, until=window.cutoff, settings=settings, seed=seed)
        sc = forecast_scenario(calibration, window, runs)
        mine = [q for q in questions if q.window == window.id]
        yes = {q.id: 0 for q in mine}
        for start in range(0, runs, block):
            check_stop()
            ids = np.arange(start, min(start + block, runs))
            model = EscalationModel(sc, runs=ids, seed=seed, keep_trajectories=True)
            model.run()
            announced, announced_kind = model.announcements()
            for q in mine:
                yes[q.id] += int(answer(q, sc, announced, announced_kind, model.trajectories).sum())
            model.release()
        rows = []
        for q in mine:
            p = model_probability(yes[q.id], runs)
            rows.append(
                {
                    "window": window.id,
                    "question": q.id,
                    "text": q.text,
                    "outcome": q.outcome,
                    "runs_yes": yes[q.id],
                    "p_model": p,
                    "p_baseline": q.baseline,
                    "brier_model": brier(p, q.outcome),
                    "brier_baseline": brier(q.baseline, q.outcome),
                    "log_model": log_score(p, q.outcome),
                    "log_baseline": log_score(q.baseline, q.outcome),
                }
            )
        results.append(WindowResult(window, calibration, sc, pd.DataFrame(rows)))
    return Backtest(results, runs, seed)
