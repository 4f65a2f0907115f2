"""Monte Carlo ensembles: a scenario run many times, in blocks of runs.

Runs are split into blocks (``block_size`` runs each, one :class:`EscalationModel`
per block) so that memory stays bounded however many runs are asked for. Run ``r``
draws its random numbers from ``(seed, r)`` alone, so the results of run ``r`` do not
depend on the block size, on the number of runs or on where the block ran.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from tqdm import tqdm  # text bar on stderr, also under Jupyter

from sim import resources
from sim.model import BlockResult, EscalationModel
from sim.outcome_classes import OUTCOME_CLASSES, OUTCOMES, SPIRAL
from sim.outcomes import cumulative_incidence, outcome_table, quantiles, wilson
from sim.scenario import Scenario

__all__ = ["DEFAULT_BLOCK_SIZE", "Ensemble", "check_stop", "request_stop", "run_ensemble"]

DEFAULT_BLOCK_SIZE = 16_384

#: Set by the command line's Ctrl-C handler. The KeyboardInterrupt it raises can be
#: swallowed if it lands in a finaliser or weakref callback (Python prints and ignores
#: exceptions there); the step loop checks this flag too, so a run always stops.
_stop = threading.Event()


def request_stop() -> None:
    _stop.set()


def check_stop() -> None:
    """Raise KeyboardInterrupt if Ctrl-C was pressed (see :func:`request_stop`)."""
    if _stop.is_set():
        raise KeyboardInterrupt


@dataclass
class Ensemble:
    """The per-run results of a Monte Carlo ensemble, with summaries."""

    scenario: Scenario
    seed: int
    run_ids: np.ndarray
    outcome: np.ndarray
    outcome_step: np.ndarray
    calm_step: np.ndarray  # first calm (-1: never); a relapse's calm is dated here
    final_staff: np.ndarray  # (missions, runs)
    staff_lost: np.ndarray  # (states, runs)
    hostile_acts: np.ndarray  # (states, runs)
    conciliatory_acts: np.ndarray  # (states, runs)
    offer_accepted: np.ndarray
    closed_mission: np.ndarray
    trajectories: np.ndarray | None  # (steps, missions, runs)
    wall_time: float = 0.0
    meta: dict = field(default_factory=dict)
    #: Per-run values of the parameters given as distributions, by dotted path.
    drawn: dict[str, np.ndarray] = field(default_factory=dict)
    #: The event record (sim.event_record), if kept: one row per measure or move per run.
    events: pd.DataFrame | None = None

    @property
    def n_runs(self) -> int:
        return len(self.run_ids)

    @property
    def mission_ids(self) -> list[str]:
        return list(self.scenario.missions)

    @property
    def state_ids(self) -> list[str]:
        return list(self.scenario.states)

    def weeks_to_outcome(self) -> np.ndarray:
        """Time from the forecast start to the outcome, in weeks (NaN if unresolved)."""
        steps = self.outcome_step - self.scenario.forecast_step
        weeks = (steps + 1) * self.scenario.step_days / 7.0
        return np.where(self.outcome_step >= 0, weeks, np.nan)

    def runs_table(self) -> pd.DataFrame:
        """One row per run: outcome, time to it, final staff per mission, staff lost per state.

        Parameters drawn per run from distributions come last, one column each, named
        ``param.<dotted path>`` (e.g. ``param.states.russia.policy.ratio``).
        """
        sc = self.scenario
        step = pd.Series(self.outcome_step)
        calm = pd.Series(self.calm_step)
        dates = [sc.date_of(s) if s >= 0 else None for s in self.outcome_step]
        columns = {
            "run": self.run_ids,
            "outcome": pd.Categorical.from_codes(self.outcome, categories=list(OUTCOMES)),
            "outcome_step": step.where(step >= 0).astype("Int64"),
            "outcome_date": pd.to_datetime(pd.Series(dates, dtype="object")),
            "weeks_to_outcome": self.weeks_to_outcome(),
            # When the run first calmed (a relapse calmed here, then flared again).
            "calm_step": calm.where(calm >= 0).astype("Int64"),
            "calm_date": pd.to_datetime(
                pd.Series(
                    [sc.date_of(s) if s >= 0 else None for s in self.calm_step], dtype="object"
                )
            ),
            "offer_accepted": self.offer_accepted,
            "closed_mission": pd.Categorical(
                [self.mission_ids[m] if m >= 0 else None for m in self.closed_mission],
                categories=self.mission_ids,
            ),
        }
        for i, mid in enumerate(self.mission_ids):
            columns[f"final_staff.{mid}"] = self.final_staff[i]
        for i, sid in enumerate(self.state_ids):
            columns[f"staff_lost.{sid}"] = self.staff_lost[i]
        for i, sid in enumerate(self.state_ids):
            columns[f"hostile_acts.{sid}"] = self.hostile_acts[i]
        for i, sid in enumerate(self.state_ids):
            columns[f"conciliatory_acts.{sid}"] = self.conciliatory_acts[i]
        for path, values in self.drawn.items():
            columns[f"param.{path}"] = values
        return pd.DataFrame(columns)

    def summary(self) -> dict:
        """A JSON-ready summary: outcome odds with 95% intervals, timing, staff."""
        sc = self.scenario
        n_forecast = sc.n_steps - sc.forecast_step
        weeks = self.weeks_to_outcome()
        cif = cumulative_incidence(self.outcome, self.outcome_step, sc.forecast_step, n_forecast)
        spiral = self.outcome == SPIRAL
        closed_by = {
            mid: int(np.sum(spiral & (self.closed_mission == i)))
            for i, mid in enumerate(self.mission_ids)
        }
        return {
            "scenario": sc.name,
            "source": sc.source,
            "runs": self.n_runs,
            "seed": self.seed,
            "overrides": {k: _jsonable(v) for k, v in sc.overrides.items()},
            "forecast_start": sc.forecast_start.isoformat(),
            "horizon_end": sc.end.isoformat(),
            "step_days": sc.step_days,
            "outcomes": outcome_table(self.outcome),
            "weeks_to_outcome": {
                cls.name: quantiles(weeks[self.outcome == code])
                for code, cls in enumerate(OUTCOME_CLASSES)
                if cls.timed
            },
            "cumulative_incidence": {
                # The share of runs that reached each outcome by the end of each step.
                "date": [sc.step_end(sc.forecast_step + i).isoformat() for i in range(n_forecast)],
                **{name: [round(float(v), 6) for v in values] for name, values in cif.items()},
            },
            "final_staff": {
                mid: quantiles(self.final_staff[i]) for i, mid in enumerate(self.mission_ids)
            },
            "staff_lost": {
                sid: quantiles(self.staff_lost[i]) for i, sid in enumerate(self.state_ids)
            },
            "hostile_acts": {
                sid: quantiles(self.hostile_acts[i]) for i, sid in enumerate(self.state_ids)
            },
            "conciliatory_acts": {
                sid: quantiles(self.conciliatory_acts[i]) for i, sid in enumerate(self.state_ids)
            },
            "why": {
                "offer_accepted": _share(self.offer_accepted),
                "outcomes_if_offer_accepted": _outcomes_where(self.outcome, self.offer_accepted),
                "outcomes_if_no_offer_accepted": _outcomes_where(
                    self.outcome, ~self.offer_accepted
                ),
                "spirals_by_closed_mission": closed_by,
            },
            **(
                {"drawn": {path: quantiles(v) for path, v in self.drawn.items()}}
                if self.drawn
                else {}
            ),
            "wall_time_s": round(self.wall_time, 4),
        }


def _share(flag: np.ndarray) -> dict:
    """Share of runs where ``flag`` holds, with count and 95% Wilson interval."""
    count = int(flag.sum())
    return {"p": count / len(flag), "count": count, "ci95": list(wilson(count, len(flag)))}


def _outcomes_where(outcome: np.ndarray, where: np.ndarray) -> dict | None:
    """Outcome probabilities among the runs selected by ``where`` (None if there are none)."""
    if not where.any():
        return None
    return {"runs": int(where.sum()), **outcome_table(outcome[where])}


def _jsonable(value):
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return str(value)


def run_ensemble(
    scenario: Scenario,
    runs: int | None = None,
    seed: int | None = None,
    *,
    first_run: int = 0,
    block_size: int = DEFAULT_BLOCK_SIZE,
    keep_trajectories: bool = False,
    keep_events: bool = False,
    progress: bool = False,
) -> Ensemble:
    """Run ``runs`` Monte Carlo runs (global indices ``first_run ...``) of a scenario."""
    n = scenario.runs if runs is None else int(runs)
    seed = scenario.seed if seed is None else int(seed)
    if n < 1:
        raise ValueError(f"runs must be at least 1, found {n}")
    if block_size < 1:
        raise ValueError(f"block_size must be at least 1, found {block_size}")
    # Refuse what would not fit in memory; make blocks smaller if one would not fit.
    block_size = resources.check(
        scenario, n, block_size, keep_trajectories=keep_trajectories, keep_events=keep_events
    ).block_size
    started = time.perf_counter()
    blocks: list[BlockResult] = []
    ids = np.arange(first_run, first_run + n)
    bar = tqdm(
        total=n * scenario.n_steps,
        unit="run-step",
        unit_scale=True,
        disable=not progress,
        delay=1.0,
        file=sys.stderr,
        leave=False,
    )
    try:
        for lo in range(0, n, block_size):
            model = EscalationModel(
                scenario,
                ids[lo : lo + block_size],
                seed,
                keep_trajectories=keep_trajectories,
                keep_events=keep_events,
            )
            width = model.n_runs
            while model.running:
                check_stop()
                model.step()
                bar.update(width)
            blocks.append(model.result())
            model.release()  # frees the block's buffers now, whatever Mesa keeps
    finally:
        bar.close()

    def cat(name: str, axis: int = -1):
        parts = [getattr(b, name) for b in blocks]
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=axis)

    return Ensemble(
        scenario=scenario,
        seed=seed,
        run_ids=ids,
        outcome=cat("outcome"),
        outcome_step=cat("outcome_step"),
        calm_step=cat("calm_step"),
        final_staff=cat("final_staff"),
        staff_lost=cat("staff_lost"),
        hostile_acts=cat("hostile_acts"),
        conciliatory_acts=cat("conciliatory_acts"),
        offer_accepted=cat("offer_accepted"),
        closed_mission=cat("closed_mission"),
        trajectories=cat("trajectories") if keep_trajectories else None,
        events=(
            pd.concat([b.events for b in blocks], ignore_index=True)
            if keep_events and len(blocks) > 1
            else (blocks[0].events if keep_events else None)
        ),
        wall_time=time.perf_counter() - started,
        drawn={path: np.concatenate([b.drawn[path] for b in blocks]) for path in blocks[0].drawn},
    )
