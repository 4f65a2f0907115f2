"""The Python API for notebooks and scripts: load, change, run, look.

>>> import sim
>>> scenario = sim.load_scenario("scenarios/us_russia_2021.toml")
>>> result = sim.run(scenario.with_overrides({"states.us.policy.reciprocate": 0.5}), runs=2000)
>>> result.summary()["outcomes"]["spiral"]["p"]            # doctest: +SKIP
>>> result.plot_fan_chart()                                 # doctest: +SKIP

The command line (:mod:`sim.cli`) is a thin layer over these functions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim import run_fields
from sim.analysis.compare import CompareError, Comparison, compare_ensembles
from sim.analysis.outcomes import wilson
from sim.analysis.results import ResultsError, staged_output, write_results
from sim.analysis.runner import DEFAULT_BLOCK_SIZE, Ensemble, run_ensemble
from sim.analysis.sweep import SweepResult, SweepSpec, parse_spec, run_sweep
from sim.outcome_classes import OUTCOMES, outcome_class, scenario_outcome_names
from sim.scenario import (
    Scenario,
    ScenarioError,
    forecast_warnings,
    load_scenario,
    scenario_from_dict,
)

__all__ = [
    "Result",
    "compare",
    "compare_results",
    "load_results",
    "load_scenario",
    "offer_whatif",
    "paired_difference",
    "run",
    "sweep",
]


class Result:
    """The results of one scenario's Monte Carlo ensemble.

    Made by :func:`run` or :func:`load_results`. ``result.runs`` is the per-run table,
    ``result.trajectories`` the staff after every step (a long table), and the
    ``plot_*`` methods draw the standard figures.

    >>> result = sim.run("scenarios/teaching_tit_for_tat.toml", runs=500)  # doctest: +SKIP
    >>> result.runs.outcome.value_counts()                                  # doctest: +SKIP
    """

    def __init__(self, ensemble: Ensemble) -> None:
        self.ensemble = ensemble
        self._runs: pd.DataFrame | None = None
        self._summary: dict | None = None

    # ------------------------------------------------------------ basics
    @property
    def scenario(self) -> Scenario:
        """The scenario as run (overrides applied)."""
        return self.ensemble.scenario

    @property
    def seed(self) -> int:
        return self.ensemble.seed

    @property
    def n_runs(self) -> int:
        return self.ensemble.n_runs

    @property
    def outcome_names(self) -> tuple[str, ...]:
        """The outcome classes of this result, in code order (``unresolved`` first)."""
        return self.ensemble.outcome_names

    @property
    def timed_outcomes(self) -> tuple[str, ...]:
        """The outcome classes reached at a step (all but ``unresolved``), in code order."""
        return tuple(n for n in self.outcome_names if outcome_class(n).timed)

    def __repr__(self) -> str:
        p = self.summary()["outcomes"]
        shares = ", ".join(
            f"{outcome_class(name).label} {p[name]['p']:.3f}" for name in self.timed_outcomes
        )
        return f"<Result {self.scenario.name!r}: {self.n_runs:,} runs, seed {self.seed}; {shares}>"

    def summary(self) -> dict:
        """Outcome probabilities with 95% Wilson intervals, timing, staff (JSON-ready).

        >>> result.summary()["outcomes"]["spiral"]   # doctest: +SKIP
        {'p': 0.193, 'count': 1928, 'ci95': [0.185, 0.201]}
        """
        if self._summary is None:
            self._summary = _with_whatif_keys(self.ensemble.summary(), self.scenario)
        return self._summary

    @property
    def runs(self) -> pd.DataFrame:
        """One row per run: outcome, its step, date and weeks, final staff, staff lost, ...

        >>> result.runs.groupby("offer_accepted").outcome.value_counts()  # doctest: +SKIP
        """
        if self._runs is None:
            self._runs = self.ensemble.runs_table()
        return self._runs

    @property
    def events(self) -> pd.DataFrame | None:
        """The event record: every announced measure and conciliatory move of every run.

        One row per act and run, with its date, actor, target, mission, instrument,
        size, cause (a scenario event, an answer to which act, an initiative,
        solidarity, a reciprocation, an accepted offer), deadline and fate (carried
        out, cancelled, lifted, not feasible; offers accepted or lapsed), and the staff
        it removed or restored; the columns are described in :mod:`sim.engine.event_record`.
        None if it was not kept (``run(..., keep_events=False)``, ``--no-events``).

        >>> ev = result.events                                            # doctest: +SKIP
        >>> ev[(ev.run == 0) & ~ev.history][["date", "actor", "cause"]]  # doctest: +SKIP
        """
        return self.ensemble.events

    def story(self, run: int | str, history: bool = False) -> str:
        """One run told as a dated narrative, as ``python -m sim story DIR --run`` prints it.

        ``run`` is a run index, or an outcome name for a typical run of that outcome.

        >>> print(result.story("spiral"))                                 # doctest: +SKIP
        """
        from sim.analysis import story

        return story.tell(*story.run_of(self, run), history=history)

    @property
    def trajectories(self) -> pd.DataFrame | None:
        """Total staff per mission after every step: index (run, date), one column per mission.

        None if the trajectories were not kept (``run(..., keep_trajectories=False)``).

        >>> result.trajectories.xs(0, level="run").plot()   # doctest: +SKIP
        """
        traj = self.ensemble.trajectories
        if traj is None:
            return None
        steps, missions, runs = traj.shape
        dates = pd.to_datetime([self.scenario.step_end(s) for s in range(steps)])
        index = pd.MultiIndex.from_product([self.ensemble.run_ids, dates], names=["run", "date"])
        values = np.moveaxis(traj, -1, 0).reshape(runs * steps, missions)
        return pd.DataFrame(values, index=index, columns=self.ensemble.mission_ids)

    def cumulative_incidence(self) -> pd.DataFrame:
        """Share of runs that reached each timed outcome by the end of each step.

        Competing risks: each run counts once, for its class at the horizon, from the
        step that class was reached (:mod:`sim.outcome_classes`), so the last row equals
        the horizon's shares. Columns ``spiral``, ``spiral_low``, ``spiral_high`` (95%
        Wilson band) and the same for every other timed outcome of the result
        (:attr:`timed_outcomes`: by default ``de_escalation`` and ``relapse``), by date.

        >>> result.cumulative_incidence().iloc[-1]   # doctest: +SKIP
        """
        sc = self.scenario
        first = sc.forecast_step
        n_steps = sc.n_steps - first
        n = self.n_runs
        dates = pd.to_datetime([sc.step_end(first + i) for i in range(n_steps)])
        table = pd.DataFrame(index=pd.Index(dates, name="date"))
        for code, name in enumerate(self.outcome_names):
            if not outcome_class(name).timed:
                continue
            steps = self.ensemble.outcome_step[self.ensemble.outcome == code] - first
            counts = np.cumsum(np.bincount(steps, minlength=n_steps)[:n_steps])
            # one interval per distinct count: the curve is flat for long stretches
            intervals = {int(k): wilson(int(k), n) for k in np.unique(counts)}
            bands = [intervals[int(k)] for k in counts]
            table[name] = counts / n
            table[f"{name}_low"] = [b[0] for b in bands]
            table[f"{name}_high"] = [b[1] for b in bands]
        return table

    def save(self, directory: str | Path, force: bool = False) -> Path:
        """Write the results (as ``run --out`` does); :func:`load_results` reads them back."""
        command = ["sim.api", "Result.save"]
        with staged_output(directory, force, command) as staging:  # one generation
            write_results(self.ensemble, staging, self.summary(), command)
        return Path(directory)

    # ------------------------------------------------------------- plots
    def plot_fan_chart(self, missions: Sequence[str] | None = None, ax=None):
        """Staff of each mission over time: median, 50% and 90% bands, replayed history, events."""
        from sim import plots
        from sim.plots import style, trajectories

        traj = self._require_trajectories()
        sc = self.scenario
        ids = list(self.ensemble.mission_ids)
        chosen, shown = (list(missions), "") if missions is not None else (
            trajectories.fan_chart_missions(sc, ids, traj))  # fmt: skip
        unknown = [m for m in chosen if m not in ids]
        if unknown:
            raise ValueError(f"unknown mission {unknown[0]!r}; known: {', '.join(ids)}")
        dates = [sc.step_end(s) for s in range(sc.n_steps)]
        staff = trajectories.fan_chart_staff(sc, ids, traj, chosen)
        events = trajectories.scenario_events(sc, self.events)
        return plots.plot_fan_chart(
            dates, staff, sc.forecast_start, events=events, ax=ax, notes=[shown],
            title=f"Staff per mission: {style.scenario_title(sc)}",
        )  # fmt: skip

    def plot_cumulative_incidence(self, ax=None):
        """Cumulative incidence of each timed outcome, with 95% bands."""
        from sim import plots
        from sim.plots import style

        cif = self.cumulative_incidence()
        incidence = {
            name: (
                cif[name].to_numpy(),
                cif[f"{name}_low"].to_numpy(),
                cif[f"{name}_high"].to_numpy(),
            )
            for name in self.timed_outcomes
        }
        dates = [d.date() for d in cif.index]
        sc, quiet = self.scenario, self.scenario.outcomes
        weeks = quiet.quiet_steps * sc.step_days / 7
        return plots.plot_cumulative_incidence(
            dates, incidence, self.n_runs, ax=ax,
            title=f"Outcomes over time: {style.scenario_title(sc)}",
            quiet_period=f"{weeks:g} weeks" if quiet.quiet else None,
        )  # fmt: skip

    def plot_outcomes(self, ax=None):
        """Each outcome's probability with its 95% interval."""
        from sim.plots import style

        return compare({style.scenario_title(self.scenario): self}, ax=ax)

    def plot_time_to_outcome(self, ax=None):
        """Distribution of the weeks from the forecast start to each outcome."""
        from sim import plots
        from sim.plots import style

        weeks = self.ensemble.weeks_to_outcome()
        data = {
            name: weeks[self.ensemble.outcome == code]
            for code, name in enumerate(self.outcome_names)
            if outcome_class(name).timed
        }
        sc = self.scenario
        return plots.plot_time_to_outcome(
            data, ax=ax, title=f"Time to outcome: {style.scenario_title(sc)}",
            start=sc.date_of(sc.forecast_step), runs=self.n_runs,
            horizon_weeks=(sc.n_steps - sc.forecast_step) * sc.step_days / 7,
        )  # fmt: skip

    def plot_all(self, directory: str | Path, svg: bool = False) -> list[Path]:
        """Write every standard figure as PNG (and SVG) into ``directory``."""
        import matplotlib.pyplot as plt

        from sim import plots

        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        figures = {
            "outcomes": self.plot_outcomes,
            "cumulative_incidence": self.plot_cumulative_incidence,
            "time_to_outcome": self.plot_time_to_outcome,
        }
        if self.ensemble.trajectories is not None:
            figures["fan_chart"] = self.plot_fan_chart
        written = []
        for name, draw in figures.items():
            fig = draw()
            written += plots.save_figure(fig, out / f"{name}.{'svg' if svg else 'png'}")
            plt.close(fig)
        return written

    def _require_trajectories(self) -> np.ndarray:
        if self.ensemble.trajectories is None:
            raise ValueError("this result has no trajectories: run with keep_trajectories=True")
        return self.ensemble.trajectories


def _with_whatif_keys(summary: dict, scenario: Scenario) -> dict:
    """The ensemble's summary with ``events_added`` and ``events_dropped`` (only when
    there are any) and
    ``warnings`` (always; see :func:`sim.scenario.forecast_warnings`) after ``overrides``."""
    extra: dict[str, Any] = {}
    if scenario.added_events:
        extra["events_added"] = [dict(rec) for rec in scenario.added_events]
    if scenario.dropped_events:
        extra["events_dropped"] = [dict(rec) for rec in scenario.dropped_events]
    extra["warnings"] = forecast_warnings(scenario)
    out: dict[str, Any] = {}
    for key, value in summary.items():
        out[key] = value
        if key == "overrides":
            out.update(extra)
    if "warnings" not in out:
        out.update(extra)
    return out


def run(
    scenario: Scenario | str | Path,
    runs: int | None = None,
    seed: int | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
    events: Sequence[Mapping[str, Any]] | None = None,
    take_offer: str | None = None,
    drop_events: Sequence[int] | None = None,
    keep_trajectories: bool = True,
    keep_events: bool = True,
    block_size: int = DEFAULT_BLOCK_SIZE,
    progress: bool = False,
) -> Result:
    """Run a scenario's Monte Carlo ensemble.

    ``scenario`` is a :class:`~sim.scenario.Scenario` or a path to a TOML file;
    ``overrides`` change values by dotted path. ``events`` are what-if events, dicts
    with the keys of ``[[events]]`` (``--event``), added after the overrides, in date
    order; ``take_offer="us"`` adds the US acceptance of the offer made toward it
    (``--take-offer``): see :meth:`Scenario.with_events`. ``drop_events`` leaves out
    the scenario's own events at those positions (``--drop-event``), after the
    overrides and before the what-ifs. Trajectories are kept by
    default (for the fan chart): 4 bytes per run, step and mission; so is the event
    record (:attr:`Result.events`), about 120 bytes per measure or move.

    >>> result = sim.run("scenarios/us_russia_2021.toml", runs=1000, seed=1)  # doctest: +SKIP
    >>> sim.run("scenarios/us_russia_2021.toml", take_offer="us")          # doctest: +SKIP
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    if overrides:
        scenario = scenario.with_overrides(dict(overrides))
    if drop_events:
        scenario = scenario.without_events(list(drop_events))
    if events or take_offer is not None:
        scenario = scenario.with_events(events or [], take_offer=take_offer)
    ensemble = run_ensemble(
        scenario,
        runs=runs,
        seed=seed,
        block_size=block_size,
        keep_trajectories=keep_trajectories,
        keep_events=keep_events,
        progress=progress,
    )
    return Result(ensemble)


def compare(results: Mapping[str, Result], ax=None):
    """Outcome probabilities of several results side by side (e.g. policies compared).

    >>> sim.compare({"as recorded": base, "US reverses": reversed_})   # doctest: +SKIP
    """
    from sim import plots

    table = {label: result.summary()["outcomes"] for label, result in results.items()}
    runs = {result.n_runs for result in results.values()}
    title = "Outcome probabilities" + (f" ({runs.pop():,} runs each)" if len(runs) == 1 else "")
    return plots.plot_outcome_probabilities(table, ax=ax, title=title)


def compare_results(
    results: Mapping[str, Result | str | Path] | Sequence[Result | str | Path],
    labels: Sequence[str] | None = None,
) -> Comparison:
    """Outcome probabilities of several results side by side, with differences from the first.

    ``results`` maps labels to results (or to directories written by ``run --out``),
    or is a sequence of them; ``labels`` names them in order (by default the mapping's
    keys, a directory's name, or a result's scenario). The first is the baseline. A
    difference is paired (an interval from the run-by-run differences) where the two
    share their seed and runs, and said not to be otherwise: see
    :mod:`sim.analysis.compare`. Raises :class:`~sim.analysis.compare.CompareError`.

    >>> c = sim.compare_results({"as recorded": base, "offer taken": taken})  # doctest: +SKIP
    >>> print(c.format()); c.table                                           # doctest: +SKIP
    >>> from sim.plots import plot_paired_differences; plot_paired_differences(c)  # doctest: +SKIP
    """
    items = list(results.items()) if isinstance(results, Mapping) else [(None, r) for r in results]
    if labels is not None:
        labels = [str(label) for label in labels]
        if len(labels) != len(items):
            raise CompareError(f"{len(labels)} label(s) for {len(items)} results")
    loaded = [r if isinstance(r, Result) else _result_to_compare(r) for _, r in items]
    if labels is None:
        labels = _default_labels([key for key, _ in items], [r for _, r in items], loaded)
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise CompareError(
            f"labels must differ; repeated: {', '.join(repeated)} (name them: --label, or labels=)"
        )
    return compare_ensembles({label: r.ensemble for label, r in zip(labels, loaded, strict=True)})


def _result_to_compare(directory: str | Path) -> Result:
    """A run's results read from ``directory``, or a CompareError that says what is wrong."""
    from sim.analysis.results import INCOMPLETE

    out = Path(directory)
    if not out.exists():
        raise CompareError(f"{out}: no such directory")
    if not out.is_dir():
        raise CompareError(f"{out}: not a directory (expected one written by run --out)")
    if (out / INCOMPLETE).exists():
        raise CompareError(
            f"{out}: the results there are incomplete (it holds {INCOMPLETE}: the run "
            "writing them was interrupted, killed, or is still going)"
        )
    if not (out / "manifest.json").is_file():
        raise CompareError(f"{out}: no manifest.json; not a directory written by run --out")
    try:
        manifest = json.loads((out / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        raise CompareError(f"{out}: manifest.json is damaged ({exc})") from None
    if isinstance(manifest, dict) and "sweep" in manifest:
        raise CompareError(
            f"{out}: a sweep's results (compare takes directories written by run --out; "
            "a sweep's own table compares its points)"
        )
    try:
        loaded = load_results(out)
    except ResultsError as exc:  # names the damaged file and what is wrong with it
        raise CompareError(f"{out}: cannot read results ({exc})") from None
    except Exception as exc:  # a damaged directory can fail in many ways: say which
        raise CompareError(f"{out}: cannot read results ({type(exc).__name__}: {exc})") from None
    if not isinstance(loaded, Result):
        raise CompareError(f"{out}: not the results of a run (expected run --out)")
    return loaded


def _default_labels(keys: list, given: list, loaded: list[Result]) -> list[str]:
    """Mapping keys; else directory names (the paths as given if two names clash);
    else scenario names (numbered if repeated)."""
    if all(key is not None for key in keys):
        return [str(key) for key in keys]
    labels = []
    for r, result in zip(given, loaded, strict=True):
        if isinstance(r, Result):
            labels.append(result.scenario.name)
        else:
            labels.append(Path(r).resolve().name or str(r))
    if len(set(labels)) < len(labels):
        labels = [
            str(r) if not isinstance(r, Result) else f"{label} ({i + 1})"
            for i, (r, label) in enumerate(zip(given, labels, strict=True))
        ]
    return labels


def paired_difference(a: Result, b: Result, outcome: str = "spiral") -> dict[str, float]:
    """P(outcome) in ``b`` minus in ``a``, run by run (common random numbers).

    Both results must cover the same runs with the same seed, as ``sim.run`` gives for
    the same ``runs`` and ``seed``: then the interval comes from the per-run differences
    and is much narrower than comparing the two results' own intervals.

    >>> taken = sim.run(scenario, take_offer="us")                   # doctest: +SKIP
    >>> sim.paired_difference(base, taken, "spiral")                # doctest: +SKIP
    {'diff': -0.1365, 'se': 0.0034, 'ci95_low': -0.1432, 'ci95_high': -0.1298}
    """
    from sim.analysis.sweep import paired_difference as paired

    if a.seed != b.seed or not np.array_equal(a.ensemble.run_ids, b.ensemble.run_ids):
        raise ValueError("a paired difference needs the same seed and the same runs in both")
    if a.outcome_names != b.outcome_names:
        raise ValueError(
            f"a paired difference needs the same outcome classes in both, found "
            f"{', '.join(a.outcome_names)} and {', '.join(b.outcome_names)}"
        )
    return paired(a.ensemble.outcome, b.ensemble.outcome, outcome, a.outcome_names)


def offer_whatif(result: Result) -> list[dict[str, Any]]:
    """What each conditional offer of the forecast changes, if its target takes it.

    For every state that an ``offer`` event dated in the forecast is made to, the
    scenario is run again with that state accepting the offer the step after it is made
    (``take_offer``, the ``--take-offer`` recipe), over the same runs and seed, and
    each outcome's probability is compared run by run with ``result``: a paired
    difference with its 95% interval. This is an effect *in this model* of taking the
    offer on that date; the split of ``result``'s runs by whether the offer happened
    to be accepted is not, since those runs differ in more than the offer.

    States that already accept in ``result`` (a what-if event of theirs) are skipped.

    >>> sim.offer_whatif(result)[0]["outcomes"]["spiral"]                # doctest: +SKIP
    {'base': 0.3836, 'whatif': 0.2471, 'diff': -0.1365, 'ci95_low': -0.1432, 'ci95_high': -0.1298}
    """
    from sim.analysis.sweep import paired_difference as paired
    from sim.engine.missions import Kind

    sc = result.scenario
    names = result.outcome_names
    already = {rec.get("actor") for rec in sc.added_events if rec.get("kind") == "cancel"}
    targets = []
    for ev in sc.events:
        if ev.kind == Kind.OFFER and ev.date >= sc.forecast_start and ev.target not in already:
            if ev.target not in [t for t, _ in targets]:
                targets.append((ev.target, ev))
    out = []
    for state, offer in targets:
        try:
            variant = run(
                sc,
                runs=result.n_runs,
                seed=result.seed,
                take_offer=state,
                keep_trajectories=False,
                keep_events=False,
            )
        except ScenarioError:
            continue  # several offers toward the state, or none left to accept in
        accept = next(rec for rec in variant.scenario.added_events)
        outcomes = {}
        for name in result.outcome_names:
            d = paired(result.ensemble.outcome, variant.ensemble.outcome, name, names)
            outcomes[name] = {
                "base": result.summary()["outcomes"][name]["p"],
                "whatif": variant.summary()["outcomes"][name]["p"],
                "diff": d["diff"],
                "ci95_low": d["ci95_low"],
                "ci95_high": d["ci95_high"],
            }
        out.append(
            {
                "state": state,
                "offerer": offer.actor,
                "offer_date": offer.date.isoformat(),
                "accepted_on": str(accept.get("date")),
                "runs": result.n_runs,
                "outcomes": outcomes,
            }
        )
    return out


def sweep(
    scenario: Scenario | str | Path,
    params: Mapping[str, Any],
    *,
    design: str = "grid",
    samples: int | None = None,
    runs: int = 1000,
    seed: int | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    force: bool = False,
    csv: bool = False,
    progress: bool = False,
    events: Sequence[Mapping[str, Any]] | None = None,
    take_offer: str | None = None,
) -> SweepResult:
    """Run an ensemble at every point of a design; ``params`` maps dotted paths to specs.

    Specs as on the command line (``"0:1:11"``, ``"0.5,1"``, ``"0..1"``) or lists.
    ``events`` and ``take_offer`` add what-if events to every point, as in :func:`run`
    (``events.N`` in ``params`` then counts them too, in date order).

    >>> s = sim.sweep("scenarios/us_russia_2021.toml",
    ...               {"states.us.policy.reciprocate": "0:1:6"}, runs=1000)  # doctest: +SKIP
    >>> s.points[["states.us.policy.reciprocate", "p_spiral"]]               # doctest: +SKIP
    >>> s.plot_curve()                                                       # doctest: +SKIP
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    if events or take_offer is not None:
        scenario = scenario.with_events(events or [], take_offer=take_offer)
    spec = SweepSpec(
        [parse_spec(path, value) for path, value in params.items()],
        design=design,
        samples=samples,
        runs=runs,
        seed=scenario.seed if seed is None else seed,
    )
    return run_sweep(
        scenario,
        spec,
        workers=workers,
        scheduler=scheduler,
        out=out,
        resume=resume,
        force=force,
        csv=csv,
        progress=progress,
    )


def robust(
    scenario: Scenario | str | Path,
    levers: Mapping[str, Sequence[Any]] | Sequence[str],
    *,
    worlds: int = 200,
    runs_per_world: int = 50,
    seed: int | None = None,
    reference: int | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    force: bool = False,
    progress: bool = False,
):
    """Every combination of lever values against the same uncertain worlds
    (:mod:`sim.analysis.robust`): a :class:`~sim.analysis.robust.RobustResult`.

    ``levers`` maps dotted paths to their values (``{"states.us.policy.ratio": [0.5, 1]}``)
    or is a list of ``PATH=SPEC`` strings as on the command line.

    >>> r = sim.robust("scenarios/us_russia_2021_uncertain.toml",   # doctest: +SKIP
    ...                {"states.us.policy.ratio": [0.5, 1.0, 1.5]})
    >>> r.table()                                                    # doctest: +SKIP
    """
    from sim.analysis.robust import parse_lever, run_robust
    from sim.analysis.sweep import ParamSpec

    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    if isinstance(levers, Mapping):
        specs = [ParamSpec(path, values=tuple(values)) for path, values in levers.items()]
    else:
        specs = [parse_lever(text) for text in levers]
    return run_robust(
        scenario,
        specs,
        worlds=worlds,
        runs_per_world=runs_per_world,
        seed=seed,
        reference=reference,
        workers=workers,
        scheduler=scheduler,
        out=out,
        resume=resume,
        force=force,
        progress=progress,
    )


def load_results(directory: str | Path, partial: bool = False) -> Result | SweepResult:
    """Read what ``run --out``, ``sweep --out`` or ``robust --out`` wrote (a :class:`Result`,
    a sweep's result or a :class:`~sim.analysis.robust.RobustResult`).

    Refuses, with a :class:`~sim.analysis.results.ResultsError` that names the file and
    says what to do, a directory that is not a results directory, whose results are
    incomplete (it holds ``INCOMPLETE``, or its manifest's status is ``running``,
    ``interrupted`` or ``failed``), whose manifest is of another schema version, or
    whose files are damaged (:mod:`sim.analysis.manifest`). ``partial=True`` reads what
    an unfinished sweep or robustness analysis has finished so far: the finished points
    (a sweep) or policies (the others are marked failed, "not computed"); a run has no
    partial form.

    >>> result = sim.load_results("results/us_russia_2021")   # doctest: +SKIP
    >>> sofar = sim.load_results("results/sweep", partial=True)  # doctest: +SKIP
    """
    from sim.analysis.manifest import check_results_dir

    out = Path(directory)
    manifest, kind = check_results_dir(out, partial=partial)
    if kind == "sweep":
        return _load_sweep(out, manifest, partial)
    if kind == "robust":
        return _load_robust(out, manifest, partial)
    return _load_run(out, manifest)


# Readers of a results directory's files: a missing or damaged file is a ResultsError
# that names it, never an exception from the library that reads it.
def _damaged(path: Path, exc: BaseException, what: str) -> ResultsError:
    if isinstance(exc, FileNotFoundError):
        return ResultsError(f"{path}: missing")
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if len(text) > 160:
        text = text[:157] + "..."
    return ResultsError(f"{path}: damaged: cannot be read as {what} ({text})")


def _listed(manifest: dict, name: str) -> bool | None:
    """Whether the manifest lists ``name`` among its files (None: it lists none)."""
    files = manifest.get("files")
    return None if files is None else name in files


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises many kinds on a damaged file
        raise _damaged(path, exc, "a Parquet table") from None


def _read_toml(path: Path) -> dict:
    import tomllib

    try:
        return tomllib.loads(path.read_bytes().decode("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ResultsError(f"{path}: damaged: not valid TOML ({exc})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _damaged(path, exc, "TOML text") from None


def _optional_file(out: Path, manifest: dict, name: str) -> Path | None:
    """``out/name`` if this generation wrote it: when the manifest lists its files, a
    file it does not list is left by something else and ignored, one it lists must be
    there."""
    path = out / name
    listed = _listed(manifest, name)
    if listed is False:
        return None
    if not path.is_file():
        if listed:
            raise ResultsError(f"{path}: missing (manifest.json lists it)")
        return None
    return path


def _load_run(out: Path, manifest: dict) -> Result:
    scenario_file = out / "scenario.toml"
    raw = _read_toml(scenario_file)
    try:
        scenario = scenario_from_dict(raw, manifest["scenario_file"])
    except ScenarioError as exc:
        problems = "; ".join(str(p) for p in exc.problems)
        raise ResultsError(f"{scenario_file}: not a valid scenario: {problems}") from None
    except Exception as exc:
        raise _damaged(scenario_file, exc, "a scenario") from None
    scenario.overrides = dict(manifest.get("overrides", {}))
    scenario.added_events = list(manifest.get("events_added", []))
    scenario.dropped_events = list(manifest.get("events_dropped", []))
    runs_file = out / "runs.parquet"
    table = _read_parquet(runs_file)
    if len(table) != manifest["runs"]:
        raise ResultsError(
            f"{runs_file}: holds {len(table):,} runs where manifest.json says "
            f"{manifest['runs']:,}: the files are not of one run (damaged, or mixed by hand); "
            "run it again with --force"
        )
    if "run" not in table.columns:
        raise ResultsError(f"{runs_file}: damaged: no column 'run'")
    names = scenario_outcome_names(scenario)
    try:
        fields = run_fields.from_table(table, scenario, names, str(runs_file))
        run_ids = table["run"].to_numpy()
        drawn = {
            name[len("param.") :]: table[name].to_numpy()
            for name in table.columns
            if isinstance(name, str) and name.startswith("param.")
        }
    except (KeyError, ValueError, TypeError, IndexError) as exc:
        message = str(exc.args[0]) if exc.args else type(exc).__name__
        if not message.startswith(str(runs_file)):
            message = f"{runs_file}: damaged: {message}"
        raise ResultsError(message) from None
    traj = None
    traj_file = _optional_file(out, manifest, "trajectories.npz")
    if traj_file is not None:
        traj = _read_trajectories(traj_file, run_ids, scenario)
    events = None
    events_file = _optional_file(out, manifest, "events.parquet")
    if events_file is not None:
        events = _read_parquet(events_file)
    wall_time = manifest.get("wall_time_s", 0.0)
    try:
        ensemble = Ensemble(
            scenario=scenario,
            seed=manifest["seed"],
            run_ids=run_ids,
            **fields,
            outcome_names=names,
            trajectories=traj,
            events=events,
            wall_time=float(wall_time),
            drawn=drawn,
        )
    except (ValueError, TypeError, IndexError) as exc:
        raise _damaged(runs_file, exc, "the table of these runs") from None
    return Result(ensemble)


def _read_trajectories(path: Path, run_ids: np.ndarray, scenario: Scenario) -> np.ndarray:
    """(steps, missions, runs) staff of ``trajectories.npz``, checked against the runs."""
    try:
        with np.load(path) as npz:  # numpy refuses object arrays here by default
            staff = npz["staff"]
            stored_runs = npz["runs"] if "runs" in npz.files else None
    except Exception as exc:  # zipfile, numpy and KeyError ('staff' missing) alike
        raise _damaged(path, exc, "trajectories (.npz)") from None
    expected = (len(run_ids), scenario.n_steps, len(scenario.missions))
    if staff.ndim != 3 or staff.shape != expected or staff.dtype.kind not in "iu":
        raise ResultsError(
            f"{path}: does not belong to these results: staff of shape {staff.shape} where "
            f"runs.parquet and scenario.toml give (runs, steps, missions) = {expected}; "
            "run it again with --force"
        )
    if stored_runs is not None and not np.array_equal(stored_runs, run_ids):
        raise ResultsError(
            f"{path}: does not belong to these results: its runs differ from runs.parquet's; "
            "run it again with --force"
        )
    return np.moveaxis(staff.astype(np.int32), 0, -1)


def _sweep_spec(manifest: dict, path: Path) -> SweepSpec:
    from sim.analysis.sweep import ParamSpec

    spec_json = manifest["sweep"]
    params = []
    for p in spec_json["params"]:
        try:
            if "values" in p:
                params.append(ParamSpec(p["path"], values=tuple(p["values"])))
            else:
                params.append(
                    ParamSpec(
                        p["path"], low=p["low"], high=p["high"], integer=p.get("integer", False)
                    )
                )
        except Exception as exc:
            raise ResultsError(f"{path}: field 'sweep.params': {exc}") from None
    return SweepSpec(
        params,
        design=spec_json["design"],
        samples=spec_json.get("samples"),
        runs=spec_json["runs"],
        seed=spec_json["seed"],
    )


def _read_units(directory: Path, key: str, count: int) -> dict[int, dict]:
    """The unit files (a sweep's points, a robustness analysis's policies) by number.

    A sealed file (one with ``sha256``) must match its checksum; files written before
    the files were sealed are read as they are. A damaged file is a ResultsError naming
    it (a resume computes it again)."""
    from sim.analysis import units
    from sim.analysis.manifest import read_json

    rows: dict[int, dict] = {}
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        row = read_json(path, "a JSON object")
        if not isinstance(row, dict):
            raise ResultsError(f"{path}: damaged: expected a JSON object")
        if "sha256" in row:
            body = {k: v for k, v in row.items() if k != "sha256"}
            try:
                sealed = units.seal(body)["sha256"]
            except (TypeError, ValueError):
                sealed = None
            if sealed != row["sha256"]:
                raise ResultsError(
                    f"{path}: damaged: its content does not match its checksum (edited or "
                    "damaged on disk); --resume computes it again"
                )
            row = body
        number = row.get(key)
        if not isinstance(number, int) or isinstance(number, bool) or not 0 <= number < count:
            raise ResultsError(
                f"{path}: damaged: field '{key}': expected a number from 0 to {count - 1}, "
                f"found {number!r}"
            )
        rows[number] = row
    return rows


def _load_sweep(out: Path, manifest: dict, partial: bool = False) -> SweepResult:
    from sim.analysis.manifest import COMPLETE_STATUSES, read_json
    from sim.analysis.results import INCOMPLETE
    from sim.analysis.sweep import _decode_outcomes

    manifest_path = out / "manifest.json"
    spec = _sweep_spec(manifest, manifest_path)
    complete = (
        manifest.get("status", "complete") in COMPLETE_STATUSES and not (out / INCOMPLETE).exists()
    )
    rows = _read_units(out / "points", "point", manifest["points"])
    # The codes index the outcome names stored beside them (the same in every point).
    with_codes = [row for row in rows.values() if row.get("outcome_codes")]
    first = with_codes[0].get("outcome_names") if with_codes else None
    names = tuple(first) if isinstance(first, list) and first else OUTCOMES
    codes = {}
    for index, row in sorted(rows.items()):
        if not row.get("outcome_codes"):
            continue
        try:
            codes[index] = _decode_outcomes(row["outcome_codes"], row.get("outcome_names"), names)
        except Exception as exc:  # base64, numpy or an unknown outcome
            raise _damaged(out / "points" / f"{index:06d}.json", exc, "a sweep point") from None
    if complete:
        points_file = out / "points.parquet"
        points = _read_parquet(points_file)
        if "status" not in points.columns or len(points) != manifest["points"]:
            raise ResultsError(
                f"{points_file}: damaged: expected {manifest['points']:,} points with a "
                f"'status' column, found {len(points):,} rows"
                f"{'' if 'status' in points.columns else ' without it'}"
            )
        sensitivity = None
        sens_file = _optional_file(out, manifest, "sensitivity.json")
        if sens_file is not None:
            sensitivity = read_json(sens_file)
            if not isinstance(sensitivity, dict):
                raise ResultsError(f"{sens_file}: damaged: expected a JSON object")
    else:  # partial=True: the finished points, in order
        table = []
        for index, row in sorted(rows.items()):
            overrides = row.get("overrides")
            if not isinstance(overrides, dict):
                raise ResultsError(
                    f"{out / 'points' / f'{index:06d}.json'}: damaged: field 'overrides': "
                    "expected an object"
                )
            rest = {
                k: v
                for k, v in row.items()
                if k not in ("point", "overrides", "outcome_codes", "outcome_names")
            }
            table.append({"point": index, **overrides, **rest})
        points = pd.DataFrame(table, columns=None if table else ["point", "status"])
        sensitivity = None
    return SweepResult(
        spec,
        points,
        sensitivity,
        float(manifest.get("wall_time_s", 0.0)),
        out,
        codes,
        names,
        _sweep_scenario(manifest, spec, names),
    )


def _load_robust(out: Path, manifest: dict, partial: bool = False):
    """A robustness analysis read back (what ``robust --out`` wrote, with
    every file checked); ``partial``: the finished policies, the others marked failed."""
    from sim.analysis import robust as rb
    from sim.analysis.manifest import COMPLETE_STATUSES
    from sim.analysis.results import INCOMPLETE

    manifest_path = out / "manifest.json"
    info = manifest["robust"]
    try:
        levers = [rb.parse_lever(text) for text in info["levers"]]
    except Exception as exc:
        raise ResultsError(f"{manifest_path}: field 'robust.levers': {exc}") from None
    grid = rb.policies(levers)
    if len(grid) != info["policies"]:
        raise ResultsError(
            f"{manifest_path}: field 'robust.policies': the levers make {len(grid)} "
            f"policies, not {info['policies']}"
        )
    names = tuple(info["outcomes"])
    complete = (
        manifest.get("status", "complete") in COMPLETE_STATUSES and not (out / INCOMPLETE).exists()
    )
    results = _read_units(out / "policies", "policy", len(grid))
    worlds_file = out / "worlds.parquet"
    if complete or worlds_file.is_file():
        worlds = _read_parquet(worlds_file)
    else:
        worlds = _redraw_worlds(out, manifest, levers)
    if len(worlds) != info["worlds"]:
        raise ResultsError(
            f"{worlds_file}: holds {len(worlds)} worlds where manifest.json says {info['worlds']}"
        )
    missing = [i for i in range(len(grid)) if i not in results]
    if missing and complete:
        raise ResultsError(
            f"{out / 'policies'}: policies {missing[:5]} are missing; run the analysis again "
            "with --resume"
        )
    if partial and not any(row.get("status") == "ok" for row in results.values()):
        raise ResultsError(f"{out}: no policy has finished yet; nothing to read")
    for i in missing:
        results[i] = {"policy": i, "status": "failed", "error": "not computed (unfinished)"}
    for i, row in results.items():
        counts = row.get("counts")
        if row.get("status") == "ok" and not (
            isinstance(counts, dict)
            and all(
                isinstance(counts.get(n), list) and len(counts[n]) == info["worlds"] for n in names
            )
        ):
            raise ResultsError(
                f"{out / 'policies' / f'{i:06d}.json'}: damaged: field 'counts': expected "
                f"the counts of each outcome in each of {info['worlds']} worlds"
            )
    try:
        result = rb._assemble(
            levers,
            grid,
            worlds,
            results,
            info["runs_per_world"],
            info["seed"],
            names,
            info["reference"],
        )
    except rb.RobustError as exc:
        raise ResultsError(f"{out / 'policies'}: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise _damaged(out / "policies", exc, "a policy's counts") from None
    result.wall_time = float(manifest.get("wall_time_s", 0.0))
    result.out = out
    return result


def _redraw_worlds(out: Path, manifest: dict, levers: list) -> pd.DataFrame:
    """The worlds of an unfinished robustness analysis (written only at the end): drawn
    again from its scenario file, if that still gives the analysis's fingerprint."""
    from sim.analysis import robust as rb
    from sim.scenario.reading import parse_override

    info = manifest["robust"]
    try:
        overrides = dict(
            parse_override(f"{k}={v}") for k, v in manifest.get("fixed_overrides", {}).items()
        )
        scenario = load_scenario(manifest["scenario_file"], overrides or None)
        payload = {k: info[k] for k in ("levers", "worlds", "runs_per_world", "seed", "outcomes")}
        same = rb._fingerprint(scenario.raw, payload) == manifest.get("fingerprint")
    except Exception:
        same = False
    if not same:
        raise ResultsError(
            f"{out}: the worlds of this unfinished analysis cannot be drawn again (its "
            f"scenario file {manifest.get('scenario_file')!r} is gone or has changed); "
            "finish it with --resume"
        )
    return rb.draw_worlds(scenario, info["worlds"], info["seed"], {lever.path for lever in levers})


def _sweep_scenario(manifest: dict, spec: SweepSpec, names: tuple[str, ...]) -> Scenario | None:
    """The scenario a sweep read back ran on: its file, read again, if it still gives the
    sweep's fingerprint (same document, overrides and outcome classes); else None."""
    from sim.analysis.sweep import _fingerprint, load_sweep_file

    try:
        raw, source, _ = load_sweep_file(manifest["scenario_file"])
        scenario = scenario_from_dict(raw, source)
    except (KeyError, OSError, ValueError, TypeError, ScenarioError):
        return None
    if _fingerprint(scenario.raw, spec, names) != manifest.get("fingerprint"):
        return None
    return scenario
