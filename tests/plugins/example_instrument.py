"""An instrument plugin: closing a cultural institute, with its staff.

Used by a scenario through ``--plugin tests.plugins.example_instrument`` (or an entry
point in ``escalation_sim.plugins``); nothing under ``sim/`` names it. See
docs/plugins.md, "An instrument plugin", and tests/test_instrument_plugin.py.

A mission may have a cultural institute (the British Council's offices in Russia, closed
in 2018 with the Skripal expulsions): a scenario gives its staff as
``institute_staff = 20`` under ``[missions.<id>]``. Those staff count in the mission's
total. An event ``kind = "close_institute"`` (or a policy whose ladder names it) closes
the institute at the deadline: all of its staff leave, and it stays closed.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from sim.engine.instruments import EventField, Instrument, register_instrument


@register_instrument
class CloseInstitute(Instrument):
    """Close the mission's cultural institute; its staff leave at the deadline."""

    name = "close_institute"
    code = 20
    doc = "close the mission's cultural institute (no fields)"
    mission_fields: ClassVar[dict[str, EventField]] = {
        "institute_staff": EventField(
            "institute_staff", "int", False, default=0, low=0, high=100_000,
            doc="staff of the mission's cultural institute",
        )
    }  # fmt: skip

    def allocate(self, missions):
        # A staff pool of its own: it counts in every total and leaves with a suspension.
        missions.extra_pools["institute_staff"] = missions.column("institute_staff")
        missions.p_institute = missions.pending(bool, False, "or")

    def _staff(self, missions, m):
        return missions.extra_pools["institute_staff"][m]

    def feasible(self, missions, m):
        pending = missions.p_institute.buf[:, m].any(axis=0)
        return ~missions.suspended[m] & (self._staff(missions, m) > 0) & ~pending

    def feasible_as_substitute(self, missions, m, count):
        # It removes the whole institute, so it stands in only for an answer at least
        # that large.
        return self.feasible(missions, m) & (self._staff(missions, m) <= count)

    def announce(self, missions, m, where, amount, slot, runs, own, ctx):
        missions.p_institute.put(slot, m, runs, where, own)
        return np.where(where, self._staff(missions, m)[runs], 0)

    def take_effect(self, missions, slot, note):
        closing = missions.p_institute.due(slot)
        if closing.any():
            pool = missions.extra_pools["institute_staff"]
            leaving = np.where(closing, pool, 0)
            pool[closing] = 0
            note(self, leaving)

    def clear(self, missions, slot):
        missions.p_institute.clear(slot)

    def pending_staff(self, missions, m):
        pending = missions.p_institute.buf[:, m].any(axis=0)
        return np.where(pending, self._staff(missions, m), 0)

    def cancel(self, missions, m, cols):
        ring = missions.p_institute
        hostile = ring.buf[:, m, cols].any(axis=0)
        if ring.own is not None:  # the sender's own closure stays pending
            hostile &= ~ring.own[:, m, cols].any(axis=0)
        called_off = np.where(hostile, self._staff(missions, m)[cols], 0)
        ring.cancel(m, cols)
        return called_off

    def describe(self, amount, size):
        return f"closes the cultural institute ({size:g} staff)"
