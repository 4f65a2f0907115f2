"""The explorer's page: Solara components over :mod:`sim.explore.session`.

Left, the levers: runs and seed; every policy parameter of every state (generated from
the declarations, :mod:`sim.explore.controls`); the scenario's events, each with a
switch; what-ifs (take an offer, add a measure). Right, what follows from them: the
outcome table with the paired difference from the baseline (same runs, same seed), the
cumulative incidence and fan chart (ECharts, drawn in the browser: a matplotlib figure
takes a sizeable part of the 2-second budget to render), a run's
story, and the exports (the command line, the scenario as TOML, the results folder).

Computation runs in a Solara task thread: the page stays live, shows progress by
step, and a newer change or the Cancel button stops the older computation at its next
step. Nothing typed into the page is evaluated as code: values go through the same
parsers and validators as the command line's.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from typing import Any

import numpy as np
import solara
import solara.lab

from sim.analysis import story
from sim.engine import instruments
from sim.explore.controls import Control, controls_for, events_for, offers_for
from sim.explore.session import Cancelled, Explorer, Settings, check
from sim.outcome_classes import outcome_class

#: Set by :func:`sim.explore.serve` before the server starts.
CONFIG: dict[str, Any] = {"scenario": None, "runs": None, "seed": None}
_LOCK = threading.Lock()  # one computation at a time: the baseline cache is shared
_EXPLORERS: dict[str, Explorer] = {}
#: Okabe-Ito colours for missions (outcomes use their declared colours).
MISSION_COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"]
MAX_RUNS = 100_000


def explorer() -> Explorer:
    path = CONFIG["scenario"]
    if path not in _EXPLORERS:
        # two worker processes where there are two cores: a 10,000-run ensemble in two
        # halves is faster than in one (docs/explore.md)
        _EXPLORERS[path] = Explorer(path, workers=min(2, os.cpu_count() or 1))
    return _EXPLORERS[path]


settings = solara.reactive(Settings())
picked_run = solara.reactive(0)


@solara.lab.task(prefer_threaded=True)
def compute(current: Settings):
    """(table, charts) of ``current``; the page's reactive progress is updated by step."""
    ex = explorer()
    started = time.perf_counter()
    shown = [started]

    def progress(fraction: float) -> None:
        # At most four updates a second, and none in the first half second: each one
        # re-renders the progress bar, and a short computation should not pay for it.
        now = time.perf_counter()
        if now - started > 0.5 and now - shown[0] > 0.25:
            shown[0] = now
            compute.progress = round(100 * fraction)

    def superseded() -> bool:
        return not compute.is_current()

    with _LOCK:
        try:
            base, variant = ex.compute(current, progress, superseded)
        except Cancelled:
            # Solara's own signal: the task ends as cancelled, keeping the last result
            raise solara.util.CancelledError() from None
    table = ex.table(base, variant)
    compared = None if current.is_baseline else base
    charts = {"incidence": incidence_chart(variant), "fan": fan_chart(variant, compared)}
    seconds = time.perf_counter() - started
    return {
        "settings": current,
        "table": table,
        "charts": charts,
        "variant": variant,
        "seconds": seconds,
    }


# ------------------------------------------------------------------- charts
def _day(date: dt.date) -> str:
    return date.isoformat()


def wilson_bands(counts: np.ndarray, n: int, z: float = 1.959963984540054):
    """95% Wilson intervals of ``counts`` out of ``n``, all at once.

    The closed form that :func:`sim.analysis.outcomes.wilson` gets from scipy one count
    at a time (300 calls of scipy's binomtest are a sizeable part of the page's
    budget); tests/test_explore.py checks that the two agree.
    """
    p = counts / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def incidence(result) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per timed outcome: (share, low, high) of runs by the end of each forecast step,
    as :meth:`sim.Result.cumulative_incidence` gives them."""
    sc = result.scenario
    ens = result.ensemble
    first = sc.forecast_step
    n_steps = sc.n_steps - first
    out = {}
    for code, name in enumerate(result.outcome_names):
        if name not in result.timed_outcomes:
            continue
        steps = ens.outcome_step[ens.outcome == code] - first
        counts = np.cumsum(np.bincount(steps, minlength=n_steps)[:n_steps])
        low, high = wilson_bands(counts, result.n_runs)
        out[name] = (counts / result.n_runs, low, high)
    return out


def _band(dates: list[str], low, mid, high, colour: str, name: str, dashed: bool, digits: int):
    """ECharts series of a line with a shaded band: the band is an area stacked on an
    invisible line at its lower edge."""
    hidden = {"lineStyle": {"opacity": 0}, "symbol": "none", "silent": True}
    hidden["tooltip"] = {"show": False}
    stack = f"band-{name}"
    return [
        {"type": "line", "data": list(zip(dates, np.round(low, digits), strict=True)),
         "stack": stack, **hidden},
        {"type": "line", "data": list(zip(dates, np.round(high - low, digits), strict=True)),
         "stack": stack, "areaStyle": {"color": colour, "opacity": 0.2}, **hidden},
        {"type": "line", "name": name, "data": list(zip(dates, np.round(mid, digits), strict=True)),
         "symbol": "none", "itemStyle": {"color": colour},
         "lineStyle": {"color": colour, "width": 2, "type": "dashed" if dashed else "solid"}},
    ]  # fmt: skip


def _chart(title: str, legend: list[str], series: list, y_axis: dict) -> dict[str, Any]:
    return {
        "title": {"text": title, "textStyle": {"fontSize": 14}},
        "animation": False,  # the page is redrawn on every change
        "tooltip": {"trigger": "axis"},
        # left and right bounds make a long legend wrap onto a second line
        "legend": {"data": legend, "top": 24, "left": 10, "right": 10},
        "grid": {"left": 60, "right": 20, "top": 60 if len(legend) <= 3 else 85, "bottom": 30},
        "xAxis": {"type": "time"},
        # the axis name beside the axis, turned, clear of the legend above the plot
        "yAxis": {"type": "value", "min": 0, "nameLocation": "middle", "nameGap": 40, **y_axis},
        "series": series,
    }


def incidence_chart(result) -> dict[str, Any]:
    """Cumulative incidence with 95% bands, one line per timed outcome (ECharts)."""
    sc = result.scenario
    dates = [_day(sc.step_end(s)) for s in range(sc.forecast_step, sc.n_steps)]
    series, legend = [], []
    for name, (share, low, high) in incidence(result).items():
        cls = outcome_class(name)
        series += _band(dates, low, share, high, cls.color, cls.label, cls.linestyle != "-", 4)
        legend.append(cls.label)
    title = "Outcomes over time: share of runs that reached each by then (95% band)"
    return _chart(title, legend, series, {"max": 1, "name": "share of runs"})


def _mission_name(result, mission: str) -> str:
    spec = result.scenario.missions[mission]
    states = result.scenario.states
    sender = states[spec.sender].name or spec.sender
    host = states[spec.host].name or spec.host
    return f"{sender} mission in {host}"


def fan_chart(result, base=None) -> dict[str, Any]:
    """Staff per mission: median and 5-95% band of the runs, by date (ECharts); with
    ``base`` (the scenario as written, when the settings differ) its medians too, thin."""
    sc = result.scenario
    traj = result.ensemble.trajectories  # (steps, missions, runs)
    dates = [_day(sc.step_end(s)) for s in range(sc.n_steps)]
    q = np.percentile(traj, [5, 50, 95], axis=-1)  # (3, steps, missions)
    series, legend = [], []
    for i, mission in enumerate(result.ensemble.mission_ids):
        colour = MISSION_COLOURS[i % len(MISSION_COLOURS)]
        name = _mission_name(result, mission)
        series += _band(dates, q[0, :, i], q[1, :, i], q[2, :, i], colour, name, False, 1)
        legend.append(name)
    if base is not None:
        medians = np.percentile(base.ensemble.trajectories, 50, axis=-1)  # (steps, missions)
        for i, mission in enumerate(base.ensemble.mission_ids):
            name = f"{_mission_name(base, mission)}, as written"
            colour = MISSION_COLOURS[i % len(MISSION_COLOURS)]
            series.append(
                {"type": "line", "name": name, "symbol": "none", "itemStyle": {"color": colour},
                 "data": list(zip(dates, medians[:, i].round(1), strict=True)),
                 "lineStyle": {"color": colour, "width": 1, "type": "dotted", "opacity": 0.8}}
            )  # fmt: skip
            legend.append(name)
    series[-1]["markLine"] = {
        "symbol": "none",
        "label": {"formatter": "forecast start", "position": "insideEndTop"},
        "lineStyle": {"color": "#333", "type": "dashed"},
        "data": [{"xAxis": _day(sc.forecast_start)}],
    }
    title = "Staff per mission: median of runs and 90% of runs (5th-95th percentile)"
    return _chart(title, legend, series, {"name": "staff"})


# ----------------------------------------------------------------- controls
@solara.component
def ParameterControl(control: Control, current: Settings):
    given = dict(current.overrides)
    value = given.get(control.path, control.value)
    changed = control.path in given

    def set_value(new: Any) -> None:
        if new == control.value and not control.drawn:
            settings.set(settings.value.without_override(control.path))
        else:
            settings.set(settings.value.with_override(control.path, new))

    shown = (
        f"{value[0]}-{value[1]}"
        if isinstance(value, list)
        else f"{value:g}"
        if isinstance(value, float)
        else str(value)
    )
    label = f"{control.label} = {shown}" + (" *" if changed else "")
    tip = control.doc
    if control.declared:
        tip += f" (declared: {control.declared}; the slider spans less)"
    if control.drawn:
        tip += f". In this scenario drawn per run: {control.drawn}; the slider fixes it."
    with solara.Tooltip(tip):
        with solara.Div(classes=["control"]):
            if control.kind == "instrument":
                solara.Select(label, list(control.options), value, on_value=set_value, dense=True)
            elif control.kind == "range":
                solara.SliderRangeInt(
                    label,
                    tuple(value),
                    int(control.low),
                    int(control.high),
                    on_value=lambda v: set_value([int(v[0]), int(v[1])]),
                )
            elif control.kind == "int":
                solara.SliderInt(
                    label,
                    int(value),
                    int(control.low),
                    int(control.high),
                    on_value=lambda v: set_value(int(v)),
                )
            else:
                solara.SliderFloat(
                    label,
                    float(value),
                    control.low,
                    control.high,
                    control.step,
                    on_value=lambda v: set_value(round(float(v), 4)),
                )
            if control.drawn and not changed:
                solara.Text(f"drawn per run: {control.drawn}", style={"font-size": "0.8em"})


@solara.component
def StateControls(state: str, controls: list[Control], current: Settings):
    ex = explorer()
    spec = ex.base.states[state]
    kind = ex.base.raw["states"][state]["policy"].get("kind", "")
    main = [c for c in controls if not c.name.startswith("choice_")]
    choice = [c for c in controls if c.name.startswith("choice_")]
    with solara.Details(
        f"{spec.name or state}: {kind} policy", expand=state == next(iter(ex.base.states))
    ):
        for control in main:
            ParameterControl(control, current)
        if choice:
            with solara.Details("choice of instrument"):
                for control in choice:
                    ParameterControl(control, current)


@solara.component
def EventControls(current: Settings):
    ex = explorer()
    with solara.Details("Scenario events (untick to leave one out)"):
        for choice in events_for(ex.base):
            when = "forecast" if choice.forecast else "history"
            solara.Checkbox(
                label=f"{choice.index}. {choice.date} ({when}) {choice.label}",
                value=choice.index not in current.dropped,
                on_value=lambda kept, i=choice.index: settings.set(
                    settings.value.with_dropped(i, not kept)
                ),
            )


@solara.component
def WhatIfControls(current: Settings):
    ex = explorer()
    states = list(ex.base.states)
    actor, set_actor = solara.use_state(states[0])
    target, set_target = solara.use_state(states[1] if len(states) > 1 else states[0])
    kinds = [i.name for i in instruments.hostile()] + [i.name for i in instruments.conciliatory()]
    kind, set_kind = solara.use_state("expel")
    size, set_size = solara.use_state(10)
    date, set_date = solara.use_state(ex.base.forecast_start.isoformat())
    error, set_error = solara.use_state("")

    with solara.Details("What-ifs", expand=True):
        for state, label in offers_for(ex.base):
            solara.Checkbox(
                label=label,
                value=current.take_offer == state,
                on_value=lambda on, s=state: settings.set(
                    Settings(**{**settings.value.__dict__, "take_offer": s if on else None})
                ),
            )
        solara.Markdown("**Add a measure**")
        with solara.Row():
            solara.Select("actor", states, actor, on_value=set_actor, dense=True)
            solara.Select("target", states, target, on_value=set_target, dense=True)
        solara.Select("instrument", kinds, kind, on_value=set_kind, dense=True)
        with solara.Row():
            solara.InputInt("size", size, on_value=set_size, dense=True)
            solara.InputText("date (YYYY-MM-DD)", date, on_value=set_date, dense=True)

        def add() -> None:
            event = {"date": date, "actor": actor, "target": target, "kind": kind, "size": size}
            candidate = settings.value.with_event(event)
            problem = check(candidate, ex)
            if problem:
                set_error(problem)
                return
            set_error("")
            settings.set(candidate)

        solara.Button("Add measure", on_click=add, outlined=True)
        if error:
            solara.Error(error)
        for position, event in enumerate(current.events):
            fields = dict(event)
            with solara.Row():
                solara.Text(
                    f"{fields.get('date')} {fields.get('actor')} {fields.get('kind')} "
                    f"{fields.get('size', '')} → {fields.get('target')}"
                )
                solara.Button(
                    "remove",
                    text=True,
                    on_click=lambda p=position: settings.set(settings.value.without_event(p)),
                )


@solara.component
def RunControls(current: Settings):
    ex = explorer()
    runs, seed = ex.runs_and_seed(current)

    def set_runs(value: int | None) -> None:
        if value is not None and 1 <= value <= MAX_RUNS:
            settings.set(Settings(**{**settings.value.__dict__, "runs": int(value)}))

    def set_seed(value: int | None) -> None:
        if value is not None and 0 <= value < 2**63:
            settings.set(Settings(**{**settings.value.__dict__, "seed": int(value)}))

    with solara.Row():
        solara.InputInt(f"runs (1 to {MAX_RUNS:,})", runs, on_value=set_runs, dense=True)
        solara.InputInt("seed", seed, on_value=set_seed, dense=True)
    solara.Button("Reset all", on_click=lambda: settings.set(_initial()), text=True)


# ------------------------------------------------------------------ results
@solara.component
def OutcomeTable(table):
    head = (
        "| outcome | P (these settings) | 95% CI | as written | difference (points) | 95% CI |\n"
        "|---|---|---|---|---|---|\n"
    )
    rows = "".join(
        f"| {r['label']} | {r['text']['p']} | {r['text']['ci95']} | {r['text']['base']} "
        f"| {r['text']['diff']} | {r['text']['diff_ci95']} |\n"
        for r in table.rows
    )
    solara.Markdown(head + rows)
    note = (
        f"{table.runs:,} runs, seed {table.seed}. The difference is paired: the same runs "
        "with the same random numbers under both settings, so its interval is that of the "
        "effect of the change in this model."
        if table.paired
        else "The baseline and this setting do not share runs: no paired difference."
    )
    solara.Text(note, style={"font-size": "0.85em"})


@solara.component
def RunStory(current: Settings, variant):
    ex = explorer()
    runs, _ = ex.runs_and_seed(current)
    text, set_text = solara.use_state("")

    def tell(run: int | None = None) -> None:
        try:
            set_text(ex.story(current, int(picked_run.value if run is None else run)))
        except (ValueError, KeyError) as exc:
            set_text(f"error: {exc}")

    def typical(outcome: str) -> None:
        # the run `sim story --run OUTCOME` tells: its outcome step is the median
        try:
            run = story.typical_run(variant.runs, outcome, variant.outcome_names)
        except story.StoryError as exc:
            set_text(f"no such run: {exc}")
            return
        picked_run.set(run)
        tell(run)

    with solara.Details("A run's story", expand=False):
        with solara.Row():
            solara.InputInt(f"run (0 to {runs - 1})", picked_run, dense=True)
            solara.Button("Tell", on_click=tell, outlined=True)
        if variant is not None:
            with solara.Row():
                for name in variant.outcome_names:
                    solara.Button(
                        f"typical {outcome_class(name).label}",
                        on_click=lambda n=name: typical(n),
                        text=True,
                    )
        if text:
            solara.Preformatted(text)


@solara.component
def Exports(current: Settings, variant):
    ex = explorer()
    command = current.command(CONFIG["scenario"])
    solara.Markdown("**Same on the command line**")
    with solara.Div(classes=["command"]):
        solara.Preformatted(command)
    with solara.Row():
        solara.FileDownload(
            lambda: ex.scenario_toml(current).encode(),
            filename=f"{ex.base.name}_explored.toml",
            label="Scenario (TOML)",
        )
        if variant is not None:
            solara.FileDownload(
                lambda: Explorer.results_zip(variant, command.split()),
                filename=f"{ex.base.name}_results.zip",
                label="Results (zip of a results folder)",
            )


def _initial() -> Settings:
    return Settings(runs=CONFIG.get("runs"), seed=CONFIG.get("seed"))


@solara.component
def Progress():
    """The progress bar and Cancel button: the only part that follows the progress."""
    if compute.pending:
        with solara.Row():
            solara.ProgressLinear(compute.progress if compute.progress is not None else True)
            solara.Button("Cancel", on_click=compute.cancel, text=True)
        solara.Text(f"computing... {compute.progress or 0}%")


@solara.component
def Results(current: Settings):
    """What follows from the levers; re-rendered when a computation starts or ends."""
    if compute.cancelled:
        with solara.Row():
            solara.Warning("Cancelled: what is shown below is of earlier settings.")
            solara.Button("Recompute", on_click=lambda: compute(current), outlined=True)
    if compute.error:
        solara.Error(f"The computation failed: {compute.exception}")
    value = compute.value if compute.finished else compute.latest
    if value:
        fresh = value["settings"] == current and not compute.pending
        if fresh:
            status = f"computed in {value['seconds']:.2f} s"
        else:
            status = "updating…" if compute.pending else "results of earlier settings"
        solara.Text(status, classes=["status"])
        OutcomeTable(value["table"])
        solara.FigureEcharts(option=value["charts"]["incidence"], responsive=True)
        solara.FigureEcharts(option=value["charts"]["fan"], responsive=True)
    variant = value["variant"] if value else None
    RunStory(current, variant)
    Exports(current, variant)


@solara.component
def Levers(current: Settings):
    ex = explorer()
    controls = solara.use_memo(lambda: controls_for(ex.base), [])
    solara.Markdown(f"### {ex.base.name}")
    RunControls(current)
    for state in ex.base.states:
        StateControls(state, [c for c in controls if c.state == state], current)
    EventControls(current)
    WhatIfControls(current)


@solara.component
def Page():
    ex = explorer()
    solara.use_effect(lambda: settings.set(_initial()) if settings.value.runs is None else None, [])
    current = settings.value
    problem = solara.use_memo(lambda: check(current, ex), [current])
    solara.use_effect(lambda: compute(current) if problem is None else None, [current])

    solara.Title(f"escalation-sim explorer: {ex.base.name}")
    with solara.Sidebar():
        Levers(current)
    solara.Markdown(f"**{ex.base.description}**")
    if problem:
        solara.Error(f"These settings do not make a valid scenario: {problem}")
    Progress()
    Results(current)
