"""Scenario discovery figures: PRIM's peeling trajectory, and the runs around its box.

* :func:`plot_tradeoff`: the boxes PRIM passed through, density against coverage,
  coloured by how many parameters each restricts, with the chosen box (and the box left
  after dropping its insignificant restrictions) marked and the base rate drawn;
* :func:`plot_box_pairs`: the runs (or sweep points) on pairwise scatter plots of the
  box's restricted parameters with the box drawn on each; for a box on one parameter,
  the rate of the outcome against it; for no box, a panel that says so.

Both take a :class:`sim.analysis.discover.Discovery` (what ``discover`` returns) and
return a new :class:`matplotlib.figure.Figure` that pyplot does not track
(:func:`plot_tradeoff` draws on ``ax`` instead when given one). The drawn artists carry
gids so that tests and callers can find them: "trajectory", "chosen_box",
"chosen_box_label", "chosen_box_line", "final_box" (and its label and line), "base_rate"
and "base_rate_label" on the trade-off; on the box figure, panels "pair:<x>|<y>",
"rate:<parameter>" or "no_box", and in them "box" (the box's rectangle, at its limits),
"cases" and "others" (single runs), "points" (sweep points), "rate" and "no_box_text".

Every text is placed where it overlaps no other (tests/test_figure_layout.py's check):
the labels of the trade-off are put, once the figure is laid out, in the free spot
nearest their marker.
"""

from __future__ import annotations

import math
import re
import textwrap
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib import colormaps, patheffects
from matplotlib.axes import Axes
from matplotlib.colors import BoundaryNorm, to_rgba
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.textpath import text_to_path
from matplotlib.ticker import MaxNLocator, PercentFormatter

from sim.analysis.outcomes import wilson
from sim.plots.style import (
    _GENERIC_SEGMENTS,
    _TEXT_BOX,
    CMAP,
    LABEL_SIZE,
    NOTE_SIZE,
    TICK_SIZE,
    TITLE_SIZE,
    _legend_below,
    _new_figure,
    _new_or_given,
    _outcome_name,
    _root_figure,
    _style,
    _title,
    _wrap_to_axes,
    outcome_label,
)

if TYPE_CHECKING:
    from sim.analysis.discover import Discovery, Limit

__all__ = ["plot_box_pairs", "plot_tradeoff"]

#: At most this many single runs are drawn per panel (every k-th row, so the same ones
#: on every machine).
MAX_POINTS = 4000
#: Colour of the runs that do not end in the outcome.
_OTHER_COLOUR = "0.6"
#: The box's outline: black over a white stroke, visible on any colour.
_BOX_EDGE = {
    "fill": False,
    "edgecolor": "black",
    "linewidth": 2.0,
    "path_effects": [patheffects.withStroke(linewidth=4.0, foreground="white")],
}


def _pct(p: float) -> str:
    return f"{100 * p:.1f}%"


def _runs_text(discovery: Discovery) -> str:
    data = discovery.data
    rows, trials = len(data.x), int(data.trials.sum())
    if np.all(data.trials == 1):
        return f"{rows:,} runs"
    return f"{rows:,} {_rows_word(discovery)} ({trials:,} runs)"


def _rows_word(discovery: Discovery) -> str:
    """What a row with several runs is: a sweep point, or a (policy, world) pair."""
    return "(policy, world) pairs" if discovery.data.source == "worlds" else "sweep points"


def _text_size(text: str, size: float) -> tuple[float, float]:
    """Width and height (points) of ``text`` (lines at 1.2 of the font size)."""
    prop = FontProperties(size=size)
    lines = text.split("\n")
    width = max(
        text_to_path.get_text_width_height_descent(line, prop, ismath=False)[0] for line in lines
    )
    return width, 1.2 * size * len(lines)


# ------------------------------------------------------------------ the trade-off
def plot_tradeoff(discovery: Discovery, ax: Axes | None = None) -> Figure:
    """PRIM's peeling trajectory: each box's density (the share of its runs that end in
    the outcome) against its coverage (the share of all such runs that fall in it).

    Points are coloured by the number of parameters the box restricts; the chosen box
    (``discovery.chosen``) is ringed and labelled, the box left after dropping
    insignificant restrictions (``discovery.box``) marked with a diamond when it differs,
    and a dashed line marks the base rate (the density of the whole space).
    """
    table = discovery.trajectory.table()
    coverage = 100 * table["coverage"].to_numpy(dtype=float)
    density = 100 * table["density"].to_numpy(dtype=float)
    restricted = table["restricted"].to_numpy(dtype=int)
    name = _outcome_name(discovery.data.outcome)
    colour = _style(discovery.data.outcome, 0)["color"]
    base = 100 * discovery.base_rate

    fig, ax = _new_or_given(ax, (8.0, 6.4))
    top = max(int(restricted.max()), 1)
    cmap = colormaps[CMAP].resampled(top + 1)
    norm = BoundaryNorm(np.arange(-0.5, top + 1.0), cmap.N)
    ax.plot(coverage, density, color="0.55", linewidth=1.0, zorder=2, gid="trajectory_path")
    points = ax.scatter(
        coverage,
        density,
        c=restricted,
        cmap=cmap,
        norm=norm,
        s=34,
        edgecolors="black",
        linewidths=0.5,
        zorder=3,
        clip_on=False,
        gid="trajectory",
    )
    ax.axhline(base, color="black", linestyle="--", linewidth=1.2, zorder=1, gid="base_rate")

    chosen = discovery.trajectory.boxes[discovery.chosen]
    at = (100 * chosen.coverage, 100 * chosen.density)
    ax.plot(
        *at, linestyle="none", marker="o", markersize=17, markerfacecolor="none",
        markeredgecolor="black", markeredgewidth=2.0, zorder=5, clip_on=False, gid="chosen_box",
    )  # fmt: skip
    final = discovery.box
    final_at = (100 * final.coverage, 100 * final.density)
    differs = not np.allclose(final_at, at, atol=1e-9)
    if differs:
        ax.plot(
            *final_at, linestyle="none", marker="D", markersize=10, color=colour,
            markeredgecolor="black", markeredgewidth=1.0, zorder=6, clip_on=False,
            gid="final_box",
        )  # fmt: skip

    ax.set_xlim(0, 100)
    ax.set_ylim(0, 100)
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(PercentFormatter(100, decimals=0))
    ax.set_xlabel(
        "Coverage: share of the runs ending in " + name + " that are in the box",
        fontsize=LABEL_SIZE,
    )
    ax.set_ylabel(f"Density: share of the box's runs\nthat end in {name}", fontsize=LABEL_SIZE)
    ax.tick_params(labelsize=TICK_SIZE)
    ax.grid(True, color="0.92", linewidth=0.8)
    ax.set_axisbelow(True)

    ticks = range(top + 1) if top <= 12 else MaxNLocator(integer=True)
    bar = fig.colorbar(points, ax=ax, ticks=ticks, fraction=0.05, pad=0.03)
    bar.set_label("Parameters the box restricts", fontsize=LABEL_SIZE)
    bar.ax.tick_params(labelsize=TICK_SIZE)
    bar.ax.minorticks_off()

    handles = [
        Line2D([], [], color="0.55", linewidth=1.0, marker="o", markersize=6,
               markerfacecolor=cmap(0.5), markeredgecolor="black", markeredgewidth=0.5),
        Line2D([], [], linestyle="none", marker="o", markersize=12, markerfacecolor="none",
               markeredgecolor="black", markeredgewidth=2.0),
        Line2D([], [], color="black", linestyle="--", linewidth=1.2),
    ]  # fmt: skip
    labels = [
        "boxes on the peeling trajectory",
        f"chosen box ({discovery.chosen})",
        f"base rate ({base:.1f}%)",
    ]
    if differs:
        handles.insert(
            2,
            Line2D([], [], linestyle="none", marker="D", markersize=8, color=colour,
                   markeredgecolor="black", markeredgewidth=1.0),
        )  # fmt: skip
        labels.insert(2, f"box {discovery.chosen} without its insignificant restrictions")
    _legend_below(ax, handles, labels, ncols=2, fontsize=NOTE_SIZE, frameon=False, handlelength=2.2)
    _title(
        ax,
        f"Where runs end in {name}: PRIM's peeling trajectory",
        f"{_runs_text(discovery)}, {int(discovery.data.hits.sum()):,} ending in {name}",
        f"box {discovery.chosen} chosen"
        + (" (as asked)" if discovery.settings.get("box") is not None else "")
        + f": {_restriction_text(chosen)}",
    )
    _label_tradeoff(ax, discovery, coverage, density, base, at, final_at if differs else None)
    return fig


def _restriction_text(box: Any) -> str:
    k = len(box.limits)
    if k == 0:
        return "no restriction (the whole space)"
    return f"it restricts {k} parameter{'s' if k != 1 else ''}"


def _label_tradeoff(
    ax: Axes,
    discovery: Discovery,
    coverage: np.ndarray,
    density: np.ndarray,
    base: float,
    chosen_at: tuple[float, float],
    final_at: tuple[float, float] | None,
) -> None:
    """The base-rate label and the labels of the chosen and final boxes, each placed
    (once the figure is laid out) where it covers no point, line or other label."""
    fig = _root_figure(ax)
    engine = fig.get_layout_engine()
    if engine is not None:
        engine.execute(fig)  # the layout, so the axes' size is known
    box = ax.get_position()
    width = fig.get_figwidth() * box.width * 72.0
    height = fig.get_figheight() * box.height * 72.0
    sx, sy = width / 100.0, height / 100.0  # points per percent

    # The trajectory, densely sampled along its path, and the base-rate line.
    path_x, path_y = _sample_path(coverage * sx, density * sy, step=4.0)
    line_x = np.arange(0.0, width, 4.0)
    line_y = np.full_like(line_x, base * sy)
    obstacles: list[tuple[float, float, float, float]] = []

    label = f"base rate {base:.1f}%"
    w, h = _text_size(label, NOTE_SIZE)
    above = base < 90
    y0 = base * sy + 2 if above else base * sy - 2 - h
    # the left end, unless the trajectory passes there (then the right end)
    left = (4.0, y0, 4.0 + w + 4, y0 + h)
    right = (width - w - 8, y0, width - 4.0, y0 + h)
    spot = left if not _hits(left, path_x, path_y, 6.0) else right
    text = ax.text(
        (spot[0] + 2) / width, (y0 + (0 if above else h)) / height, label,
        transform=ax.transAxes, ha="left", va="bottom" if above else "top", fontsize=NOTE_SIZE,
        color="black", bbox=_TEXT_BOX, zorder=6, gid="base_rate_label",
    )  # fmt: skip
    text.set_in_layout(False)  # the labels go where the layout left room
    obstacles.append(spot)

    chosen = discovery.trajectory.boxes[discovery.chosen]
    targets = [
        (
            "chosen_box_label",
            chosen_at,
            f"box {discovery.chosen}: coverage {100 * chosen.coverage:.1f}%, "
            f"density {100 * chosen.density:.1f}%\nmass {_pct(chosen.mass)}; "
            f"{_restriction_text(chosen)}",
        )
    ]
    if final_at is not None:
        final, dropped = discovery.box, len(discovery.dropped)
        targets.append(
            (
                "final_box_label",
                final_at,
                f"box {discovery.chosen} without {dropped} insignificant "
                f"restriction{'s' if dropped != 1 else ''}:\ncoverage {_pct(final.coverage)}, "
                f"density {_pct(final.density)}; {_restriction_text(final)}",
            )
        )
    marks_x = [chosen_at[0] * sx] + ([final_at[0] * sx] if final_at is not None else [])
    marks_y = [chosen_at[1] * sy] + ([final_at[1] * sy] if final_at is not None else [])
    avoid_x = np.concatenate([path_x, line_x, marks_x])
    avoid_y = np.concatenate([path_y, line_y, marks_y])
    texts = list(obstacles)  # what a label's text must not cover
    extents = list(obstacles)  # what a label with its line to the box must not cover
    for gid, (tx, ty), text in targets:
        w, h = _text_size(text, NOTE_SIZE)
        w, h = w + 6, h + 4  # the text box's padding
        target = (tx * sx, ty * sy)
        args = (target, (w, h), (width, height), avoid_x, avoid_y)
        centre = (
            _free_spot(*args, extents, with_line=True)
            or _free_spot(*args, texts, with_line=False)
            or (width - w / 2 - 4, height - h / 2 - 4)  # the upper right: rarely reached
        )
        cx, cy = centre
        texts.append((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2))
        extents.append(
            (
                min(cx - w / 2, target[0]),
                min(cy - h / 2, target[1]),
                max(cx + w / 2, target[0]),
                max(cy + h / 2, target[1]),
            )
        )
        label = ax.text(
            cx / width, cy / height, text, transform=ax.transAxes, ha="center", va="center",
            fontsize=NOTE_SIZE, bbox={**_TEXT_BOX, "alpha": 0.9}, zorder=7, gid=gid,
        )  # fmt: skip
        label.set_in_layout(False)
        # the line from the label's edge to the marker's edge (ring or diamond)
        (x0, y0), (x1, y1) = _connector(centre, (w, h), target, 9.0 if "chosen" in gid else 7.0)
        ax.plot(
            [x0 / sx, x1 / sx], [y0 / sy, y1 / sy], color="0.15", linewidth=0.9, zorder=6,
            clip_on=False, gid=gid.replace("_label", "_line"),
        )  # fmt: skip


def _connector(
    centre: tuple[float, float], size: tuple[float, float], target: tuple[float, float], gap: float
) -> tuple[tuple[float, float], tuple[float, float]]:
    """The segment from the edge of a label's box to ``gap`` points short of ``target``."""
    (cx, cy), (w, h), (tx, ty) = centre, size, target
    dx, dy = tx - cx, ty - cy
    # where the line from the centre leaves the box
    t = min(w / 2 / abs(dx) if dx else math.inf, h / 2 / abs(dy) if dy else math.inf)
    start = (cx + t * dx, cy + t * dy)
    length = math.hypot(tx - start[0], ty - start[1])
    if length <= gap:
        return start, start
    end = (tx - gap * (tx - start[0]) / length, ty - gap * (ty - start[1]) / length)
    return start, end


def _sample_path(x: np.ndarray, y: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Points every ``step`` along the polyline through (x, y)."""
    xs, ys = [x[:1]], [y[:1]]
    for i in range(1, len(x)):
        length = math.hypot(x[i] - x[i - 1], y[i] - y[i - 1])
        n = max(int(length / step), 1)
        t = np.linspace(0.0, 1.0, n + 1)[1:]
        xs.append(x[i - 1] + t * (x[i] - x[i - 1]))
        ys.append(y[i - 1] + t * (y[i] - y[i - 1]))
    return np.concatenate(xs), np.concatenate(ys)


def _hits(
    rect: tuple[float, float, float, float], x: np.ndarray, y: np.ndarray, margin: float
) -> bool:
    x0, y0, x1, y1 = rect
    inside = (x > x0 - margin) & (x < x1 + margin) & (y > y0 - margin) & (y < y1 + margin)
    return bool(inside.any())


def _free_spot(
    target: tuple[float, float],
    size: tuple[float, float],
    area: tuple[float, float],
    avoid_x: np.ndarray,
    avoid_y: np.ndarray,
    obstacles: list[tuple[float, float, float, float]],
    with_line: bool,
) -> tuple[float, float] | None:
    """The centre (points from the axes' corner) of a ``size`` text box inside ``area``,
    nearest to ``target``, that covers no point to avoid and meets no obstacle (with
    ``with_line``, neither does its line to the target); None if there is none."""
    w, h = size
    width, height = area
    margin, gap = 7.0, 14.0
    xs = np.arange(w / 2 + 4, max(width - w / 2 - 4, w / 2 + 5), 4.0)
    ys = np.arange(h / 2 + 4, max(height - h / 2 - 4, h / 2 + 5), 4.0)
    cx, cy = (a.ravel() for a in np.meshgrid(xs, ys))
    ok = np.ones(cx.shape, dtype=bool)
    # no point within the box (and its margin)
    for start in range(0, len(avoid_x), 256):
        px, py = avoid_x[start : start + 256], avoid_y[start : start + 256]
        near = (np.abs(px[None, :] - cx[:, None]) < w / 2 + margin) & (
            np.abs(py[None, :] - cy[:, None]) < h / 2 + margin
        )
        ok &= ~near.any(axis=1)
    tx, ty = target
    left, right, bottom, top = cx - w / 2, cx + w / 2, cy - h / 2, cy + h / 2
    if with_line:  # the label's whole extent: its box and the line to the target
        left, right = np.minimum(left, tx), np.maximum(right, tx)
        bottom, top = np.minimum(bottom, ty), np.maximum(top, ty)
    for x0, y0, x1, y1 in obstacles:
        ok &= ~((right > x0 - 4) & (left < x1 + 4) & (top > y0 - 4) & (bottom < y1 + 4))
    # the box's edge at least ``gap`` from the target, so the connecting line shows
    dx = np.maximum(np.abs(cx - tx) - w / 2, 0.0)
    dy = np.maximum(np.abs(cy - ty) - h / 2, 0.0)
    distance = np.hypot(dx, dy)
    ok &= distance >= gap
    if not ok.any():
        return None
    best = int(np.argmin(np.where(ok, distance, np.inf)))
    return float(cx[best]), float(cy[best])


# ----------------------------------------------------------------- the box pairs
@dataclass
class _Axis:
    """Where a parameter's values go on a plot axis: numbers, or category codes."""

    name: str
    values: np.ndarray  # plot coordinate of every row (codes for a categorical one)
    categories: np.ndarray | None  # the words, in code order (np.unique's, as PRIM's)
    lim: tuple[float, float]

    @property
    def categorical(self) -> bool:
        return self.categories is not None

    def spans(self, limit: Limit) -> list[tuple[float, float]]:
        """The box's range on this axis: [low, high], or each run of allowed codes."""
        if not self.categorical:
            return [(float(limit.low), float(limit.high))]
        allowed = np.isin(self.categories, list(limit.values or ()))
        out, start = [], None
        for code, keep in enumerate([*allowed, False]):
            if keep and start is None:
                start = code
            elif not keep and start is not None:
                out.append((start - 0.45, code - 1 + 0.45))
                start = None
        return out

    def apply(self, ax: Axes, which: str, label: str, room: float) -> None:
        """Limits, ticks (the words of a categorical parameter) and the label. ``room``
        is the panel's length along the axis in points."""
        set_lim = ax.set_xlim if which == "x" else ax.set_ylim
        set_lim(*self.lim)
        axis = ax.xaxis if which == "x" else ax.yaxis
        if self.categorical:
            words = [str(c) for c in self.categories]
            axis.set_ticks(np.arange(len(words)), words)
            if which == "x":
                space = room / max(len(words), 1)
                if max(_text_size(w, TICK_SIZE)[0] for w in words) > 0.85 * space:
                    for tick in ax.get_xticklabels():
                        tick.set_rotation(90)
        else:
            axis.set_major_locator(MaxNLocator(nbins=5 if room > 250 else 4))
        (ax.set_xlabel if which == "x" else ax.set_ylabel)(label, fontsize=LABEL_SIZE)
        ax.tick_params(axis=which, labelsize=TICK_SIZE)


def _axis_of(discovery: Discovery, name: str) -> _Axis:
    column = discovery.data.x[name]
    if discovery.data.categorical(name):
        categories, codes = np.unique(column.to_numpy(dtype=str), return_inverse=True)
        return _Axis(name, codes.astype(float), categories, (-0.6, len(categories) - 0.4))
    values = column.to_numpy(dtype=float)
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    pad = 0.03 * (high - low) if high > low else 0.5
    return _Axis(name, values, None, (low - pad, high + pad))


def _short_names(names: list[str]) -> dict[str, str]:
    """Each dotted path without the segments that say nothing (``states``, ``policy``),
    when no two parameters then read the same; else the full path."""
    short = {}
    for name in names:
        parts = [p for p in name.split(".") if p]
        kept = [p for p in parts if p not in _GENERIC_SEGMENTS] or parts
        short[name] = ".".join(kept)
    if len(set(short.values())) < len(short) or set(short.values()) & (set(names) - set(short)):
        return {name: name for name in names}
    return short


def _path_label(name: str, everyone: list[str], chars: int) -> str:
    """The parameter's dotted path for an axis label: whole if it fits ``chars``; else
    without its uninformative segments (if that leaves no two alike), broken after dots."""
    if len(name) <= chars:
        return name
    label = _short_names(everyone)[name]
    if len(label) <= chars:
        return label
    lines, line = [], ""
    for piece in re.findall(r"[^.]+\.?", label):
        if line and len(line) + len(piece) > chars:
            lines.append(line)
            line = ""
        line += piece
    lines.append(line)
    return "\n".join(lines)


def _step(n: int) -> int:
    return max(1, math.ceil(n / MAX_POINTS))


def _every_text(step: int) -> str:
    if step == 1:
        return ""
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(
        step % 10 if step % 100 not in (11, 12, 13) else 0, "th"
    )
    return f"every {step}{suffix} run shown"


def plot_box_pairs(discovery: Discovery) -> Figure:
    """The runs (or sweep points) around PRIM's box, with the box drawn.

    For a box on two or more parameters: scatter plots of every pair of them (the lower
    triangle of a grid for three or more), single runs coloured by whether they end in
    the outcome (at most 4,000 per panel: every k-th run), sweep points by the share of
    their runs that do (a colour bar); the box's rectangle on each panel. For a box on
    one parameter: the rate of the outcome against it, in bins, with 95% intervals and
    the box's range shaded. For no box: a panel that says so.
    """
    limits = list(discovery.box.limits)
    if not limits:
        return _no_box(discovery)
    if len(limits) == 1:
        return _one_parameter(discovery, limits[0])
    return _pairs(discovery, limits)


def _box_note(discovery: Discovery) -> str:
    box = discovery.box
    return (
        f"the box: coverage {_pct(box.coverage)}, density {_pct(box.density)} "
        f"(base rate {_pct(discovery.base_rate)}), mass {_pct(box.mass)}"
    )


def _no_box(discovery: Discovery) -> Figure:
    name = _outcome_name(discovery.data.outcome)
    fig = _new_figure((7.5, 4.2))
    ax = fig.add_subplot()
    ax.set_gid("no_box")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_color("0.8")
    lines = ["no box: no restriction raises the density significantly"]
    if discovery.dropped:
        words = ", ".join(d["name"] for d in discovery.dropped)
        lines.append(
            f"(PRIM's box {discovery.chosen} restricted {words}, none of them "
            f"significantly: quasi-p > {discovery.settings.get('max_p', 0.05):g})"
        )
    lines.append(f"{_pct(discovery.base_rate)} of all runs end in {name}")
    body = "\n".join(textwrap.fill(line, 60) for line in lines)
    ax.text(
        0.5, 0.5, body, transform=ax.transAxes, ha="center", va="center",
        fontsize=LABEL_SIZE, linespacing=1.5, gid="no_box_text",
    )  # fmt: skip
    _title(ax, f"Where runs end in {name}: no box", _runs_text(discovery))
    return fig


def _one_parameter(discovery: Discovery, limit: Limit) -> Figure:
    """The rate of the outcome against the box's only parameter, its range shaded."""
    data = discovery.data
    name = _outcome_name(data.outcome)
    colour = _style(data.outcome, 0)["color"]
    axis = _axis_of(discovery, limit.name)
    values = axis.values
    hits, trials = data.hits.astype(float), data.trials.astype(float)
    if axis.categorical:
        centres = np.arange(len(axis.categories), dtype=float)
        which = values.astype(int)
        width = 0.8
    else:
        distinct = np.unique(values)
        if len(distinct) <= 25:
            centres = distinct
            which = np.searchsorted(distinct, values)
            width = None
        else:
            edges = np.linspace(distinct[0], distinct[-1], 21)
            centres = (edges[1:] + edges[:-1]) / 2
            which = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, 19)
            width = edges[1] - edges[0]
    k = np.bincount(which, weights=hits, minlength=len(centres))
    t = np.bincount(which, weights=trials, minlength=len(centres))
    seen = t > 0
    rate = np.where(seen, k / np.where(seen, t, 1), np.nan)
    bounds = np.array(
        [wilson(int(a), int(b)) if b else (np.nan, np.nan) for a, b in zip(k, t, strict=True)]
    )

    fig = _new_figure((8.0, 5.6))
    ax = fig.add_subplot()
    ax.set_gid(f"rate:{limit.name}")
    for low, high in axis.spans(limit):
        ax.add_patch(
            Rectangle(
                (low, 0.0), high - low, 1.0, transform=ax.get_xaxis_transform(),
                facecolor=colour, alpha=0.14, edgecolor="none", zorder=1, gid="box_shade",
            )
        )  # fmt: skip
        ax.add_patch(
            Rectangle(
                (low, 0.0), high - low, 1.0, transform=ax.get_xaxis_transform(),
                fill=False, edgecolor="black", linewidth=1.5, zorder=2,
                gid="box",
            )
        )  # fmt: skip
    ax.axhline(
        100 * discovery.base_rate, color="black", linestyle="--", linewidth=1.2, zorder=2,
        gid="base_rate",
    )  # fmt: skip
    error = 100 * np.abs(np.vstack([rate - bounds[:, 0], bounds[:, 1] - rate]))
    ax.errorbar(
        centres[seen], 100 * rate[seen], yerr=error[:, seen], color=colour,
        marker=_style(data.outcome, 0)["marker"], markersize=6, markeredgecolor="black",
        markeredgewidth=0.6, linewidth=1.6, linestyle="-" if not axis.categorical else "none",
        capsize=2.5, elinewidth=1.0, zorder=4, clip_on=False, gid="rate",
    )  # fmt: skip
    ax.set_ylim(0, 100)
    ax.yaxis.set_major_formatter(PercentFormatter(100, decimals=0))
    ax.set_ylabel(f"Share of runs ending in {name}", fontsize=LABEL_SIZE)
    room = fig.get_figwidth() * 0.75 * 72
    axis.apply(ax, "x", _path_label(limit.name, data.names, 60), room)
    ax.tick_params(axis="y", labelsize=TICK_SIZE)
    ax.grid(True, axis="y", color="0.92", linewidth=0.8)
    ax.set_axisbelow(True)

    bins = (
        "per value"
        if axis.categorical or width is None
        else f"in {len(centres)} bins of equal width"
    )
    handles = [
        Line2D([], [], color=colour, marker=_style(data.outcome, 0)["marker"], markersize=6,
               markeredgecolor="black", markeredgewidth=0.6, linewidth=1.6),
        Patch(facecolor=to_rgba(colour, 0.14), edgecolor="black", linewidth=1.5),
        Line2D([], [], color="black", linestyle="--", linewidth=1.2),
    ]  # fmt: skip
    labels = [
        f"share ending in {name}, {bins} (95% interval)",
        f"the box: {_limit_text(limit)}",
        f"base rate ({_pct(discovery.base_rate)})",
    ]
    _legend_below(ax, handles, labels, ncols=2, fontsize=NOTE_SIZE, frameon=False)
    _title(
        ax,
        f"Where runs end in {name}: the box on one parameter",
        f"{_runs_text(discovery)}",
        _box_note(discovery),
    )
    return fig


def _limit_text(limit: Limit) -> str:
    if limit.values is not None:
        return "{" + ", ".join(limit.values) + "}"
    return f"{limit.low:.3g} to {limit.high:.3g}"


def _pairs(discovery: Discovery, limits: list[Limit]) -> Figure:
    """Scatter plots of every pair of the box's parameters, the box drawn on each."""
    data = discovery.data
    name = _outcome_name(data.outcome)
    colour = _style(data.outcome, 0)["color"]
    names = [lim.name for lim in limits]
    axes_of = {n: _axis_of(discovery, n) for n in names}
    runs = bool(np.all(data.trials == 1))
    k = len(limits)
    n = k - 1
    panel = min(3.0, 13.0 / n) if n > 1 else 5.6
    extra_w = 1.6 if runs else 2.4
    fig = _new_figure((panel * n + extra_w, panel * n + (1.9 if n > 1 else 1.7)))
    fig.get_layout_engine().set(w_pad=0.06, h_pad=0.06, wspace=0.04, hspace=0.04)
    grid = fig.subplots(n, n, squeeze=False, sharex="col", sharey="row")
    room = panel * 72.0 * 0.85
    chars = max(int(room / (0.6 * LABEL_SIZE)), 16)

    rows = len(data.x)
    step = _step(rows)
    shown = np.arange(0, rows, step)
    hits = data.hits[shown]
    mappable = None
    pooled = False
    size = float(np.clip(6 * 4000 / max(len(shown), 1), 6, 30)) if runs else 0.0
    if n > 1:
        size *= 0.6
    for i in range(n):
        for j in range(n):
            ax = grid[i, j]
            if j > i:
                ax.remove()
                continue
            xa, ya = axes_of[names[j]], axes_of[names[i + 1]]
            ax.set_gid(f"pair:{xa.name}|{ya.name}")
            x, y = xa.values, ya.values
            if xa.categorical:
                x = x + _jitter(len(x), 0.7548776662)
            if ya.categorical:
                y = y + _jitter(len(y), 0.5698402910)
            if runs:
                hit = hits > 0
                ax.scatter(
                    x[shown][~hit], y[shown][~hit], s=size, color=_OTHER_COLOUR, alpha=0.35,
                    linewidths=0, zorder=2, gid="others", rasterized=len(shown) > 1000,
                )  # fmt: skip
                ax.scatter(
                    x[shown][hit], y[shown][hit], s=size * 1.2, color=colour, alpha=0.65,
                    linewidths=0, zorder=3, gid="cases", rasterized=len(shown) > 1000,
                )  # fmt: skip
            else:
                px, py, prate = _aggregate(xa.values, ya.values, data.hits, data.trials)
                pooled = pooled or len(px) < rows
                if xa.categorical:
                    px = px + _jitter(len(px), 0.7548776662)
                if ya.categorical:
                    py = py + _jitter(len(py), 0.5698402910)
                pick = np.arange(0, len(px), _step(len(px)))
                order = pick[np.argsort(prate[pick], kind="stable")]  # high rates on top
                mappable = ax.scatter(
                    px[order], py[order], c=prate[order], cmap=CMAP, vmin=0.0, vmax=1.0,
                    s=float(np.clip(30 * 400 / max(len(pick), 1), 14, 60)), linewidths=0,
                    zorder=2, gid="points",
                )  # fmt: skip
            for x0, x1 in xa.spans(limits[j]):
                for y0, y1 in ya.spans(limits[i + 1]):
                    ax.add_patch(
                        Rectangle((x0, y0), x1 - x0, y1 - y0, zorder=5, gid="box", **_BOX_EDGE)
                    )
            xa.apply(ax, "x", _path_label(xa.name, data.names, chars), room)
            ya.apply(ax, "y", _path_label(ya.name, data.names, chars), room)
            ax.label_outer()

    handles: list[Any] = []
    labels: list[str] = []
    if runs:
        handles += [
            Line2D([], [], linestyle="none", marker="o", markersize=7, color=colour),
            Line2D([], [], linestyle="none", marker="o", markersize=7, color=_OTHER_COLOUR),
        ]
        labels += [f"run ending in {name}", "run ending otherwise"]
    handles.append(Patch(**{key: v for key, v in _BOX_EDGE.items() if key != "path_effects"}))
    labels.append(f"the box (density {_pct(discovery.box.density)})")
    if mappable is not None:
        bar = fig.colorbar(mappable, ax=_live(grid), fraction=0.05, pad=0.03)
        bar.set_label(
            f"{outcome_label(data.outcome)} at the point\n(share of its runs)", fontsize=LABEL_SIZE
        )
        bar.ax.tick_params(labelsize=TICK_SIZE)

    notes = [_runs_text(discovery) + (f", {_every_text(step)}" if runs and step > 1 else "")]
    notes.append(_box_note(discovery))
    if runs and k > 2:
        notes.append("each panel shows every run, whatever its other parameters")
    if pooled:
        notes.append(f"{_rows_word(discovery)} with the same two values pooled")
    main = (
        f"Where runs end in {name}: PRIM's box on {k} parameters"
        if runs
        else f"{outcome_label(data.outcome)} by {_rows_word(discovery)}, with PRIM's box"
    )
    if n == 1:
        ax = grid[0, 0]
        _legend_below(ax, handles, labels, ncols=len(handles), fontsize=NOTE_SIZE, frameon=False)
        _title(ax, main, *notes)
    else:
        fig.suptitle(main, fontsize=TITLE_SIZE)
        # the legend and notes in the empty upper right of the triangle
        corner = fig.add_subplot(grid[0, 0].get_gridspec()[0, 1:], gid="legend_panel")
        corner.axis("off")
        corner.legend(
            handles, labels, loc="upper left", fontsize=NOTE_SIZE, frameon=False,
            title="\n".join(_wrap_to_axes(corner, note, NOTE_SIZE) for note in notes),
            title_fontsize=NOTE_SIZE, alignment="left",
        )  # fmt: skip
    return fig


def _live(grid: np.ndarray) -> list[Axes]:
    return [ax for ax in grid.ravel() if ax.get_figure() is not None]


def _jitter(n: int, alpha: float) -> np.ndarray:
    """A deterministic spread within a category (an additive recurrence, so even)."""
    return ((0.5 + alpha * np.arange(n)) % 1.0 - 0.5) * 0.7


def _aggregate(
    x: np.ndarray, y: np.ndarray, hits: np.ndarray, trials: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sweep points at the same (x, y) pooled: their hits over their trials."""
    table = pd.DataFrame({"x": x, "y": y, "k": hits, "t": trials})
    pooled = table.groupby(["x", "y"], sort=True)[["k", "t"]].sum().reset_index()
    return (
        pooled["x"].to_numpy(dtype=float),
        pooled["y"].to_numpy(dtype=float),
        (pooled["k"] / pooled["t"]).to_numpy(dtype=float),
    )
