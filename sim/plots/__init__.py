"""Plots of parameter sweeps, of Sobol sensitivity indices and of one scenario's results.

The package is organised by figure family; everything public is importable from
``sim.plots``:

* :mod:`sim.plots.style`: font sizes, colour map, outcome styles, labels, the display
  names of a scenario, its states, missions and events, and the helpers the figures
  share;
* :mod:`sim.plots.saving`: :func:`save_figure` (PNG and SVG, written atomically);
* :mod:`sim.plots.sweeps`: :func:`plot_sweep_heatmap`, :func:`plot_sweep_curve`;
* :mod:`sim.plots.sensitivity`: :func:`plot_sensitivity` (Sobol indices);
* :mod:`sim.plots.trajectories`: :func:`plot_fan_chart` (staff over time);
* :mod:`sim.plots.outcomes`: :func:`plot_cumulative_incidence`,
  :func:`plot_outcome_probabilities`, :func:`plot_time_to_outcome`;
* :mod:`sim.plots.calibration`: :func:`plot_posterior_predictive`;
* :mod:`sim.plots.comparisons`: :func:`plot_paired_differences` (variants against a
  baseline, with paired intervals);
* :mod:`sim.plots.time_axis`: the date handling of the figures over time.

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

from sim.plots.calibration import plot_posterior_predictive
from sim.plots.comparisons import plot_paired_differences
from sim.plots.outcomes import (
    plot_cumulative_incidence,
    plot_outcome_probabilities,
    plot_time_to_outcome,
)
from sim.plots.saving import save_figure
from sim.plots.sensitivity import plot_sensitivity
from sim.plots.style import (  # noqa: F401 (the constants, importable here as before)
    CMAP,
    LABEL_SIZE,
    NOTE_SIZE,
    OUTCOME_STYLES,
    PNG_DPI,
    TICK_SIZE,
    TITLE_SIZE,
    outcome_label,
    param_label,
)
from sim.plots.sweeps import plot_sweep_curve, plot_sweep_heatmap
from sim.plots.trajectories import plot_fan_chart

__all__ = [
    "outcome_label",
    "param_label",
    "plot_cumulative_incidence",
    "plot_fan_chart",
    "plot_outcome_probabilities",
    "plot_paired_differences",
    "plot_posterior_predictive",
    "plot_sensitivity",
    "plot_sweep_curve",
    "plot_sweep_heatmap",
    "plot_time_to_outcome",
    "save_figure",
]
