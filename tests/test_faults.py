"""Sweeps and robustness analyses under faults (issue 17, findings 3 to 8): killed or
terminated processes, damaged point files, failed points, lost workers and schedulers,
a full disk, another version of the code. Each ends in a clear message or a correct
result, and the manifest says what is on disk."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from sim.analysis import sweep as sweep_module
from sim.analysis import units
from sim.analysis.sweep import (
    SchedulerLost,
    SweepError,
    SweepSpec,
    _Executor,
    parse_param,
    run_sweep,
)
from sim.analysis.workers import WATCH_INTERVAL
from sim.cli import main
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
TEACHING = ROOT / "scenarios" / "teaching_tit_for_tat.toml"
MAIN = ROOT / "scenarios" / "us_russia_2021.toml"
SWEEP = ["sweep", str(TEACHING), "--param", "states.alpha.policy.noise=0:0.5:6", "--runs", "40"]


def spec() -> SweepSpec:
    return SweepSpec([parse_param("states.alpha.policy.noise=0:0.5:6")], runs=40, seed=0)


def comparable(table: pd.DataFrame) -> pd.DataFrame:
    return table.drop(columns=["wall_time_s"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def fresh():
    scenario = load_scenario(TEACHING)
    return run_sweep(scenario, SweepSpec(spec().params, runs=40, seed=scenario.seed))


# ------------------------------------------------------------ point files
def test_point_files_are_sealed_and_verified(tmp_path):
    row = {"point": 3, "status": "ok", "p": 0.25}
    units.write_unit(tmp_path / "000003.json", row)
    rows, damaged = units.read_units(tmp_path, "point")
    assert rows == {3: row} and damaged == []
    text = (tmp_path / "000003.json").read_text().replace("0.25", "0.35")
    (tmp_path / "000003.json").write_text(text)
    rows, damaged = units.read_units(tmp_path, "point")
    assert rows == {} and "does not match its checksum" in damaged[0][1]


def test_resume_recomputes_damaged_and_failed_points_and_names_them(tmp_path, capsys, fresh):
    out = tmp_path / "s"
    assert main([*SWEEP, "--workers", "1", "--out", str(out), "--quiet"]) == 0
    points = out / "points"
    os.truncate(points / "000003.json", 100)  # finding 5: a truncated file
    (points / "000004.json").write_text("{}")  # ... and one with no fields
    edited = json.loads((points / "000001.json").read_text())
    edited["p_spiral"] = 0.999  # edited by hand: the checksum no longer matches
    (points / "000001.json").write_text(json.dumps(edited))
    failed = json.loads((points / "000002.json").read_text())
    failed.update(status="failed", error="MemoryError: passing")  # finding 6
    units.write_unit(points / "000002.json", failed)
    (out / "points.parquet").unlink()
    capsys.readouterr()
    assert main([*SWEEP, "--workers", "1", "--out", str(out), "--quiet", "--resume"]) == 0
    err = capsys.readouterr().err
    for n in (1, 3, 4):
        assert f"{n:06d}.json" in err and "computing it again" in err
    table = pd.read_parquet(out / "points.parquet")
    pd.testing.assert_frame_equal(comparable(table), comparable(fresh.points))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["finished"] == 6


def test_resume_refuses_other_code(tmp_path, capsys):
    out = tmp_path / "s"
    assert main([*SWEEP, "--workers", "1", "--out", str(out), "--quiet"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["code"]) == {"version", "source_sha256", "plugins"}
    manifest["code"]["source_sha256"] = "0" * 64  # finding 3: sim/model.py was edited
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert main([*SWEEP, "--workers", "1", "--out", str(out), "--quiet", "--resume"]) == 2
    err = capsys.readouterr().err
    assert "source code has changed" in err and "--force" in err
    manifest["code"]["version"] = "0.0.1"
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert main([*SWEEP, "--workers", "1", "--out", str(out), "--quiet", "--resume"]) == 2
    assert "package version 0.0.1 there" in capsys.readouterr().err


# ---------------------------------------------------------------- workers
def test_a_dead_local_worker_is_replaced_and_its_point_recomputed(tmp_path):
    from fault_tasks import always_die, die_once

    executor = _Executor(2, None)
    try:
        got = dict(executor.map_unordered([(i, (i, str(tmp_path))) for i in range(4)], die_once))
    finally:
        executor.close()
    assert sorted(got) == [0, 1, 2, 3] and all(r["status"] == "ok" for r in got.values())
    assert (tmp_path / "died-1").exists()  # it did die once
    executor = _Executor(2, None)
    try:
        got = dict(executor.map_unordered([(i, (i, str(tmp_path))) for i in range(3)], always_die))
    finally:
        executor.close()
    assert got[0]["status"] == got[2]["status"] == "ok"
    assert got[1]["status"] == "failed" and "died 3 times" in got[1]["error"]


class _GoneClient:
    """A Dask client whose scheduler has gone away."""

    def submit(self, *args, **kwargs):
        raise OSError("Timed out trying to connect to tcp://10.0.0.9:8786")

    def close(self, timeout=None):
        raise OSError("no scheduler")


class _OtherCodeClient:
    def run(self, fn):
        return {"tcp://w1:1": {"version": "9.9", "source_sha256": "x", "plugins": {}}}


def _executor_with(client) -> _Executor:
    executor = _Executor(1, None)
    executor._client, executor.scheduler = client, "tcp://10.0.0.9:8786"
    return executor


def test_a_lost_scheduler_is_a_clear_message_with_the_resume_command():
    executor = _executor_with(_GoneClient())
    with pytest.raises(SchedulerLost, match=r"lost the Dask scheduler tcp://10\.0\.0\.9:8786") as e:
        list(executor.map_unordered([(0, ())]))
    assert "--resume" in str(e.value)
    executor.close()  # closing what is gone is quiet


def test_workers_running_other_code_are_refused():
    from sim.analysis.fingerprint import code_fingerprint

    with pytest.raises(SweepError, match="worker tcp://w1:1 runs other code"):
        _executor_with(_OtherCodeClient()).check_workers(code_fingerprint())


# ------------------------------------------------------------ bookkeeping
def test_a_full_disk_mid_sweep_leaves_a_truthful_manifest(tmp_path, monkeypatch):
    out = tmp_path / "s"
    real = units.write_unit

    def write_unit(path, row, default=str):
        if path.name == "000003.json":
            raise OSError(28, "No space left on device", str(path))
        real(path, row, default)

    monkeypatch.setattr(units, "write_unit", write_unit)
    with pytest.raises(OSError):
        run_sweep(load_scenario(TEACHING), spec(), out=out)
    manifest = json.loads((out / "manifest.json").read_text())
    on_disk = len(list((out / "points").glob("*.json")))
    assert manifest["status"] == "failed" and "No space left" in manifest["error"]
    assert manifest["finished"] == on_disk == 3  # finding 8: was 4 with 3 files
    assert (out / "INCOMPLETE").exists()


def test_a_failure_at_start_leaves_nothing_half_made(tmp_path, monkeypatch):
    out = tmp_path / "s"

    def full(path, write):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(sweep_module, "atomic_write", full)
    with pytest.raises(OSError):
        run_sweep(load_scenario(TEACHING), spec(), out=out)
    assert not out.exists()  # finding 8: a bare points/ blocked the retry
    monkeypatch.undo()
    run_sweep(load_scenario(TEACHING), spec(), out=out)  # the retry works
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"


def test_an_unreachable_scheduler_does_not_leave_running(tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    real_client = distributed.Client
    monkeypatch.setattr(
        distributed, "Client", lambda a, **k: real_client(a, **{**k, "timeout": "1s"})
    )
    out = tmp_path / "s"
    with pytest.raises(SweepError, match="cannot connect"):
        run_sweep(load_scenario(TEACHING), spec(), out=out, scheduler="tcp://127.0.0.1:1")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "failed" and "cannot connect" in manifest["error"]


# ------------------------------------------------------------------ signals
def _group_alive(pgid: int) -> list[int]:
    """Processes of the process group ``pgid`` still alive (not zombies)."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            alive.append(int(entry.name))
    return alive


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL])
def test_no_process_survives_a_terminated_or_killed_sweep(tmp_path, signum):
    """Finding 4: the forkserver and both workers were alive 40 s after the signal."""
    out = tmp_path / "s"
    args = [
        sys.executable, "-m", "sim", "sweep", str(MAIN),
        "--param", "states.us.policy.ratio=0.6:1.4:8", "--runs", "400",
        "--workers", "2", "--out", str(out), "--quiet",
    ]  # fmt: skip
    proc = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not list((out / "points").glob("*.json")):
            time.sleep(0.05)
        assert len(_group_alive(proc.pid)) >= 3  # the sweep, the forkserver, workers
        os.kill(proc.pid, signum)
        code = proc.wait(timeout=30)
        deadline = time.monotonic() + 5 + 2 * WATCH_INTERVAL
        while _group_alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _group_alive(proc.pid) == []
    finally:
        for pid in _group_alive(proc.pid):
            os.kill(pid, signal.SIGKILL)
    manifest = json.loads((out / "manifest.json").read_text())
    if signum == signal.SIGTERM:
        assert code == 143 and b"terminated" in proc.stderr.read()
        assert manifest["status"] == "interrupted" and manifest["signal"] == "SIGTERM"
        assert manifest["finished"] == len(list((out / "points").glob("*.json")))
    else:
        assert code == -signal.SIGKILL and manifest["status"] == "running"
    assert (out / "INCOMPLETE").exists()


def test_sigterm_during_run_cleans_its_staging(tmp_path):
    out = tmp_path / "r"
    args = [sys.executable, "-m", "sim", "run", str(MAIN), "--runs", "200000", "--out", str(out)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (out / "INCOMPLETE").exists():
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=30) == 143
    assert not out.exists() or not any(out.iterdir())  # no .staging-*, no INCOMPLETE
