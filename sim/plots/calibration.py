"""Calibration figure: the posterior predictive check of a calibrated scenario.

Observed response lags, sizes and counts against those simulated from the posterior,
one row per state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from sim.plots.style import LABEL_SIZE, NOTE_SIZE, TICK_SIZE, TITLE_SIZE, _new_figure

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
    fig = _new_figure((12.5, 3.4 * max(len(states), 1)))
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
