"""The files of resumable work: one sealed JSON file per finished unit (a sweep's point, a
robustness analysis's policy), verified when read back.

Each unit file carries ``sha256``, the hash of its own content in canonical form (keys
sorted, no spaces), so a file truncated by a crash, damaged on disk or edited by hand is
recognised and computed again instead of being reused: :func:`read_units` returns the
verified rows and names the others with the reason. The manifest's counts are
recomputed from the verified files (:func:`counts`), never carried over.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sim.analysis.results import atomic_write

__all__ = ["counts", "read_units", "seal", "write_unit"]


def _canonical(row: dict[str, Any]) -> bytes:
    return json.dumps(row, sort_keys=True, separators=(",", ":"), allow_nan=True).encode()


def seal(row: dict[str, Any], default: Callable[[Any], Any] = str) -> dict[str, Any]:
    """``row`` as it will read back from JSON, with the hash of that content."""
    plain = json.loads(json.dumps(row, default=default))
    plain.pop("sha256", None)
    return {**plain, "sha256": hashlib.sha256(_canonical(plain)).hexdigest()}


def write_unit(path: Path, row: dict[str, Any], default: Callable[[Any], Any] = str) -> None:
    """Write a sealed unit file atomically."""
    sealed = seal(row, default)
    atomic_write(path, lambda h: h.write((json.dumps(sealed, indent=2) + "\n").encode()))


def read_units(directory: Path, key: str) -> tuple[dict[int, dict], list[tuple[Path, str]]]:
    """The verified unit files of ``directory`` by their ``key`` number, and the others
    with why they cannot be used (their units are to be computed again)."""
    rows: dict[int, dict] = {}
    damaged: list[tuple[Path, str]] = []
    for path in sorted(directory.glob("*.json")):
        try:
            row = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            damaged.append((path, f"cannot be read ({exc})"))
            continue
        except ValueError:
            damaged.append((path, "not valid JSON (truncated or damaged)"))
            continue
        if not isinstance(row, dict) or "sha256" not in row:
            damaged.append((path, "no checksum (damaged, or written by an older version)"))
            continue
        body = {k: v for k, v in row.items() if k != "sha256"}
        if hashlib.sha256(_canonical(body)).hexdigest() != row["sha256"]:
            damaged.append((path, "its content does not match its checksum (edited or damaged)"))
            continue
        number = row.get(key)
        if not isinstance(number, int) or path.stem != f"{number:06d}":
            damaged.append((path, f"its {key} number does not match its name"))
            continue
        rows[number] = body
    return rows, damaged


def counts(rows: dict[int, dict]) -> dict[str, int]:
    """Finished and failed units among verified rows."""
    ok = sum(1 for row in rows.values() if row.get("status") == "ok")
    return {"finished": ok, "failed": len(rows) - ok}
