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
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

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
from sim.plots.time_axis import _as_days, _check_dates, _date_axis


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


def plot_cumulative_incidence(
    dates: Sequence[Any] | np.ndarray,
    incidence: Mapping[str, tuple[Any, Any, Any]],
    runs: int,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Share of runs that reached each outcome by each date, with 95% bands.

    ``incidence`` maps an outcome (``"spiral"``, ``"de_escalation"``) to ``(p, low,
    high)``: arrays over ``dates`` of the cumulative share of the ``runs`` runs that
    reached it and its 95% (Wilson) interval. Outcomes compete: a run counts once, for
    its outcome at the horizon from the step it was reached, so the curves never add up
    to more than 1 and each ends at its outcome's share.
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
    _title(
        ax,
        title or "Cumulative incidence of the outcomes",
        f"{int(runs):,} run{'s' if int(runs) != 1 else ''}; each run counts once, for its "
        "outcome at the horizon, from the step it was reached",
    )
    return fig


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

    ax.set_xticks(centres, [textwrap.fill(label, 18) for label in labels])
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
) -> Figure:
    """Histogram of the weeks from the forecast start to each outcome, median marked.

    ``weeks`` maps an outcome to the weeks each run that reached it took (runs that did
    not are left out). One step outline per outcome, with its own line style, on shared
    bins (``bins``: a count or the edges; by default whole weeks, widened so there are
    at most 40 bins); a vertical line marks each median, given in the legend with the
    number of runs. Outcomes with no runs are skipped and named in the note under the
    title; values that are not finite are dropped and counted there too.
    """
    if not weeks:
        raise ValueError("weeks: no outcomes to plot")
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
    if present:
        edges = _week_bins(np.concatenate(list(present.values())), bins)
    handles, labels, peak = [], [], 0.0
    order = {o: i for i, o in enumerate(data)}
    for outcome, array in present.items():
        style = _style(outcome, order[outcome])
        counts, _ = np.histogram(array, bins=edges)
        outside = array.size - int(counts.sum())
        if outside:
            notes.append(f"{outside:,} {_outcome_name(outcome)} run(s) outside the bins")
        peak = max(peak, float(counts.max()) if counts.size else 0.0)
        steps = ax.stairs(
            counts,
            edges,
            color=style["color"],
            linestyle=style["linestyle"],
            linewidth=2.0,
            label=_outcome_name(outcome),
            zorder=3,
        )
        steps.set_gid(f"hist_{outcome}")
        median = float(np.median(array))
        vline = ax.axvline(
            median,
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
        labels.append(
            f"{_outcome_name(outcome)}: median {_weeks_text(median)} weeks, n = {array.size:,}"
        )

    if present:
        ax.set_xlim(edges[0], edges[-1])
        # room above the bars for the legend
        ax.set_ylim(0.0, max(peak, 1.0) * (1.15 + 0.11 * (len(handles) + 1)))
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
    ax.set_xlabel("Weeks from the forecast start", fontsize=LABEL_SIZE)
    ax.set_ylabel("Runs", fontsize=LABEL_SIZE)
    ax.tick_params(labelsize=TICK_SIZE)
    ax.grid(True, axis="y", color="0.9", linewidth=0.8)
    ax.set_axisbelow(True)
    _title(ax, title or "Time from the forecast start to each outcome", *notes)
    return fig


def _week_bins(values: np.ndarray, bins: int | Sequence[float] | np.ndarray | None) -> np.ndarray:
    """Bin edges: as given; ``bins`` equal bins over the data; or whole weeks (<= 40 bins)."""
    if bins is not None and not np.isscalar(bins):
        edges = np.asarray(bins, dtype=float)
        if edges.ndim != 1 or edges.size < 2 or not (np.diff(edges) > 0).all():
            raise ValueError("bins: expected increasing bin edges")
        return edges
    low, high = float(np.floor(min(values.min(), 0.0))), float(np.ceil(values.max()))
    if bins is not None:
        return np.linspace(low, max(high, low + 1.0), int(bins) + 1)
    width = max(1.0, float(np.ceil((high - low) / 40)))
    return np.arange(low, high + width + 1e-9, width)
