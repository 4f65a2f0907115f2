"""Consulate closure: posts shut at the deadline, with their staff."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from sim.engine.instruments import hostile, register_instrument
from sim.engine.instruments.base import MAX_STAFF, EventField, Instrument
from sim.engine.kinds import NO_LIMIT


@register_instrument
class CloseConsulate(Instrument):
    """Close ``size`` consulates (default one); each takes ``staff_per_consulate``."""

    name = "close_consulate"
    code = 4
    doc = "close consulates (size: how many posts, default 1)"
    fields: ClassVar[dict[str, EventField]] = {
        "size": EventField("size", "int", False, default=1, low=1, high=MAX_STAFF, doc="posts")
    }
    amount_field = "size"
    counts_heads = True
    category = "consulate_staff"
    categories = ("consulate_staff",)

    def allocate(self, missions):
        missions.p_posts = missions.pending(np.int32, 0, "add")
        missions.pending_posts = np.zeros((missions.n_missions, missions.n_runs), dtype=np.int32)

    def feasible(self, missions, m):
        return ~missions.suspended[m] & (missions.posts[m] - missions.pending_posts[m] > 0)

    def amount_for(self, missions, m, count):
        # Enough posts to remove ``count`` staff, and at least one.
        if missions.weighted:
            # ``count`` staff-equivalents; a post is worth its staff at their weight (the
            # slack keeps 12 at 0.1 a head from needing 121 heads).
            per_post = np.maximum(missions.per_post[m], 1) * missions.weight("consulate_staff")
            return np.maximum(np.ceil(count / per_post - 1e-9), 1)
        return np.maximum(np.ceil(count / np.maximum(missions.per_post[m], 1)), 1)

    def announce(self, missions, m, where, amount, slot, runs, own, ctx):
        avail = (missions.posts[m] - missions.pending_posts[m])[runs]
        k = np.where(where, np.minimum(amount, np.maximum(avail, 0)), 0).astype(np.int32)
        missions.p_posts.put(slot, m, runs, k, own)
        missions.pending_posts[m, runs] += k
        heads = k * np.maximum(missions.per_post[m], 1)
        if not missions.weighted:
            return heads
        missions.reached[self.code] = heads
        return heads * missions.weight("consulate_staff")

    def take_effect(self, missions, slot, note):
        posts = missions.p_posts.due(slot)
        if posts.any():
            closing = np.minimum(posts, missions.posts)
            missions.posts -= closing
            missions.pending_posts -= posts
            note(self, closing * missions.per_post)

    def clear(self, missions, slot):
        missions.p_posts.clear(slot)

    def pending_staff(self, missions, m):
        heads = missions.pending_posts[m] * np.maximum(missions.per_post[m], 1)
        return heads * missions.weight("consulate_staff") if missions.weighted else heads

    def pending_heads(self, missions, m):
        return {"consulate_staff": missions.pending_posts[m] * missions.per_post[m]}

    def cancel(self, missions, m, cols):
        own = missions.p_posts.own_total(m, cols)
        called_off = (missions.pending_posts[m, cols] - own) * np.maximum(
            missions.per_post[m, 0], 1
        )
        missions.p_posts.cancel(m, cols)
        missions.pending_posts[m, cols] = own
        if missions.weighted:
            return called_off * missions.weight("consulate_staff")
        return called_off

    def record_amount(self, size, amount, per_post):
        return size / per_post

    def end_temporary(self, missions, m, where, announced, removed, deadline):
        # The posts it closed reopen with their staff, as far as restores could come
        # back: never more posts than it closed, never above a cap (whole posts), never
        # into a suspended mission.
        per = missions.per_post[m]
        # ``announced`` is in staff-equivalents: each post counted its staff (at least
        # one) at the consulate staff's weight.
        weight = missions.weight("consulate_staff") if missions.weighted else 1.0
        closed = np.floor(announced / (np.maximum(per, 1) * weight) + 1e-9)
        closed = np.where(per > 0, np.minimum(closed, removed // np.maximum(per, 1)), closed)
        totals = missions.totals()
        room = np.full_like(totals, NO_LIMIT)
        for instrument in hostile():
            room = instrument.room(missions, room, totals)
        closed = np.where(per > 0, np.minimum(closed, room[m] // np.maximum(per, 1)), closed)
        posts = np.where(where & ~missions.suspended[m], closed, 0).astype(np.int32)
        missions.posts[m] += posts
        back = posts.astype(np.int64) * per
        missions.restored[m] += back
        return back, np.zeros_like(back)

    def describe(self, amount, size):
        return f"closes {amount:g} consulate{'s' if amount != 1 else ''}"
