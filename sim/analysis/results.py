"""Writing results: every file atomically, never over earlier results unless asked.

An output directory holds ``summary.json``, ``runs.parquet`` (one row per run),
``trajectories.npz`` (every mission's total staff after every step, per run),
``scenario.toml`` (the scenario as run, overrides applied) and ``manifest.json``
(versions, seed, runs, dates, wall time, the files written). Each file is written to
a temporary file in the same directory and renamed into place, so a reader never
sees half a file.

A run's files are first written into a hidden staging directory inside the output
directory and moved into place only once all of them are complete
(:func:`staged_output`). While that is going on, the directory holds a file named
``INCOMPLETE``; it is removed last. An interrupted run (Ctrl-C) removes what it
staged, and the output directory too if it made it, so what is left is either the
earlier contents, untouched, or nothing; a run killed outright leaves ``INCOMPLETE``
behind, which says so.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # kept light: plots and sweeps write files without loading the engine
    from sim.analysis.runner import Ensemble

__all__ = [
    "INCOMPLETE",
    "OutputError",
    "atomic_write",
    "prepare_output_dir",
    "staged_output",
    "write_results",
]

#: The marker file of an output directory whose results are not (yet) all there.
INCOMPLETE = "INCOMPLETE"
_STAGING_PREFIX = ".staging-"


class OutputError(Exception):
    """The output directory cannot be used (exists and is not empty, is a file, ...)."""


def prepare_output_dir(path: str | Path, force: bool = False) -> Path:
    """Create ``path`` if needed; refuse a non-empty directory unless ``force``."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise OutputError(
            f"{out}: directory is not empty; choose another --out or pass --force to overwrite"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out}: cannot create directory ({exc.strerror})") from None
    if not os.access(out, os.W_OK):
        raise OutputError(f"{out}: directory is not writable")
    if force:  # what an earlier interrupted or killed run left behind
        for stale in out.glob(f"{_STAGING_PREFIX}*"):
            shutil.rmtree(stale, ignore_errors=True)
    return out


def _marker_text(command: list[str] | None) -> bytes:
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    shown = " ".join(command) if command else " ".join(sys.argv)
    return (
        "This directory's results are incomplete: the run writing them is still going,\n"
        "or it was interrupted or killed. Do not use the other files here.\n"
        f"Started {started} (UTC), pid {os.getpid()}: {shown}\n"
    ).encode()


@contextmanager
def staged_output(
    path: str | Path, force: bool = False, command: list[str] | None = None
) -> Iterator[Path]:
    """Prepare the output directory and yield a staging directory to write results into.

    On success the staged files are moved into the output directory (each move is
    atomic) and the ``INCOMPLETE`` marker is removed. If the body raises (Ctrl-C
    included), the staged files are deleted, and the output directory as well if this
    call created it, so nothing half-done is left.
    """
    out = Path(path)
    existed = out.exists()
    out = prepare_output_dir(out, force)
    marker = out / INCOMPLETE
    try:
        atomic_write(marker, lambda h: h.write(_marker_text(command)))
        staging = Path(tempfile.mkdtemp(prefix=_STAGING_PREFIX, dir=out))
    except OSError as exc:
        marker.unlink(missing_ok=True)
        raise OutputError(f"{out}: cannot write ({exc.strerror})") from None
    moved: list[str] = []
    try:
        yield staging
        for name in sorted(p.name for p in staging.iterdir()):
            os.replace(staging / name, out / name)
            moved.append(name)
        staging.rmdir()
        _fsync_dir(out)
        marker.unlink()
        _fsync_dir(out)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if not moved:  # else some files are in place: INCOMPLETE stays, and says so
            marker.unlink(missing_ok=True)
            if not existed:
                try:
                    out.rmdir()
                except OSError:
                    pass
        if isinstance(exc, OSError):
            raise OutputError(f"{out}: cannot write results ({exc.strerror or exc})") from None
        raise


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write a file through a temporary file in the same directory, then rename it."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp makes the file private (0600); results get the usual permissions.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _json_bytes(data: Any) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode()


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("escalation-sim", "mesa", "numpy", "scipy", "pandas", "pyarrow"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def write_results(
    ensemble: Ensemble,
    out: Path,
    summary: dict | None = None,
    command: list[str] | None = None,
) -> list[str]:
    """Write the ensemble's results into ``out`` (already prepared); return the file names."""
    summary = ensemble.summary() if summary is None else summary
    written: list[str] = []

    def put(name: str, write: Callable[[IO[bytes]], None]) -> None:
        atomic_write(out / name, write)
        written.append(name)

    put("summary.json", lambda h: h.write(_json_bytes(summary)))
    table = ensemble.runs_table()
    put("runs.parquet", lambda h: table.to_parquet(h, index=False))
    if ensemble.trajectories is not None:
        traj = ensemble.trajectories
        dtype = np.int16 if traj.size == 0 or traj.max() < np.iinfo(np.int16).max else np.int32
        sc = ensemble.scenario
        dates = np.array([sc.date_of(s) for s in range(sc.n_steps)], dtype="datetime64[D]")

        def write_npz(handle: IO[bytes]) -> None:
            np.savez_compressed(
                handle,
                staff=np.moveaxis(traj, -1, 0).astype(dtype),  # (runs, steps, missions)
                runs=ensemble.run_ids,
                dates=dates,
                missions=np.array(ensemble.mission_ids),
            )

        put("trajectories.npz", write_npz)
    if ensemble.events is not None:
        events = ensemble.events
        put("events.parquet", lambda h: events.to_parquet(h, index=False))
    put("scenario.toml", lambda h: h.write(ensemble.scenario.to_toml().encode()))
    manifest = {
        "package": "escalation-sim",
        "versions": versions(),
        "scenario": ensemble.scenario.name,
        "scenario_file": ensemble.scenario.source,
        "overrides": summary.get("overrides", {}),
        # What-if events added to the scenario's own (--event, --take-offer); they are
        # also in scenario.toml, in date order among the others.
        **({"events_added": summary["events_added"]} if summary.get("events_added") else {}),
        **({"events_dropped": summary["events_dropped"]} if summary.get("events_dropped") else {}),
        "seed": ensemble.seed,
        "runs": ensemble.n_runs,
        "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "wall_time_s": round(ensemble.wall_time, 4),
        "command": command if command is not None else sys.argv,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "files": [*written, "manifest.json"],
    }
    put("manifest.json", lambda h: h.write(_json_bytes(manifest)))
    return written
