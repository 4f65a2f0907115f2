"""Comparing saved results: ``sim.compare_results``, ``python -m sim compare``, the
paired-difference figure, and ``run --csv``.

The differences are checked against ``sim.paired_difference`` where the runs are paired,
against Newcombe's published intervals where they are independent, and are refused an
interval where the runs are only partly shared.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim.analysis.compare import CompareError, newcombe_interval
from sim.analysis.outcomes import wilson
from sim.cli import format_summary, main
from sim.outcome_classes import outcome_class
from sim.plots import plot_paired_differences

ROOT = Path(__file__).resolve().parents[1]
TEACHING = ROOT / "scenarios" / "teaching_tit_for_tat.toml"
MAIN = ROOT / "scenarios" / "us_russia_2021.toml"
OUTCOMES = ("de_escalation", "relapse", "spiral", "unresolved")
LEAN = {"keep_trajectories": False, "keep_events": False}


@pytest.fixture(scope="module")
def results():
    """Teaching-scenario results: a baseline, a variant on the same runs, another seed,
    twice the runs (same seed), and the main scenario on the baseline's runs."""
    return {
        "base": sim.run(TEACHING, runs=300, **LEAN),
        "quiet": sim.run(TEACHING, runs=300, overrides={"states.beta.policy.noise": 0.0}, **LEAN),
        "seed7": sim.run(TEACHING, runs=300, seed=7, **LEAN),
        "more": sim.run(TEACHING, runs=600, **LEAN),
        "main": sim.run(MAIN, runs=300, seed=1, **LEAN),
    }


@pytest.fixture(scope="module")
def dirs(results, tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    out = {}
    for label, result in results.items():
        result.save(root / label)
        out[label] = root / label
    return out


def run_cli(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def rows(comparison, label: str) -> pd.DataFrame:
    return comparison.table[comparison.table.result == label].set_index("outcome")


# ------------------------------------------------------------------ the numbers
class TestDifferences:
    def test_paired_rows_are_sim_paired_difference(self, results):
        base, quiet = results["base"], results["quiet"]
        c = sim.compare_results({"base": base, "quiet": quiet})
        assert c.baseline == "base" and c.pairings["quiet"].method == "paired"
        got = rows(c, "quiet")
        for outcome in OUTCOMES:
            d = sim.paired_difference(base, quiet, outcome)
            row = got.loc[outcome]
            assert row["method"] == "paired"
            assert row["diff"] == pytest.approx(d["diff"], abs=1e-12)
            assert row["diff_ci95_low"] == pytest.approx(d["ci95_low"], abs=1e-12)
            assert row["diff_ci95_high"] == pytest.approx(d["ci95_high"], abs=1e-12)
            own = quiet.summary()["outcomes"][outcome]
            assert (row["p"], row["count"], row["runs"]) == (own["p"], own["count"], 300)
            assert [row["ci95_low"], row["ci95_high"]] == own["ci95"]
        assert (rows(c, "base")["method"] == "baseline").all()
        assert rows(c, "base")["diff"].isna().all()

    def test_the_paired_interval_is_narrower_than_the_independent_one(self, results):
        # What pairing buys: on the same runs, a variant that changes little moves few
        # runs, so its interval is far narrower than one built from the two own intervals.
        c = sim.compare_results({"base": results["base"], "quiet": results["quiet"]})
        spiral = rows(c, "quiet").loc["spiral"]
        b = rows(c, "base").loc["spiral"]
        low, high = newcombe_interval(
            b["p"],
            (b["ci95_low"], b["ci95_high"]),
            spiral["p"],
            (spiral["ci95_low"], spiral["ci95_high"]),
        )
        assert spiral["diff_ci95_high"] - spiral["diff_ci95_low"] < 0.8 * (high - low)

    @pytest.mark.parametrize(
        "case, expected",
        [  # Newcombe (1998), Table II, method 10: p1 - p2 for x1/n1, x2/n2
            ((56, 70, 48, 80), (0.0524, 0.3339)),
            ((9, 10, 3, 10), (0.1705, 0.8090)),
            ((5, 56, 0, 29), (-0.0381, 0.1926)),
            ((10, 10, 0, 20), (0.6791, 1.0000)),
        ],
    )
    def test_newcombe_interval_reproduces_the_published_examples(self, case, expected):
        x1, n1, x2, n2 = case
        low, high = newcombe_interval(x2 / n2, wilson(x2, n2), x1 / n1, wilson(x1, n1))
        assert (low, high) == pytest.approx(expected, abs=5e-5)

    def test_other_seed_is_independent_with_newcombe_intervals(self, results):
        c = sim.compare_results({"base": results["base"], "seed7": results["seed7"]})
        pair = c.pairings["seed7"]
        assert pair.method == "independent" and "seed 7 vs 1" in pair.reason
        base, other = rows(c, "base"), rows(c, "seed7")
        for outcome in OUTCOMES:
            a, b = base.loc[outcome], other.loc[outcome]
            expected = newcombe_interval(
                a["p"], (a["ci95_low"], a["ci95_high"]), b["p"], (b["ci95_low"], b["ci95_high"])
            )
            assert b["method"] == "independent"
            assert b["diff"] == pytest.approx(b["p"] - a["p"])
            assert (b["diff_ci95_low"], b["diff_ci95_high"]) == pytest.approx(expected)
        text = c.format()
        assert "seed7 vs base: not paired, seed 7 vs 1: independent estimates" in text

    def test_partly_shared_runs_get_no_interval(self, results):
        with pytest.raises(ValueError):  # what sim.paired_difference says of them
            sim.paired_difference(results["base"], results["more"])
        c = sim.compare_results({"base": results["base"], "more": results["more"]})
        pair = c.pairings["more"]
        assert pair.method == "none" and pair.shared_runs == 300
        more = rows(c, "more")
        assert more["diff"].notna().all()
        assert more["diff_ci95_low"].isna().all() and more["diff_ci95_high"].isna().all()
        text = c.format()
        assert "(no interval)" in text and "no interval is given" in text
        assert "300 runs in common, but 600 runs vs 300" in text

    def test_different_scenarios_are_compared_and_said_to_be(self, results):
        c = sim.compare_results({"teaching": results["base"], "main": results["main"]})
        assert not c.same_scenario
        # Same seed (1) and runs: the run-by-run interval is valid, and labelled for
        # what it is.
        assert c.pairings["main"].method == "paired"
        assert "of another scenario" in c.pairings["main"].reason
        text = c.format()
        assert "different scenarios (teaching_tit_for_tat, us_russia_2021)" in text
        assert "judged over different forecast periods" in text
        assert "is the effect of what differs" not in text  # not an effect of one change

    def test_an_effect_is_said_to_be_one_in_this_model(self, results):
        text = sim.compare_results({"base": results["base"], "quiet": results["quiet"]}).format()
        assert "in this model, a paired difference is the effect of what differs" in text
        assert "overrides: states.beta.policy.noise=0.0" in text

    def test_outcome_classes_missing_from_one_result(self, results):
        only_spiral = sim.run(
            TEACHING, runs=300, overrides={"outcomes.classes": ["spiral"]}, **LEAN
        )
        c = sim.compare_results({"base": results["base"], "spiral only": only_spiral})
        got = rows(c, "spiral only")
        assert math.isnan(got.loc["relapse", "p"]) and math.isnan(got.loc["relapse", "diff"])
        assert got.loc["spiral", "method"] == "paired"
        p_only = only_spiral.summary()["outcomes"]["spiral"]["p"]
        p_base = results["base"].summary()["outcomes"]["spiral"]["p"]
        assert got.loc["spiral", "diff"] == pytest.approx(p_only - p_base)
        text = c.format()
        assert "not a class of every result" in text and "(not a class of it)" in text

    def test_percentages_are_printed_as_run_prints_them(self, results):
        base = results["base"]
        printed = format_summary(base.ensemble, base.summary()).split("\n")
        text = sim.compare_results({"base": base, "quiet": results["quiet"]}).format()
        for outcome in OUTCOMES:
            label = outcome_class(outcome).label
            line = next(row for row in printed if row.startswith(f"{label} ") and "]%" in row)
            p, ci = line[15:].split("   ")[0:2]  # "P" and "95% CI" as run prints them
            assert f"{p}   {ci}" in text, (outcome, p, ci)

    def test_labels(self, results, dirs):
        c = sim.compare_results([dirs["base"], dirs["quiet"]])
        assert c.labels == ("base", "quiet")  # the directories' names
        c = sim.compare_results([dirs["base"], dirs["quiet"]], labels=["as is", "exact"])
        assert c.labels == ("as is", "exact")
        c = sim.compare_results([results["base"], results["quiet"]])
        assert c.labels == ("teaching_tit_for_tat (1)", "teaching_tit_for_tat (2)")
        with pytest.raises(CompareError, match="1 label"):
            sim.compare_results([dirs["base"], dirs["quiet"]], labels=["one"])
        with pytest.raises(CompareError, match="labels must differ; repeated: x"):
            sim.compare_results([dirs["base"], dirs["quiet"]], labels=["x", "x"])
        with pytest.raises(CompareError, match="at least two"):
            sim.compare_results([dirs["base"]])

    def test_directories_and_results_agree(self, results, dirs):
        from_dirs = sim.compare_results({"base": dirs["base"], "quiet": dirs["quiet"]})
        in_memory = sim.compare_results({"base": results["base"], "quiet": results["quiet"]})
        pd.testing.assert_frame_equal(from_dirs.table, in_memory.table)

    def test_to_dict_is_json(self, results):
        c = sim.compare_results({"base": results["base"], "more": results["more"]})
        record = json.loads(json.dumps(c.to_dict()))
        assert record["baseline"] == "base"
        assert record["results"]["more"]["pairing"] == "none"
        assert len(record["table"]) == 2 * len(OUTCOMES)
        assert record["table"][1]["diff_ci95_low"] is None


# ------------------------------------------------------------------ bad input
def _damaged(dirs, tmp_path, how: str) -> Path:
    target = tmp_path / how
    shutil.copytree(dirs["base"], target)
    if how == "no_runs":
        (target / "runs.parquet").unlink()
    elif how == "garbled_runs":
        (target / "runs.parquet").write_bytes(b"not parquet")
    elif how == "garbled_manifest":
        (target / "manifest.json").write_text("{")
    elif how == "incomplete":
        (target / "INCOMPLETE").write_text("still running")
    elif how == "garbled_scenario":
        (target / "scenario.toml").write_text("x = [")
    return target


class TestBadInput:
    @pytest.mark.parametrize(
        "how, message",
        [
            ("no_runs", "cannot read results ({bad}/runs.parquet: missing)"),
            ("garbled_runs", "cannot read results"),
            ("garbled_manifest", "manifest.json is damaged"),
            ("incomplete", "the results there are incomplete"),
            ("garbled_scenario", "cannot read results ({bad}/scenario.toml: damaged"),
        ],
    )
    def test_a_damaged_directory_is_exit_2_with_a_message(
        self, capsys, dirs, tmp_path, how, message
    ):
        bad = _damaged(dirs, tmp_path, how)
        code, out, err = run_cli(capsys, "compare", dirs["base"], bad)
        assert code == 2 and out == ""
        assert f"escalation-sim: error: {bad}: {message.format(bad=bad)}" in err
        assert "Traceback" not in err

    def test_other_bad_input(self, capsys, dirs, tmp_path):
        sweep_dir = tmp_path / "sweep"
        code, _, err = run_cli(
            capsys, "sweep", TEACHING, "--param", "states.beta.policy.noise=0,0.2",
            "--runs", "20", "--workers", "1", "--out", sweep_dir, "--quiet",
        )  # fmt: skip
        assert code == 0, err
        cases = [
            ((dirs["base"],), "compare needs at least two result directories, found 1"),
            ((dirs["base"], tmp_path / "missing"), "missing: no such directory"),
            (
                (dirs["base"], sweep_dir),
                "a sweep's results (compare takes directories written by run --out",
            ),
            ((dirs["base"], TEACHING), "not a directory (expected one written by run --out)"),
            ((dirs["base"], tmp_path), "no manifest.json; not a directory written by run --out"),
            ((dirs["base"], dirs["quiet"], "--label", "a"), "1 label(s) for 2 results"),
            ((dirs["base"], dirs["base"]), "labels must differ"),
            ((dirs["base"], dirs["quiet"], "--plot"), "--plot needs --out DIR"),
        ]
        for args, message in cases:
            code, out, err = run_cli(capsys, "compare", *args)
            assert code == 2, (args, err)
            assert message in err, (message, err)
            assert "Traceback" not in err and out == ""
        code, _, err = run_cli(capsys, "compare")
        assert code == 2 and "DIR" in err


# ------------------------------------------------------------------ the command
class TestCommand:
    def test_table(self, capsys, dirs):
        code, out, err = run_cli(capsys, "compare", dirs["base"], dirs["quiet"], dirs["seed7"])
        assert code == 0, err
        expected = sim.compare_results([dirs["base"], dirs["quiet"], dirs["seed7"]]).format()
        assert out.rstrip("\n") == expected
        assert "the first, base, is the baseline" in out
        assert "quiet vs base: paired, same seed 1 and the same 300 runs" in out
        assert "seed7 vs base: not paired" in out

    def test_labels_and_json(self, capsys, dirs):
        code, out, _ = run_cli(
            capsys,
            "compare",
            dirs["base"],
            dirs["quiet"],
            "--label",
            "as is",
            "--label",
            "exact",
            "--json",
        )
        assert code == 0
        record = json.loads(out)
        assert record["baseline"] == "as is"
        assert {row["result"] for row in record["table"]} == {"as is", "exact"}

    def test_out_writes_the_table_and_the_figure(self, capsys, dirs, tmp_path):
        out_dir = tmp_path / "comparison"
        code, out, err = run_cli(
            capsys, "compare", dirs["base"], dirs["quiet"], "--out", out_dir, "--plot", "--svg"
        )
        assert code == 0, err
        assert f"Results written to {out_dir}/" in out
        names = sorted(p.name for p in out_dir.iterdir())
        assert names == [
            "comparison.csv",
            "comparison.json",
            "paired_differences.png",
            "paired_differences.svg",
        ]
        table = pd.read_csv(out_dir / "comparison.csv")
        expected = sim.compare_results([dirs["base"], dirs["quiet"]]).table
        assert list(table.columns) == list(expected.columns)
        np.testing.assert_allclose(table["diff"], expected["diff"].astype(float))
        record = json.loads((out_dir / "comparison.json").read_text())
        assert record["directories"] == [str(dirs["base"]), str(dirs["quiet"])]
        # a second time is refused unless --force, as everywhere
        code, _, err = run_cli(capsys, "compare", dirs["base"], dirs["quiet"], "--out", out_dir)
        assert code == 2 and "--force" in err


# ------------------------------------------------------------------ the figure
class TestFigure:
    def test_the_bars_are_the_paired_intervals(self, results):
        c = sim.compare_results({"base": results["base"], "quiet": results["quiet"]})
        fig = plot_paired_differences(c)
        ax = fig.axes[0]
        diffs = c.differences()["quiet"]
        for outcome in OUTCOMES:
            d = diffs[outcome]
            (point,) = [a for a in ax.lines if a.get_gid() == f"diff_quiet_{outcome}"]
            assert point.get_xdata()[0] == pytest.approx(100 * d["diff"])
            bars = [a for a in ax.collections if a.get_gid() == f"ci95_quiet_{outcome}"]
            (segment,) = bars[0].get_segments()
            xs = sorted(segment[:, 0])
            assert xs == pytest.approx(sorted([100 * d["ci95_low"], 100 * d["ci95_high"]]))
            assert bars[0].get_linestyle()[0][1] is None  # solid: paired
        assert next(a for a in ax.lines if a.get_gid() == "zero").get_xdata()[0] == 0
        assert "percentage points" in ax.get_xlabel() and "base" in ax.get_xlabel()
        ticks = [t.get_text() for t in ax.get_yticklabels()]
        assert ticks == ["unresolved", "spiral", "relapse", "de-escalation"]  # calm on top
        notes = [t.get_text() for t in ax.texts]
        assert any("paired on the same runs" in n for n in notes)

    def test_independent_and_partly_shared_are_drawn_for_what_they_are(self, results):
        c = sim.compare_results(
            {"base": results["base"], "seed7": results["seed7"], "more": results["more"]}
        )
        ax = plot_paired_differences(c).axes[0]
        dashed = [a for a in ax.collections if a.get_gid() == "ci95_seed7_spiral"]
        assert dashed and dashed[0].get_linestyle()[0][1] is not None  # dashed
        assert not [a for a in ax.collections if a.get_gid() == "ci95_more_spiral"]  # no bar
        (point,) = [a for a in ax.lines if a.get_gid() == "diff_more_spiral"]
        assert point.get_markerfacecolor() in ("white", (1.0, 1.0, 1.0, 1.0))
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert "independent estimates: interval from the two Wilson intervals" in labels
        assert "runs partly shared: no interval" in labels

    def test_plain_mapping_and_bad_input(self):
        data = {"b": {"spiral": {"diff": -0.1, "ci95_low": -0.12, "ci95_high": -0.08}}}
        fig = plot_paired_differences(data, baseline="a")
        assert "a" in fig.axes[0].get_xlabel()
        with pytest.raises(ValueError, match="baseline"):
            plot_paired_differences(data)
        with pytest.raises(ValueError, match="no differences"):
            plot_paired_differences({}, baseline="a")
        with pytest.raises(ValueError, match="method 'guess'"):
            plot_paired_differences(
                {
                    "b": {
                        "spiral": {"diff": 0.1, "ci95_low": 0, "ci95_high": 0.2, "method": "guess"}
                    }
                },
                baseline="a",
            )


# ------------------------------------------------------------------ run --csv
class TestRunCsv:
    def test_csv_is_the_per_run_table(self, capsys, tmp_path):
        out_dir = tmp_path / "run"
        code, _, err = run_cli(
            capsys, "run", TEACHING, "--runs", "120", "--out", out_dir, "--csv", "--quiet"
        )
        assert code == 0, err
        csv = pd.read_csv(out_dir / "runs.csv")
        parquet = pd.read_parquet(out_dir / "runs.parquet")
        assert list(csv.columns) == list(parquet.columns) and len(csv) == 120
        assert (csv["run"] == parquet["run"]).all()
        assert (csv["outcome"] == parquet["outcome"].astype(str)).all()
        np.testing.assert_allclose(csv["weeks_to_outcome"], parquet["weeks_to_outcome"])
        manifest = json.loads((out_dir / "manifest.json").read_text())
        assert manifest["files"][-2:] == ["runs.csv", "manifest.json"]
        assert not (out_dir / "INCOMPLETE").exists()
        # the directory still reads back, and compares with itself under two labels
        again = sim.load_results(out_dir)
        assert again.n_runs == 120

    def test_csv_needs_out(self, capsys):
        code, out, err = run_cli(capsys, "run", TEACHING, "--runs", "50", "--csv")
        assert code == 2 and out == ""
        assert "--csv needs --out DIR" in err

    def test_without_csv_there_is_none(self, capsys, tmp_path):
        code, _, _ = run_cli(
            capsys, "run", TEACHING, "--runs", "50", "--out", tmp_path / "r", "--quiet"
        )
        assert code == 0 and not (tmp_path / "r" / "runs.csv").exists()
