"""Results directories (issue 17, findings 2, 8 and 9): one generation per directory,
readers that refuse incomplete, foreign or damaged results with a message naming the
file, and a full disk that leaves nothing half-made.

Everything runs in-process (``sim.cli.main``) on small runs of the teaching scenario.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pytest

import sim
from sim.analysis.manifest import SCHEMA_VERSION, read_manifest, validate_manifest
from sim.analysis.results import (
    INCOMPLETE,
    OutputError,
    ResultsError,
    atomic_write,
    clear_output_dir,
    staged_output,
)
from sim.cli import main

ROOT = Path(__file__).resolve().parents[1]
TEACHING = ROOT / "scenarios" / "teaching_tit_for_tat.toml"
RUN_FILES = ["events.parquet", "manifest.json", "runs.parquet", "scenario.toml", "summary.json"]


def cli(capsys, *args) -> tuple[int, str]:
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


def listing(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir())


def snapshot(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in path.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A complete run's directory (100 runs, with trajectories)."""
    out = tmp_path_factory.mktemp("run") / "res"
    code = main(
        ["run", str(TEACHING), "--runs", "100", "--seed", "3", "--out", str(out), "--quiet"]
    )
    assert code == 0
    return out


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory) -> Path:
    """A complete three-point sweep's directory."""
    out = tmp_path_factory.mktemp("sweep") / "s"
    code = main(
        ["sweep", str(TEACHING), "--param", "states.beta.policy.noise=0,0.1,0.2",
         "--runs", "20", "--workers", "1", "--out", str(out), "--quiet"]
    )  # fmt: skip
    assert code == 0
    return out


def copy(src: Path, tmp_path: Path, name: str = "copy") -> Path:
    target = tmp_path / name
    shutil.copytree(src, target)
    return target


def edit_manifest(directory: Path, **changes) -> None:
    path = directory / "manifest.json"
    manifest = json.loads(path.read_text())
    for key, value in changes.items():
        if value is None:
            manifest.pop(key, None)
        else:
            manifest[key] = value
    path.write_text(json.dumps(manifest, indent=2))


# --------------------------------------------------- finding 2: one generation
def test_force_replaces_the_whole_directory(capsys, tmp_path):
    out = tmp_path / "D"
    base = ["run", TEACHING, "--out", out, "--quiet"]
    assert cli(capsys, *base, "--runs", "300", "--seed", "1", "--plot")[0] == 0
    assert (out / "trajectories.npz").exists() and (out / "fan_chart.png").exists()
    (out / "discover-spiral").mkdir()  # what `sim discover D` writes by default
    (out / "discover-spiral" / "boxes.json").write_text("{}")
    code, err = cli(capsys, *base, "--runs", "100", "--seed", "2", "--no-trajectories", "--force")
    assert code == 0, err
    assert listing(out) == RUN_FILES  # no old trajectories, PNGs or discover-spiral/
    loaded = sim.load_results(out)
    assert loaded.n_runs == 100 and loaded.seed == 2
    assert loaded.ensemble.trajectories is None
    code, err = cli(capsys, "plot", out)
    assert code == 0, err
    assert "fan_chart.png" not in listing(out)  # not drawn from 300-run trajectories


def test_force_refuses_a_directory_that_is_not_results(capsys, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "notes.txt").write_text("mine")
    (home / "photos").mkdir()
    code, err = cli(capsys, "run", TEACHING, "--runs", "10", "--out", home, "--force", "--quiet")
    assert code == 2
    assert f"{home}: is not empty and is not a results directory" in err
    assert listing(home) == ["notes.txt", "photos"]
    result = sim.run(TEACHING, runs=10)
    with pytest.raises(OutputError, match="not a results directory"):
        result.save(home, force=True)
    with pytest.raises(OutputError, match="not a results directory"):
        clear_output_dir(home)
    assert listing(home) == ["notes.txt", "photos"]


def test_clear_output_dir_keeps_the_marker_and_staging(tmp_path):
    out = tmp_path / "old"
    out.mkdir()
    (out / "manifest.json").write_text("{}")
    (out / "sub").mkdir()
    (out / "sub" / "f").write_text("x")
    (out / ".staging-live").mkdir()
    clear_output_dir(out, keep=[".staging-live"])
    assert listing(out) == [".staging-live", INCOMPLETE]  # marked while it is refilled


def test_interrupted_force_leaves_the_earlier_generation(run_dir, tmp_path):
    out = copy(run_dir, tmp_path)
    before = snapshot(out)
    with pytest.raises(KeyboardInterrupt), staged_output(out, force=True) as staging:
        (staging / "summary.json").write_text("{}")
        raise KeyboardInterrupt
    assert snapshot(out) == before


# ---------------------------------------- findings 2 and 9: refusing to read
@pytest.mark.parametrize("status", ["running", "interrupted", "failed"])
def test_unfinished_sweep_is_refused_unless_partial(capsys, sweep_dir, tmp_path, status):
    out = copy(sweep_dir, tmp_path)
    edit_manifest(out, status=status)
    (out / INCOMPLETE).write_text("not finished")
    (out / "points.parquet").unlink()
    (out / "points" / "000002.json").unlink()
    with pytest.raises(ResultsError, match="incomplete") as info:
        sim.load_results(out)
    assert "--resume" in str(info.value) and "partial=True" in str(info.value)
    code, err = cli(capsys, "plot", out)
    assert code == 2 and f"{out}: the results there are incomplete" in err
    assert "--resume" in err and "internal error" not in err
    sofar = sim.load_results(out, partial=True)
    assert list(sofar.points["point"]) == [0, 1]
    assert (sofar.points["status"] == "ok").all()
    assert sorted(sofar.codes) == [0, 1]
    sofar.plot_curve()


def test_unfinished_robust_analysis_reads_its_finished_policies(capsys, tmp_path):
    out = tmp_path / "r"
    code, err = cli(
        capsys, "robust", ROOT / "scenarios" / "us_russia_2021_uncertain.toml",
        "--lever", "states.us.policy.ratio=0.5,1", "--worlds", "3", "--runs-per-world", "2",
        "--workers", "1", "--out", out, "--quiet",
    )  # fmt: skip
    assert code == 0, err
    complete = sim.load_results(out)
    edit_manifest(out, status="interrupted")
    (out / INCOMPLETE).write_text("killed")
    for name in ("worlds.parquet", "robust.parquet", "policies/000001.json"):
        (out / name).unlink()  # the worlds are written at the end: drawn again
    code, err = cli(capsys, "plot", out)
    assert code == 2 and "--resume" in err and "partial=True" in err
    sofar = sim.load_results(out, partial=True)
    assert sofar.failed == {1: "not computed (unfinished)"}
    assert sofar.worlds.equals(complete.worlds)
    assert list(sofar.table()["status"]) == ["ok", "failed"]


def test_status_alone_marks_results_unfinished(capsys, sweep_dir, tmp_path):
    out = copy(sweep_dir, tmp_path)  # no INCOMPLETE, but the manifest says interrupted
    edit_manifest(out, status="interrupted")
    with pytest.raises(ResultsError, match="says 'interrupted'"):
        sim.load_results(out)
    assert cli(capsys, "plot", out)[0] == 2
    assert len(sim.load_results(out, partial=True).points) == 3


def test_complete_with_failed_points_is_complete(sweep_dir, tmp_path):
    out = copy(sweep_dir, tmp_path)
    edit_manifest(out, status="complete with failed points")
    assert len(sim.load_results(out).points) == 3


def test_incomplete_run_is_refused(capsys, run_dir, tmp_path):
    out = copy(run_dir, tmp_path)
    (out / INCOMPLETE).write_text("killed")
    with pytest.raises(ResultsError, match="incomplete"):
        sim.load_results(out)
    with pytest.raises(ResultsError, match="a run has no partial form"):
        sim.load_results(out, partial=True)
    for command in (["plot", out], ["story", out, "--run", "0"], ["compare", run_dir, out]):
        code, err = cli(capsys, *command)
        assert code == 2, command
        assert "incomplete" in err and "internal error" not in err, command
    code, err = cli(capsys, "discover", out, "--outcome", "spiral")
    assert code == 2 and "incomplete" in err and "--force" in err
    (out / INCOMPLETE).unlink()
    edit_manifest(out, status="running")
    with pytest.raises(ResultsError, match="says 'running'"):
        sim.load_results(out)


def test_schema_versions(capsys, run_dir, tmp_path):
    out = copy(run_dir, tmp_path)
    assert json.loads((out / "manifest.json").read_text())["schema"] == SCHEMA_VERSION
    edit_manifest(out, schema=SCHEMA_VERSION + 1)
    with pytest.raises(ResultsError, match="newer escalation-sim") as info:
        sim.load_results(out)
    assert "manifest.json" in str(info.value)
    assert cli(capsys, "plot", out)[0] == 2
    edit_manifest(out, schema=0)
    with pytest.raises(ResultsError, match="schema 0 is not one this version reads"):
        sim.load_results(out)
    # Written before schema versions were recorded: read as legacy version 0.
    edit_manifest(out, schema=None, status=None)
    assert sim.load_results(out).n_runs == 100


# --------------------------------------------------- finding 9: damaged files
@pytest.mark.parametrize(
    "change, message",
    [
        ({"seed": "x"}, "manifest.json: field 'seed': expected an integer, found 'x'"),
        ({"runs": None}, "manifest.json: field 'runs' is missing"),
        ({"runs": 1.5}, "manifest.json: field 'runs': expected a whole number"),
        ({"scenario_file": 3}, "manifest.json: field 'scenario_file': expected a string"),
        ({"overrides": []}, "manifest.json: field 'overrides': expected an object"),
        ({"schema": "1"}, "manifest.json: field 'schema': expected an integer, found '1'"),
        ({"status": 1}, "manifest.json: field 'status': expected a string, found 1"),
        ({"files": "all"}, "manifest.json: field 'files': expected a list of strings"),
    ],
)
def test_wrong_manifest_fields(capsys, run_dir, tmp_path, change, message):
    out = copy(run_dir, tmp_path)
    edit_manifest(out, **change)
    with pytest.raises(ResultsError) as info:
        sim.load_results(out)
    assert f"{out}/{message}" in str(info.value)
    code, err = cli(capsys, "plot", out)
    assert code == 2 and f"escalation-sim: error: {out}/{message}" in err


def test_wrong_sweep_manifest_fields(capsys, sweep_dir, tmp_path):
    out = copy(sweep_dir, tmp_path)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["sweep"]["params"] = [{"path": 7, "values": [0]}]
    (out / "manifest.json").write_text(json.dumps(manifest))
    code, err = cli(capsys, "plot", out)
    assert code == 2
    assert f"{out}/manifest.json: field 'sweep.params[0].path': expected a string" in err
    edit_manifest(out, sweep=None, robust={"levers": "x"})
    with pytest.raises(ResultsError, match=r"field 'robust\.levers': expected a list of strings"):
        sim.load_results(out)


def test_damaged_manifest_json(capsys, run_dir, tmp_path):
    out = copy(run_dir, tmp_path)
    text = (out / "manifest.json").read_text()
    (out / "manifest.json").write_text(text[: len(text) // 2])
    with pytest.raises(ResultsError, match=r"manifest.json: damaged: not valid JSON at line \d+"):
        sim.load_results(out)
    code, err = cli(capsys, "plot", out)
    assert code == 2 and f"{out}/manifest.json: damaged: not valid JSON at line" in err
    (out / "manifest.json").write_bytes(b"\xff\xfe[")
    with pytest.raises(ResultsError, match=r"manifest\.json: damaged: not UTF-8"):
        sim.load_results(out)
    (out / "manifest.json").write_text("[1, 2]")
    with pytest.raises(ResultsError, match=r"manifest\.json: damaged: expected a JSON object"):
        sim.load_results(out)
    (out / "manifest.json").unlink()
    with pytest.raises(ResultsError, match="not a results directory"):
        sim.load_results(out)


@pytest.mark.parametrize(
    "name, content",
    [
        ("runs.parquet", b"not parquet"),
        ("runs.parquet", None),
        ("scenario.toml", b"x = ["),
        ("trajectories.npz", b"PK garbage"),
        ("events.parquet", b""),
    ],
)
def test_damaged_result_files(capsys, run_dir, tmp_path, name, content):
    out = copy(run_dir, tmp_path)
    if content is None:
        (out / name).unlink()
    else:
        (out / name).write_bytes(content)
    with pytest.raises(ResultsError, match=f"{out}/{name}: (damaged|missing)"):
        sim.load_results(out)
    code, err = cli(capsys, "plot", out)
    assert code == 2 and f"{out}/{name}" in err and "internal error" not in err


def test_trajectories_of_another_generation_are_refused(run_dir, tmp_path):
    out = copy(run_dir, tmp_path)
    other = tmp_path / "other"
    sim.run(TEACHING, runs=30, seed=3).save(other)
    shutil.copy(other / "trajectories.npz", out / "trajectories.npz")
    with pytest.raises(ResultsError, match=r"trajectories\.npz: does not belong"):
        sim.load_results(out)


def test_damaged_sweep_point(capsys, sweep_dir, tmp_path):
    out = copy(sweep_dir, tmp_path)
    (out / "points" / "000001.json").write_text('{"point": 1, ')
    code, err = cli(capsys, "plot", out)
    assert code == 2 and f"{out}/points/000001.json: damaged: not valid JSON at line 1" in err


def test_read_and_validate_directly(run_dir):
    manifest = read_manifest(run_dir)
    validate_manifest(manifest, run_dir / "manifest.json")
    with pytest.raises(ResultsError, match="field 'seed': expected an integer, found true"):
        validate_manifest({**manifest, "seed": True}, run_dir / "manifest.json")


# ------------------------------------------------------ finding 8: a full disk
def _disk_full_on(name: str, monkeypatch) -> None:
    real = os.replace

    def replace(src, dst, *args, **kwargs):
        if Path(dst).name == name:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)


def test_disk_full_leaves_no_directory(capsys, tmp_path, monkeypatch):
    out = tmp_path / "new" / "res"
    _disk_full_on("runs.parquet", monkeypatch)
    code, err = cli(capsys, "run", TEACHING, "--runs", "20", "--out", out, "--quiet")
    assert code == 2, err
    assert f"{out / 'runs.parquet'}: cannot write: no space left on the device" in err
    assert "free there" in err and "internal error" not in err
    assert not (tmp_path / "new").exists()  # neither res/ nor the new/ made for it


def test_disk_full_keeps_the_earlier_generation(capsys, run_dir, tmp_path, monkeypatch):
    out = copy(run_dir, tmp_path)
    before = snapshot(out)
    _disk_full_on("scenario.toml", monkeypatch)
    code, err = cli(capsys, "run", TEACHING, "--runs", "20", "--out", out, "--force", "--quiet")
    assert code == 2 and f"{out / 'scenario.toml'}: cannot write: no space left" in err
    assert "the results staged before it" in err and ".staging" not in err
    assert snapshot(out) == before


def test_disk_full_on_the_marker(capsys, tmp_path, monkeypatch):
    def fsync(fd):
        raise OSError(errno.EDQUOT, os.strerror(errno.EDQUOT))

    monkeypatch.setattr(os, "fsync", fsync)
    out = tmp_path / "res"
    code, err = cli(capsys, "run", TEACHING, "--runs", "5", "--out", out, "--quiet")
    assert code == 2 and f"{out / INCOMPLETE}: cannot write: quota exceeded" in err
    assert not out.exists()
    with pytest.raises(OutputError, match="quota exceeded"):
        atomic_write(tmp_path / "f", lambda h: h.write(b"x" * 10))
    assert listing(tmp_path) == []  # no temporary file left
