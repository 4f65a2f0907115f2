"""What the explorer computes, apart from the page: settings, runs, tables, exports.

The page (:mod:`sim.explore.app`) only turns controls into :class:`Settings` and
shows what :class:`Explorer` returns, so everything here is tested without a browser.
A setting is always one of the command line's: an override (``--set``), an event left
out (``--drop-event``), a what-if event (``--event``) or an accepted offer
(``--take-offer``), so :meth:`Settings.command` is the ``sim run`` command that gives the
same scenario, and :meth:`Explorer.scenario_toml` what that command writes as
``scenario.toml``.
"""

from __future__ import annotations

import io
import os
import shlex
import tempfile
import time
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w

from sim.analysis.outcomes import wilson
from sim.analysis.runner import Ensemble, assemble_ensemble, run_block
from sim.analysis.sweep import paired_difference
from sim.api import Result
from sim.outcome_classes import display_order, outcome_class
from sim.scenario import ScenarioError, load_scenario
from sim.spec import Scenario

__all__ = ["Cancelled", "Explorer", "Settings", "Table"]

#: Runs stepped together in one model. Most of a step's cost is fixed Python work
#: whatever the width (eight blocks of 1,250 runs took several times as long as one of
#: 10,000 in development timings), so the explorer steps its runs in as few blocks as
#: it has worker processes (docs/explore.md).
EXPLORER_BLOCK = 50_000
#: Below this many runs one process is as fast as two (the per-block cost dominates).
PARALLEL_FROM = 2_000


class Cancelled(Exception):
    """The computation was superseded or cancelled from the page."""


# ------------------------------------------------------------ worker processes
#: Set in each worker process by :func:`_init_worker`: the shared step counters (one
#: slot per part of a job) and the number of the job to stop.
_SHARED: dict[str, Any] = {}


def _init_worker(progress, stop, main_pid: int) -> None:
    from sim.analysis.workers import init_worker

    init_worker(main_pid)  # ends itself if the explorer's process dies
    _SHARED["progress"] = progress
    _SHARED["stop"] = stop


def _run_part(scenario: Scenario, ids: np.ndarray, seed: int, slot: int, job: int, events: bool):
    """One part of an ensemble in a worker: counts its steps in its progress slot and
    stops at the next step once the parent asks this job to stop."""
    progress, stop = _SHARED["progress"], _SHARED["stop"]

    def on_step(step: int) -> None:
        progress[slot] = step
        if stop.value == job:
            raise Cancelled

    return run_block(
        scenario, ids, seed, keep_trajectories=True, keep_events=events, on_step=on_step
    )


def _toml_text(value: Any) -> str:
    """A value as ``--set`` reads it (a TOML value, on one line)."""
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_text(v) for v in value) + "]"
    return tomli_w.dumps({"v": value}).split("=", 1)[1].strip()


def _spec_text(value: Any) -> str:
    """A value of ``--event KEY=VALUE,...``: plain where it reads back the same."""
    if isinstance(value, str) and value and all(ch.isalnum() or ch in "-_:." for ch in value):
        return value
    return _toml_text(value)


@dataclass(frozen=True)
class Settings:
    """Everything the analyst changed, in the command line's terms."""

    overrides: tuple[tuple[str, Any], ...] = ()
    dropped: tuple[int, ...] = ()
    #: What-if events: each a tuple of (key, value) pairs of an ``[[events]]`` table.
    events: tuple[tuple[tuple[str, Any], ...], ...] = ()
    take_offer: str | None = None
    runs: int | None = None
    seed: int | None = None

    def with_override(self, path: str, value: Any) -> Settings:
        kept = tuple((p, v) for p, v in self.overrides if p != path)
        return replace(self, overrides=(*kept, (path, value)))

    def without_override(self, path: str) -> Settings:
        return replace(self, overrides=tuple((p, v) for p, v in self.overrides if p != path))

    def with_dropped(self, index: int, dropped: bool) -> Settings:
        rest = tuple(i for i in self.dropped if i != index)
        return replace(self, dropped=tuple(sorted((*rest, index))) if dropped else rest)

    def with_event(self, event: Mapping[str, Any]) -> Settings:
        return replace(self, events=(*self.events, tuple(event.items())))

    def without_event(self, position: int) -> Settings:
        return replace(self, events=self.events[:position] + self.events[position + 1 :])

    @property
    def is_baseline(self) -> bool:
        return not (self.overrides or self.dropped or self.events or self.take_offer)

    def scenario(self, base: Scenario) -> Scenario:
        """``base`` with these settings applied, in the command line's order: overrides,
        events left out, what-if events, the accepted offer."""
        out = base.with_overrides(dict(self.overrides)) if self.overrides else base
        if self.dropped:
            out = out.without_events(list(self.dropped))
        if self.events or self.take_offer:
            out = out.with_events([dict(ev) for ev in self.events], take_offer=self.take_offer)
        return out

    def arguments(self) -> list[str]:
        """The ``sim run`` options that make the same scenario and ensemble."""
        args: list[str] = []
        if self.runs is not None:
            args += ["--runs", str(self.runs)]
        if self.seed is not None:
            args += ["--seed", str(self.seed)]
        for path, value in self.overrides:
            args += ["--set", f"{path}={_toml_text(value)}"]
        for index in self.dropped:
            args += ["--drop-event", str(index)]
        for event in self.events:
            args += ["--event", ",".join(f"{k}={_spec_text(v)}" for k, v in event)]
        if self.take_offer:
            args += ["--take-offer", self.take_offer]
        return args

    def command(self, scenario_file: str) -> str:
        return shlex.join(["python", "-m", "sim", "run", scenario_file, *self.arguments()])


@dataclass
class Table:
    """The outcome table the page shows: per outcome, the baseline, the variant and the
    paired difference (same runs, same seed), each with its 95% interval."""

    runs: int
    seed: int
    rows: list[dict[str, Any]] = field(default_factory=list)
    paired: bool = True

    def row(self, outcome: str) -> dict[str, Any]:
        return next(r for r in self.rows if r["outcome"] == outcome)


def _percent(p: float) -> str:
    return f"{100 * p:.1f}%"


def _interval(low: float, high: float) -> str:
    return f"[{100 * low:.1f}, {100 * high:.1f}]"


def _points(low: float, high: float) -> str:
    return f"[{100 * low:+.1f}, {100 * high:+.1f}]"


class Explorer:
    """One scenario explored: its baseline ensemble (cached per runs and seed) and the
    ensemble of the current settings."""

    def __init__(self, scenario: Scenario | str | Path, workers: int = 1) -> None:
        if not isinstance(scenario, Scenario):
            scenario = load_scenario(scenario)
        self.base = scenario
        #: Worker processes for ensembles of PARALLEL_FROM runs or more (1: this one).
        self.workers = max(1, int(workers))
        self._pool = None
        self._jobs = 0
        self._baselines: dict[tuple[int, int], Ensemble] = {}

    # --------------------------------------------------------------- scenario
    def runs_and_seed(self, settings: Settings) -> tuple[int, int]:
        runs = self.base.runs if settings.runs is None else int(settings.runs)
        seed = self.base.seed if settings.seed is None else int(settings.seed)
        return runs, seed

    def scenario(self, settings: Settings) -> Scenario:
        """The scenario of ``settings``; ScenarioError or ValueError if it is not valid."""
        return settings.scenario(self.base)

    def scenario_toml(self, settings: Settings) -> str:
        """What ``sim run`` with :meth:`Settings.arguments` writes as ``scenario.toml``."""
        return self.scenario(settings).to_toml()

    # -------------------------------------------------------------- computing
    def ensemble(
        self,
        scenario: Scenario,
        runs: int,
        seed: int,
        *,
        keep_events: bool = False,
        progress: Callable[[float], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        first_run: int = 0,
    ) -> Ensemble:
        """``runs`` runs of ``scenario``, identical to ``sim.run``'s, with a progress
        callback (0 to 1, by step) and a stop check between steps (raises Cancelled)."""
        started = time.perf_counter()
        n_steps = scenario.n_steps

        def on_step(step: int) -> None:
            if should_stop is not None and should_stop():
                raise Cancelled
            if progress is not None and (step % 8 == 0 or step == n_steps):
                progress(step / n_steps)

        ids = np.arange(first_run, first_run + runs)
        if self.workers > 1 and runs >= PARALLEL_FROM:
            blocks = self._in_workers(scenario, ids, seed, keep_events, progress, should_stop)
        else:
            blocks = [
                run_block(
                    scenario,
                    ids[lo : lo + EXPLORER_BLOCK],
                    seed,
                    keep_trajectories=True,
                    keep_events=keep_events,
                    on_step=on_step,
                )
                for lo in range(0, runs, EXPLORER_BLOCK)
            ]
        return assemble_ensemble(
            scenario,
            seed,
            ids,
            blocks,
            keep_trajectories=True,
            keep_events=keep_events,
            wall_time=time.perf_counter() - started,
        )

    def _in_workers(self, scenario, ids, seed, keep_events, progress, should_stop) -> list:
        """The ensemble's blocks computed in parallel, one part per worker, in run order
        (run r's numbers depend on (seed, r) alone, so the parts are the runs' own)."""
        from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait

        from sim.analysis.workers import forkserver_context

        if self._pool is None:
            context = forkserver_context()
            self._progress = context.Array("i", self.workers, lock=False)
            self._stop = context.Value("q", -1, lock=False)
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=context,
                initializer=_init_worker,
                initargs=(self._progress, self._stop, os.getpid()),
            )
        self._jobs += 1
        job = self._jobs
        for slot in range(self.workers):
            self._progress[slot] = 0
        parts = np.array_split(ids, self.workers)
        futures = [
            self._pool.submit(_run_part, scenario, part, seed, slot, job, keep_events)
            for slot, part in enumerate(parts)
        ]
        total = scenario.n_steps * len(parts)
        try:
            while True:
                done, pending = wait(futures, timeout=0.05, return_when=FIRST_EXCEPTION)
                if not pending or any(f.exception() for f in done):
                    break
                if should_stop is not None and should_stop():
                    raise Cancelled
                if progress is not None:
                    progress(sum(self._progress[: len(parts)]) / total)
            blocks = [f.result() for f in futures]  # a worker's error is raised here
        except BaseException:
            self._stop.value = job  # the workers stop this job at their next step
            for future in futures:
                future.cancel()
            raise
        if progress is not None:
            progress(1.0)
        return blocks

    def close(self) -> None:
        """Stop the worker processes (if any were started)."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def baseline(
        self,
        runs: int,
        seed: int,
        progress: Callable[[float], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> Ensemble:
        key = (runs, seed)
        if key not in self._baselines:
            self._baselines.clear()  # one baseline at a time: 12 MB per 10,000 runs
            self._baselines[key] = self.ensemble(
                self.base, runs, seed, progress=progress, should_stop=should_stop
            )
        return self._baselines[key]

    def compute(
        self,
        settings: Settings,
        progress: Callable[[float], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> tuple[Result, Result]:
        """(baseline, variant) results over the same runs and seed."""
        runs, seed = self.runs_and_seed(settings)
        scenario = self.scenario(settings)
        need_base = (runs, seed) not in self._baselines

        def part(lo: float, hi: float) -> Callable[[float], None] | None:
            if progress is None:
                return None
            return lambda f: progress(lo + (hi - lo) * f)

        split = 0.5 if need_base and not settings.is_baseline else 1.0
        base = self.baseline(runs, seed, part(0.0, split), should_stop)
        if settings.is_baseline:
            variant = base
        else:
            variant = self.ensemble(
                scenario, runs, seed, progress=part(split, 1.0), should_stop=should_stop
            )
        return Result(base), Result(variant)

    # ---------------------------------------------------------------- reading
    @staticmethod
    def table(base: Result, variant: Result) -> Table:
        b, v = base.ensemble, variant.ensemble
        paired = b.seed == v.seed and np.array_equal(b.run_ids, v.run_ids)
        out = Table(runs=v.n_runs, seed=v.seed, paired=paired)
        names = v.outcome_names
        n = v.n_runs
        for cls in display_order(names):
            code = names.index(cls.name)
            k_v = int(np.sum(v.outcome == code))
            k_b = (
                int(np.sum(b.outcome == names.index(cls.name)))
                if cls.name in b.outcome_names
                else 0
            )
            lo_v, hi_v = wilson(k_v, n)
            lo_b, hi_b = wilson(k_b, b.n_runs)
            row: dict[str, Any] = {
                "outcome": cls.name,
                "label": outcome_class(cls.name).label,
                "p": k_v / n,
                "ci95": (lo_v, hi_v),
                "base_p": k_b / b.n_runs,
                "base_ci95": (lo_b, hi_b),
            }
            if paired and b.outcome_names == names:
                d = paired_difference(b.outcome, v.outcome, cls.name, names)
                row["diff"] = d["diff"]
                row["diff_ci95"] = (d["ci95_low"], d["ci95_high"])
            row["text"] = {
                "p": _percent(row["p"]),
                "ci95": _interval(lo_v, hi_v),
                "base": _percent(row["base_p"]),
                "diff": f"{100 * row['diff']:+.1f}" if "diff" in row else "",
                "diff_ci95": _points(*row["diff_ci95"]) if "diff_ci95" in row else "",
            }
            out.rows.append(row)
        return out

    def story(self, settings: Settings, run: int) -> str:
        """Run ``run`` of the current settings told as a story (``sim story``): that run
        alone, which is the same run as in any batch (counter-based random numbers)."""
        runs, seed = self.runs_and_seed(settings)
        if not 0 <= run < runs:
            raise ValueError(f"no run {run}: runs are numbered 0 to {runs - 1}")
        scenario = self.scenario(settings)
        one = self.ensemble(scenario, 1, seed, keep_events=True, first_run=run)
        return Result(one).story(run)

    # ---------------------------------------------------------------- export
    @staticmethod
    def results_zip(variant: Result, command: Sequence[str]) -> bytes:
        """The results as ``sim run --out DIR`` writes them, zipped under one folder
        (``sim plot`` and ``sim.load_results`` read the unzipped folder)."""
        from sim.analysis.results import write_results

        folder = variant.scenario.name
        buffer = io.BytesIO()
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / folder
            out.mkdir()
            names = write_results(variant.ensemble, out, variant.summary(), list(command))
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for name in dict.fromkeys([*names, "manifest.json"]):
                    archive.write(out / name, f"{folder}/{name}")
        return buffer.getvalue()


def check(settings: Settings, explorer: Explorer) -> str | None:
    """None if the settings give a valid scenario, else the problem, in one message."""
    try:
        explorer.scenario(settings)
    except (ScenarioError, ValueError, TypeError) as exc:
        return str(exc)
    return None
