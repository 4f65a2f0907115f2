"""What each change to a scenario does to its odds, paired on the same runs.

An *ablation* starts from a baseline scenario and adds one change at a time (a set of
dotted-path overrides and what-if events): a mechanism switched on, a parameter moved,
a measure added. Every variant runs with the baseline's seed and runs, so each run
meets the same random numbers in both and the difference in an outcome's probability
comes with the standard error of the per-run differences (common random numbers): far
sharper than two independent estimates, and exact where the change does not touch a
run. "All together" is the baseline with every change at once.

This answers "what did this mechanism change, in this model?"; it is not a causal
statement about the world.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.runner import run_ensemble
from sim.analysis.sweep import paired_difference
from sim.scenario import Scenario, load_scenario

__all__ = ["ALL_TOGETHER", "Change", "ablation", "apply_change"]

#: The name of the variant with every change at once.
ALL_TOGETHER = "all together"


@dataclass(frozen=True)
class Change:
    """One change to a scenario: dotted-path ``overrides`` and what-if ``events``
    (dicts with the keys of ``[[events]]``), as ``sim.run`` takes them."""

    overrides: Mapping[str, Any] = field(default_factory=dict)
    events: Sequence[Mapping[str, Any]] = ()
    doc: str = ""


def apply_change(scenario: Scenario, *changes: Change) -> Scenario:
    """``scenario`` with ``changes`` applied in order (overrides first, then events)."""
    overrides: dict[str, Any] = {}
    events: list[Mapping[str, Any]] = []
    for change in changes:
        overrides.update(change.overrides)
        events.extend(change.events)
    if overrides:
        scenario = scenario.with_overrides(overrides)
    if events:
        scenario = scenario.with_events(events)
    return scenario


def ablation(
    baseline: Scenario | str | Path,
    changes: Mapping[str, Change],
    runs: int | None = None,
    seed: int | None = None,
    outcomes: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Each change alone, then all together, against the baseline, paired on the same runs.

    Returns one row per variant and outcome class: ``variant``, ``outcome``, ``base``
    (P in the baseline), ``p`` (P with the change), ``diff``, ``se``, ``ci95_low``,
    ``ci95_high`` (the paired difference), and ``runs_changed`` (runs whose class the
    change moved, either way).

    >>> sim.ablation("scenarios/us_russia_2021.toml",
    ...              {"US restraint": Change({"states.us.policy.restraint_floor": 100})})
    ...                                                                # doctest: +SKIP
    """
    if not isinstance(baseline, Scenario):
        baseline = load_scenario(baseline)
    if not changes:
        raise ValueError("an ablation needs at least one change")
    if ALL_TOGETHER in changes:
        raise ValueError(f"{ALL_TOGETHER!r} is the name of the variant with every change")
    quiet = {"keep_trajectories": False, "keep_events": False}
    base = run_ensemble(baseline, runs=runs, seed=seed, **quiet)
    names = tuple(base.outcome_names)
    wanted = list(outcomes) if outcomes is not None else list(names)
    for name in wanted:
        if name not in names:
            raise ValueError(f"unknown outcome {name!r}; the outcomes are {', '.join(names)}")
    variants = {name: (change,) for name, change in changes.items()}
    if len(changes) > 1:
        variants[ALL_TOGETHER] = tuple(changes.values())
    rows = []
    for name, parts in variants.items():
        changed = run_ensemble(apply_change(baseline, *parts), runs=runs, seed=seed, **quiet)
        if tuple(changed.outcome_names) != names:
            raise ValueError(f"{name}: the change altered the outcome classes")
        moved = int(np.count_nonzero(changed.outcome != base.outcome))
        for outcome in wanted:
            code = names.index(outcome)
            pair = paired_difference(base.outcome, changed.outcome, outcome, names)
            rows.append(
                {
                    "variant": name,
                    "outcome": outcome,
                    "base": float(np.mean(base.outcome == code)),
                    "p": float(np.mean(changed.outcome == code)),
                    **pair,
                    "runs_changed": moved,
                }
            )
    return pd.DataFrame(rows)
