"""The layout shows the architecture, and no import runs back up.

Layers, lowest first (a module may import its own layer and those below):

0. plain data: ``sim.spec`` (scenario, mission, event and outcome specs),
   ``sim.distributions``, ``sim.priors``, ``sim.engine.kinds``, ``sim.engine.rng``;
1. the engine and its registries: ``sim.engine.*``, ``sim.policies``,
   ``sim.outcome_classes``, ``sim.run_fields``;
2. reading and validating scenarios, which ask the registries: ``sim.scenario.*``;
3. analysis: ``sim.analysis.*``;
4. figures: ``sim.plots.*``;
5. the surfaces: ``sim.api``, ``sim.cli``, ``sim`` itself and its documented aliases.

An import inside a function runs only when called; the few that reach up are listed
in ``LAZY_UPWARD`` with the reason. The engine has none.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

SIM = Path(__file__).resolve().parent.parent / "sim"

LAYER_0 = {"sim.spec", "sim.distributions", "sim.priors", "sim.engine.kinds", "sim.engine.rng"}
ALIASES = {"sim.runner", "sim.sweep", "sim.calibrate", "sim.backtest"}

#: (importer, imported): why a function reaches a higher layer when it is called.
LAZY_UPWARD = {
    ("sim.spec", "sim.scenario.reading"): "Scenario.with_overrides re-validates",
    ("sim.spec", "sim.scenario.whatif"): "Scenario.with_events re-validates",
    ("sim.distributions", "sim.policies"): "range checks of per-run values use Param",
    ("sim.analysis.sweep", "sim.plots"): "SweepResult.plot_* convenience methods",
    ("sim.analysis.story", "sim.api"): "a story read from a results directory",
    ("sim.analysis.discover", "sim.plots"): "Discovery.save draws its figures",
    ("sim.analysis.discover", "sim.plots.discovery"): "Discovery.plot_* convenience methods",
    ("sim.analysis.discover", "sim.api"): "discover reads a results directory",
    ("sim.analysis.robust", "sim.plots"): "RobustResult's figure, saved with its results",
    ("sim.analysis.robust", "sim.plots.robust"): "RobustResult.plot convenience method",
}


def layer(module: str) -> int:
    if module in LAYER_0:
        return 0
    if module.startswith("sim.engine") or module in (
        "sim.policies",
        "sim.outcome_classes",
        "sim.run_fields",
    ):
        return 1
    if module.startswith("sim.scenario"):
        return 2
    if module.startswith("sim.analysis"):
        return 3
    if module.startswith("sim.plots"):
        return 4
    return 5


def module_name(path: Path) -> str:
    parts = path.relative_to(SIM.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@functools.cache
def parse(path: Path) -> ast.Module:
    """The file's syntax tree (parsed once per session: the tests below read each file
    several times)."""
    return ast.parse(path.read_text())


def imports(path: Path) -> list[tuple[str, bool]]:
    """(imported sim module, at module level?) for each import in the file."""
    tree = parse(path)
    top = set()
    for node in tree.body:
        for sub in ast.walk(node) if isinstance(node, ast.If | ast.Try) else [node]:
            top.add(id(sub))
    found = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # ``from sim import x`` imports the module sim.x when x is one.
            names = [node.module]
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                base = SIM.parent / candidate.replace(".", "/")
                if base.with_suffix(".py").exists() or (base / "__init__.py").exists():
                    names.append(candidate)
        for name in names:
            if name == "sim" or name.startswith("sim."):
                found.append((name, id(node) in top))
    return found


def type_checking_only(path: Path) -> set[str]:
    """Modules imported only under ``if TYPE_CHECKING:`` (never at run time)."""
    out = set()
    for node in parse(path).body:
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for sub in ast.walk(node):
                if isinstance(sub, ast.ImportFrom) and sub.module:
                    out.add(sub.module)
    return out


MODULES = {module_name(p): p for p in sorted(SIM.rglob("*.py"))}


@pytest.mark.parametrize("importer", sorted(MODULES))
def test_no_import_runs_back_up(importer):
    path = MODULES[importer]
    skip = type_checking_only(path)
    mine = layer(importer)
    for imported, at_top in imports(path):
        if imported in skip or imported == "sim" or layer(imported) <= mine:
            continue
        where = "at import" if at_top else "in a function"
        assert not at_top and (importer, imported) in LAZY_UPWARD, (
            f"{importer} (layer {mine}) imports {imported} (layer {layer(imported)}) {where}"
        )


def test_the_engine_reaches_nothing_above_it():
    for importer, path in MODULES.items():
        if layer(importer) > 1:
            continue
        skip = type_checking_only(path)
        above = [m for m, _ in imports(path) if m not in skip | {"sim"} and layer(m) > 1]
        allowed = {m for (i, m) in LAZY_UPWARD if i == importer}
        assert set(above) <= allowed, f"{importer} imports {above}"


def test_no_cycle_at_import_time():
    """Modules do not import each other when loaded (a package and its own submodules
    aside: a registry package imports the modules that register into it)."""
    graph = {}
    for name, path in MODULES.items():
        skip = type_checking_only(path)
        graph[name] = {m for m, top in imports(path) if top and m in MODULES and m not in skip}

    def own(a: str, b: str) -> bool:
        return b.startswith(a + ".") or a.startswith(b + ".")

    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in graph[node]:
            if nxt == node or own(node, nxt) or nxt in ALIASES or node in ALIASES:
                continue
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*trail, node, nxt]))
            if not state.get(nxt):
                visit(nxt, [*trail, node])
        state[node] = 2

    for name in sorted(graph):
        if not state.get(name):
            visit(name, [])


def test_the_checks_see_an_upward_import(tmp_path):
    # The check can fail: an engine module importing the scenario reader is caught.
    fake = tmp_path / "mod.py"
    fake.write_text("from sim.scenario import load_scenario\n")
    assert imports(fake) == [("sim.scenario", True)]
    assert layer("sim.scenario") > layer("sim.engine.model")
