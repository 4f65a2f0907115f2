"""Robust choices: how each value of a policy lever fares across uncertain worlds.

A *world* is one draw of the scenario's uncertain parameters (those written as
distributions, such as the response probabilities of ``us_russia_2021_uncertain.toml``);
a *policy* is one combination of lever values (``--lever states.us.policy.ratio=0.5,1,1.5``).
Every policy runs against the same worlds, and in each world the same runs with the
same random numbers (common random numbers): world ``w`` holds the values run ``w`` of
an ordinary ensemble would draw, and its ``R`` runs are runs ``w * R ... w * R + R - 1``
with those values given. A difference between two policies in one world is therefore
the levers' doing, not the draws'.

Per policy, over the worlds (Lempert, Popper and Bankes 2003, *Shaping the Next One
Hundred Years*, chapter 5):

* P(spiral) and P(de-escalation): the mean over worlds of each world's share of runs,
  with a 95% interval from the spread across worlds (which holds both the worlds'
  variety and each world's Monte Carlo noise);
* the worst decile: the mean P(spiral) over the tenth of worlds where this policy does
  worst;
* regret: in each world, this policy's P(spiral) minus the lowest P(spiral) any policy
  reaches in that world; its mean, 90th percentile and maximum. A world's estimate
  carries Monte Carlo noise (``R`` runs), and the minimum over policies picks up some
  of it, so small regrets are partly noise: see docs/discovery.md.

Paired differences between policies are means over worlds of per-world differences,
with intervals from their spread. Each policy is computed (and written) as a unit, on
one process, a local pool or a Dask cluster, and a killed computation resumes with
the policies not yet written.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis import units
from sim.analysis.fingerprint import code_fingerprint
from sim.analysis.manifest import SCHEMA_VERSION
from sim.analysis.results import (
    INCOMPLETE,
    OutputError,
    atomic_write,
    clear_output_dir,
    prepare_output_dir,
    versions,
)
from sim.analysis.runner import run_ensemble
from sim.analysis.sweep import (
    ParamSpec,
    SweepError,
    _record_failure,
    _resumable_manifest,
    _run_units,
    _start,
    parse_param,
)
from sim.distributions import PARAM_STEP, scenario_distributions
from sim.engine.rng import RunStreams, slot
from sim.outcome_classes import scenario_outcome_names
from sim.policies import plugin_state, restore_plugins
from sim.scenario import Scenario, ScenarioError, scenario_from_dict

__all__ = ["RobustError", "RobustResult", "parse_lever", "run_robust"]

WORLDS = 200
RUNS_PER_WORLD = 50
MAX_POLICIES = 10_000
WORST_SHARE = 0.10


class RobustError(SweepError):
    """A robustness analysis that cannot run as asked (bad lever, no uncertainty, ...)."""


def parse_lever(text: str) -> ParamSpec:
    """``PATH=SPEC`` with SPEC a list (``0.5,1,1.5``) or a grid (``0.5:1.5:3``)."""
    spec = parse_param(text)
    if spec.is_range:
        raise RobustError(
            f"--lever {text}: a lever takes values (a list a,b,c or a grid START:STOP:COUNT), "
            "not a range"
        )
    return spec


def policies(levers: list[ParamSpec]) -> list[dict[str, Any]]:
    """Every combination of the levers' values, the last lever varying fastest."""
    paths = [lever.path for lever in levers]
    return [
        dict(zip(paths, values, strict=True))
        for values in itertools.product(*(lever.values for lever in levers))
    ]


def draw_worlds(scenario: Scenario, worlds: int, seed: int, fixed: set[str]) -> pd.DataFrame:
    """The uncertain parameters' values in each world: world ``w`` draws what run ``w`` of
    an ordinary ensemble with this seed would draw. Paths in ``fixed`` (the levers) are
    not drawn."""
    streams = RunStreams(seed, np.arange(worlds))
    columns = {}
    for path, dist in sorted(scenario_distributions(scenario).items()):
        if path in fixed:
            continue
        columns[path] = dist.sample(streams.uniform(PARAM_STEP, slot("param", path)))
    return pd.DataFrame(columns)


def run_policy(
    raw: dict,
    source: str,
    overrides: dict[str, Any],
    world_values: dict[str, list],
    runs_per_world: int,
    seed: int,
    plugins: dict | None = None,
) -> dict[str, Any]:
    """One policy against every world: per world, the count of each outcome.

    Top-level (picklable) for process pools and Dask. Never raises: a failure is
    returned as a failed row.
    """
    started = time.perf_counter()
    row: dict[str, Any] = {"overrides": overrides}
    try:
        restore_plugins(plugins)
        scenario = scenario_from_dict(raw, source).with_overrides(overrides)
        worlds = len(next(iter(world_values.values())))  # draw_worlds gives at least one
        given = {path: np.repeat(np.asarray(v), runs_per_world) for path, v in world_values.items()}
        ens = run_ensemble(scenario, runs=worlds * runs_per_world, seed=seed, param_values=given)
    except ScenarioError as exc:
        row.update(status="failed", error="; ".join(str(p) for p in exc.problems))
        return row
    except Exception as exc:  # a policy must not take the others down
        row.update(status="failed", error=f"{type(exc).__name__}: {exc}")
        return row
    world = np.arange(worlds * runs_per_world) // runs_per_world
    row["outcome_names"] = list(ens.outcome_names)
    row["counts"] = {
        name: np.bincount(world[ens.outcome == code], minlength=worlds).tolist()
        for code, name in enumerate(ens.outcome_names)
    }
    row.update(status="ok", error=None, wall_time_s=round(time.perf_counter() - started, 4))
    return row


# ------------------------------------------------------------------ result
@dataclass
class RobustResult:
    """Each policy's outcome shares in each world, and the statistics over worlds."""

    levers: list[ParamSpec]
    policies: list[dict[str, Any]]
    worlds: pd.DataFrame  # one row per world: the drawn parameters
    shares: dict[str, np.ndarray]  # outcome -> (policies, worlds) share of runs
    runs_per_world: int
    seed: int
    outcome_names: tuple[str, ...]
    reference: int = 0  # the policy the paired differences are taken from
    failed: dict[int, str] = field(default_factory=dict)
    wall_time: float = 0.0
    out: Path | None = None
    #: The scenario it ran on (display names in the figure); None when read back.
    scenario: Scenario | None = field(default=None, repr=False)

    @property
    def n_worlds(self) -> int:
        return len(self.worlds)

    def _ok(self) -> np.ndarray:
        return np.array([i not in self.failed for i in range(len(self.policies))])

    def regret(self, outcome: str = "spiral") -> np.ndarray:
        """(policies, worlds): P(outcome) minus the lowest any (finished) policy reaches in
        that world (NaN for a failed policy)."""
        p = self.shares[outcome].astype(float)
        ok = self._ok()
        best = p[ok].min(axis=0)
        out = p - best
        out[~ok] = np.nan
        return out

    def paired_difference(self, a: int, b: int, outcome: str = "spiral") -> dict[str, float]:
        """P(outcome) under policy ``b`` minus under policy ``a``: the mean over worlds of
        the per-world differences (same worlds, same runs), with its 95% interval."""
        for i in (a, b):
            if i in self.failed:
                raise RobustError(f"policy {i} failed: {self.failed[i]}")
        d = self.shares[outcome][b].astype(float) - self.shares[outcome][a].astype(float)
        return _mean_interval(d, "diff")

    def table(self) -> pd.DataFrame:
        """One row per policy: the levers, P(spiral) and P(de-escalation) with 95%
        intervals, the worst decile, regret, and the paired difference from the reference."""
        rows = []
        worst = _worst_outcome(self.outcome_names)
        regret = self.regret(worst)
        n_worst = max(1, math.ceil(WORST_SHARE * self.n_worlds))
        for i, policy in enumerate(self.policies):
            row: dict[str, Any] = {"policy": i, **policy}
            if i in self.failed:
                rows.append({**row, "status": "failed", "error": self.failed[i]})
                continue
            row["status"] = "ok"
            for name in _reported(self.outcome_names):
                stats = _mean_interval(self.shares[name][i].astype(float), "p")
                row[f"p_{name}"] = stats["p"]
                row[f"ci95_low_{name}"] = stats["ci95_low"]
                row[f"ci95_high_{name}"] = stats["ci95_high"]
            p = self.shares[worst][i].astype(float)
            row[f"worst_decile_{worst}"] = float(np.sort(p)[-n_worst:].mean())
            row[f"regret_mean_{worst}"] = float(regret[i].mean())
            row[f"regret_p90_{worst}"] = float(np.quantile(regret[i], 0.9))
            row[f"regret_max_{worst}"] = float(regret[i].max())
            if self.reference not in self.failed:
                for name in _reported(self.outcome_names):
                    d = self.paired_difference(self.reference, i, name)
                    row[f"diff_{name}"] = d["diff"]
                    row[f"diff_ci95_low_{name}"] = d["ci95_low"]
                    row[f"diff_ci95_high_{name}"] = d["ci95_high"]
            rows.append(row)
        return pd.DataFrame(rows)

    def report(self) -> str:
        worst = _worst_outcome(self.outcome_names)
        table = self.table()
        ok = table[table["status"] == "ok"]
        label = {n: n.replace("_", "-") for n in self.outcome_names}
        lines = [
            f"{len(self.policies)} policies x {self.n_worlds} worlds x {self.runs_per_world} "
            f"runs per world (seed {self.seed}); common random numbers across policies.",
            "Uncertain parameters drawn per world: "
            + (", ".join(self.worlds.columns) or "none (every world is the same)")
            + ".",
            f"Paired differences are from policy {self.reference} "
            f"({_describe(self.policies[self.reference])}).",
            "",
        ]
        header = (
            f"{'policy':>6}  {'levers':<40} "
            + " ".join(f"{'P(' + label[n] + ')':>22}" for n in _reported(self.outcome_names))
            + f" {'worst 10%':>9} {'regret mean':>11} {'p90':>6} {'max':>6} "
            + f"{'diff P(' + label[worst] + ')':>24}"
        )
        lines.append(header)
        for row in table.itertuples(index=False):
            r = row._asdict()
            levers = _describe(self.policies[r["policy"]])
            if r["status"] != "ok":
                lines.append(f"{r['policy']:>6}  {levers:<40} failed: {r['error']}")
                continue
            cells = [
                f"{_pct(r[f'p_{n}'])} [{_pct(r[f'ci95_low_{n}'])}, {_pct(r[f'ci95_high_{n}'])}]"
                for n in _reported(self.outcome_names)
            ]
            diff = (
                f"{_signed(r[f'diff_{worst}'])} [{_signed(r[f'diff_ci95_low_{worst}'])}, "
                f"{_signed(r[f'diff_ci95_high_{worst}'])}]"
                if f"diff_{worst}" in r
                else ""
            )
            lines.append(
                f"{r['policy']:>6}  {levers:<40} "
                + " ".join(f"{c:>22}" for c in cells)
                + f" {_pct(r[f'worst_decile_{worst}']):>9} {_pct(r[f'regret_mean_{worst}']):>11}"
                + f" {_pct(r[f'regret_p90_{worst}']):>6} {_pct(r[f'regret_max_{worst}']):>6}"
                + f" {diff:>24}"
            )
        if not ok.empty:
            lowest = ok.loc[ok[f"p_{worst}"].idxmin()]
            minimax = ok.loc[ok[f"regret_max_{worst}"].idxmin()]
            tail = ok.loc[ok[f"worst_decile_{worst}"].idxmin()]
            lines += [
                "",
                f"Lowest mean P({label[worst]}): policy {int(lowest['policy'])}; lowest in the "
                f"worst decile of worlds: policy {int(tail['policy'])}; least maximum regret: "
                f"policy {int(minimax['policy'])}.",
            ]
        lines += [
            "",
            "P: mean over worlds of each world's share of runs, 95% interval from the spread "
            "across worlds. Worst 10%: mean P over the tenth of worlds where the policy does "
            "worst. Regret: P minus the lowest P of any policy in the same world (in "
            "percentage points). Differences are paired over the same worlds and runs; they "
            "are effects in this model.",
        ]
        return "\n".join(lines)

    def plot(self):
        """Each policy's P(spiral) across worlds: mean with interval, worst decile, regret."""
        from sim.plots.robust import plot_robust

        return plot_robust(self)

    def world_table(self) -> pd.DataFrame:
        """One row per (policy, world): the levers, the world's parameters and each
        outcome's count (what :func:`sim.discover` reads)."""
        frames = []
        for i, policy in enumerate(self.policies):
            if i in self.failed:
                continue
            frame = self.worlds.copy()
            for path, value in policy.items():
                frame[path] = value
            frame.insert(0, "world", np.arange(self.n_worlds))
            frame.insert(0, "policy", i)
            for name in self.outcome_names:
                frame[f"count_{name}"] = np.rint(self.shares[name][i] * self.runs_per_world).astype(
                    np.int64
                )
            frame["runs"] = self.runs_per_world
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)


def _reported(names: tuple[str, ...]) -> list[str]:
    return [n for n in ("spiral", "de_escalation") if n in names] or [_worst_outcome(names)]


def _worst_outcome(names: tuple[str, ...]) -> str:
    from sim.analysis.sweep import _worst

    return _worst(names)


def _mean_interval(values: np.ndarray, key: str) -> dict[str, float]:
    n = len(values)
    mean = float(values.mean())
    se = float(values.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
    return {key: mean, "se": se, "ci95_low": mean - 1.96 * se, "ci95_high": mean + 1.96 * se}


def _describe(policy: dict[str, Any]) -> str:
    return ", ".join(f"{path.rsplit('.', 1)[-1]}={value}" for path, value in policy.items())


def _pct(p: float) -> str:
    return f"{100 * p:.1f}%"


def _signed(p: float) -> str:
    return f"{100 * p:+.1f}"


# --------------------------------------------------------------- execution
def _fingerprint(raw: dict, payload: dict) -> str:
    text = json.dumps({"scenario": raw, **payload}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def run_robust(
    scenario: Scenario,
    levers: list[ParamSpec],
    *,
    worlds: int = WORLDS,
    runs_per_world: int = RUNS_PER_WORLD,
    seed: int | None = None,
    reference: int | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    force: bool = False,
    progress: bool = False,
    command: list[str] | None = None,
) -> RobustResult:
    """Run every policy (combination of lever values) against the same worlds."""
    started = time.perf_counter()
    if not levers:
        raise RobustError("give at least one --lever PATH=VALUES")
    paths = [lever.path for lever in levers]
    if len(set(paths)) != len(paths):
        raise RobustError("a lever is given twice")
    if not 1 <= worlds <= 1_000_000 or not 1 <= runs_per_world <= 1_000_000:
        raise RobustError("worlds and runs per world must be 1 to 1,000,000")
    seed = scenario.seed if seed is None else int(seed)
    grid = policies(levers)
    if len(grid) > MAX_POLICIES:
        raise RobustError(f"{len(grid):,} policies; at most {MAX_POLICIES:,}")
    for policy in grid:  # every lever value must be valid before anything runs
        try:
            scenario.with_overrides(policy)
        except ScenarioError as exc:
            raise RobustError(
                f"lever values {_describe(policy)}: {'; '.join(str(p) for p in exc.problems)}"
            ) from None
    world_frame = draw_worlds(scenario, worlds, seed, set(paths))
    if world_frame.shape[1] == 0:
        raise RobustError(
            f"{scenario.name}: no parameter is uncertain (drawn per run) once the levers are "
            "set, so every world would be the same; write the uncertain parameters as "
            "distributions (docs/scenario-format.md), or use sweep"
        )
    if reference is None:
        reference = _reference(scenario, grid)
    elif not 0 <= reference < len(grid):
        raise RobustError(f"reference policy {reference}: the policies are 0 to {len(grid) - 1}")
    names = scenario_outcome_names(scenario)
    payload = {
        "levers": [lever.describe() for lever in levers],
        "worlds": worlds,
        "runs_per_world": runs_per_world,
        "seed": seed,
        "outcomes": list(names),
    }
    fingerprint = _fingerprint(scenario.raw, payload)
    plugins = plugin_state()
    code = code_fingerprint(plugins)
    out_dir = Path(out) if out is not None else None
    done: dict[int, dict] = {}
    manifest: dict[str, Any] = {}
    if out_dir is not None:
        created = not out_dir.exists()
        done = _prepare(out_dir, fingerprint, code, resume, force)
        manifest = {
            "schema": SCHEMA_VERSION,
            "package": "escalation-sim",
            "versions": versions(),
            "robust": {**payload, "policies": len(grid), "reference": reference},
            "scenario": scenario.name,
            "scenario_file": scenario.source,
            "fixed_overrides": {k: str(v) for k, v in scenario.overrides.items()},
            "fingerprint": fingerprint,
            "code": code,
            "workers": workers,
            "scheduler": scheduler,
            "command": command if command is not None else sys.argv,
            "status": "running",
            **units.counts(done),
        }
        _start(out_dir, manifest, created, unit_dir="policies", text=_INCOMPLETE_TEXT)
    world_values = {path: world_frame[path].tolist() for path in world_frame.columns}
    tasks = [
        (i, (scenario.raw, scenario.source, policy, world_values, runs_per_world, seed, plugins))
        for i, policy in enumerate(grid)
        if i not in done
    ]
    results = dict(done)
    _run_units(
        tasks,
        run_policy,
        results,
        key="policy",
        unit_dir="policies",
        total=len(grid),
        out=out_dir,
        manifest=manifest,
        workers=workers,
        scheduler=scheduler,
        code=code,
        progress=progress,
    )
    result = _assemble(levers, grid, world_frame, results, runs_per_world, seed, names, reference)
    result.wall_time = time.perf_counter() - started
    result.out = out_dir
    result.scenario = scenario
    if out_dir is not None:
        try:
            _write_outputs(result, manifest)
        except BaseException as exc:
            _record_failure(out_dir, manifest, results, exc)
            raise
    return result


def _reference(scenario: Scenario, grid: list[dict[str, Any]]) -> int:
    """The policy whose lever values are the scenario's own (else the first)."""
    for i, policy in enumerate(grid):
        if all(_same(_value_at(scenario.raw, path), value) for path, value in policy.items()):
            return i
    return 0


def _value_at(raw: dict, path: str) -> Any:
    node: Any = raw
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return None
    return node


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def _assemble(levers, grid, world_frame, results, runs_per_world, seed, names, reference):
    n_worlds = max(1, len(world_frame))
    shares = {name: np.full((len(grid), n_worlds), np.nan) for name in names}
    failed = {}
    for i in range(len(grid)):
        row = results[i]
        if row.get("status") != "ok":
            failed[i] = row.get("error") or "unknown error"
            continue
        stored = row.get("outcome_names", [])
        if list(stored) != list(names):
            raise RobustError(
                f"policy {i} was computed under the outcomes ({', '.join(stored)}), not "
                f"({', '.join(names)})"
            )
        for name in names:
            shares[name][i] = np.asarray(row["counts"][name], dtype=float) / runs_per_world
    return RobustResult(
        levers=list(levers),
        policies=grid,
        worlds=world_frame,
        shares=shares,
        runs_per_world=runs_per_world,
        seed=seed,
        outcome_names=names,
        reference=reference,
        failed=failed,
    )


def _prepare(out: Path, fingerprint: str, code: dict, resume: bool, force: bool) -> dict[int, dict]:
    """Check or create the output directory; with ``resume``, the policies already done
    (verified; failed and damaged ones are computed again, the damaged named)."""
    if resume:
        _resumable_manifest(out, fingerprint, code)
        rows, damaged = units.read_units(out / "policies", "policy")
        for path, reason in damaged:
            print(f"escalation-sim: warning: {path}: {reason}; computing it again", file=sys.stderr)
        return {i: row for i, row in rows.items() if row.get("status") == "ok"}
    existed = out.is_dir() and any(out.iterdir())
    try:
        prepare_output_dir(out, force)
        if force and existed:
            clear_output_dir(out)  # one generation: nothing of the old analysis stays
    except OutputError as exc:
        raise RobustError(
            str(exc).replace("--force", "--resume (to continue) or --force")
        ) from None
    (out / "policies").mkdir(exist_ok=True)
    return {}


_INCOMPLETE_TEXT = (
    "This robustness analysis is not finished: it is still running, or it was\n"
    "interrupted or killed. The policies done so far are in policies/; run the same\n"
    "command with --resume to compute the others.\n"
)


def _write_outputs(result: RobustResult, manifest: dict) -> None:
    from sim.plots import save_figure

    out = result.out
    table = result.table()
    atomic_write(out / "robust.parquet", lambda h: table.to_parquet(h, index=False))
    atomic_write(out / "worlds.parquet", lambda h: result.worlds.to_parquet(h, index=False))
    worlds = result.world_table()
    atomic_write(out / "world_outcomes.parquet", lambda h: worlds.to_parquet(h, index=False))
    atomic_write(out / "report.txt", lambda h: h.write((result.report() + "\n").encode()))
    figures = []
    if len(result.failed) < len(result.policies):
        save_figure(result.plot(), out / "robust.png")
        figures.append("robust.png")
    manifest.update(
        status="complete" if not result.failed else "complete with failed policies",
        finished=len(result.policies) - len(result.failed),
        failed=len(result.failed),
        wall_time_s=round(result.wall_time, 3),
        files=[
            "robust.parquet",
            "worlds.parquet",
            "world_outcomes.parquet",
            "report.txt",
            *figures,
            "policies/",
        ],
    )
    atomic_write(out / "manifest.json", lambda h: h.write(_json(manifest)))
    (out / INCOMPLETE).unlink(missing_ok=True)


def _json(data: Any) -> bytes:
    from sim.analysis.sweep import _json as sweep_json

    return sweep_json(data)
