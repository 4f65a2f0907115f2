"""Resource limits, interrupts and result files: refuse what will not fit, stop cleanly.

* Before a run, its memory is estimated (sim.analysis.resources); a run that would not fit in
  the budget is refused with what it needs and what to do; a block that would not fit
  is made smaller, with the same results.
* Ctrl-C during ``run --out`` or ``sweep --out`` stops within a second with exit 130
  and leaves no half-written result: no output directory, the earlier results
  untouched, or (a sweep) a directory marked INCOMPLETE whose manifest says
  "interrupted" and which --resume completes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from sim.analysis import resources
from sim.analysis.runner import run_ensemble
from sim.cli import main
from sim.engine.missions import Pending
from sim.engine.model import EscalationModel
from sim.engine.state import Announcements
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
MAIN = ROOT / "scenarios" / "us_russia_2021.toml"
TEACHING = ROOT / "scenarios" / "teaching_tit_for_tat.toml"
SHIPPED = sorted((ROOT / "scenarios").glob("*.toml"))


def run_cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------- resources
def _array_bytes(*objects) -> int:
    """Bytes of the numpy arrays the objects hold, directly, in dicts, or one level
    down in the engine's small holders (pending rings, announcements)."""
    seen, total = set(), 0

    def arrays(obj):
        for value in vars(obj).values():
            for v in value.values() if isinstance(value, dict) else [value]:
                if isinstance(v, np.ndarray):
                    yield v
                elif isinstance(v, Pending | Announcements):
                    yield from (a for a in vars(v).values() if isinstance(a, np.ndarray))

    for obj in objects:
        for v in arrays(obj):
            if id(v) not in seen:
                seen.add(id(v))
                total += v.nbytes
    return total


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_block_estimate_bounds_the_real_buffers(path):
    sc = load_scenario(path)
    runs = 500
    model = EscalationModel(sc, np.arange(runs))
    while model.running:
        model.step()
    log = model.log
    # The event record's rows (its chunks of columns) count with the block's buffers.
    chunks = sum(
        a.nbytes for chunk in log._chunks for a in chunk.values() if isinstance(a, np.ndarray)
    )
    actual = (_array_bytes(model, model.missions, log, *model.relations) + chunks) / runs
    estimated = resources.per_run_block_bytes(sc)
    assert actual <= estimated <= 3 * actual


def test_a_million_runs_fit_without_trajectories():
    sc = load_scenario(MAIN)
    est = resources.estimate(sc, 1_000_000, 16_384, budget=24 * 2**30)
    assert est.fits
    assert est.total < 512 * 2**20  # measured: 406 MiB peak RSS (2026-11-30, 2 cores)
    with_traj = resources.estimate(
        sc, 1_000_000, 16_384, keep_trajectories=True, writing=True, budget=24 * 2**30
    )
    assert with_traj.trajectories == 2 * 1_000_000 * sc.n_steps * len(sc.missions) * 4


def test_refused_with_what_it_needs_and_what_to_do(capsys, monkeypatch):
    monkeypatch.setenv("SIM_MEMORY_BUDGET", "2MiB")
    code, _, err = run_cli(capsys, "run", MAIN, "--runs", "200000", "--quiet")
    assert code == 2
    assert "would need about" in err and "MiB" in err and "fewer runs" in err
    assert "Traceback" not in err


def test_trajectories_that_do_not_fit_suggest_dropping_them(capsys, monkeypatch, tmp_path):
    sc = load_scenario(MAIN)
    # Every figure below is proportional to the runs (the budget too, so the planned
    # blocks are ~1/18 of the runs at any size): 2,000 runs decide as 20,000 did.
    runs = 2_000
    est = resources.estimate(sc, runs, 16_384, keep_trajectories=True, writing=True, budget=2**40)
    # Enough without them (a block takes at most a quarter of it), not with them.
    budget = int((est.results + est.trajectories / 2) / (1 - resources.BLOCK_BUDGET_SHARE))
    assert est.trajectories > est.results
    monkeypatch.setenv("SIM_MEMORY_BUDGET", str(budget))
    quiet = ["--quiet", "--no-events"]  # the event record is the next test's
    code, _, err = run_cli(capsys, "run", MAIN, "--runs", runs, "--out", tmp_path / "a", *quiet)
    assert code == 2
    assert "--no-trajectories" in err
    assert not (tmp_path / "a").exists()  # refused before anything was made
    code, _, err = run_cli(
        capsys, "run", MAIN, "--runs", runs, "--out", tmp_path / "b", *quiet, "--no-trajectories"
    )
    assert code == 0, err
    assert not (tmp_path / "b" / "trajectories.npz").exists()
    assert (tmp_path / "b" / "summary.json").exists()


def test_an_event_record_that_does_not_fit_suggests_dropping_it(capsys, monkeypatch, tmp_path):
    """The record's rows per run are measured on a pilot; a record that would not fit is
    refused before anything is made, with --no-events as the way out."""
    sc = load_scenario(MAIN)
    # Every figure below is proportional to the runs and the block: 2,000 runs in
    # blocks of 200 decide as 20,000 in blocks of 2,000 did.
    runs = 2_000
    block = 200  # small blocks, so that the record, not a block, decides
    est = resources.estimate(sc, runs, block, keep_events=True, writing=True, budget=2**40)
    rows = resources.events_per_run(sc)
    assert est.events >= runs * rows * resources.EVENT_ROW_BYTES
    without = resources.estimate(sc, runs, block, writing=True, budget=2**40)
    budget = int(2 * without.total / (1 - resources.BLOCK_BUDGET_SHARE))
    assert budget < est.total
    monkeypatch.setenv("SIM_MEMORY_BUDGET", str(budget))
    args = ["run", MAIN, "--runs", runs, "--quiet", "--no-trajectories", "--block-size", block]
    code, _, err = run_cli(capsys, *args, "--out", tmp_path / "a")
    assert code == 2
    assert "--no-events" in err and "for the event record" in err
    assert not (tmp_path / "a").exists()
    code, _, err = run_cli(capsys, *args, "--out", tmp_path / "b", "--no-events")
    assert code == 0, err
    assert not (tmp_path / "b" / "events.parquet").exists()


def test_the_pilot_counts_the_record_a_run_makes():
    """Twice the pilot's mean rows per run bounds what the scenario's runs make."""
    for path in (MAIN, TEACHING):
        sc = load_scenario(path)
        ens = run_ensemble(sc, 2000, keep_events=True)
        assert len(ens.events) / ens.n_runs <= resources.events_per_run(sc)


def test_small_budget_makes_smaller_blocks_with_the_same_results(monkeypatch):
    sc = load_scenario(MAIN)
    plain = run_ensemble(sc, runs=3000, keep_trajectories=True)
    per_run = resources.per_run_block_bytes(sc)
    monkeypatch.setenv("SIM_MEMORY_BUDGET", str(int(per_run * 700 / resources.BLOCK_BUDGET_SHARE)))
    assert resources.plan_block_size(sc, 16_384) == 700
    small = run_ensemble(sc, runs=3000, keep_trajectories=True)
    assert np.array_equal(plain.outcome, small.outcome)
    assert np.array_equal(plain.trajectories, small.trajectories)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--set", "scenario.horizon_steps=1000000000"], "scenario.horizon_steps"),
        (["--runs", str(10**12)], "--runs"),
        (["--runs", "100000000", "--set", "scenario.horizon_steps=20000"], "run-steps"),
        (["--set", "missions.alpha_in_beta.diplomats=1000000000000000000"], "diplomats"),
        (["--set", "scenario.runs=1000000000000"], "scenario.runs"),
    ],
)
def test_absurd_sizes_are_refused(capsys, args, needle):
    code, _, err = run_cli(capsys, "run", TEACHING, "--quiet", *args)
    assert code == 2, err
    assert needle in err


def test_a_deadline_far_after_the_horizon_does_not_blow_up_the_buffers():
    sc = load_scenario(TEACHING, {"events.0.deadline": __import__("datetime").date(9999, 1, 1)})
    assert max(ev.deadline_step for ev in sc.events) <= sc.n_steps
    assert resources.ring_depth(sc) <= sc.n_steps + 1
    ens = run_ensemble(sc, runs=20_000)  # was: 50.8 GiB for the ring buffers
    assert ens.n_runs == 20_000


# --------------------------------------------------------------- interrupts
def _start(args, cwd):
    return subprocess.Popen(
        [sys.executable, "-m", "sim", *map(str, args)],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal job would be
    )


def _wait_for(predicate, timeout=60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


# The requirement is to stop within a second (measured on an idle machine: 0.26 s for a
# run, 0.31 s for a two-worker sweep). The bound here is looser because a loaded CI
# machine is noisy; it still fails an interrupt that is ignored or waits for the work.
STOP_LIMIT = 5.0


def _interrupt(proc, group=False) -> float:
    """Send Ctrl-C; return the seconds until the process exited."""
    sent = time.monotonic()
    if group:
        os.killpg(proc.pid, signal.SIGINT)
    else:
        proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, err = proc.communicate()
        pytest.fail(f"did not stop within 10 s of Ctrl-C: {err[-2000:]}")
    return time.monotonic() - sent


def _group_gone(pgid) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def test_ctrl_c_during_run_leaves_no_output_dir(tmp_path):
    out = tmp_path / "res"
    proc = _start(["run", MAIN, "--runs", "2000000", "--out", out, "--no-events", "--quiet"], ROOT)
    assert _wait_for(lambda: (out / "INCOMPLETE").exists())
    time.sleep(1.5)  # well into the ensemble
    assert proc.poll() is None
    took = _interrupt(proc)
    _, err = proc.communicate()
    assert proc.returncode == 130, err
    assert took < STOP_LIMIT, took
    assert "interrupted" in err and "Traceback" not in err
    assert not out.exists()


def test_ctrl_c_keeps_earlier_results_untouched(tmp_path):
    out = tmp_path / "res"
    assert main(["run", str(TEACHING), "--runs", "50", "--out", str(out), "--quiet"]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    proc = _start(
        ["run", MAIN, "--runs", "2000000", "--out", out, "--no-events", "--force", "--quiet"], ROOT
    )
    assert _wait_for(lambda: (out / "INCOMPLETE").exists())
    time.sleep(1.0)
    took = _interrupt(proc, group=True)
    proc.communicate()
    assert proc.returncode == 130
    assert took < STOP_LIMIT, took
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_a_killed_run_is_marked_incomplete(tmp_path, capsys):
    out = tmp_path / "res"
    proc = _start(["run", MAIN, "--runs", "2000000", "--out", out, "--no-events", "--quiet"], ROOT)
    assert _wait_for(lambda: (out / "INCOMPLETE").exists())
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert "incomplete" in (out / "INCOMPLETE").read_text()
    assert not (out / "summary.json").exists()
    code, _, err = run_cli(capsys, "run", TEACHING, "--runs", "20", "--out", out, "--quiet")
    assert code == 2 and "--force" in err
    code, _, err = run_cli(
        capsys, "run", TEACHING, "--runs", "20", "--out", out, "--quiet", "--force"
    )
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [
            "summary.json",
            "runs.parquet",
            "trajectories.npz",
            "events.parquet",
            "scenario.toml",
            "manifest.json",
        ]
    )


def _pool_workers_ignore_sigint(pgid: int) -> bool:
    """The sweep's two pool workers are up and ignore Ctrl-C (their initializer ran).

    They are the processes of the sweep's process group whose parent is not the sweep
    itself (the forkserver's children); /proc/PID/status lists the signals ignored.
    """
    workers = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            ppid, group = int(fields[1]), int(fields[2])
            if group != pgid or int(entry.name) == pgid or ppid == pgid:
                continue
            status = (entry / "status").read_text().splitlines()
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        ignored = next(line for line in status if line.startswith("SigIgn:")).split()[1]
        workers.append(bool(int(ignored, 16) & (1 << (signal.SIGINT - 1))))
    return len(workers) >= 2 and all(workers)


@pytest.mark.parametrize("group", [False, True], ids=["parent only", "process group"])
def test_ctrl_c_during_a_process_pool_sweep(tmp_path, group):
    """Points alternate between one step (even points, a fraction of a second) and the
    scenario's 104 (odd points, seconds of work each): the first finished point comes
    early, and when Ctrl-C is sent a worker has a long point ahead of it (an interrupt
    that waited for the running points would take longer than STOP_LIMIT)."""
    out = tmp_path / "sweep"
    proc = _start(
        [
            "sweep",
            TEACHING,
            "--param",
            "states.alpha.policy.noise=0:1:41",
            "--param",
            "scenario.horizon_steps=1,104",
            "--runs",
            "150000",
            "--workers",
            "2",
            "--out",
            out,
            "--quiet",
        ],
        ROOT,
    )

    def started() -> bool:
        # a finished point (*.json), not a point still being written (a hidden temporary
        # file), and both workers up (a worker still starting would not yet ignore the
        # group's Ctrl-C); without /proc, a finished long point says they are up
        done = list((out / "points").glob("*.json"))
        if not Path("/proc/self/status").exists():
            return any(int(p.stem) % 2 for p in done)
        return bool(done) and _pool_workers_ignore_sigint(proc.pid)

    assert _wait_for(started, timeout=120)
    took = _interrupt(proc, group=group)
    _, err = proc.communicate()
    assert proc.returncode == 130, err
    assert took < STOP_LIMIT, took
    assert "Traceback" not in err
    assert _wait_for(lambda: _group_gone(proc.pid), timeout=3)  # no worker left running
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    assert (out / "INCOMPLETE").exists()
    done = sorted((out / "points").glob("*.json"))
    assert 1 <= len(done) < 82
    for path in done:  # every point written is whole
        assert json.loads(path.read_text())["status"] == "ok"
