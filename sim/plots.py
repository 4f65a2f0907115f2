"""Plots of parameter sweeps and of Sobol sensitivity indices (matplotlib only).

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

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import NullLocator

from sim.results import atomic_write

__all__ = [
    "outcome_label",
    "param_label",
    "plot_sensitivity",
    "plot_sweep_curve",
    "plot_sweep_heatmap",
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
    "spiral": {"color": "#D55E00", "linestyle": "-", "marker": "o"},
    "de_escalation": {"color": "#0072B2", "linestyle": "--", "marker": "s"},
    "unresolved": {"color": "#555555", "linestyle": ":", "marker": "^"},
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
        options: dict[str, Any] = {"format": fmt}
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
