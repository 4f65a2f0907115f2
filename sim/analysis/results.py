"""Writing results: every file atomically, one generation per directory.

An output directory holds ``summary.json``, ``runs.parquet`` (one row per run),
``trajectories.npz`` (every mission's total staff after every step, per run),
``scenario.toml`` (the scenario as run, overrides applied) and ``manifest.json``
(schema version, status, versions, seed, runs, dates, wall time, the files written).
Each file is written to a temporary file in the same directory and renamed into place,
so a reader never sees half a file.

A run's files are first written into a hidden staging directory inside the output
directory and moved into place only once all of them are complete
(:func:`staged_output`). While that is going on, the directory holds a file named
``INCOMPLETE``; it is removed last. An interrupted run (Ctrl-C) removes what it
staged, and the output directory too if it made it, so what is left is either the
earlier contents, untouched, or nothing; a run killed outright leaves ``INCOMPLETE``
behind, which says so.

A results directory is one *generation*: ``--force`` replaces its whole contents, it
never merges. Once the new files are all staged, everything the earlier generation left
(files, figures, subdirectories such as ``discover-spiral/``) is removed
(:func:`clear_output_dir`) and the new files are moved in, ``manifest.json`` last, all
while ``INCOMPLETE`` is present. ``--force`` only ever clears a *results directory*: one
holding ``manifest.json``, ``INCOMPLETE`` or the record file of another command
(:data:`RECORD_FILES`); any other non-empty directory is refused, so that
``--out ~ --force`` cannot delete anyone's files.

A full disk (ENOSPC, or a quota: EDQUOT) is an :class:`OutputError` naming the file,
how far it got and the space left (:class:`DiskFullError`); nothing half-written stays.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # kept light: plots and sweeps write files without loading the engine
    from sim.analysis.runner import Ensemble

__all__ = [
    "INCOMPLETE",
    "RECORD_FILES",
    "DiskFullError",
    "OutputError",
    "ResultsError",
    "atomic_write",
    "clear_output_dir",
    "is_results_dir",
    "prepare_output_dir",
    "staged_output",
    "write_results",
]

#: The marker file of an output directory whose results are not (yet) all there.
INCOMPLETE = "INCOMPLETE"
_STAGING_PREFIX = ".staging-"


#: The files that mark a directory as written by one of this package's commands: the
#: manifest of ``run``, ``sweep`` and ``robust``, and the record of ``compare``,
#: ``calibrate``, ``backtest`` and ``discover``. Only a directory holding one of them
#: (or ``INCOMPLETE``) is ever cleared by ``--force``.
RECORD_FILES = (
    "manifest.json",
    "comparison.json",
    "calibration.json",
    "backtest.json",
    "boxes.json",
)

#: errno values of a full disk or an exhausted quota.
_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


class OutputError(Exception):
    """The output directory cannot be used (exists and is not empty, is a file, ...)."""


class ResultsError(OutputError):
    """A results directory cannot be read: not one, incomplete, written under another
    manifest schema, or damaged. The message names the directory or file, and what to do.
    The command line reports it with exit status 2."""


class DiskFullError(OutputError):
    """A file could not be written for lack of space (ENOSPC) or quota (EDQUOT)."""

    def __init__(self, message: str, path: Path, written: int | None, free: int | None):
        super().__init__(message)
        self.path = path
        self.written = written
        self.free = free


def _format_bytes(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n:,.1f} TB"  # pragma: no cover


def _disk_full(exc: BaseException | None) -> OSError | None:
    """The ENOSPC/EDQUOT error in ``exc`` or what caused it (pyarrow and the buffered
    writer may wrap or follow it), else None."""
    if not isinstance(exc, Exception):  # Ctrl-C stays Ctrl-C
        return None
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, OSError) and exc.errno in _DISK_FULL:
            return exc
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


def _free_bytes(path: Path) -> int | None:
    for where in (path, *path.parents):
        try:
            return shutil.disk_usage(where).free
        except OSError:
            continue
    return None


def disk_full_error(path: Path, exc: OSError, written: int | None = None) -> DiskFullError:
    """The :class:`DiskFullError` for ``exc`` raised while writing ``path``."""
    what = "quota exceeded" if exc.errno != errno.ENOSPC else "no space left on the device"
    free = _free_bytes(path.parent)
    parts = []
    if written:
        parts.append(f"{_format_bytes(written)} of it written when it failed")
    if free is not None:
        parts.append(f"{_format_bytes(free)} free there")
    detail = f" ({'; '.join(parts)})" if parts else ""
    return DiskFullError(
        f"{path}: cannot write: {what}{detail}; free some space, or write elsewhere "
        "(another --out)",
        path,
        written,
        free,
    )


def is_results_dir(path: str | Path) -> bool:
    """Whether ``path`` was written by one of this package's commands (it holds
    ``INCOMPLETE`` or one of :data:`RECORD_FILES`)."""
    out = Path(path)
    return os.path.lexists(out / INCOMPLETE) or any((out / n).is_file() for n in RECORD_FILES)


def prepare_output_dir(path: str | Path, force: bool = False) -> Path:
    """Create ``path`` if needed; refuse a non-empty directory unless ``force``.

    With ``force`` a non-empty directory must be a results directory
    (:func:`is_results_dir`): ``force`` never clears anything else. Nothing is removed
    here but what an earlier interrupted or killed run left staged; the caller clears the
    rest (:func:`staged_output` when its new files are ready, a sweep with
    :func:`clear_output_dir` when it starts).
    """
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise OutputError(
                f"{out}: directory is not empty; choose another --out or pass --force to overwrite"
            )
        if not is_results_dir(out):
            raise OutputError(_not_results_message(out))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out}: cannot create directory ({exc.strerror or exc})") from None
    if not os.access(out, os.W_OK):
        raise OutputError(f"{out}: directory is not writable")
    if force:  # what an earlier interrupted or killed run left behind
        for stale in out.glob(f"{_STAGING_PREFIX}*"):
            shutil.rmtree(stale, ignore_errors=True)
    return out


def _not_results_message(out: Path) -> str:
    # No "--force" in the words: sweep and robust rewrite that flag in messages.
    return (
        f"{out}: is not empty and is not a results directory (no manifest.json, "
        f"{INCOMPLETE} or other record of this program in it); replacing it would delete "
        "files this program did not write, so it is refused even when forced: choose "
        "another --out, or empty the directory yourself"
    )


def clear_output_dir(out: str | Path, keep: Iterable[str] = ()) -> None:
    """Remove every entry of the results directory ``out`` but ``INCOMPLETE`` and the
    names in ``keep`` (a staging directory in use): the start of a new generation.

    The directory is marked ``INCOMPLETE`` first (if it is not already), and the marker
    stays: the caller removes it once its new generation is complete. ``manifest.json``
    goes first, so that no moment shows an earlier manifest over a partial clear.
    Files, symbolic links (not their targets) and subdirectories (such as an earlier
    ``discover-spiral/``) are all removed. Refuses (:class:`OutputError`) a non-empty
    directory that is not a results directory (:func:`is_results_dir`).
    """
    out = Path(out)
    kept = {INCOMPLETE, *keep}
    entries = [p for p in out.iterdir() if p.name not in kept] if out.is_dir() else []
    if not entries:
        return
    if not is_results_dir(out):
        raise OutputError(_not_results_message(out))
    marker = out / INCOMPLETE
    try:
        if not os.path.lexists(marker):
            atomic_write(marker, lambda h: h.write(_marker_text(None)))
        entries.sort(key=lambda p: (p.name not in RECORD_FILES, p.name))
        for entry in entries:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink(missing_ok=True)
    except OSError as exc:
        where = exc.filename or out
        raise OutputError(f"{where}: cannot remove it ({exc.strerror or exc})") from None
    _fsync_dir(out)


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

    On success everything else in the output directory (an earlier generation's files and
    subdirectories) is removed, the staged files are moved in (each move is atomic;
    ``manifest.json`` or the command's other record last) and the ``INCOMPLETE`` marker
    is removed. If the body raises (Ctrl-C, a full disk), the staged files are deleted,
    and the output directory as well if this call created it, so nothing half-done is
    left: the earlier contents stay untouched. Only a failure after the earlier files
    began to be removed leaves ``INCOMPLETE`` behind, which says so.
    """
    out = Path(path)
    created = _first_missing(out)
    try:
        out = prepare_output_dir(out, force)
    except BaseException:
        _remove_created(out, created)
        raise
    marker = out / INCOMPLETE
    try:
        atomic_write(marker, lambda h: h.write(_marker_text(command)))
        staging = Path(tempfile.mkdtemp(prefix=_STAGING_PREFIX, dir=out))
    except BaseException as exc:
        marker.unlink(missing_ok=True)
        _remove_created(out, created)
        if isinstance(exc, OSError):
            raise _write_error(out, exc) from None
        raise
    touched = False  # once the earlier generation is being removed, INCOMPLETE stays
    try:
        yield staging
        names = sorted(p.name for p in staging.iterdir())
        names.sort(key=lambda name: name in RECORD_FILES)  # the record goes in last
        touched = True
        clear_output_dir(out, keep=[staging.name])
        for name in names:
            os.replace(staging / name, out / name)
        staging.rmdir()
        _fsync_dir(out)
        marker.unlink()
        _fsync_dir(out)
    except BaseException as exc:
        staged = _tree_size(staging)
        shutil.rmtree(staging, ignore_errors=True)
        if not touched:  # else the earlier files are gone: INCOMPLETE stays, and says so
            marker.unlink(missing_ok=True)
            _remove_created(out, created)
        if isinstance(exc, DiskFullError):  # named where it was to go, not the staging
            shown = out / exc.path.relative_to(staging) if staging in exc.path.parents else None
            message = str(exc) if shown is None else str(exc).replace(str(exc.path), str(shown))
            if staged and not touched:
                message += f"; the results staged before it ({_format_bytes(staged)}) were removed"
            raise DiskFullError(message, shown or exc.path, exc.written, exc.free) from None
        if isinstance(exc, OSError):
            raise _write_error(out, exc) from None
        raise


def _write_error(out: Path, exc: OSError) -> OutputError:
    full = _disk_full(exc)
    if full is not None:
        return disk_full_error(Path(full.filename) if full.filename else out, full)
    return OutputError(f"{out}: cannot write results ({exc.strerror or exc})")


def _first_missing(out: Path) -> Path | None:
    """The topmost directory that creating ``out`` would make (None if it exists)."""
    missing = None
    for where in (out, *out.parents):
        if os.path.lexists(where):
            break
        missing = where
    return missing


def _remove_created(out: Path, created: Path | None) -> None:
    """Remove the (empty) directories from ``out`` up to ``created`` that this call made."""
    if created is None:
        return
    for where in (out, *out.parents):
        try:
            where.rmdir()
        except OSError:
            return
        if where == created:
            return


def _tree_size(path: Path) -> int:
    total = 0
    try:
        for entry in path.rglob("*"):
            try:
                if entry.is_file():
                    total += entry.stat().st_size
            except OSError:
                pass
    except OSError:
        pass
    return total


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
    """Write a file through a temporary file in the same directory, then rename it.

    A full disk or quota is a :class:`DiskFullError` naming ``path`` (and how much of it
    was written, and the space left); the temporary file is removed.
    """
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        if exc.errno in _DISK_FULL:
            raise disk_full_error(path, exc) from None
        raise
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
    except BaseException as exc:
        try:
            written = os.stat(tmp).st_size
        except OSError:
            written = None
        Path(tmp).unlink(missing_ok=True)
        full = _disk_full(exc)
        if full is not None:
            raise disk_full_error(path, full, written) from None
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
    from sim.analysis.manifest import SCHEMA_VERSION

    manifest = {
        "schema": SCHEMA_VERSION,
        "status": "complete",
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
