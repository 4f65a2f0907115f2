"""Memory estimates: what a run needs, checked before it starts.

An ensemble needs memory for three things:

* **one block** of runs being stepped (missions, pending-measure ring buffers, each
  relation's memory and scheduled decisions, the step's announcements): about
  ``per_run_block`` bytes per run of the block, where the ring buffers grow with the
  longest notice or deadline in steps. Blocks run one after another, so this is paid
  once, whatever the number of runs; if a block of ``block_size`` runs would not fit in
  :data:`BLOCK_BUDGET_SHARE` of the budget, the block is made smaller (results do not
  depend on the block size);
* **per-run results** (outcome, its step, final staff, staff lost, acts, ...) for every
  run, the bytes of its fields (:func:`sim.run_fields.bytes_per_run`: about
  ``20 + 4 x missions + 16 x states``), doubled while the blocks are joined and the
  summary is computed, and the per-run table when results are written;
* **trajectories**, if kept: ``runs x steps x missions x 4`` bytes, plus a copy of the
  same size while ``trajectories.npz`` is written;
* **the event record** (:mod:`sim.engine.event_record`): every block keeps one row per measure
  or move of its runs while it runs (about :data:`LOG_ROW_BYTES` each), and if the
  record is returned (``run --out``, ``Result.events``) every run's rows stay, about
  :data:`EVENT_ROW_BYTES` each, doubled while ``events.parquet`` is written. How many
  rows a run makes is not known in advance, so it is measured: a pilot of
  :data:`PILOT_RUNS` runs of the scenario is stepped, and twice its mean number of rows
  per run is used (``--no-events`` drops the returned record).

The budget is :func:`memory_budget`: ``SIM_MEMORY_BUDGET`` (bytes, or with a unit such
as ``8GiB``) if set, else 80% of the memory the kernel reports as available
(``MemAvailable`` in ``/proc/meminfo``; the physical memory where that is missing). A
run whose estimate exceeds the budget is refused before it starts, with a message that
says how much it needs and what to do.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from sim import run_fields
from sim.distributions import Distribution, scenario_distributions
from sim.engine.missions import Missions
from sim.engine.model import ring_depth as model_ring_depth
from sim.engine.state import Announcements
from sim.policies import COMMON_PARAMS
from sim.spec import Scenario

__all__ = [
    "BLOCK_BUDGET_SHARE",
    "EVENT_ROW_BYTES",
    "LOG_ROW_BYTES",
    "PILOT_RUNS",
    "Estimate",
    "ResourceError",
    "available_memory",
    "estimate",
    "events_per_run",
    "format_bytes",
    "memory_budget",
    "plan_block_size",
]

#: Most run-steps one ensemble may take (at a few million run-steps a second, hours).
MAX_RUN_STEPS = 10**11
#: Largest share of the budget one block may take.
BLOCK_BUDGET_SHARE = 0.25
#: Numpy temporaries made while a block steps, relative to its buffers.
_TEMPORARIES = 1.5
_UNITS = {"": 1, "b": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


class ResourceError(Exception):
    """A run that would not fit in memory (or is absurdly large)."""


def format_bytes(n: float) -> str:
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


def available_memory() -> int:
    """Bytes of memory available to a new allocation, as the kernel estimates it."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


def parse_bytes(text: str) -> int:
    """``"512MiB"``, ``"8G"``, ``"1000000"`` -> bytes."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?)\s*([kmgtKMGT]?)(?:i?[bB])?\s*", text)
    if not match:
        raise ValueError(f"expected a size such as 8GiB or 500000000, found {text!r}")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def memory_budget() -> int:
    """Bytes a run may use: ``SIM_MEMORY_BUDGET`` if set, else 80% of available memory."""
    given = os.environ.get("SIM_MEMORY_BUDGET")
    if given:
        try:
            return parse_bytes(given)
        except ValueError as exc:
            raise ResourceError(f"SIM_MEMORY_BUDGET: {exc}") from None
    return int(0.8 * available_memory())


#: Bytes per row of the event record while a block runs (its columns and fates).
LOG_ROW_BYTES = 100
#: Bytes per row of a returned event table (about 110 in its columns); while a block's
#: table is built (dates as Python objects) its rows take about _FRAME_ROW_BYTES.
EVENT_ROW_BYTES = 120
_FRAME_ROW_BYTES = 400
#: Runs stepped to measure the rows of the event record per run.
PILOT_RUNS = 64
#: Margin over the pilot's mean rows per run (runs differ; the pilot is small).
_PILOT_MARGIN = 2.0


#: Pilot measures by scenario content: a pilot steps 64 runs through the whole horizon
#: (about 0.5 s whatever the ensemble's size), and sweeps, robustness analyses and the
#: explorer build the same scenario again and again. The value only sizes blocks, and
#: no result depends on the block size.
_PILOT_CACHE: dict[str, float] = {}
_PILOT_CACHE_SIZE = 256


def _pilot_key(scenario: Scenario) -> str | None:
    import hashlib
    import json

    try:
        text = json.dumps(
            [scenario.raw, scenario.added_events, scenario.dropped_events],
            sort_keys=True,
            default=str,
        )
    except (AttributeError, TypeError, ValueError):
        return None
    return hashlib.sha256(text.encode()).hexdigest()


def events_per_run(scenario: Scenario) -> float:
    """Rows of the event record per run, measured on a pilot and doubled (cached)."""
    cached = getattr(scenario, "_events_per_run", None)
    if cached is not None:
        return cached
    key = _pilot_key(scenario)
    if key is not None and key in _PILOT_CACHE:
        scenario._events_per_run = _PILOT_CACHE[key]
        return _PILOT_CACHE[key]
    import numpy as np

    from sim.engine.model import EscalationModel  # the engine, only when asked

    model = EscalationModel(scenario, runs=np.arange(PILOT_RUNS))
    while model.running:
        model.step()
    value = _PILOT_MARGIN * model.log.n_rows / PILOT_RUNS
    model.release()
    scenario._events_per_run = value
    if key is not None:
        if len(_PILOT_CACHE) >= _PILOT_CACHE_SIZE:
            _PILOT_CACHE.pop(next(iter(_PILOT_CACHE)))
        _PILOT_CACHE[key] = value
    return value


def ring_depth(scenario: Scenario) -> int:
    """Depth of the pending-measure ring buffers, as the model computes it."""
    return model_ring_depth(scenario)


def per_run_block_bytes(scenario: Scenario, measure_events: bool = True) -> int:
    """Bytes one run takes in a block being stepped (without the event record's rows
    unless ``measure_events``)."""
    m = len(scenario.missions)
    s = len(scenario.states)
    depth = ring_depth(scenario)
    own = any(ev.own for ev in scenario.events)
    # The missions' staff, limits, pending rings and sums, as every registered
    # instrument allocates them (measured on a probe), then this step's, last step's and
    # the recalled announcements, and the forecast-start snapshot.
    ring = m * Missions.footprint(depth, own)
    missions = m * (3 * Announcements.empty(1, 1).nbytes() + 8 + 8)
    # A relation exists only between states with a mission in one direction or the other.
    linked = {(mi.sender, mi.host) for mi in scenario.missions.values()}
    linked |= {(host, sender) for sender, host in linked}
    relations = 0
    for sid, st in scenario.states.items():
        for other, values in st.policies.items():
            if (sid, other) not in linked:
                continue
            lag = values.get("lag", COMMON_PARAMS["lag"].default)
            # A lag drawn per run: the ring buffer is as deep as the longest lag drawn.
            longest = lag.support()[1] if isinstance(lag, Distribution) else lag[1]
            relations += (longest + 1) * (8 + 1 + 8) + 9 * 8 + 3
    per_run = 8 * 3 + 1 + 4 + 8 + 1 + 1 + 2 + s * 2 * 4 + s * 8
    # Per mission: the refs of the step's acts (8 bytes each, six arrays); per relation:
    # the causes and refs of queued decisions.
    refs = m * 6 * 8 + relations // 3
    log = events_per_run(scenario) * LOG_ROW_BYTES if measure_events else 0
    return int(_TEMPORARIES * (ring + missions + relations + per_run + refs) + log)


def per_run_result_bytes(scenario: Scenario, writing: bool = False) -> int:
    """Bytes each run's results take once the ensemble is joined (and written)."""
    m, s = len(scenario.missions), len(scenario.states)
    drawn = 8 * len(scenario_distributions(scenario))  # a parameter's per-run draws
    run_index = 8
    kept = run_index + run_fields.bytes_per_run(m, s) + drawn
    joined = 2 * kept + 8 * 4  # blocks joined, and the summary's temporaries
    # The per-run table (with a date object per run) and its Arrow copy.
    table = 2 * (run_index + run_fields.table_bytes_per_run(m, s) + drawn) if writing else 0
    return joined + table


@dataclass(frozen=True)
class Estimate:
    """Memory a run needs, in bytes, by part."""

    runs: int
    block_size: int
    block: int
    results: int
    trajectories: int
    budget: int
    events: int = 0

    @property
    def total(self) -> int:
        return self.block + self.results + self.trajectories + self.events

    @property
    def fits(self) -> bool:
        return self.total <= self.budget

    def describe(self) -> str:
        parts = [f"{format_bytes(self.block)} for a block of {self.block_size:,} runs"]
        parts.append(f"{format_bytes(self.results)} for the per-run results")
        if self.trajectories:
            parts.append(f"{format_bytes(self.trajectories)} for the trajectories")
        if self.events:
            parts.append(f"{format_bytes(self.events)} for the event record")
        return f"{format_bytes(self.total)} ({', '.join(parts)})"


def plan_block_size(
    scenario: Scenario, block_size: int, budget: int | None = None, measure_events: bool = True
) -> int:
    """The block size to use: ``block_size``, or fewer runs if a block would not fit."""
    budget = memory_budget() if budget is None else budget
    per_run = per_run_block_bytes(scenario, measure_events)
    fitting = int(BLOCK_BUDGET_SHARE * budget) // max(per_run, 1)
    return max(1, min(block_size, fitting))


def estimate(
    scenario: Scenario,
    runs: int,
    block_size: int,
    *,
    keep_trajectories: bool = False,
    keep_events: bool = False,
    writing: bool = False,
    budget: int | None = None,
) -> Estimate:
    """What running ``runs`` runs of ``scenario`` would need (see the module's docstring)."""
    budget = memory_budget() if budget is None else budget
    # The pilot steps PILOT_RUNS runs through the horizon; an ensemble no larger takes no
    # more memory than the pilot would, so its event record is not measured (a pilot
    # would cost as long as the ensemble itself).
    measure = runs > PILOT_RUNS
    block = min(plan_block_size(scenario, block_size, budget, measure), runs)
    traj = runs * scenario.n_steps * len(scenario.missions) * 4 if keep_trajectories else 0
    if writing:
        traj *= 2  # the (runs, steps, missions) copy written to trajectories.npz
    events = 0
    if keep_events and measure:
        rows = events_per_run(scenario)
        events = int(runs * rows * EVENT_ROW_BYTES * (2 if writing else 1))  # + Arrow copy
        events += int(block * rows * _FRAME_ROW_BYTES)  # a block's table being built
    return Estimate(
        runs=runs,
        block_size=block,
        block=block * per_run_block_bytes(scenario, measure),
        results=runs * per_run_result_bytes(scenario, writing),
        trajectories=traj,
        budget=budget,
        events=events,
    )


def check(
    scenario: Scenario,
    runs: int,
    block_size: int,
    *,
    keep_trajectories: bool = False,
    keep_events: bool = False,
    writing: bool = False,
    budget: int | None = None,
) -> Estimate:
    """The estimate, or :class:`ResourceError` if the run would not fit in the budget."""
    if runs * scenario.n_steps > MAX_RUN_STEPS:
        raise ResourceError(
            f"{runs:,} runs of {scenario.n_steps:,} steps is {runs * scenario.n_steps:,} "
            f"run-steps, more than the {MAX_RUN_STEPS:,} one ensemble may take (days of "
            "computing): use fewer runs or a shorter horizon"
        )
    est = estimate(
        scenario,
        runs,
        block_size,
        keep_trajectories=keep_trajectories,
        keep_events=keep_events,
        writing=writing,
        budget=budget,
    )
    if est.fits:
        return est
    advice = []
    if est.events:
        advice.append("drop the event record (run --no-events, or keep_events=False in Python)")
    without = est.total - est.trajectories
    if est.trajectories and without <= est.budget:
        most = int(runs * (est.budget - without) / est.trajectories)
        advice.append(
            "drop the trajectories (run --no-trajectories, or keep_trajectories=False in "
            f"Python), or keep them for at most about {most:,} runs"
        )
    else:
        per_run = max(1, (est.results + est.trajectories) // runs)
        most = max(0, (est.budget - est.block) // per_run)
        advice.append(
            f"use fewer runs (about {most:,} fit)"
            + (" or drop the trajectories (--no-trajectories)" if est.trajectories else "")
        )
    raise ResourceError(
        f"{runs:,} runs of {scenario.name} would need about {est.describe()}, but only "
        f"{format_bytes(est.budget)} may be used (80% of available memory, or "
        f"SIM_MEMORY_BUDGET): {'; '.join(advice)}"
    )
