"""The conciliatory moves: cancel, lift, restore, and a conditional offer (a settlement
at agreed levels is in settle.py, an ultimatum, its dual, in ultimatum.py).

A state's policy makes them through the engine (cancel what is pending, else lift a
restriction, else restore staff: :meth:`EscalationModel._conciliate`); these classes
declare them for the scenario reader, the record and the story, and carry out a
scenario's own conciliatory events.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from sim.engine import event_record as er
from sim.engine.instruments import liftable, register_instrument
from sim.engine.instruments.base import MAX_STAFF, EventField, Instrument


class _Move(Instrument):
    hostile = False


@register_instrument
class Cancel(_Move):
    """Call off every measure the actor has pending against the mission. If the
    counterpart had made an offer, this accepts it: its own pending measures go too."""

    name = "cancel"
    code = 7
    doc = "cancel the actor's pending measures against the mission (no fields)"

    def carry_out(self, model, event, m, t, observed):
        everywhere = np.ones(model.n_runs, dtype=bool)
        had_pending = model.missions.pending_hostile[m] > 0
        called_off = model._cancel(m, everywhere, t)
        rows = model._log_move(m, t, everywhere, self.code, called_off, er.EVENT,
                               **model._event_actor(event))  # fmt: skip
        rel = model.relation(event.actor, event.target)
        if observed and rel is not None and rel.act_m == m:
            model._accept_offer(rel, had_pending, t, rows)
        return rows, np.maximum(called_off, 1).astype(float)

    def describe(self, amount, size):
        return f"cancels its pending measures ({amount:g} staff called off)"


@register_instrument
class Lift(_Move):
    """Lift a standing restriction (named by ``lifts``): staff may come back, though
    none is added (a restore does that)."""

    name = "lift"
    code = 8
    doc = "lift a restriction (lifts: cap, ban_local_hires or visa_denial)"
    fields: ClassVar[dict[str, EventField]] = {
        "lifts": EventField("lifts", "liftable", True, doc="the restriction lifted")
    }

    def carry_out(self, model, event, m, t, observed):
        everywhere = np.ones(model.n_runs, dtype=bool)
        restriction = next(i for i in liftable() if i.name == event.lifts)
        restriction.lift(model.missions, m, everywhere)
        model.log.lift(m, {restriction.code: everywhere}, t)
        rows = model._log_move(m, t, everywhere, self.code, 0.0, er.EVENT,
                               **model._event_actor(event))  # fmt: skip
        return rows, np.ones(model.n_runs)

    def describe(self, amount, size):
        return "lifts a restriction"


@register_instrument
class Restore(_Move):
    """Let ``size`` staff return at the deadline (never more than measures removed,
    nor above a cap, nor into a suspended mission)."""

    name = "restore"
    code = 9
    doc = "let staff return (size)"
    fields: ClassVar[dict[str, EventField]] = {
        "size": EventField("size", "int", True, low=1, high=MAX_STAFF, doc="staff")
    }
    amount_field = "size"

    def carry_out(self, model, event, m, t, observed):
        n = model.n_runs
        model.missions.restore(m, np.full(n, event.size), event.deadline_step)
        rows = model._log_move(
            m, t, np.ones(n, dtype=bool), self.code, float(event.size), er.EVENT,
            deadline=event.deadline_step, fate=er.PENDING, waits=True,
            **model._event_actor(event),
        )  # fmt: skip
        return rows, np.full(n, float(event.size))

    def describe(self, amount, size):
        return f"lets {amount:g} staff return"


@register_instrument
class Offer(_Move):
    """Offer to withdraw the actor's pending measures if the counterpart withdraws its
    own; it lapses once a pending measure of either side takes effect."""

    name = "offer"
    code = 10
    doc = "offer to cancel if the counterpart cancels (no fields)"
    # A proposal, which undoes nothing: it does not meet an ultimatum's demand.
    reverses = False

    def carry_out(self, model, event, m, t, observed):
        size = np.maximum(model.missions.pending_staff(m), 1).astype(float)
        everywhere = np.ones(model.n_runs, dtype=bool)
        rows = model._log_move(m, t, everywhere, self.code, size, er.EVENT, fate=er.PENDING,
                               **model._event_actor(event))  # fmt: skip
        rel = model.relation(event.actor, event.target)
        if rel is not None:
            rel.offer_open[:] = True
            rel.offer_row = rows
        return rows, size

    def describe(self, amount, size):
        return "offers to cancel if the other side cancels"
