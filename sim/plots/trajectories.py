"""Trajectory figure: the staff fan chart of one scenario.

Staff per mission over time: the replayed history as a line, then the forecast as the
median of the runs with bands of 50% and 90% of them, the forecast start and the
recorded events marked. :func:`plot_fan_chart` takes plain numpy arrays, dates and
dicts; :func:`scenario_events` and :func:`fan_chart_missions` read a scenario (and its
event record) into them, as ``Result.plot_fan_chart`` does.
"""

from __future__ import annotations

import functools
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import dates as mdates
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.legend_handler import HandlerTuple
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.textpath import text_to_path

from sim.plots.style import (
    _TEXT_BOX,
    LABEL_SIZE,
    NOTE_SIZE,
    TICK_SIZE,
    _legend_below,
    _new_or_given,
    _title,
    event_label,
    mission_label,
)
from sim.plots.time_axis import _as_day, _as_days, _check_dates, _date_axis

#: Okabe-Ito colours, markers and band hatches per mission, in the order given.
_MISSION_COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"]
_MISSION_MARKERS = ["o", "s", "^", "D", "v", "P"]
#: Hatch of each mission's 50% band: where two missions' bands overlap, the lines run
#: in different directions, so both stay visible (colours alone would blend).
_BAND_HATCHES = ["//", "\\\\", "||", "--", "++", "xx"]
#: The fan chart's bands: (low, high quantile, face alpha, hatched, legend label).
_FAN_BANDS = (
    (0.05, 0.95, 0.10, False, "middle 90% of runs"),
    (0.25, 0.75, 0.22, True, "middle 50% of runs"),
)
#: Up to this many missions, the legend has a column per mission; beyond, one entry each.
_LEGEND_COLUMNS = 4
#: Missions a fan chart shows unless told which (more are unreadable).
FAN_CHART_MISSIONS = 4
_EVENT_SIZE = 9
_EVENT_MAX_LABELS = 12
_OPENING_LABELS = 3  # events of the forecast's first day labelled before any other
_EVENT_MAX_ROWS = 5
_EVENT_WRAP = 30  # characters per line of an event label
_EVENT_GAP = 6.0  # points between labels in a row
_ROW_POINTS = _EVENT_SIZE * 1.3  # one line of event labels


def _mission_style(i: int) -> tuple[str, str, str]:
    """Colour, marker and hatch of the i-th mission: distinct for up to 36 missions
    (past six, the marker and hatch move on against the colour)."""
    n = len(_MISSION_COLOURS)
    return (
        _MISSION_COLOURS[i % n],
        _MISSION_MARKERS[(i + i // n) % len(_MISSION_MARKERS)],
        _BAND_HATCHES[(i + i // n) % len(_BAND_HATCHES)],
    )


def plot_fan_chart(
    dates: Sequence[Any] | np.ndarray,
    staff: Mapping[str, np.ndarray],
    forecast_start: Any,
    events: Sequence[tuple[Any, ...]] | None = None,
    ax: Axes | None = None,
    title: str | None = None,
    notes: Sequence[str] = (),
) -> Figure:
    """Staff per mission over time: the replayed history, then a fan of the forecast.

    ``dates`` are the last day of each of the T steps; ``staff`` maps each mission's
    label to an array of shape (T, runs): its total staff after each step in each run.
    Steps that end before ``forecast_start`` replay the recorded history, identical in
    every run: they are drawn as a solid line. From the step holding the forecast start
    on, each mission gets the median over runs (dashed, outlined in white so it shows
    over any band) and bands holding the middle 50% (25th-75th percentile, hatched in
    the mission's colour) and 90% (5th-95th, outlined) of runs; the fan starts from the
    last replayed step so the two parts join. A dashed vertical line marks the forecast
    start. Every legend entry carries its mission's colour.

    ``events`` is an optional list of ``(date, short label)`` or ``(date, short label,
    importance)``: each is marked along the top of the plot, with its label beside the
    marker, in up to five rows so labels do not overlap. At most 12 are labelled,
    chosen in this order: up to three events that open the forecast (those of the
    first date from the forecast start on, the largest first), then all others by
    importance (e.g. staff affected; the forecast's first, then the latest, among
    equals); the title's note says how many were not. ``notes`` are added to the note
    under the title.
    """
    days = _as_days(dates)
    _check_dates(days)
    if not staff:
        raise ValueError("staff: no missions to plot")
    arrays: dict[str, np.ndarray] = {}
    for mission, values in staff.items():
        array = np.asarray(values, dtype=float)
        if array.ndim == 1:
            array = array[:, None]
        if array.ndim != 2 or array.shape[0] != days.size or array.shape[1] == 0:
            raise ValueError(
                f"staff[{mission!r}]: expected shape ({days.size}, runs), found {array.shape}"
            )
        arrays[str(mission)] = array
    runs = {a.shape[1] for a in arrays.values()}
    start = _as_day(forecast_start, "forecast_start")
    k = int(np.searchsorted(days, start, side="left"))  # first step in the forecast
    fan_from = max(k - 1, 0)  # the fan starts at the last replayed step
    has_history, has_forecast = k > 0, k < days.size

    grouped = len(arrays) <= _LEGEND_COLUMNS
    fig, ax = _new_or_given(ax, (10.5, 6.9 if grouped else 6.4))
    step = max(1, days.size // 12)  # one marker every `step` steps, on every line
    all_notes: list[str] = []
    top = 0.0
    differing: list[str] = []
    legend_columns: list[list[tuple[Any, str]]] = []
    outline = [patheffects.withStroke(linewidth=4.4, foreground="white")]
    medians_meet = _meet([np.median(a[fan_from:], axis=1) for a in arrays.values()])
    histories_meet = _meet([np.median(a[:k], axis=1) for a in arrays.values()])
    for i, (mission, array) in enumerate(arrays.items()):
        colour, marker, hatch = _mission_style(i)
        # Two missions' medians can coincide for months (both at a cap): then their
        # dashes and markers alternate, so neither hides the other ...
        phase = i % 2
        dashes = (5.0 * phase, (5.0, 5.0)) if medians_meet else (0, (5.0, 2.0))
        marker_phase = phase * max(step // 2, 1) if medians_meet else 0
        # ... and where replayed histories coincide, every other one is thinner, on top.
        width = (3.6 if phase == 0 else 2.0) if histories_meet else 2.4
        marks = {
            "marker": marker,
            "markersize": 5.5,
            "markeredgecolor": "black",
            "markeredgewidth": 0.5,
        }
        column: list[tuple[Any, str]] = [(Line2D([], [], linestyle="none"), mission)]
        top = max(top, float(np.nanmax(array)))
        if has_history:
            history = np.median(array[:k], axis=1)
            if (np.ptp(array[:k], axis=1) > 0).any():
                differing.append(mission)
            (line,) = ax.plot(
                days[:k],
                history,
                color=colour,
                linewidth=width,
                linestyle="-",
                markevery=slice(0, None, step),
                label=f"{mission}: history (replayed)",
                zorder=4 + 0.1 * i,
                **marks,
            )
            line.set_gid(f"history:{mission}")
            column.append(
                (Line2D([], [], color=colour, linewidth=width, **marks), "history (replayed)")
            )
        band_handles = []
        if has_forecast:
            window = array[fan_from:]
            for low, high, alpha, hatched, label in _FAN_BANDS:
                look = {
                    "facecolor": (*to_rgb(colour), alpha),
                    "edgecolor": colour,  # the outline's, and the hatch's, colour
                    "hatch": hatch if hatched else None,
                    "linewidth": 0.0 if hatched else 1.0,
                    "linestyle": "-" if hatched else (0, (3, 2)),
                }
                band = ax.fill_between(
                    days[fan_from:],
                    np.quantile(window, low, axis=1),
                    np.quantile(window, high, axis=1),
                    label=f"{mission}: {label}",
                    zorder=2,
                    **look,
                )
                band.set_gid(f"band{round(100 * (high - low))}:{mission}")
                band_handles.append(Patch(**look))
            (line,) = ax.plot(
                days[fan_from:],
                np.median(window, axis=1),
                color=colour,
                linewidth=1.9,
                linestyle=dashes,
                markevery=slice((marker_phase - fan_from) % step, None, step),
                label=f"{mission}: median",
                zorder=5,
                path_effects=outline,
                **marks,
            )
            line.set_gid(f"median:{mission}")
            median_handle = Line2D(
                [], [], color=colour, linewidth=1.9, linestyle=(0, dashes[1]), **marks
            )
            column.append((median_handle, "median of runs"))
            column += [
                (band_handles[1], _FAN_BANDS[1][4]),
                (band_handles[0], _FAN_BANDS[0][4]),
            ]
            if not grouped:
                column = [((band_handles[0], band_handles[1], median_handle), mission)]
        elif not grouped:
            column = [(column[-1][0], mission)]
        legend_columns.append(column)
    if not grouped:
        all_notes.append(
            "dashed: median of runs; hatched: middle 50% of runs; outlined: middle 90%"
            + ("; solid: history (replayed)" if has_history else "")
        )
    if differing:
        all_notes.append(
            f"runs differ before the forecast start ({', '.join(differing)}): "
            "the line there is their median"
        )
    if not has_forecast:
        all_notes.append("the forecast start is after the last date: history only")
    all_notes += [n for n in notes if n]

    _date_axis(ax, days)
    left = ax.get_xlim()[0]
    if has_forecast and mdates.date2num(start) < left:  # forecast start inside step 0
        ax.set_xlim(left=mdates.date2num(start) - 1.0)
    ax.set_ylabel("Staff (total per mission)", fontsize=LABEL_SIZE)
    ax.tick_params(axis="y", labelsize=TICK_SIZE)
    ax.grid(True, color="0.9", linewidth=0.8)
    ax.set_axisbelow(True)
    _legend(ax, legend_columns, grouped)

    if len(runs) == 1:
        n_runs = runs.pop()
        runs_note = f"{n_runs:,} run{'s' if n_runs != 1 else ''}"
    else:
        runs_note = "missions have different run counts"
    title = title or "Staff per mission: replayed history and forecast"
    if runs_note in title:
        runs_note = ""
    head_notes = [runs_note, f"forecast from {start}"]
    # A first title, its note as long as it may become, so that the layout below
    # leaves the final one its room.
    events_note = "999 more events marked (▼), not labelled" if events else ""
    _title(ax, title, *head_notes, *all_notes, events_note)
    width_pt, height_pt = _axes_points(fig, ax)
    ax.set_ylim(0.0, max(top, 1.0) * 1.04)
    rows_used, unlabelled = _draw_events(ax, days, events, start, width_pt, height_pt)
    if unlabelled:
        all_notes.append(
            f"{unlabelled} more event{'s' if unlabelled != 1 else ''} marked (▼), not labelled"
        )
    headroom = (0.035 + rows_used * _ROW_POINTS / height_pt) if rows_used else 0.0
    ax.set_ylim(0.0, max(top, 1.0) * 1.04 / (1.0 - headroom))

    if has_forecast:
        vline = ax.axvline(
            start,
            color="black",
            linestyle=(0, (4, 3)),
            linewidth=1.3,
            ymax=1.0 - headroom + 0.01 if rows_used else 1.0,  # stop under the events
            zorder=6,
            label="forecast start",
        )
        vline.set_gid("forecast_start")
        _forecast_label(ax, arrays, k, start, headroom, width_pt, height_pt)

    _title(ax, title, *head_notes, *all_notes)
    return fig


def _meet(lines: list[np.ndarray]) -> bool:
    """Whether two of these lines (values over the same steps) share a value at a step."""
    return any(
        np.any(a == b) for i, a in enumerate(lines) for b in lines[i + 1 :] if a.size and b.size
    )


def _legend(ax: Axes, columns: list[list[tuple[Any, str]]], grouped: bool) -> None:
    """One legend column per mission (its name, then its lines and bands), or, with
    many missions, one entry each; below the plot, so the plot keeps the full width."""
    entries = [entry for column in columns for entry in column]
    handles = [h for h, _ in entries]
    labels = [label for _, label in entries]
    options: dict[str, Any] = {
        "ncols": len(columns) if grouped else min(len(columns), _LEGEND_COLUMNS),
        "fontsize": NOTE_SIZE,
        "frameon": False,
        "handlelength": 2.6,
        "handler_map": {tuple: HandlerTuple(ndivide=None, pad=0.2)},
    }
    legend = _legend_below(ax, handles, labels, **options)
    if grouped:
        for text, (handle, _) in zip(legend.get_texts(), entries, strict=True):
            if isinstance(handle, Line2D) and handle.get_linestyle() == "None":
                text.set_fontweight("bold")  # a column's heading: the mission


def _axes_points(fig: Figure, ax: Axes) -> tuple[float, float]:
    """The axes' width and height in points, after the figure's layout if it has one."""
    engine = fig.get_layout_engine()
    if engine is not None:
        engine.execute(fig)
    box = ax.get_position()
    return (
        max(fig.get_figwidth() * box.width * 72.0, 1.0),
        max(fig.get_figheight() * box.height * 72.0, 1.0),
    )


@functools.lru_cache(maxsize=4096)
def _text_width(text: str, size: float) -> float:
    """The width of the widest line of ``text`` in points, at ``size`` points (from the
    font's metrics, as the renderer lays it out)."""
    prop = FontProperties(size=size)
    widest = max(
        text_to_path.get_text_width_height_descent(line, prop, ismath=False)[0]
        for line in text.split("\n")
    )
    return widest * 1.08  # hinted, as drawn, text comes out up to about 7% wider


def _forecast_label(
    ax: Axes,
    arrays: Mapping[str, np.ndarray],
    k: int,
    start: np.datetime64,
    headroom: float,
    width_pt: float,
    height_pt: float,
) -> None:
    """The rotated "forecast start" label beside its line: on the left of the line if
    there is room before the y axis, else on the right; at a height where no mission's
    line or band passes near the forecast start, else at the bottom."""
    x0, x1 = ax.get_xlim()
    x_pt = (mdates.date2num(start) - x0) / (x1 - x0) * width_pt
    thickness = NOTE_SIZE * 1.4 + 4.0  # the rotated label's width, with its box
    left_side = x_pt - thickness >= 2.0
    y_top = ax.get_ylim()[1] * (1 - headroom)
    y, va = _forecast_label_y(ax, arrays, k, y_top, height_pt)
    ax.annotate(
        "forecast start",
        xy=(start, y),
        xycoords="data",
        xytext=(-4 if left_side else 4, 0),
        textcoords="offset points",
        rotation=90,
        ha="right" if left_side else "left",
        va=va,
        fontsize=NOTE_SIZE,
        bbox=_TEXT_BOX,
        zorder=7,
    ).set_gid("forecast_start_label")


def _forecast_label_y(
    ax: Axes, arrays: Mapping[str, np.ndarray], k: int, data_top: float, height_pt: float
) -> tuple[float, str]:
    """Where the rotated "forecast start" label goes: the widest gap between the missions'
    lines and bands just before the forecast start, if it is tall enough; else the bottom.
    """
    y_max = ax.get_ylim()[1]
    margin = 0.03 * y_max
    covered = []
    for array in arrays.values():
        window = array[max(k - 4, 0) : k + 2]
        covered.append((float(np.nanmin(window)) - margin, float(np.nanmax(window)) + margin))
    covered.sort()
    gaps, floor = [], 0.0
    for low, high in covered:
        if low > floor:
            gaps.append((floor, low))
        floor = max(floor, high)
    if data_top > floor:
        gaps.append((floor, data_top))
    needed = (_text_width("forecast start", NOTE_SIZE) + 10) / height_pt * y_max
    fitting = [gap for gap in gaps if gap[1] - gap[0] >= needed]
    if not fitting:
        return 0.02 * y_max, "bottom"
    low, high = max(fitting, key=lambda gap: gap[1] - gap[0])
    if low <= 0.0:  # the gap reaches the x axis: sit on it, as low as possible
        return 0.02 * y_max, "bottom"
    return (low + high) / 2, "center"


def _draw_events(
    ax: Axes,
    days: np.ndarray,
    events: Sequence[tuple[Any, ...]] | None,
    start: np.datetime64,
    width_pt: float,
    height_pt: float,
) -> tuple[int, int]:
    """Mark events along the top of ``ax`` and label the most telling ones in rows
    (measured in points, so no two labels overlap). Rows used and unlabelled count."""
    if not events:
        return 0, 0
    for order, event in enumerate(events):
        if len(event) not in (2, 3):
            raise ValueError(
                f"events[{order}]: expected (date, label) or (date, label, importance)"
            )
    event_days = _as_days([event[0] for event in events], "events: dates")
    found = []
    for order, (event, day) in enumerate(zip(events, event_days, strict=True)):
        label = event[1]
        importance = float(event[2]) if len(event) == 3 and event[2] is not None else 0.0
        if days[0] - np.timedelta64(7, "D") < day <= days[-1]:
            found.append((day, str(label), importance, order))
    if not found:
        return 0, 0

    # Which to label: the (up to three largest) events that open the forecast, then
    # every other by importance; among equals, the forecast's first, then the latest.
    in_forecast = [day for day, _, _, _ in found if day >= start]
    opening_day = min(in_forecast) if in_forecast else None
    opening = sorted((e for e in found if e[0] == opening_day), key=lambda e: (-e[2], e[3]))[
        :_OPENING_LABELS
    ]

    def priority(event: tuple) -> tuple:
        day, _, importance, order = event
        if event in opening:
            return (0, opening.index(event))
        return (1, -importance, day < start, -day.astype(np.int64), order)

    x0, x1 = ax.get_xlim()
    points_per_day = width_pt / (x1 - x0)
    rows: list[list[tuple[float, float]]] = [[] for _ in range(_EVENT_MAX_ROWS)]
    placed: list[tuple[np.datetime64, str, int, bool]] = []
    for day, label, _, _ in sorted(found, key=priority):
        if len(placed) >= _EVENT_MAX_LABELS:
            break
        x = max((mdates.date2num(day) - x0) * points_per_day, 0.0)  # a marker at the edge
        spot = _spot(rows, label, x, width_pt)
        if spot is not None:
            row, text, span, rightwards = spot
            for taken in rows[row : row + text.count("\n") + 1]:
                taken.append(span)
            placed.append((day, text, row, rightwards))
    rows_used = max((row + text.count("\n") + 1 for _, text, row, _ in placed), default=0)

    transform = ax.get_xaxis_transform()  # x in data, y in axes fraction
    # every event: a tick hanging from the top of the axes
    marked = np.array(sorted(day for day, _, _, _ in found))
    ax.plot(
        marked,
        np.ones(len(marked)),
        linestyle="none",
        marker="v",
        markersize=7,
        color="0.15",
        transform=transform,
        clip_on=False,
        zorder=6,
        label="events",
        gid="events",
    )
    row_height = _ROW_POINTS / height_pt
    for day, text, row, rightwards in placed:
        y = 1.0 - 0.035 - row * row_height  # the top of the label
        ax.plot(
            [day, day],
            [y - 0.5 * row_height, 1.0],
            color="0.45",
            linewidth=0.7,
            transform=transform,
            zorder=5,
            gid="event_leader",
        )
        ax.text(
            day,
            y,
            " " + text.replace("\n", "\n ") if rightwards else text.replace("\n", " \n") + " ",
            transform=transform,
            ha="left" if rightwards else "right",
            va="top",
            fontsize=_EVENT_SIZE,
            linespacing=1.1,
            color="0.1",
            zorder=6,
            gid="event_label",
            bbox={**_TEXT_BOX, "boxstyle": "square,pad=0.1", "alpha": 0.92},
        )
    return rows_used, len(found) - len(placed)


def _spot(
    rows: list[list[tuple[float, float]]], label: str, x: float, width_pt: float
) -> tuple[int, str, tuple[float, float], bool] | None:
    """Where a label at ``x`` (points from the left of the axes) fits: the highest row
    with room, on one line or else wrapped, after its marker or else ending at it.
    (row, text as drawn, span in points, after the marker?), or None if nowhere."""
    texts = [label]
    wrapped = textwrap.fill(label, _EVENT_WRAP)
    if wrapped != label:
        texts.append(wrapped)
    shapes = []
    for text in texts:
        width = _text_width(text, _EVENT_SIZE) + 6.0  # the label's box and lead space
        for span, rightwards in (((x - 1.0, x + width), True), ((x - width, x + 1.0), False)):
            if span[0] >= -1.0 and span[1] <= width_pt:  # a marker on the left edge fits
                shapes.append((text, span, rightwards))
    for row in range(_EVENT_MAX_ROWS):
        for text, span, rightwards in shapes:
            lines = text.count("\n") + 1
            if row + lines <= _EVENT_MAX_ROWS and all(
                _free(taken, span) for taken in rows[row : row + lines]
            ):
                return row, text, span, rightwards
    return None


def _free(taken: list[tuple[float, float]], span: tuple[float, float]) -> bool:
    return all(span[1] + _EVENT_GAP <= a or b + _EVENT_GAP <= span[0] for a, b in taken)


# ----------------------------------------------------------- from a scenario
def scenario_events(scenario: Any, record: pd.DataFrame | None = None) -> list[tuple]:
    """The scenario's events between the states, as :func:`plot_fan_chart` marks them:
    ``(date, label, importance)`` with the label of :func:`sim.plots.style.event_label`.

    A state's measures on its own mission are left out. With the event record
    (``Result.events``), an event's amount and importance are read from its rows (the
    median over runs): the amount its instrument announced (a parity cap's level is
    known only there), and the staff it removed, or its size if larger (an offer
    removes nobody). Without it, the importance is the event's size, if it has one.
    """
    recorded: dict[int, tuple[float, float]] = {}
    if record is not None and len(record) and "event_index" in record.columns:
        rows = record[record["cause"].astype(str) == "event"]
        medians = rows.groupby(rows["event_index"].astype(int))[
            ["amount", "size", "staff_removed"]
        ].median()
        for index, row in medians.iterrows():
            recorded[int(index)] = (
                float(row["amount"]),
                max(float(row["size"]), float(row["staff_removed"])),
            )
    out = []
    for ev in scenario.events:
        if ev.own:
            continue
        amount, importance = recorded.get(int(ev.index), (None, None))
        if importance is None:
            importance = float(ev.size) if ev.size is not None else 0.0
        out.append((ev.date, event_label(scenario, ev, amount), importance))
    return out


def fan_chart_missions(
    scenario: Any, mission_ids: Sequence[str], trajectories: np.ndarray
) -> tuple[list[str], str]:
    """The missions a fan chart shows by default, and a note saying so if not all.

    All of them, up to four; else the four that lost the most staff (median over runs,
    from the first step to the last), in the scenario's order (``Result.plot_fan_chart``
    takes the missions to draw). ``trajectories`` is
    (steps, missions, runs), its missions in the order of ``mission_ids``.
    """
    ids = list(mission_ids)
    if len(ids) <= FAN_CHART_MISSIONS:
        return ids, ""
    lost = np.median(trajectories[0] - trajectories[-1], axis=-1)
    order = np.argsort(-lost, kind="stable")[:FAN_CHART_MISSIONS]
    chosen = [ids[i] for i in sorted(order)]
    return chosen, f"{len(chosen)} of {len(ids)} missions shown: those that lost the most staff"


def fan_chart_staff(
    scenario: Any, mission_ids: Sequence[str], trajectories: np.ndarray, chosen: Sequence[str]
) -> dict[str, np.ndarray]:
    """The staff arrays of the ``chosen`` missions, keyed by display name
    (:func:`sim.plots.style.mission_label`)."""
    index = {m: i for i, m in enumerate(mission_ids)}
    return {mission_label(scenario, m): trajectories[:, index[m], :] for m in chosen}
