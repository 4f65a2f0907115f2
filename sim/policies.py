"""Retaliation policies: one small class per policy, vectorised over runs.

A policy is the rule by which one state answers one counterpart. It sees, for every
run of a block, what it perceived of the counterpart's hostile acts last step (size in
staff-equivalents after perception noise, and kind), its cumulative grievance, how long
the counterpart has been quiet and the two missions' sizes. It returns the size and
preferred instrument of a response. The mechanics shared by all policies (probability
of responding, response lag, perception noise, reciprocating conciliation, the ladder
of instruments, exogenous provocations) live in the engine (:mod:`sim.agents`) and are
configured by the common parameters below, so each class here is only its rule.

All sizes are float arrays over runs. Perceived sizes are whole head counts (rounded
to nearest); the engine rounds a response down to whole staff when it turns it into a
measure (:func:`sim.measures.whole_staff`).
"""

from __future__ import annotations

import importlib
import inspect
import math
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from sim.measures import HOSTILE_KINDS, Kind

__all__ = [
    "COMMON_PARAMS",
    "ENTRY_POINT_GROUP",
    "POLICIES",
    "Observation",
    "Param",
    "PluginError",
    "Policy",
    "load_entry_point_policies",
    "load_plugin_module",
    "make_policy",
    "plugin_state",
    "register_policy",
    "restore_plugins",
]


@dataclass(frozen=True)
class Param:
    """A named, range-checked policy parameter."""

    default: Any
    doc: str
    kind: str = "float"  # float | int | prob | range | ladder
    low: float | None = None
    high: float | None = None

    def describe(self) -> str:
        if self.kind == "prob":
            return "probability in [0, 1]"
        if self.kind == "ladder":
            return "list of instruments from " + ", ".join(k.label for k in HOSTILE_KINDS)
        if self.kind == "range":
            return f"[min, max] integers with {self.low:g} <= min <= max <= {self.high:g}"
        bounds = []
        if self.low is not None:
            bounds.append(f">= {self.low:g}")
        if self.high is not None:
            bounds.append(f"<= {self.high:g}")
        noun = "integer" if self.kind == "int" else "number"
        return f"{noun} {' and '.join(bounds)}".strip()

    def check(self, value: Any) -> tuple[Any, str | None]:
        """Return (normalised value, None) or (None, what was expected)."""
        expected = self.describe()
        if self.kind == "ladder":
            labels = {k.label for k in HOSTILE_KINDS}
            if (
                not isinstance(value, list)
                or not value
                or not all(isinstance(v, str) and v in labels for v in value)
                or len(set(value)) != len(value)
            ):
                return None, expected + " (non-empty, no repeats)"
            return list(value), None
        if self.kind == "range":
            if (
                isinstance(value, list)
                and len(value) == 2
                and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
                and self.low <= value[0] <= value[1] <= self.high
            ):
                return [int(value[0]), int(value[1])], None
            if (
                isinstance(value, int)
                and not isinstance(value, bool)
                and (self.low <= value <= self.high)
            ):
                return [value, value], None
            return None, expected
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None, expected
        if isinstance(value, int) and abs(value) > 2**63:
            return None, expected  # beyond any bound, and beyond a float's exact range
        if not math.isfinite(value):
            return None, expected
        if self.kind == "int" and not (isinstance(value, int) or float(value).is_integer()):
            return None, expected
        low = 0.0 if self.kind == "prob" else self.low
        high = 1.0 if self.kind == "prob" else self.high
        if (low is not None and value < low) or (high is not None and value > high):
            return None, expected
        return (int(value) if self.kind == "int" else float(value)), None


DEFAULT_LADDER = ["expel", "cap", "ban_local_hires", "close_consulate", "suspend"]

#: Parameters every policy has. ``reciprocate``'s default depends on the policy.
COMMON_PARAMS: dict[str, Param] = {
    "respond_prob": Param(1.0, "probability of acting on a decision to respond in a step", "prob"),
    "lag": Param(
        [1, 1],
        "steps from perceiving an act to announcing the response (uniform integer)",
        "range",
        0,
        52,
    ),
    "notice": Param(4, "steps from announcing a measure to its deadline", "int", 1, 52),
    "noise": Param(
        0.0, "perception noise: perceived = rint(true size * exp(noise * Z))", "float", 0, 5
    ),
    "reciprocate": Param(
        1.0, "probability of answering a conciliatory move with one's own", "prob"
    ),
    "ladder": Param(
        DEFAULT_LADDER, "instruments in order of escalation, used when one runs out", "ladder"
    ),
    "escalate_instrument": Param(
        0.0,
        "probability that a response takes the next instrument up the ladder from the one "
        "perceived, instead of mirroring it",
        "prob",
    ),
    "provocation_rate": Param(
        0.0, "exogenous hostile acts toward the counterpart, per year", "float", 0, 365
    ),
    "provocation_size": Param([1, 1], "staff per exogenous hostile act", "range", 1, 100_000),
    "conciliation_rate": Param(
        0.0, "exogenous unilateral conciliatory steps, per year", "float", 0, 365
    ),
    "conciliation_size": Param(
        [1, 1], "staff restored per exogenous conciliatory step", "range", 1, 100_000
    ),
}


@dataclass
class Observation:
    """What one state perceives of one counterpart in one step, per run."""

    step: int
    perceived: np.ndarray  # float: perceived size of the counterpart's hostile acts last step
    perceived_kind: np.ndarray  # int8 Kind code of the largest of them (0 if none)
    grievance: np.ndarray  # float: cumulative perceived hostility since the forecast start
    quiet: np.ndarray  # int: steps since the counterpart's last hostile act
    since_conciliation: np.ndarray  # int: steps since this state's last conciliatory move
    own_total: np.ndarray  # int: this state's mission in the counterpart's country, and
    their_total: np.ndarray  # the counterpart's in this state, after pending expulsions
    draw: Callable[[str], np.ndarray]  # uniforms in (0, 1) for a named decision


class Policy:
    """Base class: a retaliation rule with named, range-checked parameters."""

    name: ClassVar[str]
    params: ClassVar[dict[str, Param]] = {}
    default_reciprocate: ClassVar[float] = 1.0
    #: False for policies that never act on their own (``scripted``).
    active: ClassVar[bool] = True

    def __init__(self, **values: Any) -> None:
        for key, value in values.items():
            setattr(self, key, value)

    @classmethod
    def all_params(cls) -> dict[str, Param]:
        common = dict(COMMON_PARAMS)
        common["reciprocate"] = Param(
            cls.default_reciprocate, COMMON_PARAMS["reciprocate"].doc, "prob"
        )
        return {**common, **cls.params}

    def respond(self, obs: Observation) -> tuple[np.ndarray, np.ndarray]:
        """Size (staff-equivalents) and preferred instrument of this step's response."""
        raise NotImplementedError

    def initiate(self, obs: Observation) -> np.ndarray:
        """Runs in which the policy takes a unilateral conciliatory step now."""
        return np.zeros(obs.perceived.shape, dtype=bool)

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.all_params())
        return f"{type(self).__name__}({shown})"


def _mirror(obs: Observation, size: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return size, obs.perceived_kind


class TitForTat(Policy):
    """Tit-for-tat: answer each act with one of the same kind and perceived size.

    Rapoport's entry in Axelrod's tournaments (Axelrod, *The Evolution of Cooperation*,
    1984); the diplomatic "mirror response" of the 2018 US–Russia round (60 for 60).
    """

    name = "tit_for_tat"

    def respond(self, obs: Observation) -> tuple[np.ndarray, np.ndarray]:
        return _mirror(obs, obs.perceived)


class Proportional(Policy):
    """Proportional retaliation: answer with ``ratio`` times the perceived size.

    ``ratio < 1`` dampens, ``ratio > 1`` escalates. Two such states form the discrete
    Richardson process: an exchange dies out iff ``ratio_A * ratio_B < 1``
    (Richardson, *Arms and Insecurity*, 1960).
    """

    name = "proportional"
    params: ClassVar[dict[str, Param]] = {
        "ratio": Param(1.0, "response size / perceived size", "float", 0, 10),
    }

    def respond(self, obs: Observation) -> tuple[np.ndarray, np.ndarray]:
        return _mirror(obs, self.ratio * obs.perceived)


class Generous(Policy):
    """Generous tit-for-tat: mirror, but forgive an act with probability ``forgiveness``.

    Molander, JCR 29:611 (1985); Nowak & Sigmund, Nature 355:250 (1992). Forgiveness
    ends the echo that noise starts between two strict tit-for-tat players
    (Wu & Axelrod, JCR 39:183, 1995).
    """

    name = "generous"
    params: ClassVar[dict[str, Param]] = {
        "forgiveness": Param(0.1, "probability of letting an act go unanswered", "prob"),
    }

    def respond(self, obs: Observation) -> tuple[np.ndarray, np.ndarray]:
        forgiven = obs.draw("forgive") < self.forgiveness
        return _mirror(obs, np.where(forgiven, 0.0, obs.perceived))


class Grim(Policy):
    """Grim trigger: no answer until grievance reaches ``threshold``, then punish forever.

    Friedman, Rev. Econ. Stud. 38:1 (1971). Once the cumulative perceived hostility
    reaches the threshold, the state expels ``punishment`` staff every step (climbing
    its ladder when expulsions run out) until the relationship breaks.
    """

    name = "grim"
    default_reciprocate = 0.0
    params: ClassVar[dict[str, Param]] = {
        "threshold": Param(1.0, "cumulative perceived hostility that triggers", "float", 0, 1e9),
        "punishment": Param(
            10, "staff-equivalents imposed every step once triggered", "int", 1, 10_000_000
        ),
    }

    def respond(self, obs: Observation) -> tuple[np.ndarray, np.ndarray]:
        triggered = obs.grievance >= self.threshold
        punishment = np.asarray(self.punishment, dtype=float)  # an array if drawn per run
        size = np.where(triggered & (obs.grievance > 0), punishment, 0.0)
        return size, np.full(size.shape, Kind.EXPEL, dtype=np.int8)


class Parity(Policy):
    """Parity cap: answer hostility by capping the counterpart at one's own mission's size.

    Schelling's focal points (*The Strategy of Conflict*, 1960); Russia's 2017 cap of
    455 "in the spirit of parity" and the UK parity demand of March 2018. Where the
    counterpart's mission is not larger than one's own, it answers in kind.
    """

    name = "parity"

    def respond(self, obs: Observation) -> tuple[np.ndarray, np.ndarray]:
        excess = (obs.their_total - obs.own_total).astype(float)
        use_cap = (obs.perceived > 0) & (excess > 0)
        size = np.where(use_cap, excess, obs.perceived)
        kind = np.where(use_cap, np.int8(Kind.CAP), obs.perceived_kind).astype(np.int8)
        return size, kind


class Grit(Policy):
    """GRIT: graduated and reciprocated initiatives in tension reduction.

    Osgood, *An Alternative to War or Surrender* (1962): after ``quiet_steps`` without a
    hostile act from the counterpart, take a small unilateral conciliatory step (cancel its
    pending measures, else lift a restriction, else restore ``step_size`` staff) and keep
    taking one every ``quiet_steps``; reciprocate conciliation; answer hostility in kind
    without escalating.
    """

    name = "grit"
    params: ClassVar[dict[str, Param]] = {
        "quiet_steps": Param(
            8, "quiet steps before a unilateral conciliatory step", "int", 1, 20_000
        ),
        "step_size": Param(2, "staff restored by a unilateral step", "int", 1, 10_000_000),
    }

    def respond(self, obs: Observation) -> tuple[np.ndarray, np.ndarray]:
        return _mirror(obs, obs.perceived)

    def initiate(self, obs: Observation) -> np.ndarray:
        return (obs.quiet >= self.quiet_steps) & (obs.since_conciliation >= self.quiet_steps)


class Passive(Policy):
    """Never answers (Putin's non-retaliation of 30 December 2016).

    Exogenous provocations and conciliatory steps, if configured, still happen.
    """

    name = "passive"
    default_reciprocate = 0.0

    def respond(self, obs: Observation) -> tuple[np.ndarray, np.ndarray]:
        zeros = np.zeros(obs.perceived.shape)
        return zeros, np.zeros(obs.perceived.shape, dtype=np.int8)


class Scripted(Passive):
    """Only the scenario's dated events: no responses, no exogenous acts."""

    name = "scripted"
    active = False


POLICIES: dict[str, type[Policy]] = {
    cls.name: cls
    for cls in (TitForTat, Proportional, Generous, Grim, Parity, Grit, Passive, Scripted)
}


BUILTIN_POLICIES = frozenset(POLICIES)

# ------------------------------------------------------------------ plugins
#: The entry point group through which installed packages offer policies.
ENTRY_POINT_GROUP = "escalation_sim.policies"
_NAME = re.compile(r"[a-z][a-z0-9_]*")
_MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_loaded_modules: list[str] = []
_entry_points_loaded = False


class PluginError(Exception):
    """A policy plugin that cannot be loaded or registered."""


def register_policy(cls: type[Policy]) -> type[Policy]:
    """Make a :class:`Policy` subclass available as ``kind = "<cls.name>"``.

    Checks the class: a subclass of :class:`Policy` with its own ``respond``, a ``name``
    of lowercase letters, digits and _ that no other policy has, parameters that are
    :class:`Param` specs named like ids (not clashing with the common parameters) whose
    defaults pass their own checks. Returns the class, so it works as a decorator.
    Registering the same class twice is harmless.
    """
    where = f"{getattr(cls, '__module__', '?')}.{getattr(cls, '__qualname__', cls)!s}"
    if not (inspect.isclass(cls) and issubclass(cls, Policy)) or cls is Policy:
        raise PluginError(f"{where}: expected a subclass of sim.policies.Policy")
    name = cls.__dict__.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise PluginError(
            f"{where}: expected a class attribute name = '...' of lowercase letters, "
            f"digits and _, found {name!r}"
        )
    if POLICIES.get(name) is cls:
        return cls
    if name in POLICIES:
        raise PluginError(f"{where}: a policy named {name!r} exists already")
    if cls.respond is Policy.respond:
        raise PluginError(f"{where}: expected a respond(self, obs) method")
    params = cls.__dict__.get("params", {})
    if not isinstance(params, dict):
        raise PluginError(f"{where}: params must be a dict of name -> Param")
    for key, param in params.items():
        if not isinstance(key, str) or not _NAME.fullmatch(key) or key == "kind":
            raise PluginError(f"{where}: parameter name {key!r} is not an id")
        if key in COMMON_PARAMS:
            raise PluginError(f"{where}: parameter {key!r} clashes with a common parameter")
        if hasattr(Policy, key) or callable(getattr(cls, key, None)):
            raise PluginError(f"{where}: parameter {key!r} would hide a method or attribute")
        if not isinstance(param, Param):
            raise PluginError(f"{where}: parameter {key!r} must be a sim.policies.Param")
        if param.kind not in ("float", "int", "prob", "range", "ladder"):
            raise PluginError(f"{where}: parameter {key!r} has unknown kind {param.kind!r}")
        if param.check(param.default)[1] is not None:
            raise PluginError(
                f"{where}: the default of {key!r}, {param.default!r}, is not {param.describe()}"
            )
    reciprocate = cls.default_reciprocate
    if isinstance(reciprocate, bool) or not isinstance(reciprocate, int | float):
        raise PluginError(f"{where}: default_reciprocate must be a probability")
    if not 0 <= reciprocate <= 1:
        raise PluginError(f"{where}: default_reciprocate must be in [0, 1]")
    POLICIES[name] = cls
    return cls


def _register_module(module: Any, origin: str) -> list[str]:
    """Register the policies a module defines (those it has not registered itself)."""
    found = []
    for value in vars(module).values():
        if (
            inspect.isclass(value)
            and issubclass(value, Policy)
            and value.__module__ == module.__name__
            and "name" in value.__dict__
        ):
            try:
                register_policy(value)
            except PluginError as exc:
                raise PluginError(f"{origin}: {exc}") from None
            found.append(value.__dict__["name"])
    return found


def load_plugin_module(name: str) -> list[str]:
    """Import a module named on the command line (``--plugin MODULE``); register its policies.

    The module may call :func:`register_policy` itself; any :class:`Policy` subclass it
    defines with a ``name`` is registered too. Only ever called with a name the user
    typed, never with a string from a scenario file.
    """
    if not isinstance(name, str) or not _MODULE.fullmatch(name):
        raise PluginError(f"--plugin: expected a module name such as my_policies, found {name!r}")
    before = set(POLICIES)
    try:
        module = importlib.import_module(name)
    except ImportError as exc:
        raise PluginError(f"--plugin {name}: cannot import it ({exc})") from None
    except Exception as exc:
        raise PluginError(
            f"--plugin {name}: importing it failed: {type(exc).__name__}: {exc}"
        ) from None
    _register_module(module, f"--plugin {name}")
    if set(POLICIES) == before and not any(
        inspect.isclass(v) and issubclass(v, Policy) and v.__module__ == name
        for v in vars(module).values()
    ):
        raise PluginError(f"--plugin {name}: defines no policy (no subclass of Policy)")
    if name not in _loaded_modules:
        _loaded_modules.append(name)
    return sorted(set(POLICIES) - before)


def load_entry_point_policies() -> list[str]:
    """Register the policies of installed packages (entry point group ``escalation_sim.policies``).

    Each entry point names a Policy subclass (``two_strikes = my_pkg.policies:TwoStrikes``)
    or a module whose policies are registered. Loaded once per process.
    """
    global _entry_points_loaded
    if _entry_points_loaded:
        return []
    from importlib.metadata import entry_points

    before = set(POLICIES)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        origin = f"entry point {ep.name} = {ep.value} ({ENTRY_POINT_GROUP})"
        try:
            obj = ep.load()
        except Exception as exc:
            raise PluginError(f"{origin}: cannot load it: {type(exc).__name__}: {exc}") from None
        if inspect.ismodule(obj):
            _register_module(obj, origin)
        else:
            try:
                register_policy(obj)
            except PluginError as exc:
                raise PluginError(f"{origin}: {exc}") from None
    _entry_points_loaded = True
    return sorted(set(POLICIES) - before)


def plugin_state() -> dict[str, Any]:
    """What another process needs to load the same plugins (for sweeps' workers)."""
    return {
        "modules": list(_loaded_modules),
        "entry_points": _entry_points_loaded,
        "sys_path": list(sys.path),
    }


def restore_plugins(state: dict[str, Any] | None) -> None:
    """Load, in a worker process, the plugins :func:`plugin_state` recorded."""
    if not state:
        return
    for entry in state.get("sys_path", []):
        if entry not in sys.path:
            sys.path.append(entry)
    if state.get("entry_points"):
        load_entry_point_policies()
    for name in state.get("modules", []):
        if name not in _loaded_modules:
            load_plugin_module(name)


def make_policy(values: dict[str, Any]) -> Policy:
    """Build a policy from already validated values (``kind`` plus parameters)."""
    cls = POLICIES[values["kind"]]
    merged = {k: p.default for k, p in cls.all_params().items()}
    merged.update({k: v for k, v in values.items() if k != "kind"})
    return cls(**merged)
