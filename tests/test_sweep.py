"""Parameter sweeps: specs, designs, common random numbers, executors, resume, failures."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.analysis.runner import run_ensemble
from sim.analysis.sweep import (
    ParamSpec,
    SweepError,
    SweepSpec,
    _decode_outcomes,
    outcome_set_problem,
    paired_difference,
    parse_param,
    run_sweep,
)
from sim.cli import main
from sim.engine.model import OUTCOMES
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
MAIN = ROOT / "scenarios" / "us_russia_2021.toml"
TEACHING = ROOT / "scenarios" / "teaching_tit_for_tat.toml"


def comparable(table: pd.DataFrame) -> pd.DataFrame:
    return table.drop(columns=["wall_time_s"]).reset_index(drop=True)


class TestSpecs:
    def test_linspace(self):
        p = parse_param("states.us.policy.ratio=0:0.5:11")
        assert p.path == "states.us.policy.ratio"
        assert p.values == pytest.approx(tuple(np.linspace(0, 0.5, 11)))
        assert parse_param("events.7.size=5:25:5").values == (5, 10, 15, 20, 25)

    def test_lists_of_numbers_and_words(self):
        assert parse_param("a.b=0.5,1,1.5").values == (0.5, 1, 1.5)
        assert parse_param("states.us.policy.kind=tit_for_tat,generous").values == (
            "tit_for_tat",
            "generous",
        )

    def test_ranges(self):
        p = parse_param("states.us.policy.ratio=0..0.5")
        assert (p.low, p.high, p.integer, p.is_range) == (0.0, 0.5, False, True)
        assert parse_param("events.7.size=1..27").integer

    @pytest.mark.parametrize(
        "text", ["no_equals", "a.b=", "a.b=1..0", "a.b=0:1", "a.b=0:1:0", "a.b=x:1:3", "..=1,2"]
    )
    def test_bad_specs(self, text):
        with pytest.raises(SweepError):
            parse_param(text)


class TestDesigns:
    def test_grid_is_the_product(self):
        spec = SweepSpec([parse_param("a.x=1,2,3"), parse_param("a.y=0:1:4")])
        points = spec.points()
        assert len(points) == 12
        assert points[0] == {"a.x": 1, "a.y": 0.0} and points[-1] == {"a.x": 3, "a.y": 1.0}

    def test_grid_refuses_ranges(self):
        with pytest.raises(SweepError, match="lhs or sobol"):
            SweepSpec([parse_param("a.x=0..1")]).points()

    def test_lhs_hits_every_stratum_once(self):
        n = 20
        spec = SweepSpec(
            [parse_param("a.x=0.0..1.0"), parse_param("a.y=10.0..30.0")],
            design="lhs",
            samples=n,
            seed=3,
        )
        points = spec.points()
        assert len(points) == n
        for path, low, high in (("a.x", 0, 1), ("a.y", 10, 30)):
            values = np.array([p[path] for p in points])
            strata = np.floor((values - low) / (high - low) * n).astype(int)
            assert sorted(strata) == list(range(n))
        assert spec.points() == points  # seeded

    def test_lhs_integer_ranges_and_lists(self):
        spec = SweepSpec(
            [parse_param("e.size=1..27"), parse_param("s.kind=grim,generous")],
            design="lhs",
            samples=10,
        )
        for point in spec.points():
            assert isinstance(point["e.size"], int) and 1 <= point["e.size"] <= 27
            assert point["s.kind"] in ("grim", "generous")

    def test_sobol_sizes_and_bounds(self):
        spec = SweepSpec(
            [parse_param("a.x=0..1"), parse_param("a.y=2..4"), parse_param("a.z=0..1")],
            design="sobol",
            samples=8,
        )
        points = spec.points()
        assert len(points) == 8 * (3 + 2)  # Saltelli, first-order and total indices
        assert all(0 <= p["a.x"] <= 1 and 2 <= p["a.y"] <= 4 for p in points)

    def test_sobol_refuses_lists_and_needs_samples(self):
        with pytest.raises(SweepError, match="ranges"):
            SweepSpec([parse_param("a.x=1,2")], design="sobol", samples=4).points()
        with pytest.raises(SweepError, match="--samples"):
            SweepSpec([parse_param("a.x=0..1")], design="lhs").points()

    def test_duplicate_parameter(self):
        with pytest.raises(SweepError, match="twice"):
            SweepSpec([parse_param("a.x=1,2"), parse_param("a.x=3")]).points()


class TestCommonRandomNumbers:
    def test_each_point_is_the_ensemble_with_its_overrides(self):
        sc = load_scenario(TEACHING)
        spec = SweepSpec([parse_param("states.alpha.policy.noise=0.1,0.4")], runs=300, seed=5)
        result = run_sweep(sc, spec)
        for i, noise in enumerate((0.1, 0.4)):
            direct = run_ensemble(
                sc.with_overrides({"states.alpha.policy.noise": noise}), runs=300, seed=5
            )
            assert np.array_equal(result.codes[i], direct.outcome)
            assert result.points.loc[i, "count_spiral"] == (direct.outcome == 1).sum()

    def test_paired_difference_uses_the_same_runs(self):
        sc = load_scenario(TEACHING)
        spec = SweepSpec([parse_param("states.beta.policy.respond_prob=1.0,0.9")], runs=2000)
        result = run_sweep(sc, spec)
        a, b = result.codes[0], result.codes[1]
        d = result.paired_difference(0, 1, "spiral")
        per_run = (b == 1).astype(float) - (a == 1).astype(float)
        assert d["diff"] == pytest.approx(per_run.mean())
        assert d["se"] == pytest.approx(per_run.std(ddof=1) / np.sqrt(2000))
        # the paired interval is narrower than the two independent intervals combined
        p = result.points
        independent = np.hypot(
            p.loc[0, "ci95_high_spiral"] - p.loc[0, "ci95_low_spiral"],
            p.loc[1, "ci95_high_spiral"] - p.loc[1, "ci95_low_spiral"],
        )
        assert d["ci95_high"] - d["ci95_low"] < independent
        assert d["ci95_high"] < 0  # letting 10% of acts go makes spirals rarer
        assert p.loc[1, "paired_diff_spiral"] == pytest.approx(d["diff"])

    def test_paired_difference_function(self):
        a = np.array([1, 1, 0, 2, 1], dtype=np.int8)
        b = np.array([1, 2, 0, 2, 2], dtype=np.int8)
        d = paired_difference(a, b, "spiral")
        assert d["diff"] == pytest.approx(-2 / 5)
        assert OUTCOMES.index("spiral") == 1


@pytest.fixture(scope="module")
def small_spec():
    return SweepSpec(
        [
            parse_param("states.us.policy.ratio=0.8,1.2"),
            parse_param("states.russia.policy.reciprocate=0.2,0.9"),
        ],
        runs=400,
        seed=11,
    )


class TestExecutors:
    def test_one_worker_two_workers_and_dask_are_identical(self, small_spec):
        spec = small_spec
        distributed = pytest.importorskip("distributed")
        sc = load_scenario(MAIN)
        one = run_sweep(sc, spec, workers=1)
        two = run_sweep(sc, spec, workers=2)
        with distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster:
            dask = run_sweep(sc, spec, scheduler=cluster.scheduler_address)
        pd.testing.assert_frame_equal(comparable(one.points), comparable(two.points))
        pd.testing.assert_frame_equal(comparable(one.points), comparable(dask.points))
        for i in one.codes:
            assert np.array_equal(one.codes[i], dask.codes[i])

    def test_unreachable_scheduler_is_a_clear_error(self, small_spec, monkeypatch):
        distributed = pytest.importorskip("distributed")
        # Nothing listens there: the sweep's 10 s connect timeout would only be waited out.
        # Wait 1 s instead (as tests/test_pooling.py does with pooling.CONNECT_TIMEOUT);
        # the error path is the same.
        real_client = distributed.Client

        def client(address, **kwargs):
            return real_client(address, **{**kwargs, "timeout": "1s"})

        monkeypatch.setattr(distributed, "Client", client)
        with pytest.raises(SweepError, match="cannot connect"):
            run_sweep(load_scenario(MAIN), small_spec, scheduler="tcp://127.0.0.1:1")


class TestOutputs:
    def test_writes_points_plots_and_manifest(self, tmp_path, capsys):
        out = tmp_path / "sweep"
        code = main(
            [
                "sweep",
                str(TEACHING),
                "--param",
                "states.alpha.policy.noise=0:0.6:3",
                "--param",
                "states.beta.policy.respond_prob=0.8,1",
                "--runs",
                "200",
                "--workers",
                "1",
                "--out",
                str(out),
                "--csv",
                "--quiet",
            ]
        )
        assert code == 0, capsys.readouterr().err
        points = pd.read_parquet(out / "points.parquet")
        assert len(points) == 6 and (points["status"] == "ok").all()
        assert len(list((out / "points").glob("*.json"))) == 6
        assert (out / "points.csv").is_file()
        assert (out / "sweep_heatmap_spiral.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["status"] == "complete" and manifest["finished"] == 6
        assert manifest["sweep"]["runs"] == 200 and manifest["sweep"]["design"] == "grid"
        for o in ("spiral", "de_escalation", "unresolved"):
            assert (points[f"ci95_low_{o}"] <= points[f"p_{o}"]).all()
        total = points[[f"count_{o}" for o in ("spiral", "de_escalation", "unresolved")]].sum(
            axis=1
        )
        assert (total == 200).all()

    def test_refuses_a_non_empty_directory(self, tmp_path, capsys):
        (tmp_path / "x").write_text("earlier results")
        code = main(
            [
                "sweep",
                str(TEACHING),
                "--param",
                "states.alpha.policy.noise=0,1",
                "--runs",
                "10",
                "--out",
                str(tmp_path),
                "--quiet",
            ]
        )
        assert code == 2
        assert "--resume" in capsys.readouterr().err
        assert (tmp_path / "x").read_text() == "earlier results"

    def test_failed_points_are_recorded_and_the_rest_goes_on(self, tmp_path, capsys):
        out = tmp_path / "sweep"
        code = main(
            [
                "sweep",
                str(TEACHING),
                "--param",
                "states.beta.policy.respond_prob=0.5,7,1",
                "--runs",
                "50",
                "--workers",
                "1",
                "--out",
                str(out),
            ]
        )
        assert code == 3
        err = capsys.readouterr().err
        assert "1 point(s) failed" in err
        points = pd.read_parquet(out / "points.parquet")
        assert points["status"].tolist() == ["ok", "failed", "ok"]
        assert "states.beta.policy.respond_prob" in points.loc[1, "error"]
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["failed"] == 1

    def test_sweep_table_in_a_file_and_flags_override_it(self, tmp_path, capsys):
        sweep_file = tmp_path / "sweep.toml"
        sweep_file.write_text(
            f'[sweep]\nscenario = "{TEACHING}"\nruns = 77\nworkers = 1\n'
            '[sweep.params]\n"states.alpha.policy.noise" = "0,0.5"\n'
        )
        code = main(["sweep", str(sweep_file), "--json", "--quiet"])
        assert code == 0
        rows = json.loads(capsys.readouterr().out)
        assert [r["states.alpha.policy.noise"] for r in rows] == [0, 0.5]
        assert all(r["runs"] == 77 for r in rows)
        main(["sweep", str(sweep_file), "--json", "--runs", "33"])
        assert all(r["runs"] == 33 for r in json.loads(capsys.readouterr().out))

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["--param", "states.alpha.policy.noise=1..0"], "LOW < HIGH"),
            (["--param", "states.alpha.policy.noise=0..1"], "grid design needs values"),
            (["--param", "oops"], "PATH=SPEC"),
            (["--design", "sobol", "--param", "states.alpha.policy.noise=0,1"], "ranges"),
            ([], "at least one --param"),
        ],
    )
    def test_bad_specs_exit_2(self, capsys, args, message):
        code = main(["sweep", str(TEACHING), "--runs", "5", "--workers", "1", *args])
        assert code == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err

    def test_sobol_indices(self, tmp_path):
        sc = load_scenario(TEACHING)
        spec = SweepSpec(
            [
                parse_param("states.beta.policy.respond_prob=0.6..1"),
                parse_param("scenario.runs=1..1000"),  # has no effect: runs come from the sweep
            ],
            design="sobol",
            samples=16,
            runs=200,
        )
        result = run_sweep(sc, spec, out=tmp_path / "s")
        si = json.loads((tmp_path / "s" / "sensitivity.json").read_text())
        assert si == result.sensitivity
        spiral = si["spiral"]
        assert spiral["names"] == ["states.beta.policy.respond_prob", "scenario.runs"]
        assert spiral["ST"][0] > 0.5  # respond_prob drives P(spiral)
        assert abs(spiral["ST"][1]) < 1e-9 and abs(spiral["S1"][1]) < 1e-9
        assert (tmp_path / "s" / "sensitivity.png").is_file()


def test_killed_sweep_resumes_with_every_point_exactly_once(tmp_path):
    out = tmp_path / "sweep"
    args = [
        sys.executable, "-m", "sim", "sweep", str(MAIN),
        "--param", "states.us.policy.ratio=0.6:1.4:4",
        "--param", "states.russia.policy.respond_prob=0.3:0.9:3",
        "--runs", "400", "--workers", "1", "--out", str(out), "--quiet",
    ]  # fmt: skip
    # 12 points of 400 runs (was 30 of 1,500): killed after 4, resumed for the other 8.
    # A point still takes far longer than the 0.05 s poll, so the kill lands mid-sweep.
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if len(list((out / "points").glob("*.json"))) >= 4:
                break
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    done_before = len(list((out / "points").glob("*.json")))
    assert 4 <= done_before < 12
    assert json.loads((out / "manifest.json").read_text())["status"] == "running"
    assert not list((out / "points").glob(".*.tmp"))  # no half-written point is visible

    resumed = subprocess.run([*args, "--resume"], capture_output=True, text=True, check=False)
    assert resumed.returncode == 0, resumed.stderr
    points = pd.read_parquet(out / "points.parquet")
    assert sorted(points["point"]) == list(range(12))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["finished"] == 12

    # the same table as a sweep that was never interrupted
    spec = SweepSpec(
        [
            parse_param("states.us.policy.ratio=0.6:1.4:4"),
            parse_param("states.russia.policy.respond_prob=0.3:0.9:3"),
        ],
        runs=400,
        seed=load_scenario(MAIN).seed,
    )
    fresh = run_sweep(load_scenario(MAIN), spec)
    pd.testing.assert_frame_equal(comparable(points), comparable(fresh.points))


def test_resume_refuses_another_design(tmp_path, capsys):
    out = tmp_path / "s"
    base = ["sweep", str(TEACHING), "--runs", "20", "--workers", "1", "--out", str(out), "--quiet"]
    assert main([*base, "--param", "states.alpha.policy.noise=0,1"]) == 0
    code = main([*base, "--param", "states.alpha.policy.noise=0,2", "--resume"])
    assert code == 2
    assert "different scenario or design" in capsys.readouterr().err


def test_param_spec_describe():
    assert ParamSpec("a.b", values=(1, 2)).describe() == "a.b=1,2"
    assert ParamSpec("a.b", low=0, high=1).describe() == "a.b=0..1"


def test_point_files_store_outcome_names_and_resume_refuses_another_set(tmp_path, capsys):
    """A point file's outcome codes are read through the names stored beside them; a
    point written under another set of outcomes is refused by --resume, by name."""
    out = tmp_path / "s"
    base = ["sweep", str(TEACHING), "--runs", "20", "--workers", "1", "--out", str(out), "--quiet"]
    param = ["--param", "states.alpha.policy.noise=0,1"]
    assert main([*base, *param]) == 0
    point = out / "points" / "000001.json"
    row = json.loads(point.read_text())
    assert row["outcome_names"] == list(OUTCOMES)
    # The same codes under a reordered list of names decode to the same outcomes.
    codes = _decode_outcomes(row["outcome_codes"], row["outcome_names"])
    names = list(reversed(OUTCOMES))
    table = np.array([names.index(n) for n in OUTCOMES], dtype=np.int8)
    reordered = base64.b64encode(table[codes].astype(np.int8).tobytes()).decode()
    np.testing.assert_array_equal(_decode_outcomes(reordered, names), codes)
    # A verified file from a version with three outcomes (no names stored) is refused on
    # resume; an unverifiable one (no checksum) is computed again (tests/test_faults.py).
    from sim.analysis import units

    (out / "points" / "000000.json").unlink()
    del row["outcome_names"]
    units.write_unit(point, row)
    assert main([*base, *param, "--resume"]) == 2
    err = capsys.readouterr().err
    assert "000001.json" in err and "not (unresolved, spiral, de_escalation, relapse)" in err


def test_the_docs_example_table_is_what_the_sweep_prints(capsys):
    """docs/sweeps.md, example 1: the table is the command's output, row for row."""
    doc = (Path(__file__).resolve().parents[1] / "docs" / "sweeps.md").read_text()
    head = " point  states.us.policy.reciprocate"
    quoted = doc.split("```\n" + head, 1)[1].split("```", 1)[0]
    quoted_rows = [head + quoted.split("\n", 1)[0]]
    quoted_rows += [line for line in quoted.split("\n")[1:] if line.strip()]
    # One process: the table does not depend on the executor (TestExecutors), and six
    # points are not worth starting a pool of one worker per core for.
    args = ["sweep", str(MAIN), "--param", "states.us.policy.reciprocate=0:1:6", "--runs", "1000"]
    code = main([*args, "--workers", "1"])
    assert code == 0
    printed = [line.rstrip() for line in capsys.readouterr().out.split("\n")]
    start = printed.index(quoted_rows[0].rstrip())
    assert printed[start : start + len(quoted_rows)] == [r.rstrip() for r in quoted_rows]


def test_codes_are_read_through_the_sweeps_outcome_names():
    """A sweep's codes index its own outcome names (a scenario may choose other classes):
    point files are decoded into them, and paired differences are taken by name."""
    mine = ("unresolved", "spiral", "de_escalation")
    stored = ["unresolved", "de_escalation", "spiral"]
    text = base64.b64encode(np.array([0, 1, 2, 2], dtype=np.int8).tobytes()).decode()
    codes = _decode_outcomes(text, stored, mine)
    assert [mine[c] for c in codes] == ["unresolved", "de_escalation", "spiral", "spiral"]
    with pytest.raises(SweepError, match="'relapse' in a point file is not one of this sweep"):
        _decode_outcomes(text, ["unresolved", "relapse", "spiral"], mine)
    a, b = np.array([0, 1, 1, 2]), np.array([1, 1, 2, 2])
    assert paired_difference(a, b, "spiral", mine)["diff"] == pytest.approx(0.0)
    assert paired_difference(a, b, "de_escalation", mine)["diff"] == pytest.approx(0.25)
    with pytest.raises(ValueError, match="unknown outcome 'relapse'"):
        paired_difference(a, b, "relapse", mine)
    row = {"status": "ok", "outcome_names": list(mine)}
    assert outcome_set_problem(row, mine) is None
    assert "not (unresolved, spiral, de_escalation, relapse)" in outcome_set_problem(row)
