"""Measures on embassy staff, and the missions' staff with their pending deadlines.

Every mission's state is a set of integer arrays with a leading mission axis and a
trailing run axis. A measure is announced in one step and takes effect at its
deadline; pending effects sit in ring buffers indexed by ``deadline % depth``
(``design-notes.md`` §2), so announcing, cancelling and applying are array
operations with no Python object per measure.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

__all__ = [
    "CONCILIATORY_KINDS",
    "HOSTILE_KINDS",
    "NO_LIMIT",
    "VISA_SPAN",
    "Kind",
    "Missions",
    "whole_staff",
]

#: Stands for "no cap" / "no ceiling on local staff".
NO_LIMIT = np.iinfo(np.int32).max

#: A visa denial of rate r is counted as r * VISA_SPAN staff-equivalents (half a year
#: of weekly departures) when policies compare it with other measures.
VISA_SPAN = 26


def whole_staff(size: np.ndarray) -> np.ndarray:
    """Whole staff in a response of ``size`` staff-equivalents: rounded down.

    Rounding down makes the proportional exchange die out exactly when the product of
    the two ratios is below one, as in the continuous Richardson process: each round
    trip then strictly lowers a whole number. (Rounding half-to-even would keep a size
    of 1 alive under a ratio of 0.6.) The slack absorbs floating-point error, so that
    3 * (1/3) is 1.
    """
    return np.floor(np.asarray(size, dtype=float) + 1e-9)


class Kind(IntEnum):
    """Measure kinds. Hostile kinds are ordered roughly by severity."""

    NONE = 0
    EXPEL = 1
    CAP = 2
    BAN_LOCAL_HIRES = 3
    CLOSE_CONSULATE = 4
    VISA_DENIAL = 5
    SUSPEND = 6
    CANCEL = 7
    LIFT = 8
    RESTORE = 9
    OFFER = 10

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def from_label(cls, label: str) -> Kind:
        return cls[label.upper()]


HOSTILE_KINDS = (
    Kind.EXPEL,
    Kind.CAP,
    Kind.BAN_LOCAL_HIRES,
    Kind.CLOSE_CONSULATE,
    Kind.VISA_DENIAL,
    Kind.SUSPEND,
)
CONCILIATORY_KINDS = (Kind.CANCEL, Kind.LIFT, Kind.RESTORE, Kind.OFFER)

#: Pending-effect buffers a cancellation empties, with their empty value.
_CANCELLABLE = {
    "p_expel": 0,
    "p_posts": 0,
    "p_cap": NO_LIMIT,
    "p_ceiling": NO_LIMIT,
    "p_visa": 0.0,
    "p_suspend": False,
}
#: Slack when whole departures are taken out of an accumulated visa-denial rate, so that
#: ten steps at rate 0.1 (which sum to 0.9999999999999999 in floating point) make one.
_CARRY_EPS = 1e-9


class Missions:
    """Staff of every mission in every run, and the measures pending against them.

    Parameters
    ----------
    initial:
        Per mission: diplomats, local_staff, consulates, staff_per_consulate, cap,
        local_hire_ceiling (``NO_LIMIT`` for none).
    runs:
        Number of runs in the block.
    depth:
        Ring-buffer depth: one more than the longest deadline in steps.
    """

    def __init__(self, initial: list[dict[str, int]], runs: int, depth: int) -> None:
        m = len(initial)
        self.depth = depth

        def column(key: str) -> np.ndarray:
            values = np.array([mission[key] for mission in initial], dtype=np.int32)
            return np.repeat(values[:, None], runs, axis=1)

        self.diplomats = column("diplomats")
        self.local = column("local_staff")
        self.posts = column("consulates")
        self.per_post = np.array([mi["staff_per_consulate"] for mi in initial], dtype=np.int32)[
            :, None
        ]
        self.cap = column("cap")
        self.ceiling = column("local_hire_ceiling")
        self.visa_rate = np.zeros((m, runs))
        self.visa_carry = np.zeros((m, runs))
        self.suspended = np.zeros((m, runs), dtype=bool)
        # Pending effects, slot = deadline % depth.
        self.p_expel = np.zeros((depth, m, runs), dtype=np.int32)
        self.p_restore = np.zeros((depth, m, runs), dtype=np.int32)
        self.p_posts = np.zeros((depth, m, runs), dtype=np.int32)
        self.p_cap = np.full((depth, m, runs), NO_LIMIT, dtype=np.int32)
        self.p_ceiling = np.full((depth, m, runs), NO_LIMIT, dtype=np.int32)
        self.p_visa = np.zeros((depth, m, runs))
        self.p_suspend = np.zeros((depth, m, runs), dtype=bool)
        self.p_hostile = np.zeros((depth, m, runs), dtype=np.int16)  # hostile measures per slot
        # Running sums over the ring, so feasibility and "anything pending?" cost O(m*runs).
        self.pending_hostile = np.zeros((m, runs), dtype=np.int32)
        self.pending_expel = np.zeros((m, runs), dtype=np.int32)
        self.pending_posts = np.zeros((m, runs), dtype=np.int32)
        self.pending_visa = np.zeros((m, runs), dtype=np.int32)
        self.pending_restore = np.zeros((m, runs), dtype=np.int64)
        self.removed = np.zeros((m, runs), dtype=np.int64)  # staff removed by measures
        self.restored = np.zeros((m, runs), dtype=np.int64)  # staff brought back by restores
        # A state's measures on its own missions (``hostile=False``) are also recorded
        # here, apart, so that cancelling the host's hostile measures leaves them pending.
        # Allocated only when the scenario has such a measure.
        self._own: dict[str, np.ndarray] | None = None
        #: With ``track_effects``, apply_due leaves in ``effects`` the staff each
        #: mechanism removed (by Kind) and restores brought back ("restore") that step,
        #: as (missions, runs) arrays, for the event record.
        self.track_effects = False
        self.effects: dict = {}
        #: Which kind of restriction the last ``lift`` lifted, per run.
        self.lifted: dict[Kind, np.ndarray] = {}

    def _buffers(self, name: str, hostile: bool) -> list[np.ndarray]:
        """The pending buffers an announcement writes to."""
        if hostile:
            return [getattr(self, name)]
        if self._own is None:
            self._own = {
                key: np.full_like(getattr(self, key), empty) for key, empty in _CANCELLABLE.items()
            }
        return [getattr(self, name), self._own[name]]

    # ------------------------------------------------------------------ views
    def total(self, m: int | slice = slice(None)) -> np.ndarray:
        return self.diplomats[m] + self.local[m] + self.posts[m] * self.per_post[m]

    def totals(self) -> np.ndarray:
        return self.diplomats + self.local + self.posts * self.per_post

    def restricted(self, m: int) -> np.ndarray:
        """Runs in which a cap, local-hire ban or visa denial holds on mission m."""
        return (self.cap[m] < NO_LIMIT) | (self.ceiling[m] < NO_LIMIT) | (self.visa_rate[m] > 0)

    # ------------------------------------------------------------ announcing
    def feasible(self, m: int) -> dict[Kind, np.ndarray]:
        """Which instruments can still bite on mission m, per run."""
        open_ = ~self.suspended[m]
        total = self.total(m)
        return {
            Kind.EXPEL: open_ & (self.diplomats[m] - self.pending_expel[m] > 0),
            Kind.CAP: open_ & (total > 0),
            Kind.BAN_LOCAL_HIRES: open_ & (np.minimum(self.local[m], self.ceiling[m]) > 0),
            Kind.CLOSE_CONSULATE: open_ & (self.posts[m] - self.pending_posts[m] > 0),
            Kind.VISA_DENIAL: open_
            & (self.visa_rate[m] == 0)
            & (self.pending_visa[m] == 0)
            & (self.diplomats[m] > 0),
            Kind.SUSPEND: open_ & (total > 0),
        }

    def announce(
        self,
        m: int,
        kind: np.ndarray,
        count: np.ndarray,
        deadline: int,
        runs: np.ndarray | slice = slice(None),
        hostile: bool = True,
    ) -> np.ndarray:
        """Announce hostile measures on mission m; return their size in staff-equivalents.

        ``kind`` (Kind codes) and ``count`` (whole staff; posts for consulate closures,
        a level for caps and bans, staff per step for visa denials, ignored for
        suspension) are arrays over the selected ``runs``; ``kind == 0`` means nothing.
        ``hostile=False`` marks a state's measure on its own mission (it changes staff
        but is nobody's hostile act).
        """
        slot = deadline % self.depth
        size = np.zeros(np.shape(kind))
        total = self.total(m)[runs]
        # What a cap removes is counted net of the expulsions already pending.
        net_total = total - self.pending_expel[m][runs]

        sel = kind == Kind.EXPEL
        if sel.any():
            avail = (self.diplomats[m] - self.pending_expel[m])[runs]
            n = np.where(sel, np.minimum(count, np.maximum(avail, 0)), 0)
            for buf in self._buffers("p_expel", hostile):
                buf[slot, m, runs] += n.astype(np.int32)
            self.pending_expel[m, runs] += n.astype(np.int32)
            size += n
        sel = kind == Kind.CAP
        if sel.any():
            level = np.where(sel, np.maximum(count, 0), NO_LIMIT).astype(np.int32)
            for buf in self._buffers("p_cap", hostile):
                buf[slot, m, runs] = np.minimum(buf[slot, m, runs], level)
            size += np.where(sel, np.maximum(net_total - level, 0), 0)
        sel = kind == Kind.BAN_LOCAL_HIRES
        if sel.any():
            level = np.where(sel, np.maximum(count, 0), NO_LIMIT).astype(np.int32)
            for buf in self._buffers("p_ceiling", hostile):
                buf[slot, m, runs] = np.minimum(buf[slot, m, runs], level)
            local = np.minimum(self.local[m], self.ceiling[m])[runs]
            size += np.where(sel, np.maximum(local - level, 0), 0)
        sel = kind == Kind.CLOSE_CONSULATE
        if sel.any():
            avail = (self.posts[m] - self.pending_posts[m])[runs]
            k = np.where(sel, np.minimum(count, np.maximum(avail, 0)), 0).astype(np.int32)
            for buf in self._buffers("p_posts", hostile):
                buf[slot, m, runs] += k
            self.pending_posts[m, runs] += k
            size += k * np.maximum(self.per_post[m], 1)
        sel = kind == Kind.VISA_DENIAL
        if sel.any():
            rate = np.where(sel, count, 0.0)
            # The counter counts slots holding a pending denial (a slot keeps the largest).
            newly = sel & (self.p_visa[slot, m, runs] == 0) & (rate > 0)
            for buf in self._buffers("p_visa", hostile):
                buf[slot, m, runs] = np.maximum(buf[slot, m, runs], rate)
            self.pending_visa[m, runs] += newly.astype(np.int32)
            size += rate * VISA_SPAN
        sel = kind == Kind.SUSPEND
        if sel.any():
            for buf in self._buffers("p_suspend", hostile):
                buf[slot, m, runs] |= sel
            size += np.where(sel, total, 0)
        if hostile:
            counted = (kind != Kind.NONE).astype(np.int16)
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
        own = self._own
        if own is None:
            own_expel = own_posts = 0
        else:
            own_expel = own["p_expel"][:, m, cols].sum(axis=0)
            own_posts = own["p_posts"][:, m, cols].sum(axis=0)
        called_off = np.zeros(np.shape(runs), dtype=np.int64)
        called_off[cols] = (self.pending_expel[m, cols] - own_expel) + (
            self.pending_posts[m, cols] - own_posts
        ) * np.maximum(self.per_post[m, 0], 1)
        for name, empty in _CANCELLABLE.items():
            buf = getattr(self, name)
            buf[:, m, cols] = empty if own is None else own[name][:, m, cols]
        self.p_hostile[:, m, cols] = 0
        self.pending_hostile[m, cols] = 0
        self.pending_expel[m, cols] = own_expel
        self.pending_posts[m, cols] = own_posts
        own_visa = 0 if own is None else (own["p_visa"][:, m, cols] > 0).sum(axis=0)
        self.pending_visa[m, cols] = own_visa
        return called_off

    def lift(self, m: int, runs: np.ndarray) -> np.ndarray:
        """Lift one restriction on mission m where one holds: visa denial, else ban, else cap.

        Returns the runs in which something was lifted. Lifting allows staff back but
        adds none; a ``restore`` does that.
        """
        visa = runs & (self.visa_rate[m] > 0)
        self.visa_rate[m] = np.where(visa, 0.0, self.visa_rate[m])
        ban = runs & ~visa & (self.ceiling[m] < NO_LIMIT)
        self.ceiling[m] = np.where(ban, NO_LIMIT, self.ceiling[m])
        cap = runs & ~visa & ~ban & (self.cap[m] < NO_LIMIT)
        self.cap[m] = np.where(cap, NO_LIMIT, self.cap[m])
        self.lifted = {Kind.VISA_DENIAL: visa, Kind.BAN_LOCAL_HIRES: ban, Kind.CAP: cap}
        return visa | ban | cap

    # -------------------------------------------------------------- effects
    def apply_due(self, step: int) -> np.ndarray:
        """Apply every effect whose deadline is ``step``; return hostile measures executed."""
        slot = step % self.depth
        before = self.totals()
        executed = self.p_hostile[slot].astype(np.int32)

        track = self.track_effects
        # What each mechanism removed (missions, runs), for the event record; only the
        # mechanisms that removed someone this step are noted.
        effects: dict = {}

        def note(kind, removed) -> None:
            if track and removed.any():
                effects[kind] = removed.astype(np.int64)

        expel = self.p_expel[slot]
        if expel.any():
            leaving = np.minimum(expel, self.diplomats)
            self.diplomats -= leaving
            self.pending_expel -= expel
            note(Kind.EXPEL, leaving)
        posts = self.p_posts[slot]
        if posts.any():
            closing = np.minimum(posts, self.posts)
            self.posts -= closing
            self.pending_posts -= posts
            note(Kind.CLOSE_CONSULATE, closing * self.per_post)
        self.ceiling = np.minimum(self.ceiling, self.p_ceiling[slot])
        local = np.minimum(self.local, self.ceiling)
        note(Kind.BAN_LOCAL_HIRES, self.local - local)
        self.local = local
        self.cap = np.minimum(self.cap, self.p_cap[slot])
        self.pending_visa -= (self.p_visa[slot] > 0).astype(np.int32)
        self.visa_rate = np.maximum(self.visa_rate, self.p_visa[slot])
        self.suspended |= self.p_suspend[slot]
        self.pending_hostile -= executed

        # Departures under a visa denial: fractions carry over to the next step.
        if self.visa_rate.any():
            self.visa_carry += np.where(self.suspended, 0.0, self.visa_rate)
            whole = np.floor(self.visa_carry + _CARRY_EPS)
            leaving = np.minimum(whole, self.diplomats).astype(np.int32)
            self.diplomats -= leaving
            self.visa_carry -= whole
            note(Kind.VISA_DENIAL, leaving)

        staff = self.totals()
        if (staff > self.cap).any():
            self._enforce_cap()
            after = self.totals()
            note(Kind.CAP, staff - after)
            staff = after
        if self.suspended.any():
            self.diplomats[self.suspended] = 0
            self.local[self.suspended] = 0
            self.posts[self.suspended] = 0
            note(Kind.SUSPEND, np.where(self.suspended, staff, 0))
        self.removed += np.maximum(before - self.totals(), 0)

        # Staff restored arrive, but never above a cap, nor into a suspended mission, nor
        # more than measures removed (so that mutual restores cannot grow missions forever).
        arriving = self.p_restore[slot]
        self.pending_restore -= arriving
        room = np.where(self.suspended, 0, np.maximum(self.cap - self.totals(), 0))
        back = np.minimum(np.minimum(arriving, room), self.removed - self.restored)
        self.diplomats += back.astype(np.int32)
        self.restored += back
        note("restore", back)
        self.effects = effects
        for buf, empty in (
            (self.p_expel, 0),
            (self.p_restore, 0),
            (self.p_posts, 0),
            (self.p_cap, NO_LIMIT),
            (self.p_ceiling, NO_LIMIT),
            (self.p_visa, 0),
            (self.p_suspend, False),
            (self.p_hostile, 0),
        ):
            buf[slot] = empty
        if self._own is not None:
            for name, empty in _CANCELLABLE.items():
                self._own[name][slot] = empty
        return executed

    def _enforce_cap(self) -> None:
        """Cut every mission above its cap: local staff leave first, then diplomats, then posts."""
        excess = self.totals() - self.cap
        if not (excess > 0).any():
            return
        excess = np.maximum(excess, 0)
        cut = np.minimum(excess, self.local)
        self.local -= cut
        excess -= cut
        cut = np.minimum(excess, self.diplomats)
        self.diplomats -= cut
        excess -= cut
        per = np.maximum(self.per_post, 1)
        closing = np.minimum(-(-excess // per), self.posts)
        self.posts -= closing.astype(np.int32)
