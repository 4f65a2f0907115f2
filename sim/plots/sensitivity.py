"""Sensitivity figure: Sobol indices (S1 and ST) per parameter, one panel per outcome."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from sim.plots.style import (
    LABEL_SIZE,
    NOTE_SIZE,
    TICK_SIZE,
    TITLE_SIZE,
    _new_figure,
    _root_figure,
    _slant,
    outcome_label,
    param_label,
)

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
        fig = _new_figure((width, 4.8))
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
