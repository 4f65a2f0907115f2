"""Scenario discovery: PRIM recovers a known box, quasi-p-values and statistics are what
they say, CART partitions the data, and ``sim discover`` reads runs, sweeps and writes its
report, boxes.json and figures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom

import sim
from sim.analysis.discover import (
    DiscoveryData,
    DiscoveryError,
    _quantile,
    _Space,
    cart,
    choose,
    discover,
)
from sim.cli import main

ROOT = Path(__file__).resolve().parents[1]
UNCERTAIN = ROOT / "scenarios" / "us_russia_2021_uncertain.toml"
MAIN = ROOT / "scenarios" / "us_russia_2021.toml"

#: The known box of the synthetic ensemble, and how close PRIM must come to each limit.
TRUE_BOX = {"p0": (0.2, 0.6), "p1": (0.5, 0.9)}
TOLERANCE = 0.05


def synthetic(n: int = 4000, noise: float = 0.05, seed: int = 1) -> DiscoveryData:
    """Five uniform parameters; every run inside TRUE_BOX is a case of interest, and
    ``noise`` of the runs outside it are too (at random)."""
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(rng.uniform(0, 1, (n, 5)), columns=[f"p{i}" for i in range(5)])
    inside = np.ones(n, dtype=bool)
    for name, (low, high) in TRUE_BOX.items():
        inside &= (x[name] >= low) & (x[name] <= high)
    hits = np.where(inside, 1, rng.uniform(size=n) < noise).astype(np.int64)
    return DiscoveryData(x, hits, np.ones(n, dtype=np.int64), "spiral", "runs")


@pytest.fixture(scope="module")
def found():
    return discover(synthetic(), resamples=10)


def test_prim_recovers_the_known_box_and_leaves_the_rest_unrestricted(found):
    box = found.box
    assert sorted(box.restricted) == ["p0", "p1"]
    for limit in box.limits:
        low, high = TRUE_BOX[limit.name]
        assert abs(limit.low - low) <= TOLERANCE, limit
        assert abs(limit.high - high) <= TOLERANCE, limit
        assert box.quasi_p[limit.name] < 1e-6
    assert box.density > 0.85 and box.coverage > 0.75
    # the resampling check: the two real dimensions always, the noise ones rarely
    assert found.resampled["p0"] >= 0.9 and found.resampled["p1"] >= 0.9
    assert all(found.resampled[f"p{i}"] <= 0.2 for i in (2, 3, 4))


@pytest.mark.parametrize("seed", [2, 3])
def test_recovery_holds_for_other_draws(seed):
    box = discover(synthetic(seed=seed), resamples=0).box
    assert sorted(box.restricted) == ["p0", "p1"]
    for limit in box.limits:
        low, high = TRUE_BOX[limit.name]
        assert abs(limit.low - low) <= TOLERANCE and abs(limit.high - high) <= TOLERANCE


def test_pure_noise_gives_no_significant_box():
    rng = np.random.default_rng(5)
    x = pd.DataFrame(rng.uniform(0, 1, (3000, 3)), columns=["a", "b", "c"])
    hits = (rng.uniform(size=3000) < 0.3).astype(np.int64)
    data = DiscoveryData(x, hits, np.ones(3000, dtype=np.int64), "spiral", "runs")
    assert discover(data, resamples=0, max_p=0.001).box.limits == ()


def test_box_statistics_and_quasi_p_are_the_closed_forms(found):
    """Coverage, density and mass are counts; quasi-p is the one-sided binomial tail
    P(X >= k) with X ~ Binomial(t, density of the box without that restriction)."""
    data = found.data
    inside = np.ones(len(data.x), dtype=bool)
    for limit in found.box.limits:
        inside &= (data.x[limit.name] >= limit.low) & (data.x[limit.name] <= limit.high)
    k, t = int(data.hits[inside].sum()), int(inside.sum())
    assert (found.box.hits, found.box.trials) == (k, t)
    assert found.box.coverage == k / data.hits.sum()
    assert found.box.density == k / t
    assert found.box.mass == t / len(data.x)
    limit = found.box.limits[0]
    other = found.box.limits[1]
    without = (data.x[other.name] >= other.low) & (data.x[other.name] <= other.high)
    p = data.hits[without].sum() / without.sum()
    assert found.box.quasi_p[limit.name] == pytest.approx(binom.sf(k - 1, t, p), rel=1e-6)


def test_trajectory_trades_coverage_for_density(found):
    table = found.trajectory.table()
    assert table.loc[0, "coverage"] == 1 and table.loc[0, "mass"] == 1
    assert table.loc[0, "restricted"] == 0
    peeled = table.iloc[: len(table)]
    assert (np.diff(peeled["mass"]) != 0).all()
    assert table["mass"].min() >= 0.05
    # the chosen box holds the most cases of interest beyond a box of its mass by chance
    base = found.base_rate
    excess = [b.hits - b.trials * base for b in found.trajectory.boxes]
    assert found.chosen == choose(found.trajectory) == int(np.argmax(excess))


def test_the_peeling_quantile_moves_past_ties():
    assert _quantile(np.array([1.0, 2.0, 3.0, 4.0, 5.0]), 0.05) == 1.5
    # a grid of values repeated: the lower peel removes the whole group of 1s
    assert _quantile(np.array([1.0, 1.0, 1.0, 2.0, 2.0, 3.0]), 0.05) == 1.5
    assert _quantile(np.array([1.0, 2.0, 3.0, 3.0, 3.0]), 0.95) == 2.5


def test_rows_with_trials_weigh_as_their_runs():
    """A sweep point of t runs with k hits counts as t runs: the statistics of any box
    are those of the expanded runs."""
    x = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "w": ["x", "y", "x", "y"]})
    hits, trials = np.array([1, 5, 9, 2]), np.array([10, 10, 10, 10])
    grouped = _Space(DiscoveryData(x, hits, trials, "spiral", "points"))
    expanded_x = x.loc[x.index.repeat(10)].reset_index(drop=True)
    expanded_hits = np.concatenate([[1] * k + [0] * (10 - k) for k in hits])
    expanded = _Space(
        DiscoveryData(expanded_x, expanded_hits, np.ones(40, dtype=int), "spiral", "runs")
    )
    for space in (grouped, expanded):
        limits = space.initial()
        limits.lower[0] = 1.0
        limits.allowed[1][0] = False  # "w" is "y" only
        box = space.box(limits)
        assert (box.hits, box.trials) == (7, 20)
        assert box.coverage == pytest.approx(7 / 17) and box.mass == 0.5
    assert grouped.box(limits).quasi_p == pytest.approx(expanded.box(limits).quasi_p)


def test_cart_leaves_partition_the_data(found):
    leaves = cart(found.data)
    assert sum(leaf.trials for leaf in leaves) == len(found.data.x)
    assert sum(leaf.hits for leaf in leaves) == found.data.hits.sum()
    assert sum(leaf.coverage for leaf in leaves) == pytest.approx(1.0)
    assert all(leaf.mass >= 0.05 - 1e-9 for leaf in leaves)
    densest = leaves[0]
    assert "p0" in densest.rule and "p1" in densest.rule and densest.density > 0.8


def test_resampling_is_reproducible_and_seeded(found):
    again = discover(found.data, resamples=10)
    assert again.resampled == found.resampled
    assert again.to_json()["prim"] == found.to_json()["prim"]


def test_bad_input_is_a_clear_error():
    result = sim.run(MAIN, runs=50)
    with pytest.raises(DiscoveryError, match="draw no parameters"):
        discover(result)
    with pytest.raises(DiscoveryError, match="unknown outcome 'calm'"):
        discover(sim.run(UNCERTAIN, runs=50), outcome="calm")
    with pytest.raises(DiscoveryError, match="describes 'spiral', not 'relapse'"):
        discover(synthetic(200), outcome="relapse")
    with pytest.raises(DiscoveryError, match="peel_alpha"):
        discover(synthetic(200), peel_alpha=0.7)
    with pytest.raises(DiscoveryError, match="box 999"):
        discover(synthetic(200), box=999, resamples=0)


@pytest.fixture(scope="module")
def uncertain_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "uncertain"
    assert main(["run", str(UNCERTAIN), "--runs", "3000", "--out", str(out), "--quiet"]) == 0
    return out


def test_discover_command_on_an_uncertain_run(uncertain_dir, capsys):
    capsys.readouterr()
    assert main(["discover", str(uncertain_dir), "--resamples", "4"]) == 0
    printed = capsys.readouterr().out
    out = uncertain_dir / "discover-spiral"
    for name in ["report.txt", "boxes.json", "tradeoff.png", "box_pairs.png"]:
        assert (out / name).is_file(), name
    report = (out / "report.txt").read_text()
    assert report.strip() in printed
    boxes = json.loads((out / "boxes.json").read_text())
    assert boxes["rows"] == 3000 and boxes["rows_are"] == "runs"
    assert set(boxes["parameters"]) == {
        "states.us.policy.respond_prob",
        "states.russia.policy.respond_prob",
        "states.russia.policy.ratio",
    }
    box = boxes["prim"]["box"]
    assert 0 < box["coverage"] <= 1 and box["density"] > boxes["base_rate"]
    # In this model, Russia's readiness to answer is what the spirals have in common.
    assert "states.russia.policy.respond_prob" in box["restricted"]
    result = sim.load_results(uncertain_dir)
    again = json.loads(json.dumps(discover(result, resamples=4).to_json()))
    assert boxes.pop("timing_s") and again.pop("timing_s")  # wall times differ
    assert boxes == again
    # written once: a second time needs --force
    assert main(["discover", str(uncertain_dir), "--resamples", "0"]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["discover", str(uncertain_dir), "--outcome", "de_escalation", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.split("\nReport")[0])["outcome"] == "de_escalation"


def test_discover_command_on_a_sweep(tmp_path, capsys):
    out = tmp_path / "sweep"
    args = ["sweep", str(MAIN), "--param", "states.russia.policy.respond_prob=0.1:0.9:5"]
    args += ["--param", "states.us.policy.ratio=0.5,1.5", "--runs", "200", "--workers", "1"]
    assert main([*args, "--out", str(out), "--quiet"]) == 0
    assert main(["discover", str(out), "--resamples", "2", "--out", str(tmp_path / "d")]) == 0
    boxes = json.loads((tmp_path / "d" / "boxes.json").read_text())
    assert boxes["rows"] == 10 and boxes["rows_are"] == "points" and boxes["trials"] == 2000
    assert "states.russia.policy.respond_prob" in boxes["prim"]["box"]["restricted"]


def test_discover_command_errors(tmp_path, capsys):
    plain = tmp_path / "plain"
    assert main(["run", str(MAIN), "--runs", "50", "--out", str(plain), "--quiet"]) == 0
    assert main(["discover", str(plain)]) == 2
    assert "draw no parameters" in capsys.readouterr().err
    assert main(["discover", str(tmp_path / "nothing")]) == 2
    assert "not a directory written by run" in capsys.readouterr().err


def test_prim_reproduces_the_ema_workbench_trajectories():
    """The EMA Workbench's PRIM (2.5.3) on three data sets, stored by
    benchmarks/crosscheck_prim.py: this PRIM passes through the same boxes."""
    from docs_support import docs_block

    crosscheck = docs_block.load_benchmark(ROOT / "benchmarks" / "crosscheck_prim.py")
    stored = json.loads((ROOT / "benchmarks" / "results" / "prim_crosscheck.json").read_text())
    assert set(stored["trajectories"]) == {"box_with_noise", "weak_signal", "with_a_category"}
    assert crosscheck.differences(stored["trajectories"], crosscheck.ours()) == []


def test_the_docs_figures_are_the_stored_ones():
    """docs/discovery.md quotes benchmarks/results/discovery.json as the benchmark
    renders it, and the stored box is what discover finds on the same runs."""
    from docs_support import docs_block

    bench = docs_block.load_benchmark(ROOT / "benchmarks" / "bench_discovery.py")
    figures = json.loads((ROOT / "benchmarks" / "results" / "discovery.json").read_text())
    assert docs_block.read(ROOT / "docs" / "discovery.md", "discovery-figures") == (
        bench.summary_text(figures)
    )
    table = figures["robust"]["table"]
    assert len(table) == 9 and figures["robust"]["reference"] == 3
    assert table[3]["diff_spiral"] == 0  # the reference against itself
    assert min(row["regret_mean_spiral"] for row in table) >= 0
    result = sim.run(UNCERTAIN, runs=figures["runs"], keep_events=False)
    box = discover(result, resamples=0).to_json()["prim"]["box"]
    assert box == figures["discover"]["box"]
