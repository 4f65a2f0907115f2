"""An example outcome plugin: "halved", a watched mission below half its forecast-start size.

The same code is shown in docs/plugins.md ("An outcome plugin");
tests/test_outcome_plugin.py imports it (this directory on the Python path) and runs a
scenario that chooses it with ``[outcomes] classes``.
"""

from sim.outcome_classes import OutcomeClass, OutcomeTracker, OutcomeView, register_outcome


class HalvedTracker(OutcomeTracker):
    """First step at which a watched mission is below half its total at the forecast start."""

    def start(self, view: OutcomeView) -> None:
        # (watched, runs): each watched mission's total when the forecast starts.
        self.at_start = view.totals[view.watched].copy()

    def update(self, view: OutcomeView, t: int) -> None:
        below_half = (2 * view.totals[view.watched] < self.at_start).any(axis=0)
        self.first_step[(self.first_step < 0) & below_half] = t


HALVED = register_outcome(
    OutcomeClass(
        "halved",
        "halved",
        "a watched mission below half its size at the forecast start, without closure "
        "(dated at the first such step)",
        color="#E69F00",  # Okabe-Ito orange: not one of the built-ins' colours
        linestyle=(0, (5, 1, 1, 1, 1, 1)),  # dash-dot-dot
        marker="v",
        hatch="++",
        precedence=250,  # below spiral (300), above relapse (200)
        tracker=HalvedTracker,
    )
)

__all__ = ["HALVED", "HalvedTracker"]
