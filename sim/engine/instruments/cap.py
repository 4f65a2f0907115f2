"""A cap on a mission's total staff, or on its staff outside consulates; its level given,
or that of the counterpart's mission (a parity cap), possibly held as it shrinks.

Russia's cap of 455 in 2017 was set "in the spirit of parity" with the Russian staff
in the US, embassy and consulates together (A5 in ``expulsions_timeline.md``); its
demand of March 2018 was that the British embassy and consulate equal the Russian
"diplomats and administrative and technical staff" in the UK (B5).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from sim.engine.categories import category
from sim.engine.instruments import register_instrument
from sim.engine.instruments.base import MAX_STAFF, EventField, Instrument
from sim.engine.kinds import NO_LIMIT

#: Slack when a decision in staff-equivalents is turned into whole heads.
_HEADS_EPS = 1e-9


class _CapVariants:
    """Caps that exempt consulates, and parity caps held in force: made at the first
    one announced, so that the plain cap's path costs nothing more."""

    def __init__(self, missions) -> None:
        shape = (missions.n_missions, missions.n_runs)
        #: The cap on staff outside consulates (``NO_LIMIT``: none).
        self.outside = np.full(shape, NO_LIMIT, dtype=np.int32)
        self.p_outside = missions.pending(np.int32, NO_LIMIT, "min")
        #: Where a held parity cap is in force (on all staff, on staff outside
        #: consulates): the level is the counterpart's, read every step.
        self.held = np.zeros(shape, dtype=bool)
        self.held_outside = np.zeros(shape, dtype=bool)
        self.p_held = missions.pending(bool, False, "or")
        self.p_held_outside = missions.pending(bool, False, "or")

    def rings(self):
        return (self.p_outside, self.p_held, self.p_held_outside)


@register_instrument
class Cap(Instrument):
    """Cap the mission's staff at ``level`` from the deadline. Above the cap, local
    staff leave first, then administrative and technical staff, then diplomats, then
    whole consulates; it holds until lifted.

    A scenario's cap may instead count and cut only the staff outside consulates
    (``exempt_consulates``), take its level from the counterpart's mission (``parity``:
    the mission of this mission's host in its sender, net of the measures pending
    against it when the cap is announced, in the same categories) and, with ``hold``,
    follow that level every step until lifted. With ``parity`` a ``level`` given too is
    an upper bound.
    """

    name = "cap"
    code = 2
    doc = "cap the mission's staff (level, or parity with the counterpart's mission)"
    fields: ClassVar[dict[str, EventField]] = {
        "level": EventField(
            "level", "int", False, default=None, low=0, high=MAX_STAFF,
            doc="staff (required unless parity = true)",
        ),
        "exempt_consulates": EventField(
            "exempt_consulates", "bool", False, default=False,
            doc="count and cut only the staff outside consulates",
        ),
        "parity": EventField(
            "parity", "bool", False, default=False,
            doc="the level is the counterpart mission's, net of measures pending against it",
        ),
        "hold": EventField(
            "hold", "bool", False, default=False,
            doc="with parity: the level follows the counterpart's every step until lifted",
        ),
    }  # fmt: skip
    amount_field = "level"
    liftable = True
    lift_priority = 2
    #: The order a cap cuts staff in (its categories); consulate staff go by whole posts.
    categories = ("local_staff", "admin_technical", "diplomats", "consulate_staff")

    def allocate(self, missions):
        missions.cap = missions.column("cap", NO_LIMIT)
        missions.p_cap = missions.pending(np.int32, NO_LIMIT, "min")
        missions.cap_variants = None

    def _variants(self, missions) -> _CapVariants:
        if missions.cap_variants is None:
            missions.cap_variants = _CapVariants(missions)
        return missions.cap_variants

    def check_event_in_context(self, values, context):
        options = values.get("options", {})
        parity, hold = options.get("parity"), options.get("hold")
        problems = []
        if parity is False and "level" not in context["given"]:
            problems.append((
                "level",
                f"required: expected an integer >= 0 and <= {MAX_STAFF:,}, or parity = true "
                "(the level of the counterpart's mission)",
            ))  # fmt: skip
        if hold and parity is False:
            problems.append(("hold", "expected parity = true with hold = true (hold keeps "
                                     "a parity cap at the counterpart's level)"))  # fmt: skip
        if parity and context["counterpart"] is None:
            sender, host = context["sender"], context["host"]
            problems.append((
                "parity",
                f"expected a counterpart mission to take the level from (sender {host!r}, "
                f"host {sender!r}), found none in the scenario's missions",
            ))  # fmt: skip
        return problems

    def event_amount(self, event):
        # A parity cap may come without a level: the counterpart's is then the only one.
        return NO_LIMIT if event.level is None else event.level

    def feasible(self, missions, m):
        return ~missions.suspended[m] & (missions.total(m) > 0)

    def amount_for(self, missions, m, count):
        if not missions.weighted:
            return np.maximum(missions.net_total(m) - count, 0)
        # ``count`` staff-equivalents: the heads they are worth in the order the cap
        # cuts, each category at its weight.
        remaining = np.asarray(count, dtype=float)
        heads = np.zeros_like(remaining)
        for pool, weight in self._pools(missions, m, slice(None), exempt=False):
            take = np.minimum(pool, np.floor(remaining / weight + _HEADS_EPS))
            heads = heads + take
            remaining = remaining - take * weight
        heads = heads + np.floor(np.maximum(remaining, 0) + _HEADS_EPS)
        return np.maximum(missions.net_total(m) - heads, 0)

    def _pools(self, missions, m, runs, exempt: bool):
        """(heads net of pending expulsions, weight) of mission m per category it cuts,
        in the order it cuts them."""
        committed = missions.committed_heads(m)
        pools = []
        for name in self.categories:
            if exempt and name == "consulate_staff":
                continue
            heads = category(name).heads(missions, m)
            if name in committed:
                heads = np.maximum(heads - committed[name], 0)
            pools.append((heads[runs], missions.weight(name)))
        return pools

    def _size(self, missions, m, runs, excess, exempt: bool):
        """Staff-equivalents of cutting ``excess`` heads (net of pending expulsions)."""
        excess = np.maximum(excess, 0)
        if not missions.weighted:
            return excess
        size = np.zeros(np.shape(excess))
        for pool, weight in self._pools(missions, m, runs, exempt):
            cut = np.minimum(excess, pool)
            size = size + cut * weight
            excess = excess - cut
        # What no category holds is in plugins' pools, a head a staff-equivalent.
        return size + excess

    def announce(self, missions, m, where, amount, slot, runs, own, ctx):
        options = ctx["options"]
        exempt = bool(options.get("exempt_consulates", False))
        parity = bool(options.get("parity", False))
        # What a cap removes is counted net of the expulsions already pending.
        net = ctx["net_total"]
        if not (exempt or parity):
            level = np.where(where, np.maximum(amount, 0), NO_LIMIT).astype(np.int32)
            missions.p_cap.put(slot, m, runs, level, own)
            return np.where(where, self._size(missions, m, runs, net - level, False), 0)
        variants = self._variants(missions)
        asked = np.maximum(amount, 0)
        if exempt:
            net = net - (missions.posts[m] * missions.per_post[m])[runs]
        level = asked
        if parity:
            level = np.minimum(asked, missions.parity_level(m, exempt)[runs])
            missions.reached[self.code] = np.where(where, level, 0)
        level = np.where(where, level, NO_LIMIT).astype(np.int32)
        ring = variants.p_outside if exempt else missions.p_cap
        if parity and options.get("hold", False):
            # Held: the counterpart's level is read every step; only a level given
            # too stays as a cap of its own.
            ring.put(slot, m, runs, np.where(where, asked, NO_LIMIT).astype(np.int32), own)
            held = variants.p_held_outside if exempt else variants.p_held
            held.put(slot, m, runs, where, own)
        else:
            ring.put(slot, m, runs, level, own)
        return np.where(where, self._size(missions, m, runs, net - level, exempt), 0)

    def take_effect(self, missions, slot, note):
        missions.cap = np.minimum(missions.cap, missions.p_cap.due(slot))
        variants = missions.cap_variants
        if variants is not None:
            variants.outside = np.minimum(variants.outside, variants.p_outside.due(slot))
            variants.held |= variants.p_held.due(slot)
            variants.held_outside |= variants.p_held_outside.due(slot)

    def _levels(self, missions):
        """(missions, runs): the caps in force on all staff and on staff outside
        consulates, held parity caps read from the counterparts' missions now."""
        variants = missions.cap_variants
        cap, outside = missions.cap, variants.outside
        for held, exempt in ((variants.held, False), (variants.held_outside, True)):
            if not held.any():
                continue
            net = missions.net_heads(slice(None), exempt)
            parity = np.full(held.shape, NO_LIMIT, dtype=np.int64)
            has = missions.counterpart >= 0
            parity[has] = net[missions.counterpart[has]]
            if exempt:
                outside = np.where(held, np.minimum(outside, parity), outside)
            else:
                cap = np.where(held, np.minimum(cap, parity), cap)
        return cap, outside

    def enforce(self, missions, note):
        staff = current = missions.totals()
        if missions.cap_variants is None:
            cap = missions.cap
        else:
            cap, outside = self._levels(missions)
            consulates = missions.posts * missions.per_post
            # The cap outside consulates cuts only staff outside them.
            excess = np.maximum(staff - consulates - outside, 0)
            if excess.any():
                for pool in (missions.local, missions.admin_technical, missions.diplomats):
                    cut = np.minimum(excess, pool)
                    pool -= cut
                    excess -= cut
                current = missions.totals()
        if not (current > cap).any():
            if current is not staff:
                note(self, staff - current)
            return
        excess = np.maximum(current - cap, 0)
        cut = np.minimum(excess, missions.local)
        missions.local -= cut
        excess -= cut
        cut = np.minimum(excess, missions.admin_technical)
        missions.admin_technical -= cut
        excess -= cut
        cut = np.minimum(excess, missions.diplomats)
        missions.diplomats -= cut
        excess -= cut
        per = np.maximum(missions.per_post, 1)
        closing = np.minimum(-(-excess // per), missions.posts)
        missions.posts -= closing.astype(np.int32)
        note(self, staff - missions.totals())

    def room(self, missions, room, totals):
        if missions.cap_variants is None:
            return np.minimum(room, np.maximum(missions.cap - totals, 0))
        cap, outside = self._levels(missions)
        room = np.minimum(room, np.maximum(cap - totals, 0))
        consulates = missions.posts * missions.per_post
        return np.minimum(room, np.maximum(outside - (totals - consulates), 0))

    def clear(self, missions, slot):
        missions.p_cap.clear(slot)
        if missions.cap_variants is not None:
            for ring in missions.cap_variants.rings():
                ring.clear(slot)

    def cancel(self, missions, m, cols):
        missions.p_cap.cancel(m, cols)
        if missions.cap_variants is not None:
            for ring in missions.cap_variants.rings():
                ring.cancel(m, cols)
        return 0

    def restricts(self, missions, m):
        variants = missions.cap_variants
        if variants is None:
            return missions.cap[m] < NO_LIMIT
        return (
            (missions.cap[m] < NO_LIMIT)
            | (variants.outside[m] < NO_LIMIT)
            | variants.held[m]
            | variants.held_outside[m]
        )

    def lift(self, missions, m, where):
        missions.cap[m] = np.where(where, NO_LIMIT, missions.cap[m])
        variants = missions.cap_variants
        if variants is not None:
            variants.outside[m] = np.where(where, NO_LIMIT, variants.outside[m])
            variants.held[m] &= ~where
            variants.held_outside[m] &= ~where

    def describe(self, amount, size):
        return f"caps the mission at {amount:g}"
