"""The manifest of a results directory: its schema version, its reader and its validator.

Every ``manifest.json`` written by ``run``, ``sweep`` and ``robust`` records
``"schema": SCHEMA_VERSION`` and a ``"status"``: ``complete`` (for a sweep also
``complete with failed points``, for a robustness analysis ``complete with failed
policies``: both are complete), or, while the work goes on or after it stopped,
``running``, ``interrupted`` or ``failed``.

Reading a directory (:func:`check_results_dir`, which :func:`sim.load_results` and every
command that reads results go through) refuses, with a :class:`ResultsError` that names
the file and says what to do:

* a directory that is not a results directory (no ``manifest.json``);
* a directory marked ``INCOMPLETE``, or whose manifest's status is not complete, unless
  partial results are asked for (``partial=True``: a sweep's finished points, a
  robustness analysis's finished policies; a run has no partial form);
* a manifest that is not valid JSON (the line and column are named), lacks a field its
  kind needs or holds one of the wrong type (:func:`validate_manifest` names the field);
* a manifest of another schema version. A manifest *without* ``schema`` was written
  before schema versions were recorded (escalation-sim up to the version that introduced
  them); it is read as the legacy version 0 when it is otherwise valid and complete
  (its ``status``, if any, says complete, and there is no ``INCOMPLETE``). A version
  newer than :data:`SCHEMA_VERSION` is refused: it needs a newer escalation-sim.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sim.analysis.results import INCOMPLETE, ResultsError

__all__ = [
    "COMPLETE_STATUSES",
    "LEGACY_SCHEMA",
    "MANIFEST",
    "SCHEMA_VERSION",
    "ResultsError",
    "check_results_dir",
    "manifest_kind",
    "read_json",
    "read_manifest",
    "schema_of",
    "validate_manifest",
]

#: The version of the manifest's layout; readers refuse another.
SCHEMA_VERSION = 1

#: The schema of a manifest written before ``schema`` was recorded (read when complete).
LEGACY_SCHEMA = 0

MANIFEST = "manifest.json"

#: The statuses of finished work (some points or policies may have failed).
COMPLETE_STATUSES = ("complete", "complete with failed points", "complete with failed policies")

_KINDS_WITH_PARTS = {"sweep": "points", "robust": "policies"}


# ------------------------------------------------------------------ reading
def read_json(path: str | Path, what: str = "JSON") -> Any:
    """The JSON document in ``path``; a :class:`ResultsError` naming the file (and the
    line and column of a syntax error) if it is missing, unreadable or damaged."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ResultsError(f"{path}: missing") from None
    except OSError as exc:
        raise ResultsError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ResultsError(
            f"{path}: damaged: not UTF-8 text (byte {exc.start}); {what} expected"
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultsError(
            f"{path}: damaged: not valid JSON at line {exc.lineno}, column {exc.colno} ({exc.msg})"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise ResultsError(f"{path}: damaged: not valid JSON ({exc})") from None


def read_manifest(directory: str | Path) -> dict:
    """The ``manifest.json`` of a results directory, as a dict.

    :class:`ResultsError` if the directory does not exist, has no manifest ("not a
    results directory"), or the manifest is not a JSON object (a syntax error names the
    line and column). The fields are not checked here: :func:`validate_manifest`.
    """
    out = Path(directory)
    if not out.exists():
        raise ResultsError(f"{out}: no such directory")
    if not out.is_dir():
        raise ResultsError(f"{out}: not a directory (expected a results directory)")
    path = out / MANIFEST
    if not path.is_file():
        raise ResultsError(
            f"{out}: cannot read results: no {MANIFEST} there, so not a results directory "
            "(one written by run, sweep or robust with --out)"
        )
    manifest = read_json(path, "a JSON object")
    if not isinstance(manifest, dict):
        raise ResultsError(f"{path}: damaged: expected a JSON object, found {_type_name(manifest)}")
    return manifest


def manifest_kind(manifest: dict) -> str:
    """``"sweep"``, ``"robust"`` or ``"run"``: what wrote the manifest."""
    if "sweep" in manifest:
        return "sweep"
    if "robust" in manifest:
        return "robust"
    return "run"


def schema_of(manifest: dict) -> int:
    """The manifest's schema version (:data:`LEGACY_SCHEMA` if it records none)."""
    schema = manifest.get("schema", LEGACY_SCHEMA)
    return schema if _is_int(schema) else -1


# --------------------------------------------------------------- validation
def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _type_name(value: Any) -> str:
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "true/false",
        type(None): "null",
        int: "an integer",
        float: "a number",
    }.get(type(value), type(value).__name__)


def _shown(value: Any) -> str:
    if isinstance(value, str):
        text = repr(value)
    else:
        try:
            text = json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError):
            text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_CHECKS = {
    "int": (_is_int, "an integer"),
    "count": (lambda v: _is_int(v) and v >= 0, "a whole number (0 or more)"),
    "positive": (lambda v: _is_int(v) and v >= 1, "a whole number (1 or more)"),
    "number": (_is_number, "a number"),
    "str": (lambda v: isinstance(v, str), "a string"),
    "dict": (lambda v: isinstance(v, dict), "an object"),
    "list": (lambda v: isinstance(v, list), "a list"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "int_or_null": (lambda v: v is None or _is_int(v), "an integer or null"),
    "str_list": (
        lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
        "a list of strings",
    ),
    "dict_list": (
        lambda v: isinstance(v, list) and all(isinstance(x, dict) for x in v),
        "a list of objects",
    ),
}

# field -> (check, required)
_COMMON = {
    "schema": ("int", False),
    "status": ("str", False),
    "files": ("str_list", False),
    "wall_time_s": ("number", False),
    "scenario": ("str", False),
    "command": ("list", False),
}
_RUN = {
    "seed": ("int", True),
    "runs": ("positive", True),
    "scenario_file": ("str", True),
    "overrides": ("dict", False),
    "events_added": ("dict_list", False),
    "events_dropped": ("dict_list", False),
}
_SWEEP_TOP = {
    "sweep": ("dict", True),
    "points": ("positive", True),
    "fingerprint": ("str", True),
    "scenario_file": ("str", False),
    "finished": ("count", False),
    "failed": ("count", False),
}
_SWEEP = {
    "params": ("dict_list", True),
    "design": ("str", True),
    "samples": ("int_or_null", False),
    "runs": ("positive", True),
    "seed": ("int", True),
}
_ROBUST_TOP = {
    "robust": ("dict", True),
    "scenario_file": ("str", False),
    "fingerprint": ("str", False),
    "finished": ("count", False),
    "failed": ("count", False),
}
_ROBUST = {
    "levers": ("str_list", True),
    "worlds": ("positive", True),
    "runs_per_world": ("positive", True),
    "seed": ("int", True),
    "outcomes": ("str_list", True),
    "policies": ("positive", True),
    "reference": ("count", True),
}


def _check(path: Path, where: dict, fields: dict, prefix: str = "") -> None:
    for name, (kind, required) in fields.items():
        label = f"{prefix}{name}"
        test, expected = _CHECKS[kind]
        if name not in where:
            if required:
                raise ResultsError(f"{path}: field '{label}' is missing (expected {expected})")
            continue
        value = where[name]
        if not test(value):
            raise ResultsError(
                f"{path}: field '{label}': expected {expected}, found {_shown(value)}"
            )


def validate_manifest(manifest: Any, path: str | Path) -> None:
    """Check that ``manifest`` (read from ``path``) has the fields its kind needs, of
    the right types, and a schema version this version reads; else a
    :class:`ResultsError` naming the file and the field.

    ``path`` is the manifest file (or its directory) named in the messages.
    """
    path = Path(path)
    if path.name != MANIFEST:
        path = path / MANIFEST
    if not isinstance(manifest, dict):
        raise ResultsError(f"{path}: expected a JSON object, found {_type_name(manifest)}")
    _check(path, manifest, _COMMON)
    schema = manifest.get("schema", LEGACY_SCHEMA)
    if schema > SCHEMA_VERSION:
        raise ResultsError(
            f"{path}: written by a newer escalation-sim (manifest schema {schema}; this "
            f"version reads schema {SCHEMA_VERSION} and older): upgrade escalation-sim to "
            "read it"
        )
    if "schema" in manifest and schema != SCHEMA_VERSION:
        raise ResultsError(
            f"{path}: manifest schema {schema} is not one this version reads (it reads "
            f"schema {SCHEMA_VERSION}, and manifests without a schema from before it): "
            "run the command again to write these results anew"
        )
    kind = manifest_kind(manifest)
    if kind == "run":
        _check(path, manifest, _RUN)
        return
    if kind == "sweep":
        _check(path, manifest, _SWEEP_TOP)
        _check(path, manifest["sweep"], _SWEEP, "sweep.")
        params = manifest["sweep"]["params"]
        if not params:
            raise ResultsError(f"{path}: field 'sweep.params': expected at least one parameter")
        for i, param in enumerate(params):
            label = f"sweep.params[{i}]."
            _check(path, param, {"path": ("str", True)}, label)
            if "values" in param:
                _check(path, param, {"values": ("list", True)}, label)
            else:
                fields = {"low": ("number", True), "high": ("number", True)}
                _check(path, param, {**fields, "integer": ("bool", False)}, label)
    else:
        _check(path, manifest, _ROBUST_TOP)
        _check(path, manifest["robust"], _ROBUST, "robust.")
        info = manifest["robust"]
        if info["reference"] >= info["policies"]:
            raise ResultsError(
                f"{path}: field 'robust.reference': expected a policy number below "
                f"{info['policies']}, found {info['reference']}"
            )
    if "schema" in manifest and "status" not in manifest:
        raise ResultsError(f"{path}: field 'status' is missing (expected a string)")


# -------------------------------------------------------------------- state
def _what_to_do(kind: str | None, out: Path) -> str:
    if kind in _KINDS_WITH_PARTS:
        parts = _KINDS_WITH_PARTS[kind]
        return (
            f"finish it by running the same command again with --resume (or start anew with "
            f"--force); sim.load_results({str(out)!r}, partial=True) reads the {parts} "
            "finished so far"
        )
    if kind == "run":
        return "run it again (with --force to replace what is there); a run has no partial form"
    return (
        "run the command that wrote it again: with --resume to finish a sweep or robust "
        "analysis, with --force to start anew"
    )


def check_results_dir(directory: str | Path, partial: bool = False) -> tuple[dict, str]:
    """Read, validate and check the state of a results directory; return its manifest
    and kind (``run``, ``sweep``, ``robust``).

    A :class:`ResultsError` saying what the state is and what to do for a directory
    marked ``INCOMPLETE`` or whose manifest's status is not complete (running,
    interrupted, failed), unless ``partial`` (a sweep or a robustness analysis only),
    and for the problems of :func:`read_manifest` and :func:`validate_manifest`.
    """
    out = Path(directory)
    marked = (out / INCOMPLETE).exists() if out.is_dir() else False
    try:
        manifest = read_manifest(out)
    except ResultsError:
        if marked:  # killed before its manifest was (properly) written
            raise ResultsError(
                f"{out}: the results there are incomplete ({INCOMPLETE} is present and "
                f"there is no readable {MANIFEST}: the command writing them is still "
                f"running, or was interrupted or killed): {_what_to_do(None, out)}"
            ) from None
        raise
    kind = manifest_kind(manifest)
    status = manifest.get("status")
    if marked and not partial:
        shown = isinstance(status, str) and status not in COMPLETE_STATUSES
        state = f"; {MANIFEST} says {status!r}" if shown else ""
        raise ResultsError(
            f"{out}: the results there are incomplete ({INCOMPLETE} is present: the command "
            f"writing them is still running, or was interrupted or killed{state}): "
            f"{_what_to_do(kind, out)}"
        )
    validate_manifest(manifest, out / MANIFEST)
    complete = status is None or status in COMPLETE_STATUSES
    if marked or not complete:
        if partial and kind in _KINDS_WITH_PARTS:
            return manifest, kind
        if partial:
            raise ResultsError(
                f"{out}: the run there is not complete (status {status!r}"
                f"{', ' + INCOMPLETE + ' present' if marked else ''}); a run has no partial "
                f"form: {_what_to_do(kind, out)}"
            )
        known = ("running", "interrupted", "failed")
        meaning = {
            "running": "still running, or killed",
            "interrupted": "interrupted",
            "failed": f"stopped by an error ({manifest.get('error', 'see the manifest')})",
        }.get(status, "in a state this version does not know")
        if status not in known:
            meaning = f"{meaning}: not complete"
        raise ResultsError(
            f"{out}: the results there are incomplete ({MANIFEST} says {status!r}: "
            f"{meaning}): {_what_to_do(kind, out)}"
        )
    return manifest, kind
