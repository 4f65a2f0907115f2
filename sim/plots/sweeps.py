"""Sweep figures: a heatmap of P(outcome) over a two-parameter grid, and curves of the
outcome probabilities against one swept parameter.

Both read the per-point table of a sweep (one row per sweep point, with a column per
swept parameter named by its dotted path, ``status``, and for each outcome
``p_<outcome>``, ``ci95_low_<outcome>`` and ``ci95_high_<outcome>``). Rows whose
status is not ``"ok"`` (or whose probabilities are missing) are skipped, and the title
says how many were. The swept values go on a numeric (linear or log) or categorical
axis (:class:`_SweepAxis`).

Given the scenario the sweep ran on, each axis also says what its parameter is (the
description its policy declares, :func:`param_description`) and marks the scenario's
own value of it (:func:`scenario_value`).
"""

from __future__ import annotations

import textwrap
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import NullLocator

from sim.distributions import Distribution
from sim.plots.style import (
    CMAP,
    LABEL_SIZE,
    NOTE_SIZE,
    TICK_SIZE,
    _legend_below,
    _new_figure,
    _root_figure,
    _slant,
    _style,
    _title,
    outcome_label,
    param_label,
    scenario_title,
)
from sim.policies import POLICIES

#: Largest grid whose cells are annotated with their probability.
_ANNOTATE_MAX_CELLS = 80


def _require(points: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in points.columns]
    if missing:
        raise KeyError(
            f"sweep table has no column(s) {', '.join(map(repr, missing))}; "
            f"columns are {', '.join(map(str, points.columns))}"
        )


def _usable_rows(points: pd.DataFrame, columns: Sequence[str]) -> tuple[pd.DataFrame, int]:
    """Rows with status ``ok`` and every column in ``columns`` present; and how many not."""
    ok = pd.Series(True, index=points.index)
    if "status" in points.columns:
        ok &= points["status"].astype(str) == "ok"
    for column in columns:
        ok &= points[column].notna()
    return points[ok], int((~ok).sum())


def _skipped_note(skipped: int, what: str) -> str:
    if not skipped:
        return ""
    return f"{skipped} failed point{'s' if skipped != 1 else ''} skipped ({what})"


def _runs_note(rows: pd.DataFrame) -> str:
    if "runs" not in rows.columns or rows.empty:
        return ""
    runs = pd.to_numeric(rows["runs"], errors="coerce").dropna().unique()
    if len(runs) == 1:
        return f"{int(runs[0]):,} runs per point"
    if len(runs) > 1:
        return f"{int(runs.min()):,}-{int(runs.max()):,} runs per point"
    return ""


# ---------------------------------------------------------------------------
# What a swept parameter is, and its value in the scenario
# ---------------------------------------------------------------------------


def _policy_path(path: str) -> tuple[str, str | None, str] | None:
    """(state, counterpart or None, parameter) of ``states.<s>.policy.<p>`` or
    ``states.<s>.toward.<other>.<p>``; None for any other path."""
    parts = str(path).split(".")
    if len(parts) == 4 and parts[0] == "states" and parts[2] == "policy":
        return parts[1], None, parts[3]
    if len(parts) == 5 and parts[0] == "states" and parts[2] == "toward":
        return parts[1], parts[3], parts[4]
    return None


def _relations(scenario: Any, sid: str, other: str | None) -> list[dict[str, Any]]:
    state = scenario.states.get(sid) if scenario is not None else None
    if state is None:
        return []
    if other is not None:
        return [state.policies[other]] if other in state.policies else []
    return list(state.policies.values())


def param_description(path: str, scenario: Any = None) -> str:
    """What a swept policy parameter means: the ``doc`` its policy declares (its
    :class:`sim.policies.Param`), read for the state's policy kind in ``scenario``, or,
    without one, the description every policy having that parameter gives. Empty if
    there is none (a path outside the policies, or policies that disagree)."""
    found = _policy_path(path)
    if found is None:
        return ""
    sid, other, key = found
    kinds = {values.get("kind") for values in _relations(scenario, sid, other)}
    kinds = {kind for kind in kinds if kind in POLICIES} or set(POLICIES)
    docs = {POLICIES[k].all_params()[key].doc for k in kinds if key in POLICIES[k].all_params()}
    return docs.pop() if len(docs) == 1 else ""


def scenario_value(path: str, scenario: Any) -> Any:
    """The scenario's own value at a dotted path (a policy's default when the file does
    not set it), or None when it has none to show: drawn per run from a distribution,
    different toward different counterparts, or not found."""
    if scenario is None:
        return None
    found = _policy_path(path)
    if found is not None:
        sid, other, key = found
        values = []
        for relation in _relations(scenario, sid, other):
            kind = relation.get("kind")
            params = POLICIES[kind].all_params() if kind in POLICIES else {}
            if key in relation:
                values.append(relation[key])
            elif key in params:
                values.append(params[key].default)
        if not values or any(isinstance(v, Distribution) for v in values):
            return None
        return values[0] if all(v == values[0] for v in values) else None
    node: Any = scenario.raw
    for part in str(path).split("."):
        if not isinstance(node, dict) or part not in node:
            node = None
            break
        node = node[part]
    if node is None:
        head, _, rest = str(path).partition(".")
        if head == "outcomes":  # a default the file left out
            node = getattr(scenario.outcomes, rest, None)
        elif head == "missions" and rest.count(".") == 1:
            mid, field = rest.split(".")
            mission = scenario.missions.get(mid)
            node = getattr(mission, field, None) if mission is not None else None
    if isinstance(node, Distribution | dict | list):
        return None
    return node


def _axis_label(path: str, scenario: Any, width: int = 60) -> str:
    """The parameter's name, its dotted path, and on the next lines what it means."""
    label = f"{param_label(path, scenario)} ({path})"
    doc = param_description(path, scenario)
    return f"{label}\n{textwrap.fill(doc, width)}" if doc else label


def _baseline(axis: _SweepAxis, value: Any) -> float | None:
    """Where the scenario's value falls on the axis; None if it is not on it."""
    if value is None or isinstance(value, bool):
        return None
    if axis.categorical:
        index = axis.index.get(str(value))
        return None if index is None else float(axis.centres[index])
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if axis.edges[0] <= number <= axis.edges[-1] else None


#: How far (points) a cell's number must be from the scenario's star to stay put: the
#: star's radius and half the number's width or height, with a margin.
_STAR_CLEAR_X, _STAR_CLEAR_Y = 24.0, 15.0


def _points_on(
    ax: Axes, fig: Figure, x_axis: _SweepAxis, x: float, y_axis: _SweepAxis, y: float
) -> tuple[float, float]:
    """A data point's position in points from the axes' lower left corner (the axes'
    size estimated before layout, which changes it little)."""
    box = ax.get_position()
    width, height = fig.get_figwidth() * box.width * 72.0, fig.get_figheight() * box.height * 72.0
    return _fraction(x_axis, x) * width, _fraction(y_axis, y) * height


def _fraction(axis: _SweepAxis, value: float) -> float:
    """Where ``value`` falls between the axis's first and last edge (0 to 1)."""
    low, high = axis.edges[0], axis.edges[-1]
    if axis.scale == "log":
        return float(np.log(value / low) / np.log(high / low))
    return float((value - low) / (high - low))


def _baseline_note(path: str, value: Any, position: float | None, scenario: Any) -> str:
    if value is None or position is not None:
        return ""
    return f"the scenario's {param_label(path, scenario)}, {_value_text(value)}, is off the axis"


def _value_text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, int | float) else str(value)


# ---------------------------------------------------------------------------
# Axes of a sweep: numeric (linear or log) or categorical
# ---------------------------------------------------------------------------


@dataclass
class _SweepAxis:
    """Where the values of one swept parameter go on a plot axis."""

    centres: np.ndarray  # plot coordinate of each distinct value, in order
    edges: np.ndarray  # cell edges (len(centres) + 1)
    tick_labels: list[str]
    scale: str  # "linear" | "log"
    categorical: bool
    index: dict[Hashable, int]  # value (as in the column) -> position in centres

    def positions(self, values: pd.Series) -> np.ndarray:
        return np.array([self.index[self._key(v)] for v in values], dtype=int)

    def _key(self, value: Any) -> Hashable:
        return str(value) if self.categorical else float(value)


def _is_numeric(column: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(column):
        return False
    if pd.api.types.is_numeric_dtype(column):
        return True
    present = column.dropna()
    if present.empty or present.map(lambda v: isinstance(v, bool)).any():
        return False
    return bool(pd.to_numeric(present, errors="coerce").notna().all())


def _looks_logarithmic(values: np.ndarray) -> bool:
    """Positive values spread over a decade or more, spaced more evenly in log than linearly."""
    if len(values) < 3 or values[0] <= 0 or values[-1] / values[0] < 10:
        return False
    linear, logs = np.diff(values), np.diff(np.log(values))
    # coefficient of variation of the gaps: 0 for evenly spaced values
    return np.std(logs) / np.mean(logs) < 0.5 * np.std(linear) / np.mean(linear)


def _edges(centres: np.ndarray) -> np.ndarray:
    if len(centres) == 1:
        half = 0.5 if centres[0] == 0 else 0.1 * abs(centres[0])
        return np.array([centres[0] - half, centres[0] + half])
    mids = (centres[1:] + centres[:-1]) / 2
    return np.concatenate(
        [[centres[0] - (mids[0] - centres[0])], mids, [centres[-1] + (centres[-1] - mids[-1])]]
    )


def _format_value(value: float) -> str:
    return f"{value:g}"


def _sweep_axis(column: pd.Series, scale: str | None) -> _SweepAxis:
    """The axis for a swept column (all rows, failed ones included, so their cells show)."""
    present = column.dropna()
    if present.empty:
        raise ValueError(f"column {column.name!r} has no values")
    if scale not in (None, "linear", "log"):
        raise ValueError(f"scale must be 'linear' or 'log', not {scale!r}")
    if _is_numeric(present):
        values = np.unique(pd.to_numeric(present).to_numpy(dtype=float))
        if scale is None:
            scale = "log" if _looks_logarithmic(values) else "linear"
        if scale == "log":
            if values[0] <= 0:
                raise ValueError(f"column {column.name!r}: a log axis needs positive values")
            edges = np.exp(_edges(np.log(values)))
        else:
            edges = _edges(values)
        return _SweepAxis(
            centres=values,
            edges=edges,
            tick_labels=[_format_value(v) for v in values],
            scale=scale,
            categorical=False,
            index={float(v): i for i, v in enumerate(values)},
        )
    labels = list(dict.fromkeys(str(v) for v in present))  # order of first appearance
    return _SweepAxis(
        centres=np.arange(len(labels), dtype=float),
        edges=np.arange(len(labels) + 1, dtype=float) - 0.5,
        tick_labels=labels,
        scale="linear",
        categorical=True,
        index={label: i for i, label in enumerate(labels)},
    )


def _apply_axis(ax: Axes, axis: _SweepAxis, which: str, label: str) -> None:
    set_scale = ax.set_xscale if which == "x" else ax.set_yscale
    set_ticks = ax.set_xticks if which == "x" else ax.set_yticks
    set_label = ax.set_xlabel if which == "x" else ax.set_ylabel
    set_scale(axis.scale)
    if axis.categorical or len(axis.centres) <= 12:
        set_ticks(axis.centres, axis.tick_labels)
        if axis.scale == "log":
            (ax.xaxis if which == "x" else ax.yaxis).set_minor_locator(NullLocator())
    set_label(label, fontsize=LABEL_SIZE)
    ax.tick_params(axis=which, labelsize=TICK_SIZE)
    if which == "x" and axis.categorical and sum(len(t) for t in axis.tick_labels) > 60:
        _slant(ax)


# ---------------------------------------------------------------------------
# Sweep plots
# ---------------------------------------------------------------------------


def plot_sweep_heatmap(
    points: pd.DataFrame,
    x: str,
    y: str,
    outcome: str = "spiral",
    ax: Axes | None = None,
    *,
    annotate: bool | None = None,
    xscale: str | None = None,
    yscale: str | None = None,
    scenario: Any = None,
) -> Figure:
    """Heatmap of P(outcome) over a two-parameter sweep grid, with its P = 0.5 contour.

    ``x`` and ``y`` are the swept columns (dotted parameter paths). Numeric values
    may be unevenly spaced: each cell spans the midpoints to its neighbours (on a log
    axis when the values look log-spaced, or as ``xscale``/``yscale`` say); string
    values become ordered categories. Failed points and grid cells without a point
    are left blank. ``annotate`` writes each cell's probability in it (default: when
    the grid has at most 80 cells). Given the ``scenario`` the sweep ran on, each axis
    says what its parameter means, and the scenario's own values are marked: a star
    where both are on the axes, a line where one is (:func:`scenario_value`).
    """
    p_col = f"p_{outcome}"
    _require(points, [x, y, p_col])
    if x == y:
        raise ValueError("x and y must be different parameters")
    x_axis, y_axis = _sweep_axis(points[x], xscale), _sweep_axis(points[y], yscale)
    rows, skipped = _usable_rows(points, [x, y, p_col])
    duplicated = rows.duplicated(subset=[x, y], keep=False)
    if duplicated.any():
        raise ValueError(
            f"several sweep points share the same ({x}, {y}): other parameters vary too; "
            "select one slice of the sweep before plotting"
        )

    grid = np.ma.masked_all((len(y_axis.centres), len(x_axis.centres)), dtype=float)
    if not rows.empty:
        grid[y_axis.positions(rows[y]), x_axis.positions(rows[x])] = rows[p_col].to_numpy(
            dtype=float
        )

    if ax is None:
        fig = _new_figure((7.5, 6.4))
        ax = fig.add_subplot()
    else:
        fig = _root_figure(ax)
    ax.set_facecolor("0.88")  # blank (failed or absent) cells
    mesh = ax.pcolormesh(
        x_axis.edges, y_axis.edges, grid, cmap=CMAP, vmin=0.0, vmax=1.0, shading="flat"
    )
    label = outcome_label(outcome)
    cbar = fig.colorbar(mesh, ax=ax, fraction=0.06, pad=0.03)
    cbar.set_label(label, fontsize=LABEL_SIZE)
    cbar.ax.tick_params(labelsize=TICK_SIZE)

    x_value, y_value = scenario_value(x, scenario), scenario_value(y, scenario)
    x_at, y_at = _baseline(x_axis, x_value), _baseline(y_axis, y_value)
    star = None  # where the scenario's star goes, in points from the axes' corner
    if x_at is not None and y_at is not None:
        star = _points_on(ax, fig, x_axis, x_at, y_axis, y_at)
    if annotate is None:
        annotate = grid.size <= _ANNOTATE_MAX_CELLS
    if annotate:
        cmap = mesh.get_cmap()
        for (iy, ix), value in np.ndenumerate(grid.filled(np.nan)):
            if np.isnan(value):
                continue
            r, g, b, _ = cmap(value)
            dark = 0.299 * r + 0.587 * g + 0.114 * b < 0.5
            shift, va = 0, "center"
            if star is not None:  # a number the star would cover moves above or below it
                cx, cy = _points_on(ax, fig, x_axis, x_axis.centres[ix], y_axis, y_axis.centres[iy])
                if abs(cx - star[0]) < _STAR_CLEAR_X and abs(cy - star[1]) < _STAR_CLEAR_Y:
                    shift, va = (-11, "top") if star[1] >= cy else (11, "bottom")
            ax.annotate(
                f"{value:.2f}",
                xy=(x_axis.centres[ix], y_axis.centres[iy]),
                xytext=(0, shift),
                textcoords="offset points",
                ha="center",
                va=va,
                fontsize=9,
                color="white" if dark else "black",
            )

    values = grid.compressed()
    crosses = values.size > 0 and values.min() < 0.5 < values.max()
    handles, labels = [], []
    if crosses and grid.shape[0] >= 2 and grid.shape[1] >= 2:
        stroke = [patheffects.withStroke(linewidth=4.5, foreground="black")]
        contour = ax.contour(
            x_axis.centres, y_axis.centres, grid, levels=[0.5], colors="white", linewidths=2.2
        )
        contour.set_path_effects(stroke)
        cbar.add_lines(contour)
        handles.append(Line2D([], [], color="white", linewidth=2.2, path_effects=stroke))
        labels.append("P = 0.5")

    mark = {"color": "black", "linewidth": 1.6, "linestyle": (0, (1, 1.5)), "zorder": 4}
    if x_at is not None and y_at is not None:
        ax.plot(
            [x_at], [y_at], linestyle="none", marker="*", markersize=17, color="white",
            markeredgecolor="black", markeredgewidth=1.2, zorder=5, gid="scenario_value",
        )  # fmt: skip
        handles.append(
            Line2D([], [], linestyle="none", marker="*", markersize=13, color="white",
                   markeredgecolor="black", markeredgewidth=1.2)
        )  # fmt: skip
        labels.append(
            f"scenario's values: {param_label(x, scenario)} {_value_text(x_value)}, "
            f"{param_label(y, scenario)} {_value_text(y_value)}"
        )
    elif x_at is not None or y_at is not None:
        line = ax.axvline(x_at, **mark) if x_at is not None else ax.axhline(y_at, **mark)
        line.set_gid("scenario_value")
        handles.append(Line2D([], [], **mark))
        labels.append(f"scenario value: {_value_text(x_value if x_at is not None else y_value)}")
    _apply_axis(ax, x_axis, "x", _axis_label(x, scenario))
    _apply_axis(ax, y_axis, "y", _axis_label(y, scenario, 45))
    ax.set_xlim(x_axis.edges[0], x_axis.edges[-1])
    ax.set_ylim(y_axis.edges[0], y_axis.edges[-1])
    if handles:  # under the x axis: the colour bar is on the right
        _legend_below(
            ax, handles, labels, ncols=len(handles), fontsize=NOTE_SIZE, frameon=False,
            handlelength=2.5,
        )  # fmt: skip
    side = ""
    if values.size and not crosses:
        side = f"{label} {'≥' if values.min() >= 0.5 else '≤'} 0.5 everywhere"
    _title(
        ax,
        f"{label} over {param_label(x, scenario)} × {param_label(y, scenario)}",
        scenario_title(scenario) if scenario is not None else "",
        _runs_note(rows),
        _skipped_note(skipped, "grey cells"),
        side,
        _baseline_note(x, x_value, x_at, scenario),
        _baseline_note(y, y_value, y_at, scenario),
    )
    return fig


def plot_sweep_curve(
    points: pd.DataFrame,
    x: str,
    outcomes: Sequence[str] = ("spiral", "de_escalation"),
    ax: Axes | None = None,
    *,
    xscale: str | None = None,
    scenario: Any = None,
) -> Figure:
    """P(outcome) against one swept parameter, with a shaded 95% interval per outcome.

    One line per outcome, each with its own line style and marker (readable in
    greyscale), the band between ``ci95_low_<outcome>`` and ``ci95_high_<outcome>``
    (Wilson), y from 0 to 1. String values of ``x`` become ordered categories;
    numeric ones go on a log axis when they look log-spaced (or as ``xscale`` says).
    Given the ``scenario`` the sweep ran on, the axis says what the parameter means and
    a vertical line marks the scenario's own value (:func:`scenario_value`).
    """
    outcomes = list(outcomes)
    if not outcomes:
        raise ValueError("no outcomes to plot")
    needed = [x]
    for outcome in outcomes:
        needed += [f"p_{outcome}", f"ci95_low_{outcome}", f"ci95_high_{outcome}"]
    _require(points, needed)
    x_axis = _sweep_axis(points[x], xscale)
    rows, skipped = _usable_rows(points, needed)
    if rows.duplicated(subset=[x], keep=False).any():
        raise ValueError(
            f"several sweep points share the same {x}: other parameters vary too; "
            "select one slice of the sweep before plotting"
        )
    rows = rows.assign(_pos=x_axis.positions(rows[x])).sort_values("_pos")
    xs = x_axis.centres[rows["_pos"].to_numpy()]

    if ax is None:
        fig = _new_figure((7.5, 5.4))
        ax = fig.add_subplot()
    else:
        fig = _root_figure(ax)
    handles, labels = [], []
    for i, outcome in enumerate(outcomes):
        style = _style(outcome, i)
        low = rows[f"ci95_low_{outcome}"].to_numpy(dtype=float)
        high = rows[f"ci95_high_{outcome}"].to_numpy(dtype=float)
        band = ax.fill_between(xs, low, high, color=style["color"], alpha=0.2, linewidth=0)
        band.set_gid(f"ci95_{outcome}")
        (line,) = ax.plot(
            xs,
            rows[f"p_{outcome}"].to_numpy(dtype=float),
            color=style["color"],
            linestyle=style["linestyle"],
            marker=style["marker"],
            markersize=6.5,
            markeredgecolor="black",
            markeredgewidth=0.6,
            linewidth=1.8,
            label=outcome_label(outcome),
            clip_on=False,
            zorder=3,
        )
        handles.append((band, line))
        labels.append(outcome_label(outcome))

    failed = points.loc[~points.index.isin(rows.index), x].dropna()
    if not failed.empty:
        for position in np.unique(x_axis.centres[x_axis.positions(failed)]):
            ax.axvline(position, color="0.55", linestyle=(0, (1, 2)), linewidth=1.2, zorder=1)
        handles.append(Line2D([], [], color="0.55", linestyle=(0, (1, 2)), linewidth=1.2))
        labels.append("failed point (skipped)")

    value = scenario_value(x, scenario)
    at = _baseline(x_axis, value)
    if at is not None:
        mark = {"color": "black", "linewidth": 1.6, "linestyle": (0, (1, 1.5))}
        ax.axvline(at, zorder=4, gid="scenario_value", **mark)
        handles.append(Line2D([], [], **mark))
        labels.append(f"scenario value: {_value_text(value)}")

    ax.set_ylim(0.0, 1.0)
    ax.set_ylabel("Probability", fontsize=LABEL_SIZE)
    ax.tick_params(axis="y", labelsize=TICK_SIZE)
    _apply_axis(ax, x_axis, "x", _axis_label(x, scenario))
    if x_axis.categorical:
        ax.set_xlim(x_axis.edges[0] + 0.3, x_axis.edges[-1] - 0.3)
    ax.grid(True, color="0.9", linewidth=0.8)
    ax.set_axisbelow(True)
    ax.legend(
        handles,
        labels,
        title="shaded: 95% interval",
        fontsize=NOTE_SIZE,
        title_fontsize=NOTE_SIZE,
        loc="best",
        framealpha=0.9,
    )
    _title(
        ax,
        f"Outcome probabilities against {param_label(x, scenario)}",
        scenario_title(scenario) if scenario is not None else "",
        _runs_note(rows),
        _skipped_note(skipped, "dotted grey lines"),
        _baseline_note(x, value, at, scenario),
    )
    return fig
