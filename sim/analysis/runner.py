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
from collections.abc import Callable
from dataclasses import field, make_dataclass

import numpy as np
import pandas as pd
from tqdm import tqdm  # text bar on stderr, also under Jupyter

from sim import run_fields
from sim.analysis import resources
from sim.analysis.outcomes import cumulative_incidence, outcome_table, quantiles, wilson
from sim.engine.model import BlockResult, EscalationModel
from sim.outcome_classes import outcome_class, scenario_outcome_names
from sim.spec import Scenario

__all__ = [
    "DEFAULT_BLOCK_SIZE",
    "Ensemble",
    "Terminated",
    "assemble_ensemble",
    "check_stop",
    "request_stop",
    "run_block",
    "run_ensemble",
]

DEFAULT_BLOCK_SIZE = 16_384

#: Set by the command line's Ctrl-C handler. The KeyboardInterrupt it raises can be
#: swallowed if it lands in a finaliser or weakref callback (Python prints and ignores
#: exceptions there); the step loop checks this flag too, so a run always stops.
_stop = threading.Event()
_terminated = threading.Event()


class Terminated(KeyboardInterrupt):
    """SIGTERM: stopped like Ctrl-C (staged output removed, manifests marked
    interrupted), but the command exits 143 rather than 130."""


def request_stop(terminate: bool = False) -> None:
    if terminate:
        _terminated.set()
    _stop.set()


def check_stop() -> None:
    """Raise KeyboardInterrupt (Terminated after SIGTERM) if a stop was requested (see
    :func:`request_stop`)."""
    if _stop.is_set():
        raise Terminated if _terminated.is_set() else KeyboardInterrupt


class EnsembleViews:
    """What an :class:`Ensemble` computes from its per-run arrays: tables and summaries."""

    def __post_init__(self) -> None:
        if self.outcome_names is None:
            self.outcome_names = scenario_outcome_names(self.scenario)
        self.outcome_names = tuple(self.outcome_names)

    @property
    def n_runs(self) -> int:
        return len(self.run_ids)

    @property
    def mission_ids(self) -> list[str]:
        return list(self.scenario.missions)

    @property
    def state_ids(self) -> list[str]:
        return list(self.scenario.states)

    def fields(self) -> dict[str, np.ndarray]:
        """The per-run arrays, by name (:data:`sim.run_fields.RUN_FIELDS`)."""
        return {f.name: getattr(self, f.name) for f in run_fields.RUN_FIELDS}

    def weeks_to_outcome(self) -> np.ndarray:
        """(runs,) time from the forecast start to the outcome, in weeks (NaN if unresolved)."""
        return run_fields.weeks_from_forecast(self.outcome_step, self.scenario)

    def runs_table(self) -> pd.DataFrame:
        """One row per run: the run index, then every per-run field's columns
        (:mod:`sim.run_fields`: outcome, its step, date and weeks, final staff per mission,
        staff lost per state, ...).

        Parameters drawn per run from distributions come last, one column each, named
        ``param.<dotted path>`` (e.g. ``param.states.russia.policy.ratio``).
        """
        columns = {
            "run": self.run_ids,
            **run_fields.table_columns(self.fields(), self.scenario, self.outcome_names),
        }
        for path, values in self.drawn.items():
            columns[f"param.{path}"] = values
        return pd.DataFrame(columns)

    def summary(self) -> dict:
        """A JSON-ready summary: outcome odds with 95% intervals, timing, staff."""
        sc = self.scenario
        names = self.outcome_names
        n_forecast = sc.n_steps - sc.forecast_step
        weeks = self.weeks_to_outcome()
        cif = cumulative_incidence(
            self.outcome, self.outcome_step, sc.forecast_step, n_forecast, names
        )
        spiral = (
            self.outcome == names.index("spiral")
            if "spiral" in names
            else np.zeros(self.n_runs, dtype=bool)
        )
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
            "outcomes": outcome_table(self.outcome, names),
            "weeks_to_outcome": {
                name: quantiles(weeks[self.outcome == code])
                for code, name in enumerate(names)
                if outcome_class(name).timed
            },
            "cumulative_incidence": {
                # The share of runs that reached each outcome by the end of each step.
                "date": [sc.step_end(sc.forecast_step + i).isoformat() for i in range(n_forecast)],
                **{name: [round(float(v), 6) for v in values] for name, values in cif.items()},
            },
            **_summary_quantiles(self.fields(), sc),
            "why": {
                "offer_accepted": _share(self.offer_accepted),
                "outcomes_if_offer_accepted": _outcomes_where(
                    self.outcome, self.offer_accepted, names
                ),
                "outcomes_if_no_offer_accepted": _outcomes_where(
                    self.outcome, ~self.offer_accepted, names
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


Ensemble = make_dataclass(
    "Ensemble",
    [
        ("scenario", Scenario),
        ("seed", int),
        ("run_ids", np.ndarray),
        # One array per per-run field of sim.run_fields, as in sim.engine.model.BlockResult.
        *run_fields.dataclass_fields(),
        ("trajectories", np.ndarray | None),  # (steps, missions, runs)
        ("wall_time", float, field(default=0.0)),
        ("meta", dict, field(default_factory=dict)),
        # Per-run values of the parameters given as distributions, by dotted path.
        ("drawn", dict, field(default_factory=dict)),
        # The event record (sim.engine.event_record), if kept: one row per measure or move per run.
        ("events", pd.DataFrame | None, field(default=None)),
        # The outcome names the codes in ``outcome`` index (default: the scenario's).
        ("outcome_names", tuple | None, field(default=None)),
    ],
    bases=(EnsembleViews,),
    namespace={
        "__doc__": "The per-run results of a Monte Carlo ensemble, with summaries.",
        "__module__": __name__,
    },
)


def _share(flag: np.ndarray) -> dict:
    """Share of runs where ``flag`` holds, with count and 95% Wilson interval."""
    count = int(flag.sum())
    return {"p": count / len(flag), "count": count, "ci95": list(wilson(count, len(flag)))}


def _outcomes_where(outcome: np.ndarray, where: np.ndarray, names: tuple[str, ...]) -> dict | None:
    """Outcome probabilities among the runs selected by ``where`` (None if there are none)."""
    if not where.any():
        return None
    return {"runs": int(where.sum()), **outcome_table(outcome[where], names)}


def _jsonable(value):
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return str(value)


def _summary_quantiles(values, scenario) -> dict[str, dict]:
    """The summary's entries: per field declared with ``summary``, its quantiles per
    mission or state."""
    return {
        f.name: {
            label: quantiles(values[f.name][i])
            for i, label in enumerate(run_fields.labels(f, scenario))
        }
        for f in run_fields.RUN_FIELDS
        if f.summary
    }


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
    param_values: dict[str, np.ndarray] | None = None,
) -> Ensemble:
    """Run ``runs`` Monte Carlo runs (global indices ``first_run ...``) of a scenario.

    ``param_values`` gives parameters per run (one value per run, by dotted path), as
    :class:`~sim.engine.model.EscalationModel` takes them: robustness analysis runs
    each world's drawn values in several runs this way.
    """
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
                param_values=(
                    {path: np.asarray(v)[lo : lo + block_size] for path, v in param_values.items()}
                    if param_values
                    else None
                ),
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

    return assemble_ensemble(
        scenario,
        seed,
        ids,
        blocks,
        keep_trajectories=keep_trajectories,
        keep_events=keep_events,
        wall_time=time.perf_counter() - started,
    )


def run_block(
    scenario: Scenario,
    run_ids: np.ndarray,
    seed: int,
    *,
    keep_trajectories: bool = False,
    keep_events: bool = False,
    on_step: Callable[[int], None] | None = None,
) -> BlockResult:
    """Runs ``run_ids`` (global indices) of a scenario in one model: one block.

    ``on_step(steps_done)`` is called after every step (the explorer's progress bar; it
    may raise to stop). :func:`assemble_ensemble` puts blocks together.
    """
    model = EscalationModel(
        scenario,
        np.asarray(run_ids),
        seed,
        keep_trajectories=keep_trajectories,
        keep_events=keep_events,
    )
    done = 0  # counted here: Mesa 4 drops Model.steps
    while model.running:
        check_stop()
        model.step()
        done += 1
        if on_step is not None:
            on_step(done)
    result = model.result()
    model.release()
    return result


def assemble_ensemble(
    scenario: Scenario,
    seed: int,
    run_ids: np.ndarray,
    blocks: list[BlockResult],
    *,
    keep_trajectories: bool,
    keep_events: bool,
    wall_time: float = 0.0,
) -> Ensemble:
    """An :class:`Ensemble` from its blocks, in run order (``run_ids`` is their union)."""
    return Ensemble(
        scenario=scenario,
        seed=seed,
        run_ids=np.asarray(run_ids),
        **run_fields.concatenate(blocks),
        trajectories=(
            np.concatenate([b.trajectories for b in blocks], axis=-1)
            if keep_trajectories and len(blocks) > 1
            else (blocks[0].trajectories if keep_trajectories else None)
        ),
        outcome_names=blocks[0].outcome_names,
        events=(
            pd.concat([b.events for b in blocks], ignore_index=True)
            if keep_events and len(blocks) > 1
            else (blocks[0].events if keep_events else None)
        ),
        wall_time=wall_time,
        drawn={path: np.concatenate([b.drawn[path] for b in blocks]) for path in blocks[0].drawn},
    )
