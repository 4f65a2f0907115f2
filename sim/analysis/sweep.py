"""Parameter sweeps: a Monte Carlo ensemble at every point of a design.

A sweep names parameters by the same dotted paths as ``--set`` and gives each a spec:

* ``0:0.5:11`` — 11 evenly spaced values from 0 to 0.5 (grid);
* ``0.5,1,1.5`` — a list, also of words (``tit_for_tat,generous``);
* ``0..0.5`` — a range, for the ``lhs`` and ``sobol`` designs (``1..27``, integers).

Every point runs the same run indices with the same seed (common random numbers), so
differences between points are the parameters' doing, not the draws'. Each finished
point is written durably (atomically) to ``DIR/points/``; a sweep killed at any moment
and restarted with ``resume`` computes only the missing points. Points run in-process
(one worker), on a local process pool, or on a Dask distributed cluster; the results
are identical bit for bit whichever is used.
"""

from __future__ import annotations

import base64
import concurrent.futures as cf
import hashlib
import itertools
import json
import math
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm  # text bar on stderr, also under Jupyter

from sim import run_fields
from sim.analysis import units
from sim.analysis.fingerprint import code_fingerprint, fingerprint_differences
from sim.analysis.manifest import SCHEMA_VERSION
from sim.analysis.results import (
    INCOMPLETE,
    OutputError,
    atomic_write,
    clear_output_dir,
    prepare_output_dir,
    versions,
)
from sim.analysis.runner import check_stop, run_ensemble
from sim.analysis.workers import forkserver_context, init_worker, terminate_pool
from sim.outcome_classes import OUTCOMES, outcome_class, scenario_outcome_names
from sim.policies import plugin_state, restore_plugins
from sim.scenario import (
    Problem,
    Scenario,
    ScenarioError,
    read_toml,
    resolve_events_file,
    scenario_from_dict,
)

__all__ = [
    "DESIGNS",
    "ParamSpec",
    "SweepError",
    "SweepResult",
    "SweepSpec",
    "load_sweep_file",
    "paired_difference",
    "parse_param",
    "run_point",
    "run_sweep",
]

DESIGNS = ("grid", "lhs", "sobol")
#: Times a point is given to a new local worker after its worker died.
MAX_ATTEMPTS = 3
#: Seconds without a finished point after which the Dask scheduler must answer a ping.
SCHEDULER_TIMEOUT = 30.0
try:
    SCHEDULER_TIMEOUT = max(1.0, float(os.environ.get("SIM_SCHEDULER_TIMEOUT", "30")))
except ValueError:  # a bad value: the default (the variable is for tests and clusters)
    pass
SWEEP_KEYS = {"scenario", "params", "design", "samples", "runs", "seed", "workers", "scheduler"}
MAX_POINTS = 1_000_000


class SweepError(Exception):
    """A sweep that cannot run as specified (bad spec, design, or output directory)."""


# ------------------------------------------------------------------ specs
@dataclass(frozen=True)
class ParamSpec:
    """One swept parameter: a dotted path and either values or a range."""

    path: str
    values: tuple[Any, ...] | None = None
    low: float | None = None
    high: float | None = None
    integer: bool = False

    @property
    def is_range(self) -> bool:
        return self.values is None

    def describe(self) -> str:
        if self.is_range:
            return f"{self.path}={self.low:g}..{self.high:g}"
        return f"{self.path}={','.join(map(str, self.values))}"


def _number(text: str) -> int | float | str:
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return text
    if not math.isfinite(value):
        raise SweepError(f"expected a finite number, found {text!r}")
    return value


def parse_spec(path: str, spec: Any) -> ParamSpec:
    """A :class:`ParamSpec` from a spec string (``a:b:n``, ``x,y,z``, ``a..b``) or a list."""
    if not path or any(not part for part in path.split(".")):
        raise SweepError(f"expected a dotted path such as states.us.policy.ratio, found {path!r}")
    if isinstance(spec, list):
        if not spec:
            raise SweepError(f"{path}: expected at least one value, found an empty list")
        return ParamSpec(path, values=tuple(spec))
    if isinstance(spec, bool) or isinstance(spec, int | float):
        return ParamSpec(path, values=(spec,))
    if not isinstance(spec, str) or not spec.strip():
        raise SweepError(f"{path}: expected a spec such as 0:1:11, 0.5,1 or 0..1, found {spec!r}")
    text = spec.strip()
    if ".." in text:
        parts = text.split("..")
        if len(parts) != 2:
            raise SweepError(f"{path}: expected a range LOW..HIGH, found {text!r}")
        low, high = (_number(p) for p in parts)
        if isinstance(low, str) or isinstance(high, str) or not low < high:
            raise SweepError(f"{path}: expected a range LOW..HIGH with LOW < HIGH, found {text!r}")
        integer = isinstance(low, int) and isinstance(high, int)
        return ParamSpec(path, low=float(low), high=float(high), integer=integer)
    if ":" in text:
        parts = text.split(":")
        if len(parts) != 3:
            raise SweepError(f"{path}: expected START:STOP:COUNT, found {text!r}")
        start, stop, count = (_number(p) for p in parts)
        if isinstance(start, str) or isinstance(stop, str):
            raise SweepError(f"{path}: expected numbers in START:STOP:COUNT, found {text!r}")
        if not isinstance(count, int) or count < 1:
            raise SweepError(
                f"{path}: expected a whole COUNT >= 1 in START:STOP:COUNT, found {text!r}"
            )
        if count > MAX_POINTS:
            raise SweepError(f"{path}: expected a COUNT of at most {MAX_POINTS:,}, found {count:,}")
        values = np.linspace(start, stop, count)
        if (
            isinstance(start, int)
            and isinstance(stop, int)
            and np.allclose(values, np.rint(values))
        ):
            return ParamSpec(path, values=tuple(int(v) for v in np.rint(values)))
        return ParamSpec(path, values=tuple(round(float(v), 12) for v in values))
    values = [_number(p) for p in text.split(",")]
    if any(v == "" for v in values):
        raise SweepError(f"{path}: expected a comma-separated list, found {text!r}")
    return ParamSpec(path, values=tuple(values))


def parse_param(text: str) -> ParamSpec:
    """Parse ``PATH=SPEC`` as given to ``--param``."""
    if "=" not in text:
        raise SweepError(f"--param: expected PATH=SPEC, found {text!r}")
    path, spec = text.split("=", 1)
    return parse_spec(path.strip(), spec)


@dataclass
class SweepSpec:
    """Everything that defines a sweep's points (what ``resume`` must find unchanged)."""

    params: list[ParamSpec]
    design: str = "grid"
    samples: int | None = None
    runs: int = 1000
    seed: int = 0

    def points(self) -> list[dict[str, Any]]:
        """The design's points: one dict of dotted path -> value per point."""
        if not self.params:
            raise SweepError("expected at least one --param PATH=SPEC")
        paths = [p.path for p in self.params]
        if len(set(paths)) != len(paths):
            raise SweepError(f"a parameter is given twice: {', '.join(paths)}")
        if self.design not in DESIGNS:
            raise SweepError(
                f"--design: expected one of {', '.join(DESIGNS)}, found {self.design!r}"
            )
        if self.design == "grid":
            ranges = [p.path for p in self.params if p.is_range]
            if ranges:
                raise SweepError(
                    f"the grid design needs values, not ranges: give {ranges[0]} as "
                    "START:STOP:COUNT or a list, or use --design lhs or sobol"
                )
            combos = math.prod(len(p.values) for p in self.params)
            if combos > MAX_POINTS:
                raise SweepError(f"the grid has {combos:,} points; at most {MAX_POINTS:,}")
            return [
                dict(zip(paths, combo, strict=True))
                for combo in itertools.product(*(p.values for p in self.params))
            ]
        lists = [p.path for p in self.params if not p.is_range]
        if self.design == "sobol" and lists:
            raise SweepError(f"the sobol design needs ranges LOW..HIGH, not values: {lists[0]}")
        if self.samples is None or self.samples < 1:
            raise SweepError(f"the {self.design} design needs --samples N (N >= 1)")
        n_points = self.samples * (len(self.params) + 2 if self.design == "sobol" else 1)
        if n_points > MAX_POINTS:
            raise SweepError(
                f"the {self.design} design would have {n_points:,} points; at most "
                f"{MAX_POINTS:,}: use fewer --samples"
            )
        if self.design == "lhs":
            from scipy.stats import qmc

            unit = qmc.LatinHypercube(d=len(self.params), seed=self.seed).random(self.samples)
        else:
            from SALib.sample import sobol as sobol_sample

            unit = sobol_sample.sample(
                self.Problem(unit=True), self.samples, calc_second_order=False, seed=self.seed
            )
        return [
            {p.path: _from_unit(p, u) for p, u in zip(self.params, row, strict=True)}
            for row in unit
        ]

    def Problem(self, unit: bool = False) -> dict:
        """The SALib problem (bounds of the ranges; the unit cube if ``unit``)."""
        return {
            "num_vars": len(self.params),
            "names": [p.path for p in self.params],
            "bounds": [[0.0, 1.0] if unit else [p.low, p.high] for p in self.params],
        }

    def to_json(self) -> dict:
        return {
            "params": [
                {"path": p.path, "values": list(p.values)}
                if not p.is_range
                else {"path": p.path, "low": p.low, "high": p.high, "integer": p.integer}
                for p in self.params
            ],
            "design": self.design,
            "samples": self.samples,
            "runs": self.runs,
            "seed": self.seed,
        }


def _from_unit(p: ParamSpec, u: float) -> Any:
    if not p.is_range:
        return p.values[min(int(u * len(p.values)), len(p.values) - 1)]
    value = p.low + float(u) * (p.high - p.low)
    return round(value) if p.integer else value


# ---------------------------------------------------------- sweep files
def load_sweep_file(path: str | Path) -> tuple[dict, str, dict]:
    """Read a TOML file with a ``[sweep]`` table.

    Returns the scenario document, its source name, and the ``[sweep]`` table. The
    scenario is the file itself, or the file named by ``sweep.scenario`` (relative to
    the sweep file).
    """
    source = str(path)
    raw = read_toml(path, source)
    table = raw.get("sweep", {})
    if not isinstance(table, dict):
        raise ScenarioError(source, [Problem("sweep", "expected a [sweep] table")])
    unknown = set(table) - SWEEP_KEYS
    if unknown:
        known = ", ".join(sorted(SWEEP_KEYS))
        raise ScenarioError(
            source,
            [Problem(f"sweep.{k}", f"unknown key; known: {known}") for k in sorted(unknown)],
        )
    if "scenario" in table:
        if not isinstance(table["scenario"], str) or not table["scenario"].strip():
            raise ScenarioError(
                source,
                [Problem("sweep.scenario", "expected the scenario file's name (a string)")],
            )
        target = Path(path).parent / table["scenario"]
        scenario_source = str(target)
        if not target.exists():
            raise ScenarioError(
                source, [Problem("sweep.scenario", f"no such file {target}")]
            ) from None
        scenario_raw = read_toml(target, scenario_source)
    else:
        scenario_raw = {k: v for k, v in raw.items() if k != "sweep"}
        scenario_source = source
    # An events_file's rows become [[events]] here, before any --set or sweep point.
    scenario_raw = resolve_events_file(scenario_raw, scenario_source)
    return scenario_raw, scenario_source, table


# ---------------------------------------------------------------- points
def run_point(
    raw: dict,
    source: str,
    overrides: dict[str, Any],
    runs: int,
    seed: int,
    plugins: dict | None = None,
) -> dict[str, Any]:
    """Run one point's ensemble. Never raises: a failure is returned as a failed row.

    Top-level (picklable) so that process pools and Dask workers can call it.
    ``plugins`` (from :func:`sim.policies.plugin_state`) loads the same policy plugins
    in a worker process as in the process that started the sweep.
    """
    started = time.perf_counter()
    row: dict[str, Any] = {"overrides": overrides, "runs": runs, "seed": seed}
    try:
        restore_plugins(plugins)
        scenario = scenario_from_dict(raw, source).with_overrides(overrides)
        ens = run_ensemble(scenario, runs=runs, seed=seed)
    except ScenarioError as exc:
        row.update(status="failed", error="; ".join(str(p) for p in exc.problems))
        return row
    except Exception as exc:  # a point must not take the sweep down
        row.update(status="failed", error=f"{type(exc).__name__}: {exc}")
        return row
    summary = ens.summary()
    row.update(status="ok", error=None)
    for name, o in summary["outcomes"].items():
        row[f"p_{name}"] = o["p"]
        row[f"count_{name}"] = o["count"]
        row[f"ci95_low_{name}"], row[f"ci95_high_{name}"] = o["ci95"]
    for name, q in summary["weeks_to_outcome"].items():
        for key in ("q05", "q25", "q50", "q75", "q95"):
            row[f"weeks_{name}_{key}"] = None if q is None else q[key]
    row.update(run_fields.sweep_columns(ens.fields(), scenario))
    # The codes are positions in the ensemble's outcome names; the names go beside them,
    # so that a file written under another set of outcomes is recognised, not misread.
    row["outcome_names"] = list(ens.outcome_names)
    row["outcome_codes"] = base64.b64encode(ens.outcome.astype(np.int8).tobytes()).decode()
    row["wall_time_s"] = round(time.perf_counter() - started, 4)
    return row


#: The outcome names of point files written before the names were stored.
_UNNAMED = ("unresolved", "spiral", "de_escalation")


def _decode_outcomes(
    text: str, names: list[str] | None = None, into: tuple[str, ...] = OUTCOMES
) -> np.ndarray:
    """(runs,) per-run outcome codes of a point file, as codes into ``into`` (the sweep's
    outcome names).

    ``names`` are the outcome names the file's codes index (files written before the
    names were stored hold codes into ("unresolved", "spiral", "de_escalation")).
    """
    codes = np.frombuffer(base64.b64decode(text), dtype=np.int8)
    names = list(names) if names is not None else list(_UNNAMED)
    unknown = [n for n in names if n not in into]
    if unknown:
        raise SweepError(
            f"outcome {unknown[0]!r} in a point file is not one of this sweep's outcomes "
            f"({', '.join(into)})"
        )
    table = np.array([into.index(n) for n in names], dtype=np.int8)
    return table[codes]


def outcome_set_problem(row: dict, expected: tuple[str, ...] = OUTCOMES) -> str | None:
    """Why a point file's outcomes differ from the sweep's (None if they agree)."""
    names = row.get("outcome_names")
    if row.get("status") != "ok":
        return None
    if names is None or list(names) != list(expected):
        found = ", ".join(names) if names else f"{', '.join(_UNNAMED)} (unnamed)"
        return f"written under the outcomes ({found}), not ({', '.join(expected)})"
    return None


def paired_difference(
    codes_a: np.ndarray,
    codes_b: np.ndarray,
    outcome: str = "spiral",
    names: tuple[str, ...] = OUTCOMES,
) -> dict[str, float]:
    """P(outcome) at b minus at a over the same runs (common random numbers).

    ``codes_a`` and ``codes_b`` are (runs,) codes into ``names``. The standard error
    comes from the per-run differences, which is what makes a paired comparison
    sharper than comparing two independent estimates.
    """
    if outcome not in names:
        raise ValueError(f"unknown outcome {outcome!r}; the outcomes are {', '.join(names)}")
    code = names.index(outcome)
    diff = (codes_b == code).astype(float) - (codes_a == code).astype(float)
    n = len(diff)
    mean = float(diff.mean())
    se = float(diff.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
    return {"diff": mean, "se": se, "ci95_low": mean - 1.96 * se, "ci95_high": mean + 1.96 * se}


# ----------------------------------------------------------------- result
@dataclass
class SweepResult:
    """The points of a sweep, one row each, with Sobol indices for a sobol design."""

    spec: SweepSpec
    points: pd.DataFrame
    sensitivity: dict | None = None
    wall_time: float = 0.0
    out: Path | None = None
    codes: dict[int, np.ndarray] = field(default_factory=dict, repr=False)
    #: The outcome names the ``codes`` index (the scenario's outcome classes).
    outcome_names: tuple[str, ...] = OUTCOMES
    #: The scenario the sweep ran on (its values are the figures' baseline marks);
    #: None when it is not known (a sweep read back whose scenario file changed).
    scenario: Scenario | None = field(default=None, repr=False)

    @property
    def failed(self) -> int:
        return int((self.points["status"] != "ok").sum())

    def paired_difference(self, a: int, b: int, outcome: str = "spiral") -> dict[str, float]:
        """Paired difference in P(outcome) between points ``b`` and ``a`` (same runs)."""
        return paired_difference(self.codes[a], self.codes[b], outcome, self.outcome_names)

    def plot_heatmap(
        self, x: str | None = None, y: str | None = None, outcome: str = "spiral", ax=None
    ):
        """P(outcome) over a two-parameter grid, with the P = 0.5 contour."""
        from sim import plots

        paths = [p.path for p in self.spec.params]
        x = x or paths[0]
        y = y or (paths[1] if len(paths) > 1 else None)
        if y is None:
            raise ValueError("a heatmap needs two swept parameters; use plot_curve")
        return plots.plot_sweep_heatmap(
            self.points, x, y, outcome=outcome, ax=ax, scenario=self.scenario
        )

    def plot_curve(self, x: str | None = None, ax=None):
        """P(spiral) and P(de-escalation) against one parameter, with 95% bands."""
        from sim import plots

        return plots.plot_sweep_curve(
            self.points,
            x or self.spec.params[0].path,
            outcomes=_curves(self.outcome_names),
            ax=ax,
            scenario=self.scenario,
        )

    def plot_sensitivity(self, ax=None):
        """Sobol first-order and total indices (a ``sobol`` design only)."""
        from sim import plots

        if self.sensitivity is None:
            raise ValueError("no Sobol indices: run the sweep with design='sobol'")
        return plots.plot_sensitivity(self.sensitivity, ax=ax)


# -------------------------------------------------------------- execution
class _Executor:
    """Runs point tasks in-process, on a process pool, or on a Dask cluster."""

    def __init__(self, workers: int, scheduler: str | None) -> None:
        self.workers = workers
        self.scheduler = scheduler
        self._pool = None
        self._client = None
        if scheduler:
            try:
                from distributed import Client
            except ImportError:
                raise SweepError(
                    "--scheduler needs dask.distributed: pip install 'escalation-sim[cluster]'"
                ) from None
            try:
                self._client = Client(scheduler, timeout="10s")
            except OSError as exc:
                raise SweepError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
        elif workers > 1:
            self._pool = self._new_pool()

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        # Workers ignore Ctrl-C (the main process stops them, in close) and end
        # themselves if the main process dies (sim.analysis.workers).
        return cf.ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=forkserver_context(),
            initializer=init_worker,
            initargs=(os.getpid(),),
        )

    def map_unordered(
        self, tasks: list[tuple[int, tuple]], task=None
    ) -> Iterator[tuple[int, dict]]:
        """``task(*args)`` for every (index, args), yielded as each finishes.

        ``task`` (default :func:`run_point`) must be a top-level function, so that process
        pools and Dask workers can call it.
        """
        task = run_point if task is None else task
        if self._client is not None:
            yield from self._map_dask(tasks, task)
        elif self._pool is not None:
            yield from self._map_pool(tasks, task)
        else:
            for index, args in tasks:
                yield index, task(*args)

    def _map_pool(self, tasks, task) -> Iterator[tuple[int, dict]]:
        """On the local pool. A worker that dies (killed, out of memory) breaks the pool,
        and every point in it with it: a new pool takes over and the points not finished
        are given again. After a second break the points run one at a time, so that the
        one that kills its worker is known: it is tried :data:`MAX_ATTEMPTS` times, then
        recorded as a failed point (``--resume`` tries failed points again)."""
        waiting = dict(tasks)
        breaks = 0
        while waiting and breaks < 2:
            futures = {self._pool.submit(task, *args): index for index, args in waiting.items()}
            try:
                for future in cf.as_completed(futures):
                    index = futures[future]
                    row = future.result()
                    del waiting[index]
                    yield index, row
            except cf.process.BrokenProcessPool:
                breaks += 1
                self._renew_pool()
        attempts = dict.fromkeys(waiting, 0)
        while waiting:
            index, args = next(iter(waiting.items()))
            attempts[index] += 1
            try:
                row = self._pool.submit(task, *args).result()
            except cf.process.BrokenProcessPool:
                self._renew_pool()
                if attempts[index] < MAX_ATTEMPTS:
                    continue
                row = {
                    "status": "failed",
                    "error": f"its worker process died {MAX_ATTEMPTS} times (killed, or out "
                    "of memory); --resume tries it again",
                }
            del waiting[index]
            yield index, row

    def _renew_pool(self) -> None:
        terminate_pool(self._pool)
        self._pool = self._new_pool()

    def _map_dask(self, tasks, task) -> Iterator[tuple[int, dict]]:
        """On the Dask cluster, which retries points of lost workers itself. A lost or
        silent scheduler ends the sweep with a clear message (SchedulerLost)."""
        from distributed import wait

        futures = {}
        try:
            for index, args in tasks:
                futures[self._client.submit(task, *args, pure=False)] = index
            pending = set(futures)
            while pending:
                done, pending = wait(
                    pending, timeout=SCHEDULER_TIMEOUT, return_when="FIRST_COMPLETED"
                )
                if not done:
                    self._check_scheduler()
                    continue
                for future in done:
                    yield futures[future], future.result()
        except (OSError, TimeoutError) as exc:
            raise SchedulerLost(self.scheduler, exc) from None
        except Exception as exc:
            if type(exc).__module__.startswith(("distributed", "tornado")):
                raise SchedulerLost(self.scheduler, exc) from None
            raise

    def _check_scheduler(self) -> None:
        """Raise SchedulerLost unless the scheduler answers within SCHEDULER_TIMEOUT."""
        try:
            self._client.sync(self._client.scheduler.identity, callback_timeout=SCHEDULER_TIMEOUT)
        except Exception as exc:
            raise SchedulerLost(self.scheduler, exc) from None

    def check_workers(self, expected: dict) -> None:
        """Refuse a Dask cluster whose workers run other code than this process."""
        if self._client is None:
            return
        found = self._client.run(code_fingerprint)
        for worker, fingerprint in sorted(found.items()):
            differences = fingerprint_differences(fingerprint, expected)
            if differences:
                raise SweepError(
                    f"--scheduler {self.scheduler}: worker {worker} runs other code than "
                    f"this process ({'; '.join(differences)}); install the same version "
                    "of escalation-sim on every worker"
                )

    def close(self, abort: bool = False) -> None:
        """Shut down; with ``abort`` (an interrupt), stop running points at once."""
        if self._pool is not None:
            if abort:
                terminate_pool(self._pool)
            else:
                self._pool.shutdown(cancel_futures=True)
        if self._client is not None:
            try:
                self._client.close(timeout=5)
            except Exception:  # a lost scheduler: nothing left to close
                pass


class SchedulerLost(SweepError):
    """The Dask scheduler went away or stopped answering."""

    def __init__(self, address: str | None, cause: BaseException) -> None:
        super().__init__(
            f"lost the Dask scheduler {address} ({type(cause).__name__}: {cause or 'no answer'} "
            f"within {SCHEDULER_TIMEOUT:g} s); the points finished so far are saved: run the "
            "same command with --resume once the cluster is back"
        )


def _point_path(out: Path, index: int) -> Path:
    return out / "points" / f"{index:06d}.json"


def _fingerprint(raw: dict, spec: SweepSpec, names: tuple[str, ...]) -> str:
    # The outcome classes are part of what a point means: a resume under another set is
    # refused rather than mixed.
    text = json.dumps(
        {"scenario": raw, "sweep": spec.to_json(), "outcomes": list(names)},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()


def run_sweep(
    scenario: Scenario,
    spec: SweepSpec,
    *,
    workers: int = 1,
    scheduler: str | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    force: bool = False,
    csv: bool = False,
    progress: bool = False,
    command: list[str] | None = None,
) -> SweepResult:
    """Run ``spec``'s points on ``scenario`` and return (and, with ``out``, write) the table."""
    started = time.perf_counter()
    points = spec.points()
    raw = scenario.raw
    names = scenario_outcome_names(scenario)
    fingerprint = _fingerprint(raw, spec, names)
    plugins = plugin_state()
    code = code_fingerprint(plugins)
    out_dir = Path(out) if out is not None else None
    done: dict[int, dict] = {}
    manifest: dict[str, Any] = {}
    if out_dir is not None:
        created = not out_dir.exists()
        done = _prepare_sweep_dir(out_dir, fingerprint, code, resume, force, names)
        manifest = _manifest(scenario, spec, fingerprint, len(points), workers, scheduler, command)
        manifest.update(status="running", code=code, **units.counts(done))
        _start(out_dir, manifest, created)
    tasks = [
        (i, (raw, scenario.source, point, spec.runs, spec.seed, plugins))
        for i, point in enumerate(points)
        if i not in done
    ]
    results = dict(done)
    _run_units(
        tasks,
        run_point,
        results,
        key="point",
        unit_dir="points",
        total=len(points),
        out=out_dir,
        manifest=manifest,
        workers=workers,
        scheduler=scheduler,
        code=code,
        progress=progress,
    )

    table, codes = _table(results, points, spec, names)
    sensitivity = _sobol(spec, table, names) if spec.design == "sobol" else None
    result = SweepResult(
        spec, table, sensitivity, time.perf_counter() - started, out_dir, codes, names, scenario
    )
    if out_dir is not None:
        try:
            _write_outputs(result, scenario, fingerprint, code, workers, scheduler, command, csv)
        except BaseException as exc:
            _record_failure(out_dir, manifest, results, exc)
            raise
    return result


def _run_units(
    tasks: list[tuple[int, tuple]],
    task,
    results: dict[int, dict],
    *,
    key: str,
    unit_dir: str,
    total: int,
    out: Path | None,
    manifest: dict,
    workers: int,
    scheduler: str | None,
    code: dict,
    progress: bool,
) -> None:
    """Compute the units (a sweep's points, a robustness analysis's policies) not yet
    done, writing each sealed file as it finishes (``out/<unit_dir>/NNNNNN.json``) and
    adding it to ``results``. On any way out but success (Ctrl-C, SIGTERM, a full disk,
    a lost scheduler) the workers are stopped and the manifest says how it ended."""
    bar = tqdm(
        total=total,
        initial=len(results),
        unit=key,
        disable=not progress,
        file=sys.stderr,
        leave=False,
        delay=1.0,
    )
    executor = None
    failure: BaseException | None = None
    try:
        executor = _Executor(workers, scheduler) if tasks else None
        if executor is not None:
            executor.check_workers(code)
        for index, row in executor.map_unordered(tasks, task) if executor else ():
            check_stop()
            row = {key: index, **row}
            if out is not None:
                units.write_unit(out / unit_dir / f"{index:06d}.json", row, _jsonable)
            results[index] = row
            bar.update(1)
    except BaseException as exc:
        failure = exc
        raise
    finally:
        bar.close()
        if executor is not None:
            executor.close(abort=failure is not None)
        if failure is not None and out is not None:
            _record_failure(out, manifest, results, failure)


def _start(
    out: Path, manifest: dict, created: bool, unit_dir: str = "points", text: str | None = None
) -> None:
    """Mark the directory as being written. If that fails (a full disk), leave nothing
    half-made behind, so that a retry or --resume sees the directory as it was."""
    try:
        marker = (text or _INCOMPLETE_TEXT).encode()
        atomic_write(out / INCOMPLETE, lambda h: h.write(marker))
        atomic_write(out / "manifest.json", lambda h: h.write(_json(manifest)))
    except BaseException:
        if created:
            (out / INCOMPLETE).unlink(missing_ok=True)
            try:
                (out / unit_dir).rmdir()
                out.rmdir()
            except OSError:
                pass
        raise


def _record_failure(out: Path, manifest: dict, results: dict, exc: BaseException) -> None:
    """The manifest says truthfully how the sweep ended: interrupted, or failed and why,
    with the counts of the points on disk. Best effort: the disk may be full."""
    from sim.analysis.runner import Terminated

    if isinstance(exc, KeyboardInterrupt):
        status = "interrupted"
        manifest["signal"] = "SIGTERM" if isinstance(exc, Terminated) else "SIGINT"
    else:
        status = "failed"
        manifest["error"] = f"{type(exc).__name__}: {exc}"
    manifest.update(status=status, **units.counts(results))
    try:
        atomic_write(out / "manifest.json", lambda h: h.write(_json(manifest)))
    except (OSError, OutputError):
        pass


def _prepare_sweep_dir(
    out: Path, fingerprint: str, code: dict, resume: bool, force: bool, names: tuple[str, ...]
) -> dict[int, dict]:
    """Check or create the output directory; with ``resume``, the points already done.

    A resumed sweep keeps the verified points that finished; failed points, and point
    files that are damaged or cannot be verified, are computed again (and named on
    stderr)."""
    if resume:
        _resumable_manifest(out, fingerprint, code)
        rows, damaged = units.read_units(out / "points", "point")
        for path, reason in damaged:
            print(
                f"escalation-sim: warning: {path}: {reason}; computing it again",
                file=sys.stderr,
            )
        done = {}
        for index, row in rows.items():
            problem = outcome_set_problem(row, names)
            if problem:
                raise SweepError(
                    f"{_point_path(out, index)}: {problem}; this version cannot resume it "
                    "(start anew with --force, or choose another --out)"
                )
            if row.get("status") == "ok":
                done[index] = row  # a failed point is tried again
        return done
    existed = out.is_dir() and any(out.iterdir())
    try:
        prepare_output_dir(out, force)
        if force and existed:
            clear_output_dir(out)  # one generation: nothing of the old sweep stays
    except OutputError as exc:
        raise SweepError(str(exc).replace("--force", "--resume (to continue) or --force")) from None
    (out / "points").mkdir(exist_ok=True)
    return {}


def _resumable_manifest(out: Path, fingerprint: str, code: dict) -> dict:
    """The manifest of the work to resume in ``out``, checked against this run's."""
    manifest_path = out / "manifest.json"
    if not manifest_path.is_file():
        raise SweepError(f"{out}: nothing to resume (no manifest.json)")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SweepError(
            f"{manifest_path}: cannot be read ({exc}); start anew with --force"
        ) from None
    if not isinstance(manifest, dict) or manifest.get("fingerprint") != fingerprint:
        raise SweepError(
            f"{out}: the work there has a different scenario or design (parameters, "
            "levers, runs, seed or outcome classes); resume it with the same arguments, or "
            "choose another --out"
        )
    differences = fingerprint_differences(manifest.get("code"), code)
    if differences:
        raise SweepError(
            f"{out}: cannot resume: {'; '.join(differences)}. Points computed by two "
            "versions of the model would be mixed; finish it with the code that started "
            "it, or start anew with --force"
        )
    return manifest


def _compared(names: tuple[str, ...]) -> list[str]:
    """The outcomes whose paired differences and Sobol indices a sweep reports."""
    return [name for name in ("spiral", "de_escalation") if name in names]


def _worst(names: tuple[str, ...]) -> str:
    """The tracked outcome of highest precedence: spiral, unless the scenario chose others."""
    return max((outcome_class(n) for n in names), key=lambda c: c.precedence).name


def _curves(names: tuple[str, ...]) -> list[str]:
    """The outcomes a sweep's curve shows: spiral and de-escalation, else the worst."""
    return _compared(names) or [_worst(names)]


def _table(
    results: dict[int, dict], points: list[dict], spec: SweepSpec, names: tuple[str, ...]
) -> tuple[pd.DataFrame, dict[int, np.ndarray]]:
    rows, codes = [], {}
    for index, point in enumerate(points):
        row = dict(results[index])
        overrides = row.pop("overrides", point)
        encoded = row.pop("outcome_codes", None)
        stored = row.pop("outcome_names", None)
        if encoded is not None:
            codes[index] = _decode_outcomes(encoded, stored, names)
        rows.append({"point": index, **overrides, **{k: v for k, v in row.items() if k != "point"}})
    table = pd.DataFrame(rows)
    if len(spec.params) == 1 and spec.design == "grid" and len(points) > 1:
        # Consecutive points of a one-parameter sweep, compared over the same runs.
        for name in _compared(names):
            diffs = [None] + [
                paired_difference(codes[i - 1], codes[i], name, names)
                if i in codes and i - 1 in codes
                else None
                for i in range(1, len(points))
            ]
            for key in ("diff", "ci95_low", "ci95_high"):
                table[f"paired_{key}_{name}"] = [d[key] if d else np.nan for d in diffs]
    return table, codes


def _sobol(spec: SweepSpec, table: pd.DataFrame, names: tuple[str, ...]) -> dict | None:
    """First-order and total Sobol indices of P(spiral) and P(de-escalation) (SALib)."""
    from SALib.analyze import sobol as sobol_analyze

    if (table["status"] != "ok").any():
        return None  # Sobol estimators need every point of the design
    problem = spec.Problem()
    out = {}
    for name in _compared(names):
        y = table[f"p_{name}"].to_numpy(dtype=float)
        si = sobol_analyze.analyze(
            problem, y, calc_second_order=False, seed=spec.seed, print_to_console=False
        )
        out[name] = {
            "names": problem["names"],
            **{k: [float(v) for v in si[k]] for k in ("S1", "S1_conf", "ST", "ST_conf")},
        }
    return out


def _manifest(scenario, spec, fingerprint, n_points, workers, scheduler, command) -> dict:
    return {
        "schema": SCHEMA_VERSION,
        "package": "escalation-sim",
        "versions": versions(),
        "scenario": scenario.name,
        "scenario_file": scenario.source,
        "fixed_overrides": {k: str(v) for k, v in scenario.overrides.items()},
        "sweep": spec.to_json(),
        "points": n_points,
        "fingerprint": fingerprint,
        "workers": workers,
        "scheduler": scheduler,
        "command": command if command is not None else sys.argv,
        "machine": {"cpus": os.cpu_count()},
    }


def _write_outputs(result, scenario, fingerprint, code, workers, scheduler, command, csv) -> None:
    out = result.out
    table = result.points
    atomic_write(out / "points.parquet", lambda h: table.to_parquet(h, index=False))
    if csv:
        atomic_write(out / "points.csv", lambda h: h.write(table.to_csv(index=False).encode()))
    if result.sensitivity is not None:
        atomic_write(out / "sensitivity.json", lambda h: h.write(_json(result.sensitivity)))
    figures = _plots(result)
    manifest = _manifest(
        scenario, result.spec, fingerprint, len(table), workers, scheduler, command
    )
    manifest.update(
        status="complete" if result.failed == 0 else "complete with failed points",
        code=code,
        finished=int((table["status"] == "ok").sum()),
        failed=result.failed,
        wall_time_s=round(result.wall_time, 3),
        files=[
            "points.parquet",
            *(["points.csv"] if csv else []),
            *(["sensitivity.json"] if result.sensitivity else []),
            *figures,
            "points/",
        ],
    )
    atomic_write(out / "manifest.json", lambda h: h.write(_json(manifest)))
    (out / INCOMPLETE).unlink(missing_ok=True)


_INCOMPLETE_TEXT = (
    "This sweep is not finished: it is still running, or it was interrupted or killed.\n"
    "The points done so far are in points/; run the same command with --resume to\n"
    "compute the others.\n"
)


def _plots(result: SweepResult) -> list[str]:
    from sim import plots

    spec, table, out = result.spec, result.points, result.out
    ok = table[table["status"] == "ok"]
    if ok.empty:
        return []
    written = []
    if spec.design == "grid" and len(spec.params) == 2:
        x, y = (p.path for p in spec.params)
        worst = _worst(result.outcome_names)
        fig = plots.plot_sweep_heatmap(table, x, y, outcome=worst, scenario=result.scenario)
        plots.save_figure(fig, out / f"sweep_heatmap_{worst}.png")
        written.append(f"sweep_heatmap_{worst}.png")
    elif len(spec.params) == 1:
        fig = plots.plot_sweep_curve(
            table,
            spec.params[0].path,
            outcomes=_curves(result.outcome_names),
            scenario=result.scenario,
        )
        plots.save_figure(fig, out / "sweep_curve.png")
        written.append("sweep_curve.png")
    if result.sensitivity is not None:
        fig = plots.plot_sensitivity(result.sensitivity)
        plots.save_figure(fig, out / "sensitivity.png")
        written.append("sensitivity.png")
    import matplotlib.pyplot as plt

    plt.close("all")
    return written


def _json(data: Any) -> bytes:
    return (json.dumps(data, indent=2, default=_jsonable) + "\n").encode()


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return str(value)
