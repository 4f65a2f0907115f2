"""Plots of parameter sweeps, of Sobol sensitivity indices and of one scenario's results.

The single-scenario plots (:func:`plot_fan_chart`, :func:`plot_cumulative_incidence`,
:func:`plot_outcome_probabilities`, :func:`plot_time_to_outcome`) take plain numpy
arrays, dates and dicts, so they depend on no other module of the simulator.

The sweep plots read the per-point table of a sweep (one row per sweep point, with a
column per swept parameter named by its dotted path, ``status``, and for each outcome
``p_<outcome>``, ``ci95_low_<outcome>`` and ``ci95_high_<outcome>``). Rows whose
status is not ``"ok"`` (or whose probabilities are missing) are skipped, and the title
says how many were.

Every function draws on the ``ax`` it is given, or on a new figure, and returns the
Figure. Nothing here calls ``plt.show``. New figures are plain
:class:`matplotlib.figure.Figure` objects that pyplot does not track, so they work with
any backend, headless ones included, and need no ``plt.close``; in a notebook,
evaluate the returned figure to display it. :func:`save_figure` writes PNG (and SVG)
atomically.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import dates as mdates
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import NullLocator

from sim.outcome_classes import DISPLAY_ORDER, OUTCOME_CLASSES
from sim.results import atomic_write

__all__ = [
    "outcome_label",
    "param_label",
    "plot_cumulative_incidence",
    "plot_fan_chart",
    "plot_outcome_probabilities",
    "plot_posterior_predictive",
    "plot_sensitivity",
    "plot_sweep_curve",
    "plot_sweep_heatmap",
    "plot_time_to_outcome",
    "save_figure",
]

#: Perceptually uniform and readable by colour-blind readers and in greyscale.
CMAP = "cividis"
PNG_DPI = 150
TITLE_SIZE = 13
LABEL_SIZE = 12
TICK_SIZE = 10
NOTE_SIZE = 10

#: Line style, marker and colour (Okabe-Ito) per outcome: told apart without colour.
OUTCOME_STYLES: dict[str, dict[str, Any]] = {
    c.name: {"color": c.color, "linestyle": c.linestyle, "marker": c.marker}
    for c in OUTCOME_CLASSES
}
_SPARE_STYLES = [
    {"color": "#009E73", "linestyle": "-.", "marker": "D"},
    {"color": "#CC79A7", "linestyle": (0, (5, 1, 1, 1)), "marker": "v"},
]
#: Path segments that carry no information in an axis label.
_GENERIC_SEGMENTS = {"states", "policy", "params", "parameters"}
#: Largest grid whose cells are annotated with their probability.
_ANNOTATE_MAX_CELLS = 80


def param_label(path: str) -> str:
    """A readable label for a dotted parameter path.

    ``"states.us.policy.ratio"`` -> ``"us ratio"``: segments that say nothing
    (``states``, ``policy``) are dropped and underscores become spaces.
    """
    parts = [p for p in str(path).split(".") if p]
    kept = [p for p in parts if p not in _GENERIC_SEGMENTS] or parts[-1:]
    return " ".join(kept).replace("_", " ")


def outcome_label(outcome: str) -> str:
    """``"de_escalation"`` -> ``"P(de-escalation)"``."""
    return f"P({outcome.replace('_', '-')})"


def _style(outcome: str, index: int) -> dict[str, Any]:
    if outcome in OUTCOME_STYLES:
        return OUTCOME_STYLES[outcome]
    return _SPARE_STYLES[index % len(_SPARE_STYLES)]


def _root_figure(ax: Axes) -> Figure:
    try:
        return ax.get_figure(root=True)  # matplotlib >= 3.10
    except TypeError:  # pragma: no cover - older matplotlib
        return ax.figure


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


def _title(ax: Axes, main: str, *notes: str) -> None:
    """Title on the first line; notes (runs, skipped points) in smaller type under it."""
    note = "; ".join(n for n in notes if n)
    ax.set_title(main, fontsize=TITLE_SIZE, pad=24 if note else 8)
    if note:
        ax.annotate(
            note,
            xy=(0.5, 1.0),
            xycoords="axes fraction",
            xytext=(0, 6),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=NOTE_SIZE,
            color="0.25",
        )


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


def _slant(ax: Axes) -> None:
    """Long x tick labels at 30 degrees, each ending under its tick."""
    for tick in ax.get_xticklabels():
        tick.set_rotation(30)
        tick.set_horizontalalignment("right")
        tick.set_rotation_mode("anchor")


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
) -> Figure:
    """Heatmap of P(outcome) over a two-parameter sweep grid, with its P = 0.5 contour.

    ``x`` and ``y`` are the swept columns (dotted parameter paths). Numeric values
    may be unevenly spaced: each cell spans the midpoints to its neighbours (on a log
    axis when the values look log-spaced, or as ``xscale``/``yscale`` say); string
    values become ordered categories. Failed points and grid cells without a point
    are left blank. ``annotate`` writes each cell's probability in it (default: when
    the grid has at most 80 cells).
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
        fig = Figure(figsize=(7.5, 5.8), layout="constrained")
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

    if annotate is None:
        annotate = grid.size <= _ANNOTATE_MAX_CELLS
    if annotate:
        cmap = mesh.get_cmap()
        for (iy, ix), value in np.ndenumerate(grid.filled(np.nan)):
            if np.isnan(value):
                continue
            r, g, b, _ = cmap(value)
            dark = 0.299 * r + 0.587 * g + 0.114 * b < 0.5
            ax.text(
                x_axis.centres[ix],
                y_axis.centres[iy],
                f"{value:.2f}",
                ha="center",
                va="center",
                fontsize=9,
                color="white" if dark else "black",
            )

    values = grid.compressed()
    crosses = values.size > 0 and values.min() < 0.5 < values.max()
    if crosses and grid.shape[0] >= 2 and grid.shape[1] >= 2:
        stroke = [patheffects.withStroke(linewidth=4.5, foreground="black")]
        contour = ax.contour(
            x_axis.centres, y_axis.centres, grid, levels=[0.5], colors="white", linewidths=2.2
        )
        contour.set_path_effects(stroke)
        cbar.add_lines(contour)
        proxy = Line2D([], [], color="white", linewidth=2.2, path_effects=stroke)
        ax.legend(
            [proxy],
            ["P = 0.5"],
            loc="upper right",
            bbox_to_anchor=(1.0, -0.07),
            fontsize=NOTE_SIZE,
            frameon=False,
            handlelength=2.5,
        )

    _apply_axis(ax, x_axis, "x", param_label(x))
    _apply_axis(ax, y_axis, "y", param_label(y))
    ax.set_xlim(x_axis.edges[0], x_axis.edges[-1])
    ax.set_ylim(y_axis.edges[0], y_axis.edges[-1])
    side = ""
    if values.size and not crosses:
        side = f"{label} {'≥' if values.min() >= 0.5 else '≤'} 0.5 everywhere"
    _title(
        ax,
        f"{label} over {param_label(x)} × {param_label(y)}",
        _runs_note(rows),
        _skipped_note(skipped, "grey cells"),
        side,
    )
    return fig


def plot_sweep_curve(
    points: pd.DataFrame,
    x: str,
    outcomes: Sequence[str] = ("spiral", "de_escalation"),
    ax: Axes | None = None,
    *,
    xscale: str | None = None,
) -> Figure:
    """P(outcome) against one swept parameter, with a shaded 95% interval per outcome.

    One line per outcome, each with its own line style and marker (readable in
    greyscale), the band between ``ci95_low_<outcome>`` and ``ci95_high_<outcome>``
    (Wilson), y from 0 to 1. String values of ``x`` become ordered categories;
    numeric ones go on a log axis when they look log-spaced (or as ``xscale`` says).
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
        fig = Figure(figsize=(7.5, 5.0), layout="constrained")
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

    ax.set_ylim(0.0, 1.0)
    ax.set_ylabel("Probability", fontsize=LABEL_SIZE)
    ax.tick_params(axis="y", labelsize=TICK_SIZE)
    _apply_axis(ax, x_axis, "x", param_label(x))
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
        f"Outcome probabilities against {param_label(x)}",
        _runs_note(rows),
        _skipped_note(skipped, "dotted lines"),
    )
    return fig


# ---------------------------------------------------------------------------
# Sensitivity
# ---------------------------------------------------------------------------

_INDEX_STYLES = {
    "S1": {"label": "S1 (first order)", "color": "#56B4E9", "hatch": "///"},
    "ST": {"label": "ST (total)", "color": "#E69F00", "hatch": "..."},
}


def plot_sensitivity(
    sensitivity: Mapping[str, Mapping[str, Sequence[Any]]],
    ax: Axes | Sequence[Axes] | None = None,
) -> Figure:
    """Grouped bar chart of Sobol indices: S1 and ST per parameter, one panel per outcome.

    ``sensitivity`` maps each outcome to ``{"names", "S1", "S1_conf", "ST",
    "ST_conf"}`` (SALib's indices with their 95% confidence half-widths, drawn as
    error bars). ``ax`` is one Axes per outcome (a single Axes if there is one
    outcome); by default a new figure with the panels side by side.
    """
    if not sensitivity:
        raise ValueError("no sensitivity indices to plot")
    outcomes = list(sensitivity)
    tables = {o: _sensitivity_table(o, sensitivity[o]) for o in outcomes}

    if ax is None:
        n_params = max(len(t) for t in tables.values())
        width = min(18.0, max(6.5, len(outcomes) * (1.6 + 0.75 * n_params)))
        fig = Figure(figsize=(width, 4.8), layout="constrained")
        axes = list(fig.subplots(1, len(outcomes), sharey=True, squeeze=False)[0])
    else:
        axes = [ax] if isinstance(ax, Axes) else list(ax)
        if len(axes) != len(outcomes):
            raise ValueError(
                f"{len(outcomes)} outcome(s) to plot but {len(axes)} Axes given: "
                "pass one Axes per outcome"
            )
        fig = _root_figure(axes[0])

    width = 0.38
    for i, (outcome, panel) in enumerate(zip(outcomes, axes, strict=True)):
        table = tables[outcome]
        positions = np.arange(len(table), dtype=float)
        for offset, index in ((-width / 2, "S1"), (width / 2, "ST")):
            style = _INDEX_STYLES[index]
            panel.bar(
                positions + offset,
                table[index].to_numpy(dtype=float),
                width,
                yerr=table[f"{index}_conf"].to_numpy(dtype=float),
                label=style["label"],
                color=style["color"],
                hatch=style["hatch"],
                edgecolor="black",
                linewidth=0.8,
                capsize=3,
                error_kw={"elinewidth": 1.0, "ecolor": "black"},
            )
        panel.axhline(0.0, color="black", linewidth=0.8)
        labels = [param_label(n) for n in table["name"]]
        panel.set_xticks(positions, labels)
        panel.set_xlim(-0.6, len(table) - 0.4)
        if sum(len(label) for label in labels) > 45:
            _slant(panel)
        panel.tick_params(labelsize=TICK_SIZE)
        panel.set_xlabel("Parameter", fontsize=LABEL_SIZE)
        panel.set_title(outcome_label(outcome), fontsize=LABEL_SIZE)
        panel.grid(True, axis="y", color="0.9", linewidth=0.8)
        panel.set_axisbelow(True)
        if table[["S1", "ST"]].isna().all().all():
            panel.text(
                0.5,
                0.5,
                "indices undefined\n(outcome did not vary)",
                transform=panel.transAxes,
                ha="center",
                va="center",
                fontsize=NOTE_SIZE,
                color="0.3",
            )
        if i == 0 or ax is not None:
            panel.set_ylabel("Sobol index", fontsize=LABEL_SIZE)

    legend_handles = [
        Patch(facecolor=s["color"], hatch=s["hatch"], edgecolor="black", label=s["label"])
        for s in _INDEX_STYLES.values()
    ]
    axes[0].legend(
        handles=legend_handles,
        title="error bars: 95% CI",
        fontsize=NOTE_SIZE,
        title_fontsize=NOTE_SIZE,
        loc="best",
        framealpha=0.9,
    )
    if ax is None:
        fig.suptitle("Sobol sensitivity indices", fontsize=TITLE_SIZE)
    else:
        for outcome, panel in zip(outcomes, axes, strict=True):
            panel.set_title(f"Sobol indices of {outcome_label(outcome)}", fontsize=LABEL_SIZE)
    return fig


def _sensitivity_table(outcome: str, indices: Mapping[str, Sequence[Any]]) -> pd.DataFrame:
    keys = ("names", "S1", "S1_conf", "ST", "ST_conf")
    missing = [k for k in keys if k not in indices]
    if missing:
        raise KeyError(f"sensitivity[{outcome!r}] lacks {', '.join(missing)}")
    lengths = {k: len(indices[k]) for k in keys}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"sensitivity[{outcome!r}]: lists of different lengths {lengths}")
    table = pd.DataFrame({k: list(indices[k]) for k in keys[1:]}, dtype=float)
    table.insert(0, "name", [str(n) for n in indices["names"]])
    return table


# ---------------------------------------------------------------------------
# Saving
# ---------------------------------------------------------------------------


def save_figure(fig: Figure, path: str | Path) -> list[Path]:
    """Write ``fig`` as PNG (dpi 150), and as SVG too when ``path`` ends in ``.svg``.

    ``x.png`` writes ``x.png``; ``x.svg`` writes ``x.svg`` and ``x.png``. Each file is
    written to a temporary file in the same directory and renamed into place, so no
    reader sees half a file. Returns the paths written.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".png", ".svg"):
        raise ValueError(f"{path}: expected a .png or .svg file name")
    targets = [(path.with_suffix(".png"), "png")]
    if suffix == ".svg":
        targets.append((path, "svg"))
    written = []
    for target, fmt in targets:
        # "tight" keeps legends placed outside the axes inside the image.
        options: dict[str, Any] = {"format": fmt, "bbox_inches": "tight", "pad_inches": 0.15}
        if fmt == "png":
            options["dpi"] = PNG_DPI
        else:
            options["metadata"] = {"Date": None}  # reproducible bytes
        _atomic_savefig(fig, target, options)
        written.append(target)
    return written


def _atomic_savefig(fig: Figure, path: Path, options: dict[str, Any]) -> None:
    """``fig.savefig`` through :func:`sim.results.atomic_write` (temporary file, rename)."""
    atomic_write(path, lambda handle: fig.savefig(handle, **options))


# ---------------------------------------------------------------------------
# Single-scenario plots: staff fan chart, cumulative incidence, outcome bars,
# time to outcome. Inputs are plain numpy/pandas data.
# ---------------------------------------------------------------------------

#: Okabe-Ito colours and markers per mission, in the order the missions are given.
_MISSION_COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"]
_MISSION_MARKERS = ["o", "s", "^", "D", "v", "P"]
#: Hatches per outcome for bars (the colours are those of :data:`OUTCOME_STYLES`).
_OUTCOME_HATCHES = {c.name: c.hatch for c in OUTCOME_CLASSES}
_SPARE_HATCHES = ["\\\\\\", "++", "oo"]
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
#: Half-transparent white box behind text drawn over data.
_TEXT_BOX = {"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.8}


def _outcome_name(outcome: str) -> str:
    """``"de_escalation"`` -> ``"de-escalation"``."""
    return str(outcome).replace("_", "-")


def _hatch(outcome: str, index: int) -> str:
    if outcome in _OUTCOME_HATCHES:
        return _OUTCOME_HATCHES[outcome]
    return _SPARE_HATCHES[index % len(_SPARE_HATCHES)]


def _new_or_given(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is None:
        fig = Figure(figsize=figsize, layout="constrained")
        return fig, fig.add_subplot()
    return _root_figure(ax), ax


def _as_days(dates: Any, what: str = "dates") -> np.ndarray:
    """Dates (``datetime.date``, ``datetime64``, strings, Timestamps) as ``datetime64[D]``."""
    try:
        days = pd.to_datetime(pd.Series(list(np.atleast_1d(np.asarray(dates, dtype=object)))))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what}: expected dates, {exc}") from exc
    if days.isna().any():
        raise ValueError(f"{what}: missing dates")
    return days.to_numpy().astype("datetime64[D]")


def _as_day(date: Any, what: str) -> np.datetime64:
    return _as_days([date], what)[0]


def _check_dates(days: np.ndarray) -> None:
    if days.size == 0:
        raise ValueError("dates: no dates to plot")
    if days.size > 1 and not (np.diff(days) > np.timedelta64(0, "D")).all():
        raise ValueError("dates: expected strictly increasing dates")


class _YearedConciseFormatter(mdates.ConciseDateFormatter):
    """Concise date labels; the first tick also gets its year when nothing else shows it.

    (:class:`~matplotlib.dates.ConciseDateFormatter` writes the year only at January
    ticks when the ticks span years, so a range starting in May would not say which.)
    """

    def format_ticks(self, values: Any) -> list[str]:
        labels = list(super().format_ticks(values))
        if labels and not self.get_offset() and not re.search(r"\d{4}", labels[0]):
            labels[0] = f"{labels[0]}\n{mdates.num2date(values[0]).year}"
        return labels


def _date_axis(ax: Axes, days: np.ndarray) -> None:
    """Concise date ticks over the dates' range (half a step of margin on each side)."""
    locator = mdates.AutoDateLocator(minticks=4, maxticks=10)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(_YearedConciseFormatter(locator))
    first, last = mdates.date2num(days[0]), mdates.date2num(days[-1])
    pad = (last - first) / (days.size - 1) / 2 if days.size > 1 else 3.5
    ax.set_xlim(first - pad, last + pad)
    ax.tick_params(axis="x", labelsize=TICK_SIZE)
    ax.xaxis.get_offset_text().set_fontsize(TICK_SIZE)
    ax.set_xlabel("Date (last day of each step)", fontsize=LABEL_SIZE)


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


# ------------------------------------------------------------------ fan chart


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
    known = [c.name for c in DISPLAY_ORDER if c.name in outcomes]
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


# ------------------------------------------------------------------ calibration
_SIMULATED = {"edgecolor": "#0072B2", "hatch": "//", "linewidth": 1.2}
_OBSERVED = {"color": "#D55E00", "marker": "D", "linestyle": "none", "markersize": 8}


def plot_posterior_predictive(checks: Mapping[str, Mapping[str, Any]], window: int) -> Figure:
    """Observed response sizes and lags against those simulated from the posterior.

    ``checks`` maps a state id to a dict with the simulated ``lags``, ``log_ratios`` and
    ``responded`` (answered episodes per simulated history), the observed ``obs_lags``,
    ``obs_log_ratios`` and ``obs_responded``, and ``episodes`` (acts to answer). One row
    per state: lag of an answer (steps), size of an answer relative to the act answered,
    and the number of acts answered in a history.
    """
    states = list(checks)
    fig = Figure(figsize=(12.5, 3.4 * max(len(states), 1)), layout="constrained")
    axes = fig.subplots(max(len(states), 1), 3, squeeze=False)
    for row, sid in enumerate(states):
        c = checks[sid]
        ax_lag, ax_size, ax_count = axes[row]
        lags = np.asarray(c["lags"], dtype=float)
        bins = np.arange(window + 1) - 0.5
        if len(lags):
            ax_lag.hist(lags, bins=bins, density=True, fill=False, label="simulated", **_SIMULATED)
        for x in np.asarray(c["obs_lags"], dtype=float):
            ax_lag.plot([x], [0], clip_on=False, label="observed", **_OBSERVED)
        ax_lag.set_xlabel("lag of an answer (steps)", fontsize=LABEL_SIZE)
        ax_lag.set_ylabel(f"{sid}\nshare of answers", fontsize=LABEL_SIZE)

        ratios = np.asarray(c["log_ratios"], dtype=float)
        ratios = ratios[np.isfinite(ratios)]
        observed = np.asarray(c["obs_log_ratios"], dtype=float)
        observed = observed[np.isfinite(observed)]
        span = np.concatenate([ratios, observed]) if len(ratios) or len(observed) else [0.0]
        edges = np.linspace(min(np.min(span), -1.0) - 0.25, max(np.max(span), 1.0) + 0.25, 31)
        if len(ratios):
            ax_size.hist(ratios, bins=edges, density=True, fill=False, **_SIMULATED)
        for x in observed:
            ax_size.plot([x], [0], clip_on=False, **_OBSERVED)
        ax_size.set_xlabel("log(answer size / act size)", fontsize=LABEL_SIZE)
        ax_size.set_ylabel("density", fontsize=LABEL_SIZE)

        counts = np.asarray(c["responded"], dtype=int)
        episodes = int(c["episodes"])
        edges = np.arange(episodes + 2) - 0.5
        ax_count.hist(counts, bins=edges, density=True, fill=False, **_SIMULATED)
        ax_count.plot([int(c["obs_responded"])], [0], clip_on=False, **_OBSERVED)
        ax_count.set_xlabel(f"acts answered, of {episodes}", fontsize=LABEL_SIZE)
        ax_count.set_ylabel("share of histories", fontsize=LABEL_SIZE)
        for ax in (ax_lag, ax_size, ax_count):
            ax.tick_params(labelsize=TICK_SIZE)
            ax.set_ylim(bottom=0)
    handles = [
        Patch(fill=False, label="simulated (posterior)", **_SIMULATED),
        Line2D([], [], label="observed (record)", **_OBSERVED),
    ]
    fig.legend(handles=handles, loc="outside upper right", fontsize=NOTE_SIZE, ncols=2)
    fig.suptitle("Posterior predictive check", fontsize=TITLE_SIZE)
    return fig
