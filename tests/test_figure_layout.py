"""Every figure of every shipped scenario can be read: no two texts overlap, and every
legend entry can be told from the others.

The figures are drawn as ``python -m sim run SCENARIO --plot`` draws them (the
``Result.plot_*`` methods: fan chart, outcome probabilities, cumulative incidence, time
to outcome) for every runnable scenario under ``scenarios/`` (a file with a
``[scenario]`` table; the sweep and backtest specs in ``scenarios/sweeps/`` and
``scenarios/backtest/`` are not scenarios), with 200 runs each; and the sweep curve and
heatmap of a tiny sweep. Two checks on the drawn figure:

* **texts**: the rendered boxes (``get_window_extent``, once the renderer has drawn the
  figure) of all visible, non-empty texts (titles, notes, axis and tick labels, legend
  texts, annotations, event labels) do not overlap; tick labels of one axis not with
  each other either;
* **legends**: no two legend entries look the same (colour, line style, marker, hatch),
  and no grey swatch stands for a series drawn in colour.

The checkers are tested on figures made to fail them, so a pass means something.
"""

from __future__ import annotations

import itertools
import tomllib
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import Collection
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Text

import sim

ROOT = Path(__file__).resolve().parent.parent
RUNS = 200
#: Boxes may touch; they overlap when they share more than this, in pixels each way.
TOLERANCE = 0.5


def runnable_scenarios() -> list[Path]:
    """The shipped scenario files: a ``[scenario]`` table, at the top or in ``dyads/``."""
    paths = sorted([*ROOT.glob("scenarios/*.toml"), *ROOT.glob("scenarios/dyads/*.toml")])
    return [p for p in paths if "scenario" in tomllib.loads(p.read_text(encoding="utf-8"))]


SCENARIOS = runnable_scenarios()


# --------------------------------------------------------------------- the checkers
def _drawn(fig: Figure):
    """The figure laid out and drawn by the Agg renderer, as ``canvas.draw()`` does but
    with the pixels left out (a third of the time: the boxes are the renderer's own)."""
    canvas = FigureCanvasAgg(fig)
    fig.draw_without_rendering()
    return canvas.get_renderer()


def _out_of_view_tick_labels(fig: Figure) -> set[int]:
    """The labels of ticks outside their axis's view: set, but not drawn."""
    hidden = set()
    for axes in fig.axes:
        for axis, coordinate in ((axes.xaxis, 0), (axes.yaxis, 1)):
            low, high = sorted(axis.get_view_interval())
            slack = 1e-9 * max(high - low, 1e-12)
            for tick in [*axis.get_major_ticks(), *axis.get_minor_ticks()]:
                for label in (tick.label1, tick.label2):
                    if not low - slack <= label.get_position()[coordinate] <= high + slack:
                        hidden.add(id(label))
    return hidden


def visible_texts(fig: Figure) -> list[Text]:
    """Every text the figure draws: visible, not empty, in view."""
    hidden = _out_of_view_tick_labels(fig)
    out = []
    for text in fig.findobj(Text):
        if not text.get_visible() or not text.get_text().strip() or id(text) in hidden:
            continue
        if text.axes is not None and not text.axes.get_visible():
            continue
        out.append(text)
    return out


def overlapping_texts(fig: Figure) -> list[tuple[str, str]]:
    """Pairs of drawn texts whose rendered boxes overlap."""
    renderer = _drawn(fig)
    boxes = [(t, t.get_window_extent(renderer)) for t in visible_texts(fig)]
    found = []
    for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2):
        wide = min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0)
        tall = min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0)
        if wide > TOLERANCE and tall > TOLERANCE:
            found.append((a.get_text(), b.get_text()))
    return found


def _rgba(colour) -> tuple[float, ...]:
    """A colour (a name, "#rrggbb", an RGB(A) sequence or a 1-row array) as rounded RGBA."""
    if not isinstance(colour, str):
        colour = np.asarray(colour, dtype=float).reshape(-1)
    return tuple(round(float(v), 2) for v in to_rgba(colour))


def _dashes(line: Line2D):
    # get_linestyle() calls every custom dash pattern "--"; the pattern tells them apart
    pattern = getattr(line, "_unscaled_dash_pattern", None)
    return (line.get_linestyle(), repr(pattern)) if pattern is not None else line.get_linestyle()


def _draws_nothing(handle) -> bool:
    """A legend row's heading: a handle with no line, marker or face."""
    return (
        isinstance(handle, Line2D)
        and handle.get_linestyle() in ("None", "", " ")
        and handle.get_marker() in ("None", "", " ", None)
    )


def signature(handle) -> tuple:
    """How a legend handle looks: colour, line style, marker, hatch."""
    if isinstance(handle, Line2D):
        return (
            "line",
            _rgba(handle.get_color()),
            _dashes(handle),
            str(handle.get_marker()),
            _rgba(handle.get_markerfacecolor()),
        )
    if isinstance(handle, Patch):
        return (
            "patch",
            _rgba(handle.get_facecolor()),
            _rgba(handle.get_edgecolor()) if handle.get_linewidth() else None,
            handle.get_hatch(),
            handle.get_linestyle(),
        )
    if isinstance(handle, Collection):
        faces, edges = handle.get_facecolor(), handle.get_edgecolor()
        return (
            "collection",
            _rgba(faces[0]) if len(faces) else None,
            _rgba(edges[0]) if len(edges) else None,
            handle.get_hatch(),
        )
    return (type(handle).__name__,)


def _grey(rgba: tuple[float, ...]) -> bool:
    return max(rgba[:3]) - min(rgba[:3]) < 0.02 and rgba[3] > 0


def _legends(fig: Figure) -> list[Legend]:
    found = list(fig.legends)
    found += [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    return found


def _drawn_faces(fig: Figure) -> set[tuple[float, ...]]:
    """The colours (rgb) of everything filled in the plots."""
    faces = set()
    for ax in fig.axes:
        for patch in ax.patches:
            faces.add(_rgba(patch.get_facecolor())[:3])
        for collection in ax.collections:
            for face in collection.get_facecolor():
                faces.add(_rgba(face)[:3])
    return faces


def legend_problems(fig: Figure) -> list[str]:
    """Legend entries that look alike, and grey swatches that stand for no grey series."""
    problems = []
    faces = _drawn_faces(fig)
    for legend in _legends(fig):
        texts = [t.get_text() for t in legend.get_texts()]
        seen: dict[tuple, str] = {}
        for handle, text in zip(legend.legend_handles, texts, strict=True):
            if handle is None or _draws_nothing(handle):
                continue
            key = signature(handle)
            if key in seen:
                problems.append(f"{seen[key]!r} and {text!r} look the same: {key}")
            seen.setdefault(key, text)
            if isinstance(handle, Patch):
                face = _rgba(handle.get_facecolor())
                if _grey(face) and not any(
                    np.allclose(face[:3], drawn, atol=0.02) for drawn in faces
                ):
                    problems.append(f"{text!r}: a grey swatch, but nothing grey is drawn")
    return problems


def assert_readable(fig: Figure, what: str) -> None:
    overlaps = overlapping_texts(fig)
    assert not overlaps, f"{what}: texts overlap: {overlaps}"
    problems = legend_problems(fig)
    assert not problems, f"{what}: legend entries cannot be told apart: {problems}"


# ------------------------------------------------------------ the checkers can fail
def test_the_text_check_finds_an_overlap():
    fig = Figure(figsize=(4, 3))
    ax = fig.add_subplot()
    ax.text(0.5, 0.5, "forecast start")
    ax.text(0.52, 0.5, "Russia expels 12")
    assert overlapping_texts(fig) == [("forecast start", "Russia expels 12")]
    ax.texts[1].set_position((0.5, 0.1))  # moved clear
    assert overlapping_texts(fig) == []


def test_the_text_check_finds_tick_labels_running_into_each_other():
    fig = Figure(figsize=(3, 2))
    ax = fig.add_subplot()
    ax.set_xticks(range(6), [f"a long tick label {i}" for i in range(6)])
    assert overlapping_texts(fig)


def test_the_legend_check_finds_two_entries_that_look_the_same():
    fig = Figure(figsize=(4, 3))
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color="#0072B2", linestyle="--", marker="o", label="US mission")
    ax.plot([0, 1], [1, 0], color="#0072B2", linestyle="--", marker="o", label="Russia's")
    ax.legend()
    assert len(legend_problems(fig)) == 1
    ax.get_lines()[1].set_marker("s")
    ax.legend()
    assert legend_problems(fig) == []


def test_the_legend_check_finds_a_grey_swatch_for_coloured_bands():
    fig = Figure(figsize=(4, 3))
    ax = fig.add_subplot()
    ax.fill_between([0, 1], [0, 0], [1, 1], color="#D55E00", alpha=0.3)
    ax.legend(handles=[Patch(facecolor="0.35", alpha=0.3, label="50% of runs")])
    assert legend_problems(fig) == ["'50% of runs': a grey swatch, but nothing grey is drawn"]


# ------------------------------------------------------------------- the figures
@pytest.fixture(scope="module")
def results():
    """The scenarios' results, each run once (200 runs) for all of its figures."""
    cache: dict[str, sim.Result] = {}

    def result(path: Path) -> sim.Result:
        if path not in cache:
            cache[path] = sim.run(path, runs=RUNS)
        return cache[path]

    return result


def test_the_shipped_scenarios_are_found():
    names = {p.stem for p in SCENARIOS}
    assert {"us_russia_2021", "uk_russia", "skripal_2018"} <= names
    assert not any(p.parent.name in ("backtest", "sweeps") for p in SCENARIOS)


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.relative_to(ROOT).as_posix() for p in SCENARIOS])
def test_every_figure_of_a_scenario_is_readable(path, results):
    result = results(path)
    for name in ("fan_chart", "outcomes", "cumulative_incidence", "time_to_outcome"):
        fig = getattr(result, f"plot_{name}")()
        assert_readable(fig, f"{path.name}: {name}")


def test_the_sweep_figures_are_readable():
    path = ROOT / "scenarios" / "teaching_tit_for_tat.toml"
    curve = sim.sweep(path, {"states.beta.policy.respond_prob": "0.6,0.8,1"}, runs=40)
    assert_readable(curve.plot_curve(), "sweep curve")
    grid = sim.sweep(
        path,
        {"states.alpha.policy.respond_prob": "0.8,1", "states.beta.policy.noise": "0,0.3"},
        runs=40,
    )
    assert_readable(grid.plot_heatmap(), "sweep heatmap")
