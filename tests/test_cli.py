"""The command line: run, --json, --set, --out and its refusal to overwrite, validate, policies."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.cli import main
from sim.outcome_classes import OUTCOMES

ROOT = Path(__file__).resolve().parents[1]
TEACHING = ROOT / "scenarios" / "teaching_tit_for_tat.toml"
MAIN = ROOT / "scenarios" / "us_russia_2021.toml"


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


class TestRun:
    def test_table(self, capsys):
        code, out, err = run_cli(capsys, "run", MAIN, "--runs", "500")
        assert code == 0, err
        for word in ("de-escalation", "spiral", "unresolved", "95% CI", "us_in_russia", "why"):
            assert word in out
        assert "500 runs" in out

    def test_json_has_the_promised_fields(self, capsys):
        code, out, _ = run_cli(capsys, "run", MAIN, "--runs", "400", "--seed", "3", "--json")
        assert code == 0
        summary = json.loads(out)
        assert summary["runs"] == 400
        assert summary["seed"] == 3
        assert summary["scenario"] == "us_russia_2021"
        outcomes = summary["outcomes"]
        assert set(outcomes) == set(OUTCOMES)
        assert sum(o["count"] for o in outcomes.values()) == 400
        assert sum(o["p"] for o in outcomes.values()) == pytest.approx(1.0)
        for o in outcomes.values():
            low, high = o["ci95"]
            assert 0 <= low <= o["p"] <= high <= 1

    def test_json_is_reproducible(self, capsys):
        _, first, _ = run_cli(capsys, "run", TEACHING, "--runs", "300", "--json")
        _, second, _ = run_cli(capsys, "run", TEACHING, "--runs", "300", "--json")
        a, b = json.loads(first), json.loads(second)
        a.pop("wall_time_s")
        b.pop("wall_time_s")
        assert a == b

    def test_set_changes_the_result(self, capsys):
        base = ["run", TEACHING, "--runs", "600", "--json"]
        _, plain, _ = run_cli(capsys, *base)
        _, damped, _ = run_cli(
            capsys,
            *base,
            "--set",
            "states.alpha.policy.kind=proportional",
            "--set",
            "states.alpha.policy.ratio=0.3",
        )
        plain, damped = json.loads(plain), json.loads(damped)
        assert damped["overrides"] == {
            "states.alpha.policy.kind": "proportional",
            "states.alpha.policy.ratio": 0.3,
        }
        assert damped["outcomes"]["spiral"]["p"] < plain["outcomes"]["spiral"]["p"]

    def test_set_unknown_parameter_is_exit_2_with_path(self, capsys):
        code, _, err = run_cli(capsys, "run", TEACHING, "--set", "states.alpha.policy.ratoi=2")
        assert code == 2
        assert "states.alpha.policy.ratoi" in err
        assert "Traceback" not in err

    def test_malformed_set_is_exit_2(self, capsys):
        code, _, err = run_cli(capsys, "run", TEACHING, "--set", "no_equals_sign")
        assert code == 2
        assert "PATH=VALUE" in err

    @pytest.mark.parametrize("args", [["--runs", "0"], ["--seed", "-1"], ["--bogus"]])
    def test_bad_flags_are_exit_2(self, capsys, args):
        code, _, err = run_cli(capsys, "run", TEACHING, *args)
        assert code == 2
        assert "Traceback" not in err


class TestOut:
    def test_writes_every_file(self, capsys, tmp_path):
        out = tmp_path / "res"
        code, _, err = run_cli(capsys, "run", MAIN, "--runs", "300", "--out", out, "--quiet")
        assert code == 0, err
        names = {p.name for p in out.iterdir()}
        assert names == {
            "summary.json",
            "runs.parquet",
            "trajectories.npz",
            "events.parquet",
            "scenario.toml",
            "manifest.json",
        }
        runs = pd.read_parquet(out / "runs.parquet")
        assert len(runs) == 300
        assert list(runs["run"]) == list(range(300))
        assert {"outcome", "weeks_to_outcome", "final_staff.us_in_russia", "staff_lost.us"} <= set(
            runs.columns
        )
        summary = json.loads((out / "summary.json").read_text())
        counts = runs["outcome"].value_counts()
        for name, o in summary["outcomes"].items():
            assert counts.get(name, 0) == o["count"]
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["runs"] == 300
        assert manifest["seed"] == summary["seed"]
        assert "mesa" in manifest["versions"]
        with np.load(out / "trajectories.npz") as traj:
            staff = traj["staff"]
            assert staff.shape[0] == 300
            assert staff.shape[2] == 2
            assert (staff >= 0).all()
            # The last step of the trajectories is the final staff in the table.
            assert np.array_equal(staff[:, -1, 0], runs["final_staff.us_in_russia"].to_numpy())
        # The resolved scenario is itself a valid scenario.
        assert main(["validate", str(out / "scenario.toml")]) == 0
        assert not [p for p in out.iterdir() if p.name.startswith(".")]
        umask = os.umask(0)
        os.umask(umask)
        for path in out.iterdir():  # results are as readable as any file the user makes
            assert path.stat().st_mode & 0o777 == 0o666 & ~umask

    def test_refuses_non_empty_dir_without_force(self, capsys, tmp_path):
        out = tmp_path / "res"
        assert run_cli(capsys, "run", TEACHING, "--runs", "50", "--out", out, "--quiet")[0] == 0
        before = (out / "summary.json").read_bytes()
        code, _, err = run_cli(capsys, "run", TEACHING, "--runs", "60", "--out", out, "--quiet")
        assert code == 2
        assert "--force" in err
        assert (out / "summary.json").read_bytes() == before
        code, _, _ = run_cli(
            capsys, "run", TEACHING, "--runs", "60", "--out", out, "--quiet", "--force"
        )
        assert code == 0
        assert json.loads((out / "summary.json").read_text())["runs"] == 60

    def test_out_is_a_file(self, capsys, tmp_path):
        target = tmp_path / "file"
        target.write_text("x")
        code, _, err = run_cli(capsys, "run", TEACHING, "--runs", "10", "--out", target)
        assert code == 2
        assert "not a directory" in err


class TestValidate:
    def test_shipped_scenarios_are_valid(self, capsys):
        for path in sorted((ROOT / "scenarios").glob("*.toml")):
            code, out, err = run_cli(capsys, "validate", path)
            assert code == 0, err
            assert "valid scenario" in out

    def test_every_problem_is_reported_with_its_path(self, capsys, tmp_path):
        bad = tmp_path / "bad.toml"
        bad.write_text(
            TEACHING.read_text()
            .replace("diplomats = 100", "diplomats = -5", 1)
            .replace('kind = "tit_for_tat"', 'kind = "tit_for_tatt"', 1)
        )
        code, _, err = run_cli(capsys, "validate", bad)
        assert code == 2
        assert str(bad) in err
        assert "diplomats" in err and "found -5" in err
        assert "did you mean 'tit_for_tat'" in err
        assert "Traceback" not in err

    def test_missing_file_and_garbage(self, capsys, tmp_path):
        code, _, err = run_cli(capsys, "validate", tmp_path / "nope.toml")
        assert code == 2 and "no such file" in err
        junk = tmp_path / "junk.toml"
        junk.write_bytes(b"\x00\xff\xfe binary")
        code, _, err = run_cli(capsys, "validate", junk)
        assert code == 2 and "junk.toml" in err
        code, _, err = run_cli(capsys, "validate", tmp_path)
        assert code == 2 and "directory" in err


def test_policies_lists_every_policy_and_parameter(capsys):
    from sim.policies import COMMON_PARAMS, POLICIES

    code, out, _ = run_cli(capsys, "policies")
    assert code == 0
    for name, cls in POLICIES.items():
        assert name in out
        for key in cls.params:
            assert key in out
    for key in COMMON_PARAMS:
        assert key in out


def test_python_dash_m_entry_point_exit_codes():
    ok = subprocess.run(
        [sys.executable, "-m", "sim", "run", str(TEACHING), "--runs", "20", "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["runs"] == 20
    assert ok.stderr == ""  # no progress bar when stderr is not a terminal
    bad = subprocess.run(
        [sys.executable, "-m", "sim", "run", str(TEACHING), "--set", "scenario.step_days=0"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
    assert "scenario.step_days" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_a_reader_that_goes_away_is_not_an_error():
    """`python -m sim ... | head` closes the pipe early: exit 0, no internal error."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim", "validate", str(ROOT / "scenarios" / "us_russia_2021.toml")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    proc.stdout.close()  # before the command has written anything
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0, err
    assert "internal error" not in err and "Traceback" not in err
