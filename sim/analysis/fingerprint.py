"""What code computed a result: the package version and hashes of the engine's source.

A resumed sweep or robustness analysis must not mix points computed by two versions of
the model (a change to ``sim/model.py`` between an interruption and ``--resume`` once
gave a 9-point jump between two neighbouring points, marked "complete"). The manifest
records :func:`code_fingerprint`; ``--resume`` compares it with the running code's and
refuses a mismatch, saying what differs; a Dask cluster's workers are checked against
the client's before they get any work.

The source hash covers every ``.py`` file of the installed ``sim`` package (its
relative path and bytes) except the figures (``sim/plots``) and the explorer
(``sim/explore``), which compute no result; any other edit counts, comments included:
a fingerprint cannot tell a harmless edit from one that changes results, and it errs
on the side of refusing. Plugin modules loaded with ``--plugin`` or entry points are
hashed one by one.
"""

from __future__ import annotations

import hashlib
import importlib
import sys
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["code_fingerprint", "fingerprint_differences"]

_PACKAGE = Path(__file__).resolve().parent.parent
_NOT_COMPUTING = {"plots", "explore"}


@lru_cache(maxsize=1)
def _source_hash() -> str:
    digest = hashlib.sha256()
    for path in sorted(_PACKAGE.rglob("*.py")):
        if path.relative_to(_PACKAGE).parts[0] in _NOT_COMPUTING:
            continue
        digest.update(path.relative_to(_PACKAGE).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _module_hash(name: str) -> str:
    module = sys.modules.get(name) or importlib.import_module(name)
    path = getattr(module, "__file__", None)
    if not path:
        return "no source"
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def code_fingerprint(plugins: dict[str, Any] | None = None) -> dict[str, Any]:
    """The package version, the hash of its source and of each plugin module in use."""
    try:
        version = metadata.version("escalation-sim")
    except metadata.PackageNotFoundError:
        version = "0+unknown"
    modules = sorted((plugins or {}).get("modules", []))
    return {
        "version": version,
        "source_sha256": _source_hash(),
        "plugins": {name: _module_hash(name) for name in modules},
    }


def fingerprint_differences(recorded: Any, current: dict[str, Any]) -> list[str]:
    """What differs between a recorded fingerprint and the running code's, in words."""
    if not isinstance(recorded, dict):
        return ["the results record no code fingerprint (written by an older version)"]
    found = []
    if recorded.get("version") != current["version"]:
        found.append(f"package version {recorded.get('version')} there, {current['version']} here")
    if recorded.get("source_sha256") != current["source_sha256"]:
        found.append("the simulator's source code has changed since")
    old, new = recorded.get("plugins") or {}, current["plugins"]
    for name in sorted(set(old) | set(new)):
        if name not in new:
            found.append(f"plugin {name} was loaded then, not now")
        elif name not in old:
            found.append(f"plugin {name} is loaded now, not then")
        elif old[name] != new[name]:
            found.append(f"plugin {name}'s source has changed since")
    return found
