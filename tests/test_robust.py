"""Robust choices: worlds, common random numbers across policies, the statistics over
worlds, executors, resume after a kill, the command line."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim.analysis.robust import RobustError, draw_worlds, parse_lever, policies, run_robust
from sim.analysis.runner import run_ensemble
from sim.cli import main
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
UNCERTAIN = ROOT / "scenarios" / "us_russia_2021_uncertain.toml"
MAIN = ROOT / "scenarios" / "us_russia_2021.toml"
LEVERS = ["states.us.policy.ratio=0.5,1", "states.us.policy.reciprocate=0.05,0.6"]
WORLDS, RUNS = 24, 10


@pytest.fixture(scope="module")
def scenario():
    return load_scenario(UNCERTAIN)


@pytest.fixture(scope="module")
def result(scenario):
    return run_robust(
        scenario, [parse_lever(t) for t in LEVERS], worlds=WORLDS, runs_per_world=RUNS
    )


def test_policies_are_the_product_of_the_levers():
    grid = policies([parse_lever(t) for t in LEVERS])
    assert grid == [
        {"states.us.policy.ratio": 0.5, "states.us.policy.reciprocate": 0.05},
        {"states.us.policy.ratio": 0.5, "states.us.policy.reciprocate": 0.6},
        {"states.us.policy.ratio": 1, "states.us.policy.reciprocate": 0.05},
        {"states.us.policy.ratio": 1, "states.us.policy.reciprocate": 0.6},
    ]


def test_world_w_holds_what_run_w_of_an_ordinary_ensemble_draws(scenario):
    worlds = draw_worlds(scenario, 50, scenario.seed, fixed=set())
    ordinary = sim.run(scenario, runs=50).runs
    for path in worlds.columns:
        np.testing.assert_array_equal(worlds[path], ordinary[f"param.{path}"])
    # a lever fixes its parameter: it is not drawn
    fixed = draw_worlds(scenario, 5, scenario.seed, fixed={"states.us.policy.respond_prob"})
    assert "states.us.policy.respond_prob" not in fixed.columns


def test_each_policy_in_each_world_is_those_runs_with_those_values(scenario, result):
    """The oracle: world w of policy i is runs w*R .. w*R+R-1 of the scenario with the
    policy's levers set and the world's values given, run directly."""
    i = 3
    sc = scenario.with_overrides(result.policies[i])
    given = {p: np.repeat(result.worlds[p].to_numpy(), RUNS) for p in result.worlds.columns}
    ens = run_ensemble(sc, runs=WORLDS * RUNS, seed=scenario.seed, param_values=given)
    spiral = (ens.outcome == ens.outcome_names.index("spiral")).reshape(WORLDS, RUNS)
    np.testing.assert_array_equal(result.shares["spiral"][i], spiral.mean(axis=1))


def test_the_same_lever_values_give_the_same_runs(scenario):
    """Common random numbers: policies that differ in nothing agree in every world."""
    twice = run_robust(
        scenario,
        [parse_lever("states.us.policy.ratio=1,1.0")],
        worlds=WORLDS,
        runs_per_world=RUNS,
    )
    for name in twice.outcome_names:
        np.testing.assert_array_equal(twice.shares[name][0], twice.shares[name][1])
    d = twice.paired_difference(0, 1)
    assert d["diff"] == 0 and d["se"] == 0


def test_table_statistics_are_what_they_say(result):
    table = result.table().set_index("policy")
    p = result.shares["spiral"]
    best = p.min(axis=0)
    n_worst = math.ceil(0.1 * WORLDS)
    for i in range(len(result.policies)):
        row = table.loc[i]
        assert row["p_spiral"] == pytest.approx(p[i].mean())
        se = p[i].std(ddof=1) / math.sqrt(WORLDS)
        assert row["ci95_low_spiral"] == pytest.approx(p[i].mean() - 1.96 * se)
        assert row["worst_decile_spiral"] == pytest.approx(np.sort(p[i])[-n_worst:].mean())
        regret = p[i] - best
        assert row["regret_mean_spiral"] == pytest.approx(regret.mean())
        assert row["regret_max_spiral"] == pytest.approx(regret.max())
        diff = p[i] - p[result.reference]
        assert row["diff_spiral"] == pytest.approx(diff.mean())
        se_d = diff.std(ddof=1) / math.sqrt(WORLDS)
        assert row["diff_ci95_high_spiral"] == pytest.approx(diff.mean() + 1.96 * se_d)
    regret = result.regret("spiral")
    assert (regret >= 0).all()
    assert (regret.min(axis=0) == 0).all()  # some policy is the best in every world


def test_reference_is_the_scenarios_own_lever_values(result):
    # The scenario's US ratio is 1.0 and reciprocate 0.05: policy 2 of the grid.
    assert result.reference == 2
    assert "Paired differences are from policy 2 (ratio=1, reciprocate=0.05)" in result.report()


def test_workers_and_dask_give_the_same_numbers(scenario, result):
    levers = [parse_lever(t) for t in LEVERS]
    pooled = run_robust(scenario, levers, worlds=WORLDS, runs_per_world=RUNS, workers=2)
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        dask = run_robust(
            scenario,
            levers,
            worlds=WORLDS,
            runs_per_world=RUNS,
            scheduler=cluster.scheduler_address,
        )
    for other in (pooled, dask):
        for name in result.outcome_names:
            np.testing.assert_array_equal(result.shares[name], other.shares[name])


def test_bad_levers_and_scenarios_are_clear_errors(scenario):
    with pytest.raises(RobustError, match="not a range"):
        parse_lever("states.us.policy.ratio=0..1")
    with pytest.raises(RobustError, match="lever values ratio=-1"):
        run_robust(scenario, [parse_lever("states.us.policy.ratio=-1,1")], worlds=2)
    with pytest.raises(RobustError, match="no parameter is uncertain"):
        run_robust(load_scenario(MAIN), [parse_lever("states.us.policy.ratio=1,2")], worlds=2)


def test_command_line_writes_tables_figure_and_reads_back(tmp_path, capsys, result):
    out = tmp_path / "robust"
    args = ["robust", str(UNCERTAIN), "--worlds", str(WORLDS), "--runs-per-world", str(RUNS)]
    args += [x for t in LEVERS for x in ("--lever", t)]
    assert main([*args, "--workers", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "least maximum regret" in printed and "worst 10%" in printed
    for name in ["robust.parquet", "worlds.parquet", "world_outcomes.parquet", "report.txt"]:
        assert (out / name).is_file(), name
    assert (out / "robust.png").stat().st_size > 10_000
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["finished"] == 4
    assert not (out / "INCOMPLETE").exists()
    back = sim.load_results(out)
    pd.testing.assert_frame_equal(back.table(), result.table())
    table = pd.read_parquet(out / "robust.parquet")
    pd.testing.assert_frame_equal(table, result.table())
    # refuses to mix with an earlier analysis
    assert main([*args, "--workers", "1", "--out", str(out)]) == 2
    assert "--resume (to continue) or --force" in capsys.readouterr().err
    (out / "robust.png").unlink()
    assert main(["plot", str(out)]) == 0  # redraws the figure from the saved policies
    assert (out / "robust.png").stat().st_size > 10_000
    assert main(["robust", str(MAIN), "--lever", "states.us.policy.ratio=1,2"]) == 2
    assert "no parameter is uncertain" in capsys.readouterr().err


def test_the_figure_reads(result):
    from test_figure_layout import legend_problems, overlapping_texts

    fig = result.plot()
    left = fig.axes[0]
    labels = [t.get_text() for t in left.get_yticklabels()]
    assert labels[0] == "US ratio 0.5, US reciprocate 0.05"  # display names, first at the top
    assert [t.get_fontweight() for t in left.get_yticklabels()].count("bold") == 1
    assert overlapping_texts(fig) == [] and legend_problems(fig) == []


def test_discover_reads_a_robust_directory(tmp_path, result):
    found = sim.discover(result, resamples=2)
    assert found.data.source == "worlds"
    assert len(found.data.x) == len(result.policies) * WORLDS
    assert int(found.data.trials.sum()) == len(result.policies) * WORLDS * RUNS


def test_killed_analysis_resumes_with_every_policy_exactly_once(tmp_path, scenario, capsys):
    out = tmp_path / "robust"
    levers = ["states.us.policy.ratio=0.5,0.75,1", "states.us.policy.reciprocate=0.05,0.6"]
    args = [
        sys.executable, "-m", "sim", "robust", str(UNCERTAIN),
        "--lever", levers[0], "--lever", levers[1],
        "--worlds", "20", "--runs-per-world", "10",
        "--workers", "1", "--out", str(out), "--quiet",
    ]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if len(list((out / "policies").glob("*.json"))) >= 2:
                break
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    done_before = len(list((out / "policies").glob("*.json")))
    assert 2 <= done_before < 6
    assert json.loads((out / "manifest.json").read_text())["status"] == "running"
    assert (out / "INCOMPLETE").exists()

    resumed = subprocess.run([*args, "--resume"], capture_output=True, text=True, check=False)
    assert resumed.returncode == 0, resumed.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["finished"] == 6
    assert sorted(int(p.stem) for p in (out / "policies").glob("*.json")) == list(range(6))
    fresh = run_robust(scenario, [parse_lever(t) for t in levers], worlds=20, runs_per_world=10)
    pd.testing.assert_frame_equal(pd.read_parquet(out / "robust.parquet"), fresh.table())
    # resuming with other settings is refused
    assert main([*args[3:], "--seed", "7", "--resume"]) == 2
    assert "different scenario or design" in capsys.readouterr().err
