"""Outcome figures of one scenario: cumulative incidence of the outcomes over time,
bars of the outcome probabilities (per scenario or variant), and the histogram of the
time from the forecast start to each outcome.

Inputs are plain numpy arrays, dates and dicts. Outcome colours, line styles, markers
and hatches come from :mod:`sim.outcome_classes` (through :mod:`sim.plots.style`).
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import PercentFormatter

from sim.outcome_classes import display_order, registered_outcomes
from sim.plots.style import (
    _TEXT_BOX,
    LABEL_SIZE,
    NOTE_SIZE,
    TICK_SIZE,
    _hatch,
    _new_or_given,
    _outcome_name,
    _style,
    _title,
)
from sim.plots.time_axis import _as_day, _as_days, _check_dates, _date_axis


def _percent(p: float) -> str:
    if not np.isfinite(p):
        return "n/a"
    if 0 < p < 0.01:
        return "<1%"
    if 0.99 < p < 1:
        return ">99%"
    return f"{100 * p:.0f}%"


def _weeks_text(weeks: float) -> str:
    return f"{weeks:.0f}" if abs(weeks) >= 10 else f"{weeks:.1f}"


# ---------------------------------------------------------- cumulative incidence

#: The outcome dated at the end of a quiet period (sim.outcome_classes.CalmTracker).
_CALM = "de_escalation"


def plot_cumulative_incidence(
    dates: Sequence[Any] | np.ndarray,
    incidence: Mapping[str, tuple[Any, Any, Any]],
    runs: int,
    ax: Axes | None = None,
    title: str | None = None,
    *,
    quiet_period: str | None = None,
) -> Figure:
    """Share of runs that reached each outcome by each date, with 95% bands.

    ``incidence`` maps an outcome (``"spiral"``, ``"de_escalation"``) to ``(p, low,
    high)``: arrays over ``dates`` of the cumulative share of the ``runs`` runs that
    reached it and its 95% (Wilson) interval. Outcomes compete: a run counts once, for
    its outcome at the horizon from the step it was reached, so the curves never add up
    to more than 1 and each ends at its outcome's share.

    ``quiet_period`` (e.g. ``"26 weeks"``) is the scenario's quiet-period rule: a run
    is counted as de-escalated only once it has been quiet that long (no hostile
    measure announced, none pending), dated at the end of the quiet period, so runs
    that fell quiet in the same week are all counted at once. Given it, the note under
    the title says so, and the largest such jump of the de-escalation curve is marked
    (when it holds at least 1% of the runs and a fifth of the curve's rise).
    """
    days = _as_days(dates)
    _check_dates(days)
    if not incidence:
        raise ValueError("incidence: no outcomes to plot")
    fig, ax = _new_or_given(ax, (8.5, 5.2))
    handles, labels = [], []
    for i, (outcome, triple) in enumerate(incidence.items()):
        try:
            p, low, high = (np.asarray(a, dtype=float) for a in triple)
        except ValueError as exc:
            raise ValueError(f"incidence[{outcome!r}]: expected (p, low, high)") from exc
        for name, array in (("p", p), ("low", low), ("high", high)):
            if array.shape != days.shape:
                raise ValueError(
                    f"incidence[{outcome!r}] {name}: expected {days.size} values "
                    f"(one per date), found shape {array.shape}"
                )
        style = _style(outcome, i)
        band = ax.fill_between(
            days, low, high, color=style["color"], alpha=0.2, linewidth=0, zorder=2
        )
        band.set_gid(f"ci95_{outcome}")
        (line,) = ax.plot(
            days,
            p,
            color=style["color"],
            linestyle=style["linestyle"],
            marker=style["marker"],
            markevery=slice(0, None, max(1, days.size // 10)),
            markersize=6,
            markeredgecolor="black",
            markeredgewidth=0.6,
            linewidth=2.0,
            label=_outcome_name(outcome),
            zorder=3,
        )
        handles.append((band, line))
        labels.append(f"{_outcome_name(outcome)} ({_percent(p[-1])} by {days[-1]})")

    ax.set_ylim(0.0, 1.0)
    ax.set_ylabel("Share of runs (cumulative)", fontsize=LABEL_SIZE)
    ax.tick_params(axis="y", labelsize=TICK_SIZE)
    _date_axis(ax, days)
    ax.grid(True, color="0.9", linewidth=0.8)
    ax.set_axisbelow(True)
    ax.legend(
        handles,
        labels,
        title="shaded: 95% interval",
        loc="upper left",
        fontsize=NOTE_SIZE,
        title_fontsize=NOTE_SIZE,
        framealpha=0.9,
    )
    rule = ""
    if quiet_period and _CALM in incidence:
        rule = (
            f"{_outcome_name(_CALM)} is counted only after {quiet_period} with no "
            "hostile measure (and none pending), so runs that fell quiet in the same week "
            "are counted together"
        )
        _mark_quiet_jump(ax, days, np.asarray(incidence[_CALM][0], dtype=float), quiet_period)
    _title(
        ax,
        title or "Cumulative incidence of the outcomes",
        f"{int(runs):,} run{'s' if int(runs) != 1 else ''}; each run counts once, for its "
        "outcome at the horizon, from the step it was reached",
        rule,
    )
    return fig


def _mark_quiet_jump(ax: Axes, days: np.ndarray, p: np.ndarray, quiet_period: str) -> None:
    """An arrow to the de-escalation curve's largest one-step rise, if it is large; the
    text on the side away from the legend (upper left) and the axes' edges."""
    if p.size < 2:
        return
    rises = np.diff(p)
    step = int(np.argmax(rises)) + 1
    rise = float(rises[step - 1])
    if rise < 0.01 or rise < 0.2 * float(p[-1] - p[0]):
        return
    x0, x1 = ax.get_xlim()
    across = (mdates.date2num(days[step]) - x0) / (x1 - x0)
    high = p[step] > 0.55  # text below the point, away from the top
    ax.annotate(
        f"{_percent(rise)} of runs at once:\ntheir {quiet_period} of quiet end",
        xy=(days[step], p[step]),
        xycoords="data",
        xytext=(-14 if across > 0.7 else 14, -40 if high else 26),
        textcoords="offset points",
        ha="right" if across > 0.7 else "left",
        va="top" if high else "bottom",
        fontsize=NOTE_SIZE,
        bbox=_TEXT_BOX,
        arrowprops={"arrowstyle": "->", "color": "0.2", "linewidth": 1.0},
        zorder=5,
        gid="quiet_jump",
    )


# ------------------------------------------------------------ outcome bars


def plot_outcome_probabilities(
    table: Mapping[str, Mapping[str, Mapping[str, Any]]],
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Outcome probabilities with their 95% intervals, one group of bars per label.

    ``table`` maps a label (a scenario or a variant of one) to ``{outcome: {"p": float,
    "ci95": [low, high]}}``. Each group has one bar per outcome (colour and hatch per
    outcome), an asymmetric error bar from the interval and the value written above.
    An outcome missing from a label's entry is left out of its group.
    """
    if not table:
        raise ValueError("table: nothing to plot")
    outcomes: list[str] = []
    for entry in table.values():
        for outcome in entry:
            if outcome not in outcomes:
                outcomes.append(outcome)
    registered = {c.name for c in registered_outcomes()}
    known = [c.name for c in display_order(o for o in outcomes if o in registered)]
    outcomes = known + [o for o in outcomes if o not in known]
    labels = [str(label) for label in table]

    width_in = min(16.0, max(6.0, 2.2 + 1.15 * len(labels) * max(len(outcomes), 2) / 2))
    fig, ax = _new_or_given(ax, (width_in + 2.2, 5.0))
    width = 0.8 / len(outcomes)
    centres = np.arange(len(labels), dtype=float)
    for i, outcome in enumerate(outcomes):
        style = _style(outcome, i)
        p = np.full(len(labels), np.nan)
        low, high = np.full(len(labels), np.nan), np.full(len(labels), np.nan)
        for j, entry in enumerate(table.values()):
            if outcome not in entry:
                continue
            p[j] = float(entry[outcome]["p"])
            interval = entry[outcome].get("ci95")
            if interval is not None:
                low[j], high[j] = (float(v) for v in interval)
        shown = ~np.isnan(p)
        xs = centres[shown] + (i - (len(outcomes) - 1) / 2) * width
        has_ci = ~np.isnan(low[shown])
        yerr = np.vstack(
            [
                np.where(has_ci, np.clip(p[shown] - low[shown], 0, None), 0.0),
                np.where(has_ci, np.clip(high[shown] - p[shown], 0, None), 0.0),
            ]
        )
        container = ax.bar(
            xs,
            p[shown],
            width * 0.92,
            yerr=yerr,
            label=_outcome_name(outcome),
            color=style["color"],
            alpha=0.85,
            hatch=_hatch(outcome, i),
            edgecolor="black",
            linewidth=0.8,
            capsize=3,
            error_kw={"elinewidth": 1.1, "ecolor": "black", "capthick": 1.1},
            zorder=2,
        )
        for bar in container.patches:
            bar.set_gid(f"bar_{outcome}")
        tops = np.where(has_ci, np.fmax(high[shown], p[shown]), p[shown])
        bottoms = np.where(has_ci, np.fmin(low[shown], p[shown]), p[shown])
        for x, value, tip, foot in zip(xs, p[shown], tops, bottoms, strict=True):
            inside = tip > 0.9  # no room above: write it inside the bar, under the error bar
            ax.annotate(
                _percent(value),
                xy=(x, foot - 0.015 if inside else tip),
                xytext=(0, 0 if inside else 3),
                textcoords="offset points",
                ha="center",
                va="top" if inside else "bottom",
                fontsize=NOTE_SIZE,
                bbox=_TEXT_BOX,
                zorder=4,
            ).set_gid(f"value_{outcome}")

    wrap = 18 if len(labels) > 2 else 36  # a lone label may be a scenario's whole name
    ax.set_xticks(centres, [textwrap.fill(label, wrap) for label in labels])
    ax.set_xlim(-0.6, len(labels) - 0.4)
    ax.tick_params(labelsize=TICK_SIZE)
    ax.set_ylim(0.0, 1.0)
    ax.set_ylabel("Probability", fontsize=LABEL_SIZE)
    ax.set_xlabel("Scenario or variant", fontsize=LABEL_SIZE)
    ax.grid(True, axis="y", color="0.9", linewidth=0.8)
    ax.set_axisbelow(True)
    ax.legend(
        handles=[
            Patch(
                facecolor=_style(o, i)["color"],
                alpha=0.85,
                hatch=_hatch(o, i),
                edgecolor="black",
                label=_outcome_name(o),
            )
            for i, o in enumerate(outcomes)
        ],
        title="error bars:\n95% interval",
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        borderaxespad=0.0,
        fontsize=NOTE_SIZE,
        title_fontsize=NOTE_SIZE,
        frameon=False,
    )
    _title(ax, title or "Outcome probabilities")
    return fig


# ---------------------------------------------------------- time to outcome


def plot_time_to_outcome(
    weeks: Mapping[str, Any],
    ax: Axes | None = None,
    title: str | None = None,
    bins: int | Sequence[float] | np.ndarray | None = None,
    *,
    start: Any = None,
    horizon_weeks: float | None = None,
    runs: int | None = None,
) -> Figure:
    """When each outcome was reached: the share of its runs per week, median marked.

    ``weeks`` maps an outcome to the weeks each run that reached it took, from the
    forecast start to the end of the step it was reached in (runs that did not are left
    out). One step outline per outcome, with its own line style, on shared bins
    (``bins``: a count or the edges, in weeks; by default whole weeks, widened so there
    are at most 40 bins, from the forecast start to ``horizon_weeks`` if given). A bin
    holds the runs reached after its left edge and by its right one. Each outline is
    normalised to its outcome: the share of that outcome's runs reached in the bin,
    divided by the bin's width in weeks, so a rare outcome is as readable as a common
    one and every outline encloses 100%. A vertical line marks each median, given in
    the legend with the number of runs (and their share of ``runs``, the total, if
    given).

    With ``start`` (the date of week 0, the forecast start) the x axis is a date axis,
    as in the other figures over time, running to ``horizon_weeks`` when given.
    Outcomes with no runs are skipped and named in the note under the title; values
    that are not finite are dropped and counted there too.
    """
    if not weeks:
        raise ValueError("weeks: no outcomes to plot")
    if horizon_weeks is not None and not (np.isfinite(horizon_weeks) and horizon_weeks > 0):
        raise ValueError(f"horizon_weeks: expected a positive number, found {horizon_weeks!r}")
    day0 = _as_day(start, "start") if start is not None else None
    data: dict[str, np.ndarray] = {}
    notes: list[str] = []
    dropped = 0
    for outcome, values in weeks.items():
        array = np.asarray(values, dtype=float).ravel()
        finite = array[np.isfinite(array)]
        dropped += array.size - finite.size
        data[str(outcome)] = finite
    empty = [o for o, a in data.items() if a.size == 0]
    present = {o: a for o, a in data.items() if a.size}
    if empty:
        notes.append("skipped, no runs: " + ", ".join(_outcome_name(o) for o in empty))
    if dropped:
        notes.append(f"{dropped:,} non-finite value{'s' if dropped != 1 else ''} dropped")

    fig, ax = _new_or_given(ax, (8.5, 5.2))
    edges = None
    if present or horizon_weeks is not None:
        everything = np.concatenate([np.zeros(0), *present.values()])
        edges = _week_bins(everything, bins, horizon_weeks)
    widths = np.diff(edges) if edges is not None else None

    def x_of(week_values: np.ndarray | float) -> np.ndarray | float:
        """Weeks from the forecast start as x coordinates (date numbers on a date axis)."""
        if day0 is None:
            return week_values
        return mdates.date2num(day0) + np.asarray(week_values) * 7.0

    handles, labels, peak = [], [], 0.0
    order = {o: i for i, o in enumerate(data)}
    for outcome, array in present.items():
        style = _style(outcome, order[outcome])
        counts, outside = _right_closed_counts(array, edges)
        if outside:
            notes.append(f"{outside:,} {_outcome_name(outcome)} run(s) outside the bins")
        share = counts / array.size / widths  # of this outcome's runs, per week
        peak = max(peak, float(share.max()) if share.size else 0.0)
        steps = ax.stairs(
            share,
            x_of(edges),
            color=style["color"],
            linestyle=style["linestyle"],
            linewidth=2.0,
            label=_outcome_name(outcome),
            zorder=3,
        )
        steps.set_gid(f"hist_{outcome}")
        median = float(np.median(array))
        vline = ax.axvline(
            x_of(median),
            color=style["color"],
            linestyle=style["linestyle"],
            linewidth=1.4,
            alpha=0.9,
            zorder=2,
            label=f"median {_outcome_name(outcome)}",
        )
        vline.set_gid(f"median_{outcome}")
        handles.append(
            Line2D([], [], color=style["color"], linestyle=style["linestyle"], linewidth=2.0)
        )
        when = f" ({day0 + np.timedelta64(round(median * 7), 'D')})" if day0 is not None else ""
        of_all = f" ({_percent(array.size / runs)} of all)" if runs else ""
        plural = "s" if array.size != 1 else ""
        labels.append(
            f"{_outcome_name(outcome)}: {array.size:,} run{plural}{of_all}, "
            f"median {_weeks_text(median)} weeks{when}"
        )

    if edges is not None:
        ax.set_xlim(x_of(edges[0]), x_of(edges[-1]))
    if present:
        # room above the outlines for the legend
        ax.set_ylim(0.0, max(peak, 1e-9) * (1.15 + 0.11 * (len(handles) + 1)))
        ax.legend(
            handles,
            labels,
            title="vertical lines: medians",
            loc="upper right",
            fontsize=NOTE_SIZE,
            title_fontsize=NOTE_SIZE,
            framealpha=0.9,
        )
    else:
        ax.text(
            0.5,
            0.5,
            "no run reached any of these outcomes",
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=NOTE_SIZE,
            color="0.3",
        )
    if edges is not None and present:
        width = float(np.median(widths))
        notes.insert(
            0,
            f"bins of {width:g} week{'s' if width != 1 else ''}; each run counted "
            "once, for its outcome at the horizon",
        )
    if day0 is not None:
        limits = ax.get_xlim()
        _date_axis(ax, np.array([day0, day0 + np.timedelta64(7, "D")], dtype="datetime64[D]"))
        ax.set_xlim(limits)
        ax.set_xlabel("Date the outcome was reached (end of its step)", fontsize=LABEL_SIZE)
    else:
        ax.set_xlabel("Weeks from the forecast start", fontsize=LABEL_SIZE)
    ax.set_ylabel("Share of the outcome's runs, per week", fontsize=LABEL_SIZE)
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=None))
    ax.tick_params(labelsize=TICK_SIZE)
    ax.grid(True, axis="y", color="0.9", linewidth=0.8)
    ax.set_axisbelow(True)
    _title(ax, title or "Time from the forecast start to each outcome", *notes)
    return fig


def _right_closed_counts(values: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, int]:
    """Counts per bin ``(edges[i], edges[i + 1]]`` (the first bin closed at both ends: a
    value is the end of the step a run was reached in), and how many fell outside."""
    index = np.searchsorted(edges, values, side="left") - 1
    index[values == edges[0]] = 0
    inside = (index >= 0) & (index < edges.size - 1)
    counts = np.bincount(index[inside], minlength=edges.size - 1).astype(float)
    return counts, int((~inside).sum())


def _week_bins(
    values: np.ndarray,
    bins: int | Sequence[float] | np.ndarray | None,
    horizon_weeks: float | None = None,
) -> np.ndarray:
    """Bin edges: as given; ``bins`` equal bins; or whole weeks (<= 40 bins). Over the
    forecast (0 to ``horizon_weeks``) if given, else over the values."""
    if bins is not None and not np.isscalar(bins):
        edges = np.asarray(bins, dtype=float)
        if edges.ndim != 1 or edges.size < 2 or not (np.diff(edges) > 0).all():
            raise ValueError("bins: expected increasing bin edges")
        return edges
    if horizon_weeks is not None:
        low, high = 0.0, float(horizon_weeks)
    else:
        low = float(np.floor(min(values.min(), 0.0)))
        high = float(np.ceil(values.max()))
    high = max(high, low + 1.0)
    if bins is not None:
        return np.linspace(low, high, int(bins) + 1)
    width = max(1.0, float(np.ceil((high - low) / 40)))
    edges = np.arange(low, high, width)
    # the last bin ends at the horizon (it may be narrower: its share is per week)
    return np.append(edges, high)
