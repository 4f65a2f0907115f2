"""Sweep and sensitivity plots: the matplotlib objects drawn, not pixels; and saving."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection, QuadMesh
from matplotlib.container import BarContainer
from matplotlib.contour import ContourSet
from matplotlib.figure import Figure

from sim.plots import (
    param_label,
    plot_sensitivity,
    plot_sweep_curve,
    plot_sweep_heatmap,
    save_figure,
)

OUTCOMES = ("spiral", "de_escalation", "unresolved")
X, Y = "states.us.policy.ratio", "states.russia.policy.respond_prob"
RUNS = 400


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def wilson(count: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    p = count / n
    denominator = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denominator
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n * n)) / denominator
    return centre - half, centre + half


def sweep_table(params: list[dict], spiral: list[float], failed=()) -> pd.DataFrame:
    """A per-point table like the sweep's: de-escalation takes 60% of the rest."""
    rows = []
    for i, (values, p_spiral) in enumerate(zip(params, spiral, strict=True)):
        row = {"point": i, **values, "status": "ok", "error": "", "runs": RUNS, "seed": 1}
        p_de = round((1 - p_spiral) * 0.6, 4)
        for outcome, p in zip(OUTCOMES, (p_spiral, p_de, 1 - p_spiral - p_de), strict=True):
            count = round(p * RUNS)
            low, high = wilson(count, RUNS)
            row |= {
                f"p_{outcome}": count / RUNS,
                f"count_{outcome}": count,
                f"ci95_low_{outcome}": low,
                f"ci95_high_{outcome}": high,
            }
        row |= {"weeks_spiral_q50": 30.0, "weeks_de_escalation_q50": np.nan}
        if i in failed:
            row |= {"status": "failed", "error": "ScenarioError: boom"}
            for key in list(row):
                if key.startswith(("p_", "count_", "ci95_", "weeks_")):
                    row[key] = np.nan
        rows.append(row)
    return pd.DataFrame(rows)


XS = [0.25, 0.5, 1.0, 2.0, 2.5]  # unevenly spaced
YS = [0.5, 0.9, 1.0]


def grid_table(surface, failed=()) -> tuple[pd.DataFrame, np.ndarray]:
    """Points over XS x YS (x fastest) and the expected grid, rows = y, columns = x."""
    params = [{X: x, Y: y} for y in YS for x in XS]
    expected = np.array([[surface(x, y) for x in XS] for y in YS])
    points = sweep_table(params, [round(p * RUNS) / RUNS for p in expected.ravel()], failed)
    return points, points["p_spiral"].to_numpy().reshape(len(YS), len(XS))


def crossing(x, y):
    return min(1.0, 0.3 * x * y)


def all_text(ax) -> str:
    return " ".join([ax.get_title(), *(t.get_text() for t in ax.texts)])


def only(items, kind):
    found = [item for item in items if isinstance(item, kind)]
    assert len(found) == 1, found
    return found[0]


def test_param_label():
    assert param_label("states.us.policy.ratio") == "us ratio"
    assert param_label("states.russia.policy.respond_prob") == "russia respond prob"
    assert param_label("outcomes.quiet_weeks") == "outcomes quiet weeks"
    assert param_label("policy") == "policy"


class TestHeatmap:
    def test_mesh_holds_p_in_grid_order(self):
        points, expected = grid_table(crossing)
        fig = plot_sweep_heatmap(points.sample(frac=1, random_state=3), X, Y)
        assert isinstance(fig, Figure)
        mesh = only(fig.axes[0].collections, QuadMesh)
        np.testing.assert_allclose(np.ma.getdata(mesh.get_array()), expected)
        assert mesh.get_clim() == (0.0, 1.0)
        assert mesh.get_cmap().name in ("cividis", "viridis")

    def test_cells_are_bounded_by_midpoints(self):
        points, _ = grid_table(crossing)
        fig = plot_sweep_heatmap(points, X, Y, xscale="linear")
        coords = only(fig.axes[0].collections, QuadMesh).get_coordinates()
        np.testing.assert_allclose(coords[0, :, 0], [0.125, 0.375, 0.75, 1.5, 2.25, 2.75])
        np.testing.assert_allclose(coords[:, 0, 1], [0.3, 0.7, 0.95, 1.05])

    def test_colour_bar_and_labels(self):
        points, _ = grid_table(crossing)
        fig = plot_sweep_heatmap(points, X, Y, outcome="de_escalation")
        ax = fig.axes[0]
        mesh = only(ax.collections, QuadMesh)
        assert mesh.colorbar is not None
        assert mesh.colorbar.ax.get_ylabel() == "P(de-escalation)"
        np.testing.assert_allclose(
            np.ma.getdata(mesh.get_array()).ravel(), points["p_de_escalation"]
        )
        assert ax.get_xlabel() == "us ratio"
        assert ax.get_ylabel() == "russia respond prob"
        assert "P(de-escalation)" in ax.get_title()

    def test_half_contour_when_the_surface_crosses_one_half(self):
        points, _ = grid_table(crossing)
        ax = plot_sweep_heatmap(points, X, Y).axes[0]
        contour = only(ax.collections, ContourSet)
        assert list(contour.levels) == [0.5]
        assert any(len(path.vertices) >= 2 for path in contour.get_paths())
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["P = 0.5"]

    @pytest.mark.parametrize("level", [0.2, 0.8])
    def test_no_contour_when_it_does_not(self, level):
        points, _ = grid_table(lambda x, y: level + 0.01 * x)
        ax = plot_sweep_heatmap(points, X, Y).axes[0]
        assert not [c for c in ax.collections if isinstance(c, ContourSet)]
        assert ax.get_legend() is None
        assert "0.5 everywhere" in all_text(ax)

    def test_failed_points_are_blank_and_noted(self):
        points, expected = grid_table(crossing, failed={1, 7})
        ax = plot_sweep_heatmap(points, X, Y).axes[0]
        array = only(ax.collections, QuadMesh).get_array()
        assert np.ma.getmaskarray(array).sum() == 2
        assert array.mask[0, 1] and array.mask[1, 2]
        np.testing.assert_allclose(array.compressed(), expected[~np.isnan(expected)])
        assert "2 failed points skipped" in all_text(ax)

    def test_no_note_without_failures(self):
        points, _ = grid_table(crossing)
        assert "skipped" not in all_text(plot_sweep_heatmap(points, X, Y).axes[0])

    def test_string_values_are_categories(self):
        kind = "states.beta.policy.kind"
        kinds = ["tit_for_tat", "generous", "grit"]
        params = [{kind: k, Y: y} for y in YS for k in kinds]
        points = sweep_table(params, list(np.linspace(0.1, 0.9, len(params))))
        ax = plot_sweep_heatmap(points, kind, Y).axes[0]
        assert [t.get_text() for t in ax.get_xticklabels()] == kinds
        array = only(ax.collections, QuadMesh).get_array()
        np.testing.assert_allclose(array.ravel(), points["p_spiral"])

    def test_draws_on_the_given_axes(self):
        points, _ = grid_table(crossing)
        fig, ax = plt.subplots()
        assert plot_sweep_heatmap(points, X, Y, ax=ax) is fig
        assert only(ax.collections, QuadMesh)

    def test_refuses_a_grid_with_repeated_cells(self):
        points, _ = grid_table(crossing)
        with pytest.raises(ValueError, match="other parameters"):
            plot_sweep_heatmap(pd.concat([points, points]), X, Y)

    def test_unknown_column(self):
        points, _ = grid_table(crossing)
        with pytest.raises(KeyError, match=r"states\.nope"):
            plot_sweep_heatmap(points, "states.nope", Y)


CURVE_X = [0.1, 0.2, 0.4, 0.8, 1.6]
CURVE_P = [0.0, 0.05, 0.3, 0.7, 0.95]


def curve_table(failed=()) -> pd.DataFrame:
    return sweep_table([{X: x} for x in CURVE_X], CURVE_P, failed)


def bands(ax) -> list[PolyCollection]:
    return [c for c in ax.collections if isinstance(c, PolyCollection)]


class TestCurve:
    def test_one_line_per_outcome_with_p(self):
        points = curve_table()
        ax = plot_sweep_curve(points.iloc[::-1], X).axes[0]
        lines = [line for line in ax.get_lines() if line.get_label().startswith("P(")]
        assert [line.get_label() for line in lines] == ["P(spiral)", "P(de-escalation)"]
        for line, outcome in zip(lines, ("spiral", "de_escalation"), strict=True):
            np.testing.assert_allclose(line.get_xdata(), CURVE_X)
            np.testing.assert_allclose(line.get_ydata(), points[f"p_{outcome}"])
        assert lines[0].get_linestyle() != lines[1].get_linestyle()
        assert lines[0].get_marker() != lines[1].get_marker()

    def test_bands_span_the_wilson_interval(self):
        points = curve_table()
        outcomes = ("spiral", "de_escalation", "unresolved")
        ax = plot_sweep_curve(points, X, outcomes=outcomes).axes[0]
        found = bands(ax)
        assert len(found) == len(outcomes)
        for band, outcome in zip(found, outcomes, strict=True):
            vertices = np.concatenate([path.vertices for path in band.get_paths()])
            low, high = points[f"ci95_low_{outcome}"], points[f"ci95_high_{outcome}"]
            assert vertices[:, 1].min() == pytest.approx(low.min())
            assert vertices[:, 1].max() == pytest.approx(high.max())
            for x, lo, hi in zip(CURVE_X, low, high, strict=True):
                at_x = vertices[np.isclose(vertices[:, 0], x), 1]
                assert np.isclose(at_x, lo).any() and np.isclose(at_x, hi).any()
        assert len({line.get_linestyle() for line in ax.get_lines()}) == len(outcomes)

    def test_axes_and_legend(self):
        ax = plot_sweep_curve(curve_table(), X).axes[0]
        assert ax.get_ylim() == (0.0, 1.0)
        assert ax.get_xlabel() == "us ratio"
        assert ax.get_ylabel()
        assert ax.get_title()
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        assert legend == ["P(spiral)", "P(de-escalation)"]

    def test_failed_points_are_skipped_and_noted(self):
        points = curve_table(failed={2})
        ax = plot_sweep_curve(points, X).axes[0]
        line = next(line for line in ax.get_lines() if line.get_label() == "P(spiral)")
        np.testing.assert_allclose(line.get_xdata(), [0.1, 0.2, 0.8, 1.6])
        np.testing.assert_allclose(line.get_ydata(), [0.0, 0.05, 0.7, 0.95])
        assert "1 failed point skipped" in all_text(ax)
        assert "failed point (skipped)" in [t.get_text() for t in ax.get_legend().get_texts()]

    def test_string_values_are_categories(self):
        kind = "states.beta.policy.kind"
        kinds = ["tit_for_tat", "generous", "grit"]
        points = sweep_table([{kind: k} for k in kinds], [0.7, 0.3, 0.1])
        ax = plot_sweep_curve(points, kind, outcomes=("spiral",)).axes[0]
        assert [t.get_text() for t in ax.get_xticklabels()] == kinds
        np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), [0.7, 0.3, 0.1])

    def test_draws_on_the_given_axes(self):
        fig, ax = plt.subplots()
        assert plot_sweep_curve(curve_table(), X, ax=ax) is fig
        assert len(bands(ax)) == 2


NAMES = ["states.us.policy.ratio", "states.russia.policy.ratio", "outcomes.quiet_weeks"]


def sensitivity(outcomes=("spiral", "de_escalation")) -> dict:
    rng = np.random.default_rng(5)
    out = {}
    for outcome in outcomes:
        s1 = rng.uniform(0.0, 0.5, len(NAMES))
        out[outcome] = {
            "names": NAMES,
            "S1": list(s1),
            "S1_conf": list(rng.uniform(0.01, 0.05, len(NAMES))),
            "ST": list(s1 + 0.1),
            "ST_conf": list(rng.uniform(0.01, 0.05, len(NAMES))),
        }
    return out


class TestSensitivity:
    def test_bars_error_bars_and_labels(self):
        indices = sensitivity()
        fig = plot_sensitivity(indices)
        assert len(fig.axes) == 2
        for ax, outcome in zip(fig.axes, indices, strict=True):
            containers = [c for c in ax.containers if isinstance(c, BarContainer)]
            assert sum(len(c.patches) for c in containers) == 2 * len(NAMES)
            s1, st = containers
            for container, key in ((s1, "S1"), (st, "ST")):
                heights = [bar.get_height() for bar in container.patches]
                np.testing.assert_allclose(heights, indices[outcome][key])
                assert container.errorbar is not None
                segments = container.errorbar.lines[2][0].get_segments()
                half_widths = [abs(seg[1, 1] - seg[0, 1]) / 2 for seg in segments]
                np.testing.assert_allclose(half_widths, indices[outcome][f"{key}_conf"])
            assert s1.patches[0].get_hatch() != st.patches[0].get_hatch()
            assert (
                ax.get_title()
                == {"spiral": "P(spiral)", "de_escalation": "P(de-escalation)"}[outcome]
            )
            assert ax.get_xlabel()
            ticks = [t.get_text() for t in ax.get_xticklabels()]
            assert ticks == ["us ratio", "russia ratio", "outcomes quiet weeks"]
        assert fig.axes[0].get_ylabel()
        assert fig.get_suptitle()
        legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
        assert legend == ["S1 (first order)", "ST (total)"]

    def test_one_outcome_on_a_given_axes(self):
        fig, ax = plt.subplots()
        assert plot_sensitivity(sensitivity(("spiral",)), ax=ax) is fig
        assert len([c for c in ax.containers if isinstance(c, BarContainer)]) == 2
        assert ax.get_title()

    def test_refuses_too_few_axes(self):
        _, ax = plt.subplots()
        with pytest.raises(ValueError, match="one Axes per outcome"):
            plot_sensitivity(sensitivity(), ax=ax)

    def test_refuses_ragged_lists(self):
        indices = sensitivity(("spiral",))
        indices["spiral"]["ST"] = indices["spiral"]["ST"][:-1]
        with pytest.raises(ValueError, match="different lengths"):
            plot_sensitivity(indices)


class TestSave:
    def test_png(self, tmp_path):
        fig = plot_sweep_curve(curve_table(), X)
        written = save_figure(fig, tmp_path / "curve.png")
        assert written == [tmp_path / "curve.png"]
        assert (tmp_path / "curve.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["curve.png"]

    def test_svg_also_writes_png(self, tmp_path):
        points, _ = grid_table(crossing)
        save_figure(plot_sweep_heatmap(points, X, Y), str(tmp_path / "map.svg"))
        assert sorted(p.name for p in tmp_path.iterdir()) == ["map.png", "map.svg"]
        assert (tmp_path / "map.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
        assert b"<svg" in (tmp_path / "map.svg").read_bytes()[:2000]

    def test_replaces_an_existing_file(self, tmp_path):
        target = tmp_path / "s.png"
        target.write_bytes(b"old")
        save_figure(plot_sensitivity(sensitivity()), target)
        assert target.read_bytes().startswith(b"\x89PNG")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["s.png"]

    def test_failure_leaves_neither_temp_file_nor_target(self, tmp_path, monkeypatch):
        fig = plot_sweep_curve(curve_table(), X)

        def broken(*args, **kwargs):
            raise RuntimeError("disk on fire")

        monkeypatch.setattr(fig, "savefig", broken)
        with pytest.raises(RuntimeError):
            save_figure(fig, tmp_path / "curve.png")
        assert list(tmp_path.iterdir()) == []

    def test_refuses_other_formats(self, tmp_path):
        with pytest.raises(ValueError, match=r"\.png or \.svg"):
            save_figure(plot_sweep_curve(curve_table(), X), tmp_path / "curve.pdf")
