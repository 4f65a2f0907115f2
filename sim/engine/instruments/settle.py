"""A settlement: both missions of a pair at one agreed level, which ends the round.

On 23 October 1986 the US declared a "cease-fire" in the expulsions once both sides
"evidently accepted the concept of parity" (the 1986 precedent under A.3 in
``../shared/data/expulsions_timeline.md``); Russia repeatedly offered to "reset to zero"
the restrictions on the missions (A.3, 2019-2022). An agreed level is what such a deal
fixes: the engine (:meth:`EscalationModel._settle`) cancels every pending hostile
measure on both missions, replaces both caps by the level from the deadline, lets staff
back up to it where a mission is below (as far as measures removed them), clears both
sides' grievance and queued decisions, and counts it as a conciliatory move by both.
Other standing restrictions stay: the Soviet ban on local staff of 1986 outlived the
cease-fire.
"""

from __future__ import annotations

from typing import ClassVar

from sim.engine.instruments import register_instrument
from sim.engine.instruments.base import MAX_STAFF, EventField, Instrument


@register_instrument
class Settle(Instrument):
    """Settle both missions of the actor-target pair at ``level`` from the deadline."""

    name = "settle"
    code = 12
    hostile = False
    doc = "settle both missions of the pair at an agreed level from the deadline (level)"
    fields: ClassVar[dict[str, EventField]] = {
        "level": EventField(
            "level", "int", True, low=0, high=MAX_STAFF, doc="staff of each mission"
        )
    }
    amount_field = "level"
    # Its rows account for the agreed cap's cuts and the returns at the deadline.
    record_effects_of = ("cap", "restore")

    def carry_out(self, model, event, m, t, observed):
        return model._settle(event, m, t, observed)

    def describe(self, amount, size):
        return f"settles both missions at {amount:g} staff"
