"""Reading a scenario: the TOML file, its depth, ``--set`` overrides, and the entry
points that read, validate and build a :class:`~sim.spec.Scenario`.

:func:`load_scenario` reads a file, puts the rows of its ``events_file`` in, applies
the overrides and hands the document to :func:`scenario_from_dict`, which validates it
(:mod:`sim.scenario.validation`) and only then builds the specs
(:mod:`sim.scenario.construction`).
"""

from __future__ import annotations

import copy
import re
import tomllib
from pathlib import Path
from typing import Any

from sim.policies import POLICIES
from sim.scenario.construction import build_scenario
from sim.scenario.events_file import EventsFile, read_events_file
from sim.scenario.limits import MAX_DEPTH
from sim.scenario.validation import check_document
from sim.spec import Problem, Scenario, ScenarioError

__all__ = [
    "apply_overrides",
    "check_depth",
    "load_scenario",
    "parse_override",
    "read_toml",
    "resolve_events_file",
    "scenario_from_dict",
]


def read_toml(path: str | Path, source: str | None = None) -> dict[str, Any]:
    """A TOML file's document, or a :class:`ScenarioError` that says why it cannot be read."""
    source = str(path) if source is None else source
    try:
        text = Path(path).read_bytes()
    except FileNotFoundError:
        raise ScenarioError(source, [Problem("", "no such file")]) from None
    except IsADirectoryError:
        raise ScenarioError(source, [Problem("", "is a directory, expected a TOML file")]) from None
    except OSError as exc:
        raise ScenarioError(source, [Problem("", f"cannot be read: {exc.strerror}")]) from None
    try:
        raw = tomllib.loads(text.decode("utf-8"))
    except UnicodeDecodeError:
        raise ScenarioError(source, [Problem("", "is not UTF-8 text")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(source, [Problem("", f"is not valid TOML: {exc}")]) from None
    except RecursionError:
        raise ScenarioError(
            source, [Problem("", "is not valid TOML here: tables or arrays nested too deeply")]
        ) from None
    check_depth(raw, source)
    return raw


def load_scenario(
    path: str | Path,
    overrides: dict[str, Any] | None = None,
    *,
    allow_files_outside: bool | None = None,
) -> Scenario:
    """Read, override and validate a scenario file. Raises :class:`ScenarioError`.

    ``allow_files_outside=True`` lets its ``events_file`` lie outside the scenario
    file's folder (default: :data:`sim.scenario.events_file.ALLOW_FILES_OUTSIDE`, which
    ``--allow-files-outside`` sets).
    """
    source = str(path)
    raw = read_toml(path, source)
    # The CSV's rows become [[events]] before --set, so events.N is an index in the
    # merged list (CSV rows first).
    raw, events_file = read_events_file(raw, source, allow_files_outside=allow_files_outside)
    if overrides:
        raw = apply_overrides(raw, overrides, source)
    return scenario_from_dict(raw, source, dict(overrides or {}), events_file=events_file)


def scenario_from_dict(
    raw: dict[str, Any],
    source: str = "<scenario>",
    overrides: dict[str, Any] | None = None,
    *,
    events_file: EventsFile | None = None,
    allow_files_outside: bool | None = None,
) -> Scenario:
    """Validate a parsed TOML document and build a :class:`Scenario`.

    A ``scenario.events_file`` is read first (relative to ``source``'s directory), its
    rows put before the ``[[events]]``; the Scenario's ``raw`` has them inline.
    ``events_file`` is what :func:`read_events_file` returned for a document already
    read, so that problems in its rows name the CSV file, row and column. The CSV
    file must be inside ``source``'s directory (the current directory for a ``source``
    such as ``"<scenario>"``) unless ``allow_files_outside`` (:func:`load_scenario`).
    """
    check_depth(raw, source)
    if events_file is None:
        raw, events_file = read_events_file(raw, source, allow_files_outside=allow_files_outside)
    checked = check_document(raw)
    if checked.problems:
        problems = checked.problems
        if events_file is not None:
            problems = events_file.locate(problems)
        raise ScenarioError(source, problems)
    return build_scenario(checked, raw, source, overrides)


def resolve_events_file(
    raw: dict[str, Any], source: str, *, allow_files_outside: bool | None = None
) -> dict[str, Any]:
    """``raw`` with its ``events_file`` read in; problems in the file are raised at once.

    For callers that apply overrides to the document afterwards (sweeps).
    ``allow_files_outside`` as for :func:`load_scenario`.
    """
    resolved, info = read_events_file(raw, source, allow_files_outside=allow_files_outside)
    if info is not None:
        scenario_from_dict(resolved, source, events_file=info)  # raises, naming rows
    return resolved


def check_depth(raw: Any, source: str, limit: int = MAX_DEPTH) -> None:
    """Refuse a document nested deeper than ``limit`` (before anything recurses into it)."""
    stack: list[tuple[Any, str, int]] = [(raw, "", 0)]
    while stack:
        node, path, depth = stack.pop()
        if depth > limit:
            raise ScenarioError(
                source, [Problem(path, f"nested too deeply (more than {limit} levels)")]
            )
        if isinstance(node, dict):
            items = node.items()
        elif isinstance(node, list):
            items = ((str(i), v) for i, v in enumerate(node))
        else:
            continue
        for key, value in items:
            if isinstance(value, dict | list):
                stack.append((value, f"{path}.{key}" if path else str(key), depth + 1))


# ----------------------------------------------------------------- overrides
def parse_override(text: str) -> tuple[str, Any]:
    """Split ``PATH=VALUE``; the value is read as a TOML value, else taken as a string."""
    if "=" not in text:
        raise ValueError(f"expected PATH=VALUE, found {text!r}")
    path, value = text.split("=", 1)
    path = path.strip()
    if not path or any(not part for part in path.split(".")):
        raise ValueError(f"expected a dotted path such as states.us.policy.ratio, found {path!r}")
    if len(path.split(".")) > MAX_DEPTH:
        raise ValueError(f"expected a dotted path of at most {MAX_DEPTH} parts, found {path!r}")
    try:
        doc = tomllib.loads(f"v = {value.strip()}")
    except (tomllib.TOMLDecodeError, RecursionError):
        doc = {}
    # Anything but exactly one TOML value (e.g. "1\nother = 2") is taken as a string.
    parsed = doc["v"] if list(doc) == ["v"] else value.strip()
    return path, parsed


def apply_overrides(raw: dict[str, Any], overrides: dict[str, Any], source: str) -> dict[str, Any]:
    """Return a copy of ``raw`` with each dotted path set to its value."""
    out = copy.deepcopy(raw)
    problems = []
    for path, value in overrides.items():
        node: Any = out
        parts = path.split(".")
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            here = ".".join(parts[: depth + 1])
            if isinstance(node, list):
                if not re.fullmatch(r"[0-9]{1,9}", part) or int(part) >= len(node):
                    problems.append(
                        Problem(here, f"expected an index from 0 to {len(node) - 1} (--set)")
                    )
                    break
                if last:
                    node[int(part)] = value
                else:
                    node = node[int(part)]
            elif isinstance(node, dict):
                if last:
                    _switch_kind(node, parts, value)
                    node[part] = value
                else:
                    node = node.setdefault(part, {})
            else:
                problems.append(Problem(here, "is not a table, so --set cannot go inside it"))
                break
    if problems:
        raise ScenarioError(source, problems)
    return out


def _switch_kind(table: dict[str, Any], parts: list[str], value: Any) -> None:
    """Setting a policy table's ``kind`` drops the old kind's own parameters.

    ``--set states.us.policy.kind=generous`` on a proportional policy then means "use
    generous instead", not "generous with a ratio it does not have". Common parameters
    (noise, lag, ...) stay.
    """
    is_policy = (
        len(parts) >= 4
        and parts[0] == "states"
        and (
            (len(parts) == 4 and parts[2] == "policy") or (len(parts) == 5 and parts[2] == "toward")
        )
    )
    if not is_policy or parts[-1] != "kind":
        return
    old = table.get("kind", "scripted")
    if not isinstance(old, str) or not isinstance(value, str) or old == value:
        return
    old_cls, new_cls = POLICIES.get(old), POLICIES.get(value)
    if old_cls is None or new_cls is None:
        return  # validation reports the unknown kind
    for key in set(old_cls.params) - set(new_cls.params):
        table.pop(key, None)
