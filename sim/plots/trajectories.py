"""Trajectory figure: the staff fan chart of one scenario.

Staff per mission over time: the replayed history as a line, then the forecast as the
median of the runs with bands of 50% and 90% of them, the forecast start and the
recorded events marked. Inputs are plain numpy arrays, dates and dicts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from sim.plots.style import (
    _TEXT_BOX,
    LABEL_SIZE,
    NOTE_SIZE,
    TICK_SIZE,
    _new_or_given,
    _title,
)
from sim.plots.time_axis import _as_day, _as_days, _check_dates, _date_axis

#: Okabe-Ito colours and markers per mission, in the order the missions are given.
_MISSION_COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"]
_MISSION_MARKERS = ["o", "s", "^", "D", "v", "P"]
#: Quantiles of the fan chart's bands: (low, high, alpha, legend label).
_FAN_BANDS = (
    (0.05, 0.95, 0.17, "90% of runs (5th-95th percentile)"),
    (0.25, 0.75, 0.38, "50% of runs (25th-75th percentile)"),
)
_EVENT_SIZE = 9
_EVENT_MAX_LABELS = 12
_EVENT_MAX_ROWS = 4
_EVENT_LABEL_CHARS = 28
_EVENT_ROW_HEIGHT = 0.055  # axes fraction per row of event labels


def plot_fan_chart(
    dates: Sequence[Any] | np.ndarray,
    staff: Mapping[str, np.ndarray],
    forecast_start: Any,
    events: Sequence[tuple[Any, str]] | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Staff per mission over time: the replayed history, then a fan of the forecast.

    ``dates`` are the last day of each of the T steps; ``staff`` maps each mission's
    label to an array of shape (T, runs): its total staff after each step in each run.
    Steps that end before ``forecast_start`` replay the recorded history, identical in
    every run: they are drawn as a solid line. From the step holding the forecast start
    on, each mission gets the median over runs (dashed) and bands holding the middle
    50% (25th-75th percentile) and 90% (5th-95th) of runs; the fan starts from the last
    replayed step so the two parts join. A dashed vertical line marks the forecast start.

    ``events`` is an optional list of ``(date, short label)``: each is marked along the
    top of the plot, its label beside the marker, in up to four rows so labels do not
    overlap; at most 12 are labelled and the title's note says how many were not.
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

    fig, ax = _new_or_given(ax, (10.5, 5.8))
    step = max(1, days.size // 12)  # one marker every `step` steps, on every line
    notes: list[str] = []
    top = 0.0
    differing: list[str] = []
    mission_handles = []
    for i, (mission, array) in enumerate(arrays.items()):
        colour = _MISSION_COLOURS[i % len(_MISSION_COLOURS)]
        marker = _MISSION_MARKERS[i % len(_MISSION_MARKERS)]
        marks = {
            "marker": marker,
            "markersize": 5.5,
            "markeredgecolor": "black",
            "markeredgewidth": 0.5,
        }
        top = max(top, float(np.nanmax(array)))
        if k > 0:
            history = np.median(array[:k], axis=1)
            if (np.ptp(array[:k], axis=1) > 0).any():
                differing.append(mission)
            (line,) = ax.plot(
                days[:k],
                history,
                color=colour,
                linewidth=2.4,
                linestyle="-",
                markevery=slice(0, None, step),
                label=f"{mission}: history (replayed)",
                zorder=4,
                **marks,
            )
            line.set_gid(f"history:{mission}")
        if k < days.size:
            window = array[fan_from:]
            for low, high, alpha, label in _FAN_BANDS:
                band = ax.fill_between(
                    days[fan_from:],
                    np.quantile(window, low, axis=1),
                    np.quantile(window, high, axis=1),
                    color=colour,
                    alpha=alpha,
                    linewidth=0,
                    label=f"{mission}: {label}",
                    zorder=2,
                )
                band.set_gid(f"band{round(100 * (high - low))}:{mission}")
            (line,) = ax.plot(
                days[fan_from:],
                np.median(window, axis=1),
                color=colour,
                linewidth=1.9,
                linestyle=(0, (5, 2)),
                markevery=slice((-fan_from) % step, None, step),
                label=f"{mission}: median",
                zorder=4,
                **marks,
            )
            line.set_gid(f"median:{mission}")
        mission_handles.append(Line2D([], [], color=colour, linewidth=2.4, label=mission, **marks))
    if differing:
        notes.append(
            f"runs differ before the forecast start ({', '.join(differing)}): "
            "the line there is their median"
        )
    if k >= days.size:
        notes.append("the forecast start is after the last date: history only")

    rows_used, unlabelled = _draw_events(ax, fig, days, events)
    if unlabelled:
        notes.append(
            f"{unlabelled} more event{'s' if unlabelled != 1 else ''} marked, not labelled"
        )
    headroom = 0.04 + rows_used * _EVENT_ROW_HEIGHT
    ax.set_ylim(0.0, max(top, 1.0) * 1.04 / (1.0 - headroom))

    if k < days.size:
        vline = ax.axvline(
            start,
            color="black",
            linestyle=(0, (4, 3)),
            linewidth=1.3,
            ymax=1.0 - headroom + 0.01 if rows_used else 1.0,  # stop under the events
            zorder=5,
            label="forecast start",
        )
        vline.set_gid("forecast_start")
        y_label, va = _forecast_label_y(ax, fig, arrays, k, ax.get_ylim()[1] * (1 - headroom))
        ax.annotate(
            "forecast start",
            xy=(start, y_label),
            xycoords="data",
            xytext=(-4, 0),
            textcoords="offset points",
            rotation=90,
            ha="right",
            va=va,
            fontsize=NOTE_SIZE,
            bbox=_TEXT_BOX,
            zorder=6,
        ).set_gid("forecast_start_label")

    _date_axis(ax, days)
    left = ax.get_xlim()[0]
    if k < days.size and mdates.date2num(start) < left:  # forecast start inside step 0
        ax.set_xlim(left=mdates.date2num(start) - 1.0)
    ax.set_ylabel("Staff (total per mission)", fontsize=LABEL_SIZE)
    ax.tick_params(axis="y", labelsize=TICK_SIZE)
    ax.grid(True, color="0.9", linewidth=0.8)
    ax.set_axisbelow(True)

    grey = "0.35"
    handles = [
        *mission_handles,
        Line2D([], [], color=grey, linewidth=2.4, label="history (replayed)"),
        Line2D([], [], color=grey, linewidth=1.9, linestyle=(0, (5, 2)), label="median of runs"),
        *(Patch(facecolor=grey, alpha=alpha, label=label) for _, _, alpha, label in _FAN_BANDS),
    ]
    ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        borderaxespad=0.0,
        fontsize=NOTE_SIZE,
        frameon=False,
    )
    title = title or "Staff per mission: replayed history and forecast"
    if len(runs) == 1:
        n_runs = runs.pop()
        runs_note = f"{n_runs:,} run{'s' if n_runs != 1 else ''}"
    else:
        runs_note = "missions have different run counts"
    if runs_note in title:
        runs_note = ""
    _title(ax, title, runs_note, f"forecast from {start}", *notes)
    return fig


def _forecast_label_y(
    ax: Axes, fig: Figure, arrays: Mapping[str, np.ndarray], k: int, data_top: float
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
    # the label's length in data units, from the axes' height before layout
    axes_points = fig.get_figheight() * ax.get_position().height * 72.0 * 0.9
    needed = (len("forecast start") * 0.6 * NOTE_SIZE + 8) / max(axes_points, 1.0) * y_max
    fitting = [gap for gap in gaps if gap[1] - gap[0] >= needed]
    if not fitting:
        return 0.02 * y_max, "bottom"
    low, high = max(fitting, key=lambda gap: gap[1] - gap[0])
    if low <= 0.0:  # the gap reaches the x axis: sit on it, as low as possible
        return 0.02 * y_max, "bottom"
    return (low + high) / 2, "center"


def _draw_events(
    ax: Axes, fig: Figure, days: np.ndarray, events: Sequence[tuple[Any, str]] | None
) -> tuple[int, int]:
    """Mark events along the top of ``ax``; labels in rows. Rows used and unlabelled count."""
    if not events:
        return 0, 0
    pairs = []
    for date, label in events:
        day = _as_day(date, f"event {label!r}")
        if days[0] - np.timedelta64(7, "D") < day <= days[-1]:
            text = str(label)
            if len(text) > _EVENT_LABEL_CHARS:
                text = text[: _EVENT_LABEL_CHARS - 1] + "…"
            pairs.append((day, text))
    if not pairs:
        return 0, 0
    pairs.sort(key=lambda pair: pair[0])

    # Width of a label in days, from the axes' width before layout (a fair estimate).
    width_in = fig.get_figwidth() * ax.get_position().width * 0.82
    span_days = max(float((days[-1] - days[0]) / np.timedelta64(1, "D")), 1.0)
    days_per_point = span_days / max(width_in * 72.0, 1.0)
    row_ends: list[np.datetime64 | None] = [None] * _EVENT_MAX_ROWS
    placed: list[tuple[np.datetime64, str, int]] = []
    marked: list[np.datetime64] = []
    for day, text in pairs:
        marked.append(day)
        if len(placed) >= _EVENT_MAX_LABELS:
            continue
        width = (len(text) * 0.48 * _EVENT_SIZE + 8) * days_per_point
        for row, end in enumerate(row_ends):
            if end is None or day > end:
                row_ends[row] = day + np.timedelta64(int(np.ceil(width)), "D")
                placed.append((day, text, row))
                break
    rows_used = 1 + max((row for _, _, row in placed), default=0)

    transform = ax.get_xaxis_transform()  # x in data, y in axes fraction
    # every event: a tick hanging from the top of the axes
    ticks = ax.plot(
        np.array(marked),
        np.ones(len(marked)),
        linestyle="none",
        marker="v",
        markersize=7,
        color="0.15",
        transform=transform,
        clip_on=False,
        zorder=6,
        label="events",
    )[0]
    ticks.set_gid("events")
    for day, text, row in placed:
        y = 1.0 - 0.035 - row * _EVENT_ROW_HEIGHT
        ax.plot(
            [day, day],
            [y, 1.0],
            color="0.45",
            linewidth=0.7,
            transform=transform,
            zorder=5,
            gid="event_leader",
        )
        ax.text(
            day,
            y,
            " " + text,
            transform=transform,
            ha="left",
            va="center",
            fontsize=_EVENT_SIZE,
            color="0.1",
            zorder=6,
            gid="event_label",
            bbox={**_TEXT_BOX, "boxstyle": "square,pad=0.1", "alpha": 0.92},
        )
    return rows_used, len(marked) - len(placed)
