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
import multiprocessing
import os
import signal
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
from sim.analysis.results import INCOMPLETE, OutputError, atomic_write, prepare_output_dir, versions
from sim.analysis.runner import check_stop, run_ensemble
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
            context = multiprocessing.get_context("forkserver")
            # Workers ignore Ctrl-C: the main process catches it and stops them (close).
            self._pool = cf.ProcessPoolExecutor(
                max_workers=workers, mp_context=context, initializer=_ignore_sigint
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
            from distributed import as_completed

            futures = {}
            for index, args in tasks:
                future = self._client.submit(task, *args, pure=False)
                futures[future] = index
            for future in as_completed(futures):
                yield futures[future], future.result()
        elif self._pool is not None:
            futures = {self._pool.submit(task, *args): index for index, args in tasks}
            for future in cf.as_completed(futures):
                yield futures[future], future.result()
        else:
            for index, args in tasks:
                yield index, task(*args)

    def close(self, abort: bool = False) -> None:
        """Shut down; with ``abort`` (an interrupt), stop running points at once."""
        if self._pool is not None:
            if abort:
                processes = list((getattr(self._pool, "_processes", None) or {}).values())
                self._pool.shutdown(wait=False, cancel_futures=True)
                for process in processes:
                    process.terminate()
                for process in processes:
                    process.join(timeout=2)
            else:
                self._pool.shutdown(cancel_futures=True)
        if self._client is not None:
            self._client.close()


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


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
    out_dir = Path(out) if out is not None else None
    done: dict[int, dict] = {}
    if out_dir is not None:
        done = _prepare_sweep_dir(out_dir, fingerprint, resume, force, names)
        manifest = _manifest(scenario, spec, fingerprint, len(points), workers, scheduler, command)
        manifest["status"] = "running"
        atomic_write(out_dir / INCOMPLETE, lambda h: h.write(_INCOMPLETE_TEXT.encode()))
        atomic_write(out_dir / "manifest.json", lambda h: h.write(_json(manifest)))
    plugins = plugin_state()
    tasks = [
        (i, (raw, scenario.source, point, spec.runs, spec.seed, plugins))
        for i, point in enumerate(points)
        if i not in done
    ]
    results = dict(done)
    executor = _Executor(workers, scheduler) if tasks else None
    bar = tqdm(
        total=len(points),
        initial=len(done),
        unit="point",
        disable=not progress,
        file=sys.stderr,
        leave=False,
        delay=1.0,
    )
    interrupted = False
    try:
        for index, row in executor.map_unordered(tasks) if executor else ():
            check_stop()
            row = {"point": index, **row}
            results[index] = row
            if out_dir is not None:
                atomic_write(_point_path(out_dir, index), lambda h, r=row: h.write(_json(r)))
            bar.update(1)
    except BaseException:
        interrupted = True
        raise
    finally:
        bar.close()
        if executor is not None:
            executor.close(abort=interrupted)
        if interrupted and out_dir is not None:
            manifest.update(status="interrupted", finished=len(results))
            atomic_write(out_dir / "manifest.json", lambda h: h.write(_json(manifest)))

    table, codes = _table(results, points, spec, names)
    sensitivity = _sobol(spec, table, names) if spec.design == "sobol" else None
    result = SweepResult(
        spec, table, sensitivity, time.perf_counter() - started, out_dir, codes, names, scenario
    )
    if out_dir is not None:
        _write_outputs(result, scenario, fingerprint, workers, scheduler, command, csv)
    return result


def _prepare_sweep_dir(
    out: Path, fingerprint: str, resume: bool, force: bool, names: tuple[str, ...]
) -> dict[int, dict]:
    """Check or create the output directory; with ``resume``, the points already done."""
    if resume:
        manifest_path = out / "manifest.json"
        if not manifest_path.is_file():
            raise SweepError(f"{out}: nothing to resume (no manifest.json)")
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("fingerprint") != fingerprint:
            raise SweepError(
                f"{out}: the sweep there has a different scenario or design; "
                "resume it with the same arguments, or choose another --out"
            )
        done = {}
        for path in sorted((out / "points").glob("*.json")):
            row = json.loads(path.read_text())
            problem = outcome_set_problem(row, names)
            if problem:
                raise SweepError(
                    f"{path}: {problem}; this version cannot resume it (start anew with "
                    "--force, or choose another --out)"
                )
            done[int(row["point"])] = row
        return done
    try:
        prepare_output_dir(out, force)
    except OutputError as exc:
        raise SweepError(str(exc).replace("--force", "--resume (to continue) or --force")) from None
    (out / "points").mkdir(exist_ok=True)
    for stale in (out / "points").glob("*.json"):
        stale.unlink()  # only reached with --force
    return {}


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


def _write_outputs(result, scenario, fingerprint, workers, scheduler, command, csv) -> None:
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
