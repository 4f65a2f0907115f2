"""The missions' staff in every run, and the measures pending against them.

Every mission's state is a set of integer arrays with a leading mission axis and a
trailing run axis. A measure is announced in one step and takes effect at its
deadline; pending effects sit in ring buffers (:class:`Pending`) indexed by
``deadline % depth`` (``design-notes.md`` §2), so announcing, cancelling and applying
are array operations with no Python object per measure.

What each instrument does to these arrays is the instrument's own
(:mod:`sim.engine.instruments`); this module keeps the staff, the bookkeeping every
instrument shares, and the order of a step's effects.
"""

from __future__ import annotations

import numpy as np

from sim.engine import instruments
from sim.engine.categories import CATEGORIES, StaffWeights
from sim.engine.kinds import (
    CONCILIATORY_KINDS,
    HOSTILE_KINDS,
    NO_LIMIT,
    VISA_SPAN,
    Kind,
    whole_staff,
)

__all__ = [
    "CONCILIATORY_KINDS",
    "HOSTILE_KINDS",
    "NO_LIMIT",
    "VISA_SPAN",
    "Kind",
    "Missions",
    "Pending",
    "whole_staff",
]

_COMBINE = {
    "add": np.add,
    "min": np.minimum,
    "max": np.maximum,
    "or": np.logical_or,
}


class Pending:
    """Amounts pending per (slot, mission, run) in a ring of ``depth`` slots.

    ``combine`` says how two measures due in the same slot add up (``add`` for
    expulsions, ``min`` for caps, ``max`` for visa-denial rates, ``or`` for
    suspension). A state's measures on its own missions are also kept apart
    (allocated at the first one), so that cancelling the host's hostile measures
    leaves them pending.
    """

    def __init__(self, depth: int, missions: int, runs: int, dtype, empty, combine: str) -> None:
        self.buf = np.full((depth, missions, runs), empty, dtype=dtype)
        self.empty = empty
        self.combine = _COMBINE[combine]
        self.own: np.ndarray | None = None

    def put(self, slot: int, m: int, runs, value: np.ndarray, own: bool) -> None:
        """Add ``value`` (over the selected runs) to what is pending at ``slot`` on m."""
        if own and self.own is None:
            self.own = np.full_like(self.buf, self.empty)
        bufs = (self.buf, self.own) if own else (self.buf,)
        for buf in bufs:
            buf[slot, m, runs] = self.combine(buf[slot, m, runs], value)

    def due(self, slot: int) -> np.ndarray:
        """(missions, runs): what falls due at ``slot`` (a view: read before ``clear``)."""
        return self.buf[slot]

    def clear(self, slot: int) -> None:
        self.buf[slot] = self.empty
        if self.own is not None:
            self.own[slot] = self.empty

    def cancel(self, m: int, cols: np.ndarray) -> None:
        """Empty mission m's pending amounts in runs ``cols``, except the sender's own."""
        self.buf[:, m, cols] = self.empty if self.own is None else self.own[:, m, cols]

    def own_total(self, m: int, cols: np.ndarray):
        """Per run of ``cols``: the sum over slots of the sender's own amounts (0 if none)."""
        return 0 if self.own is None else self.own[:, m, cols].sum(axis=0)

    def own_slots(self, m: int, cols: np.ndarray):
        """Per run of ``cols``: the slots holding one of the sender's own amounts."""
        return 0 if self.own is None else (self.own[:, m, cols] != self.empty).sum(axis=0)


class Missions:
    """Staff of every mission in every run, and the measures pending against them.

    Parameters
    ----------
    initial:
        Per mission: diplomats, admin_technical (default 0), local_staff, consulates,
        staff_per_consulate, cap, local_hire_ceiling (``NO_LIMIT`` for none), and any
        field an instrument plugin declares (its ``mission_fields``).
    runs:
        Number of runs in the block.
    depth:
        Ring-buffer depth: one more than the longest deadline in steps.
    weights:
        Staff-equivalents per head of each staff category
        (:mod:`sim.engine.categories`; default 1 each).
    counterpart:
        Per mission, the index of its counterpart (the mission whose sender is its host
        and whose host is its sender), -1 where there is none; default none.
    """

    def __init__(
        self,
        initial: list[dict[str, int]],
        runs: int,
        depth: int,
        weights: dict[str, float] | None = None,
        counterpart: list[int] | np.ndarray | None = None,
    ) -> None:
        m = len(initial)
        self.n_missions, self.n_runs, self.depth = m, runs, depth
        self.initial = initial
        self.weights = StaffWeights(weights)
        #: Decided once: with every weight 1 the instruments skip weight arithmetic, so
        #: that results are bit-identical to a scenario without ``[staff_weights]``.
        self.weighted = not self.weights.uniform
        self.counterpart = (
            np.full(m, -1, dtype=np.int64)
            if counterpart is None
            else np.asarray(counterpart, dtype=np.int64)
        )
        #: What the last ``announce`` actually announced where it is not its size: the
        #: heads (or posts) an expulsion or closure reached when weights are not all 1,
        #: the level of a parity cap. By instrument code, over the announcement's runs;
        #: read by the event record.
        self.reached: dict[int, np.ndarray] = {}

        self.diplomats = self.column("diplomats")
        self.admin_technical = self.column("admin_technical")
        self.local = self.column("local_staff")
        self.posts = self.column("consulates")
        self.per_post = np.array([mi["staff_per_consulate"] for mi in initial], dtype=np.int32)[
            :, None
        ]
        #: Staff in pools an instrument plugin adds (name -> (missions, runs)); they
        #: count in every total, and leave with a suspension.
        self.extra_pools: dict[str, np.ndarray] = {}
        # Hostile measures per slot, and their running sum, so that "anything pending?"
        # costs O(missions * runs).
        self.p_hostile = np.zeros((depth, m, runs), dtype=np.int16)
        self.pending_hostile = np.zeros((m, runs), dtype=np.int32)
        # Staff that restores bring back at their deadline.
        self.p_restore = np.zeros((depth, m, runs), dtype=np.int32)
        self.pending_restore = np.zeros((m, runs), dtype=np.int64)
        self.removed = np.zeros((m, runs), dtype=np.int64)  # staff removed by measures
        self.restored = np.zeros((m, runs), dtype=np.int64)  # staff brought back by restores
        #: With ``track_effects``, apply_due leaves in ``effects`` the staff each
        #: instrument removed (by code) and restores brought back ("restore") that step,
        #: as (missions, runs) arrays, for the event record.
        self.track_effects = False
        self.effects: dict = {}
        #: Which restriction the last ``lift`` lifted (instrument code -> runs).
        self.lifted: dict[int, np.ndarray] = {}
        self._hostile = instruments.hostile()
        base = instruments.Instrument
        self._committing = [i for i in self._hostile if type(i).committed is not base.committed]
        for instrument in self._hostile:
            instrument.allocate(self)

    def column(self, key: str, default: int = 0, dtype=np.int32) -> np.ndarray:
        """(missions, runs): a mission field's starting value, repeated over runs."""
        values = np.array([mission.get(key, default) for mission in self.initial], dtype=dtype)
        return np.repeat(values[:, None], self.n_runs, axis=1)

    def pending(self, dtype, empty, combine: str) -> Pending:
        """A new ring of pending amounts for an instrument."""
        return Pending(self.depth, self.n_missions, self.n_runs, dtype, empty, combine)

    @classmethod
    def footprint(cls, depth: int, own: bool = False) -> int:
        """Bytes one mission takes per run, with rings ``depth`` deep (and the sender's
        own copies when ``own``): measured on a probe, so every registered instrument's
        state counts, plugins' included (for the memory estimate)."""
        probe = cls(
            [
                {
                    "diplomats": 0,
                    "admin_technical": 0,
                    "local_staff": 0,
                    "consulates": 0,
                    "staff_per_consulate": 0,
                    "cap": NO_LIMIT,
                    "local_hire_ceiling": NO_LIMIT,
                }
            ],
            1,
            depth,
        )
        total = 0
        for value in vars(probe).values():
            values = value.values() if isinstance(value, dict) else [value]
            for v in values:
                if isinstance(v, Pending):
                    total += v.buf.nbytes * (2 if own else 1)
                elif isinstance(v, np.ndarray):
                    total += v.nbytes
        return total

    # ------------------------------------------------------------------ views
    def total(self, m: int | slice = slice(None)) -> np.ndarray:
        """Heads of every staff category (:data:`~sim.engine.categories.CATEGORIES`,
        written out: this is the hot path) and every plugin's pool, per run."""
        out = (
            self.diplomats[m]
            + self.admin_technical[m]
            + self.local[m]
            + self.posts[m] * self.per_post[m]
        )
        for pool in self.extra_pools.values():
            out = out + pool[m]
        return out

    def totals(self) -> np.ndarray:
        return self.total()

    def committed(self, m: int) -> np.ndarray:
        """Staff of mission m already ordered out by name (pending expulsions): caps and
        answers are counted net of them."""
        committed = [i.committed(self, m) for i in self._committing]
        return sum(committed[1:], committed[0]) if committed else 0

    def net_total(self, m: int) -> np.ndarray:
        """Mission m's staff net of those already ordered out, per run."""
        return self.total(m) - self.committed(m)

    def pending_staff(self, m: int) -> np.ndarray:
        """Staff the pending measures on mission m will remove by name (what an offer to
        withdraw them is worth), per run."""
        out = np.zeros(self.n_runs, dtype=np.int64)
        for instrument in self._hostile:
            out = out + instrument.pending_staff(self, m)
        return out

    def weight(self, category: str) -> float:
        """Staff-equivalents per head of ``category``."""
        return self.weights[category]

    def equivalents(self, m: int | slice = slice(None)) -> np.ndarray:
        """Mission m's staff in staff-equivalents, per run (plugins' pools count 1 a
        head). With every weight 1 it is the total."""
        if not self.weighted:
            return self.total(m)
        out = sum(self.weights[c.name] * c.heads(self, m) for c in CATEGORIES)
        for pool in self.extra_pools.values():
            out = out + pool[m]
        return out

    def committed_heads(self, m: int | slice) -> dict[str, np.ndarray]:
        """:meth:`committed` by staff category: heads of mission m already ordered out
        by name (pending expulsions), per run."""
        committed: dict[str, np.ndarray] = {}
        for instrument in self._committing:
            for name, heads in instrument.pending_heads(self, m).items():
                committed[name] = committed[name] + heads if name in committed else heads
        return committed

    def net_equivalents(self, m: int) -> np.ndarray:
        """Mission m's staff-equivalents net of the staff already ordered out by name
        (:meth:`net_total` weighted), per run."""
        out = self.equivalents(m)
        for name, heads in self.committed_heads(m).items():
            out = out - self.weights[name] * heads
        return out

    def pending_heads(self, m: int | slice) -> dict[str, np.ndarray]:
        """Heads of each category that the measures pending against mission m will
        remove at their deadlines (expulsions, closures, bans), per run."""
        out: dict[str, np.ndarray] = {}
        for instrument in self._hostile:
            for name, heads in instrument.pending_heads(self, m).items():
                out[name] = out[name] + heads if name in out else heads
        return out

    def net_heads(self, m: int | slice, exempt_consulates: bool = False) -> np.ndarray:
        """Mission m's staff net of what the measures pending against it will remove,
        per run; without consulate staff if ``exempt_consulates`` (what a parity cap
        equals)."""
        pending = self.pending_heads(m)
        out = 0
        for c in CATEGORIES:
            if exempt_consulates and c.name == "consulate_staff":
                continue
            heads = c.heads(self, m)
            if c.name in pending:
                heads = np.maximum(heads - pending[c.name], 0)
            out = out + heads
        for pool in self.extra_pools.values():
            out = out + pool[m]
        return out

    def parity_level(self, m: int, exempt_consulates: bool = False) -> np.ndarray:
        """The level of a parity cap on mission m: its counterpart's staff net of the
        measures pending against it, per run (``NO_LIMIT`` without a counterpart)."""
        other = int(self.counterpart[m])
        if other < 0:
            return np.full(self.n_runs, NO_LIMIT, dtype=np.int64)
        return np.asarray(self.net_heads(other, exempt_consulates), dtype=np.int64)

    def restricted(self, m: int) -> np.ndarray:
        """Runs in which a liftable restriction (cap, ban, visa denial...) holds on m."""
        out = np.zeros(self.n_runs, dtype=bool)
        for instrument in instruments.liftable():
            out |= instrument.restricts(self, m)
        return out

    # ------------------------------------------------------------ announcing
    def feasible(self, m: int) -> dict[int, np.ndarray]:
        """Which instruments can still bite on mission m, per run (by code)."""
        return {i.code: i.feasible(self, m) for i in self._hostile}

    def announce(
        self,
        m: int,
        kind: np.ndarray,
        count: np.ndarray,
        deadline: int,
        runs: np.ndarray | slice = slice(None),
        hostile: bool = True,
        options: dict | None = None,
    ) -> np.ndarray:
        """Announce hostile measures on mission m; return their size in staff-equivalents.

        ``kind`` (instrument codes) and ``count`` (the instrument's amount: staff, posts,
        a level or a rate) are arrays over the selected ``runs``; ``kind == 0`` means
        nothing. ``hostile=False`` marks a state's measure on its own mission (it
        changes staff but is nobody's hostile act). ``options`` are a scenario event's
        fields beyond its amount (an expulsion's ``category``, a cap's ``parity``...).
        """
        slot = deadline % self.depth
        size = np.zeros(np.shape(kind))
        total = self.total(m)[runs]
        if self.reached:
            self.reached = {}
        ctx = {
            "total": total,
            "net_total": total - self.committed(m)[runs],
            "options": options or {},
        }
        for instrument in self._hostile:
            where = kind == instrument.code
            if where.any():
                size += instrument.announce(self, m, where, count, slot, runs, not hostile, ctx)
        if hostile:
            counted = (kind != 0).astype(np.int16)
            self.p_hostile[slot, m, runs] += counted
            self.pending_hostile[m, runs] += counted
        return size

    def restorable(self, m: int) -> np.ndarray:
        """Staff that a restore could still bring back: removed, not yet restored or pending."""
        return self.removed[m] - self.restored[m] - self.pending_restore[m]

    def restore(self, m: int, count: np.ndarray, deadline: int, runs=slice(None)) -> None:
        """Let ``count`` staff return at the deadline (never more than measures removed)."""
        slot = deadline % self.depth
        count = np.maximum(count, 0).astype(np.int32)
        self.p_restore[slot, m, runs] += count
        self.pending_restore[m, runs] += count

    def cancel(self, m: int, runs: np.ndarray) -> np.ndarray:
        """Cancel every pending hostile measure on mission m in the selected runs (bool mask).

        Returns the staff-equivalents cancelled (the expulsions and closures called off).
        The sender's own measures on the mission (``hostile=False``) stay pending.
        """
        cols = np.nonzero(runs)[0]
        # Staff-equivalents are whole only when every weight is 1.
        dtype = float if self.weighted else np.int64
        called_off = np.zeros(np.shape(runs), dtype=dtype)
        off = np.zeros(len(cols), dtype=dtype)
        for instrument in self._hostile:
            off = off + instrument.cancel(self, m, cols)
        called_off[cols] = off
        self.p_hostile[:, m, cols] = 0
        self.pending_hostile[m, cols] = 0
        return called_off

    def lift(self, m: int, runs: np.ndarray) -> np.ndarray:
        """Lift one restriction on mission m where one holds, in the registry's order
        (visa denial, else ban, else cap). Returns the runs in which something was
        lifted. Lifting allows staff back but adds none; a ``restore`` does that."""
        left = runs.copy()
        self.lifted = {}
        for instrument in instruments.liftable():
            here = left & instrument.restricts(self, m)
            instrument.lift(self, m, here)
            self.lifted[instrument.code] = here
            left &= ~here
        return runs & ~left

    # -------------------------------------------------------------- effects
    def apply_due(self, step: int) -> np.ndarray:
        """Apply every effect whose deadline is ``step``; return hostile measures executed.

        Each instrument first carries out what falls due (in registration order), then
        each enforces its standing restriction; restores arrive last.
        """
        slot = step % self.depth
        before = self.totals()
        executed = self.p_hostile[slot].astype(np.int32)

        track = self.track_effects
        # What each instrument removed (missions, runs), for the event record; only the
        # instruments that removed someone this step are noted.
        effects: dict = {}

        def note(instrument, removed) -> None:
            if track and removed.any():
                effects[instrument.code if instrument != "restore" else "restore"] = removed.astype(
                    np.int64
                )

        for instrument in self._hostile:
            instrument.take_effect(self, slot, note)
        self.pending_hostile -= executed
        for instrument in self._hostile:
            instrument.enforce(self, note)
        self.removed += np.maximum(before - self.totals(), 0)

        # Staff restored arrive, but never above a cap, nor into a suspended mission, nor
        # more than measures removed (so that mutual restores cannot grow missions forever).
        arriving = self.p_restore[slot]
        self.pending_restore -= arriving
        totals = self.totals()
        room = np.full_like(totals, NO_LIMIT)
        for instrument in self._hostile:
            room = instrument.room(self, room, totals)
        back = np.minimum(np.minimum(arriving, room), self.removed - self.restored)
        self.diplomats += back.astype(np.int32)
        self.restored += back
        note("restore", back)
        self.effects = effects
        self.p_restore[slot] = 0
        self.p_hostile[slot] = 0
        for instrument in self._hostile:
            instrument.clear(self, slot)
        return executed
