"""The Python API: run, save, load_results round trips, labelled trajectories, plots."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

import sim
from sim.cli import main
from sim.outcome_classes import OUTCOMES

ROOT = Path(__file__).resolve().parents[1]
MAIN = ROOT / "scenarios" / "us_russia_2021.toml"
TEACHING = ROOT / "scenarios" / "teaching_tit_for_tat.toml"


@pytest.fixture(scope="module")
def result():
    return sim.run(MAIN, runs=400, seed=9)


def without_time(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k != "wall_time_s"}


class TestResult:
    def test_round_trip_save_and_load(self, result, tmp_path):
        out = result.save(tmp_path / "r")
        loaded = sim.load_results(out)
        assert isinstance(loaded, sim.Result)
        assert without_time(loaded.summary()) == without_time(result.summary())
        pd.testing.assert_frame_equal(loaded.runs, result.runs)
        assert np.array_equal(loaded.ensemble.trajectories, result.ensemble.trajectories)
        assert loaded.scenario.raw == result.scenario.raw

    def test_round_trip_keeps_overrides(self, tmp_path):
        changed = sim.run(TEACHING, runs=50, overrides={"states.alpha.policy.noise": 0.1})
        loaded = sim.load_results(changed.save(tmp_path / "o"))
        assert loaded.summary()["overrides"] == {"states.alpha.policy.noise": 0.1}
        assert without_time(loaded.summary()) == without_time(changed.summary())

    def test_trajectories_are_labelled(self, result):
        traj = result.trajectories
        sc = result.scenario
        assert traj.index.names == ["run", "date"]
        assert list(traj.columns) == ["us_in_russia", "russia_in_us"]
        assert len(traj) == 400 * sc.n_steps
        run3 = traj.xs(3, level="run")["us_in_russia"].to_numpy()
        assert np.array_equal(run3, result.ensemble.trajectories[:, 0, 3])
        assert traj.index.get_level_values("date")[-1] == pd.Timestamp(sc.end)

    def test_cumulative_incidence_matches_the_summary(self, result):
        cif = result.cumulative_incidence()
        s = result.summary()
        for name in ("spiral", "de_escalation"):
            assert cif[name].iloc[-1] == pytest.approx(s["outcomes"][name]["p"])
            assert (cif[f"{name}_low"] <= cif[name]).all()
            assert (cif[name] <= cif[f"{name}_high"]).all()
            assert cif[name].is_monotonic_increasing
        assert cif.index[0] == pd.Timestamp(result.scenario.step_end(result.scenario.forecast_step))

    def test_run_accepts_a_scenario_or_a_path_and_is_reproducible(self):
        a = sim.run(sim.load_scenario(TEACHING), runs=100, seed=4, keep_trajectories=False)
        b = sim.run(str(TEACHING), runs=100, seed=4)
        assert a.trajectories is None
        assert np.array_equal(a.ensemble.outcome, b.ensemble.outcome)
        with pytest.raises(ValueError, match="trajectories"):
            a.plot_fan_chart()

    def test_bad_input_raises_a_scenario_error(self):
        with pytest.raises(sim.ScenarioError) as info:
            sim.run(TEACHING, runs=10, overrides={"states.alpha.policy.noise": -1})
        assert info.value.problems[0].path == "states.alpha.policy.noise"


class TestPlots:
    def test_fan_chart(self, result):
        fig = result.plot_fan_chart()
        ax = fig.axes[0]
        assert ax.get_title() and ax.get_ylabel()
        assert ax.get_legend() is not None
        assert len(ax.collections) >= 4  # 50% and 90% bands for each of two missions

    def test_cumulative_incidence(self, result):
        fig = result.plot_cumulative_incidence()
        ax = fig.axes[0]
        ys = [line.get_ydata() for line in ax.get_lines() if len(line.get_ydata()) > 2]
        cif = result.cumulative_incidence()
        assert any(np.allclose(y, cif["spiral"]) for y in ys)
        assert any(np.allclose(y, cif["de_escalation"]) for y in ys)

    def test_outcomes_and_compare(self, result):
        other = sim.run(MAIN, runs=400, seed=9, overrides={"states.us.policy.reciprocate": 1.0})
        fig = sim.compare({"as recorded": result, "US reciprocates": other})
        heights = sorted(round(p.get_height(), 6) for p in fig.axes[0].patches if p.get_height())
        expected = sorted(
            round(r.summary()["outcomes"][o]["p"], 6)
            for r in (result, other)
            for o in OUTCOMES
            if r.summary()["outcomes"][o]["p"]
        )
        assert heights == expected

    def test_time_to_outcome(self, result):
        fig = result.plot_time_to_outcome()
        texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
        median = result.summary()["weeks_to_outcome"]["spiral"]["q50"]
        assert any(f"{median:.0f}" in t for t in texts)

    def test_cli_plot_and_run_plot(self, tmp_path, capsys):
        out = tmp_path / "r"
        args = ["run", str(MAIN), "--runs", "200", "--out", str(out), "--plot", "--quiet"]
        assert main(args) == 0
        for name in ("fan_chart", "cumulative_incidence", "outcomes", "time_to_outcome"):
            assert (out / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
            (out / f"{name}.png").unlink()
        assert main(["plot", str(out), "--svg"]) == 0
        assert (out / "fan_chart.svg").is_file() and (out / "fan_chart.png").is_file()
        assert main(["run", str(MAIN), "--runs", "10", "--plot"]) == 2
        assert "--plot needs --out" in capsys.readouterr().err
        assert main(["plot", str(tmp_path / "nothing")]) == 2


def test_sweep_api_and_load_results(tmp_path):
    s = sim.sweep(
        TEACHING, {"states.beta.policy.respond_prob": "0.8,0.9,1"}, runs=200, out=tmp_path / "s"
    )
    assert isinstance(s, sim.SweepResult)
    assert s.points["states.beta.policy.respond_prob"].tolist() == [0.8, 0.9, 1.0]
    loaded = sim.load_results(tmp_path / "s")
    assert isinstance(loaded, sim.SweepResult)
    pd.testing.assert_frame_equal(loaded.points, pd.read_parquet(tmp_path / "s" / "points.parquet"))
    assert loaded.paired_difference(0, 2) == s.paired_difference(0, 2)
    fig = loaded.plot_curve()
    assert fig.axes[0].get_xlabel()
    with pytest.raises(ValueError, match="two swept parameters"):
        loaded.plot_heatmap()
    manifest = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert manifest["finished"] == 3


def test_version():
    assert sim.__version__ and sim.__version__ != "0+unknown"


def test_paired_difference_between_results():
    a = sim.run(TEACHING, runs=800, seed=2, keep_trajectories=False)
    b = sim.run(TEACHING, runs=800, seed=2, overrides={"states.beta.policy.respond_prob": 0.9})
    d = sim.paired_difference(a, b, "spiral")
    per_run = (b.ensemble.outcome == 1).astype(float) - (a.ensemble.outcome == 1).astype(float)
    assert d["diff"] == pytest.approx(per_run.mean())
    assert d["ci95_high"] < 0
    with pytest.raises(ValueError, match="same seed"):
        sim.paired_difference(a, sim.run(TEACHING, runs=800, seed=3))
