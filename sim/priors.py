"""Priors for calibration, declared with the policy parameters they belong to.

A :class:`Prior` is a uniform distribution on a box, on the scale the calibration's
sampler moves in (:mod:`sim.analysis.calibrate`). A policy parameter that declares one
(``Param(..., prior=Prior(0.0, 1.0))``) can be calibrated; one that does not cannot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["SCALES", "Prior"]

#: linear: uniform; log: uniform in the logarithm; floor: uniform on whole numbers.
SCALES = ("linear", "log", "floor")


@dataclass(frozen=True)
class Prior:
    """A uniform prior on ``[low, high]``, on the scale the sampler moves in.

    ``log`` priors are uniform in the logarithm (``low`` > 0); ``floor`` priors are on
    whole numbers: the sampler moves a continuous value ``u`` in ``[low, high)`` and the
    policy uses ``floor(u)``, so each of ``low, ..., high - 1`` has prior mass
    ``1 / (high - low)``. ``doc`` says what the record tells about the parameter (the
    parameter's own doc is used if empty). ``limits`` is the widest range a user may
    give the prior instead (``--prior NAME=LOW:HIGH``); by default the parameter's own
    range (for ``floor``, one past its largest whole value).
    """

    low: float
    high: float
    scale: str = "linear"
    doc: str = ""
    limits: tuple[float, float] | None = None
    #: Calibrated only when named (``--params``): a mechanism's parameter, whose default
    #: turns the mechanism off, so that a default calibration fits what it always did.
    opt_in: bool = False

    def __post_init__(self) -> None:
        problem = self.problem(self.low, self.high, self.scale)
        if problem:
            raise ValueError(f"Prior({self.low!r}, {self.high!r}, {self.scale!r}): {problem}")
        object.__setattr__(self, "low", float(self.low))
        object.__setattr__(self, "high", float(self.high))
        if self.limits is not None:
            lo, hi = (float(v) for v in self.limits)
            object.__setattr__(self, "limits", (lo, hi))
            if not (lo <= self.low and self.high <= hi):
                raise ValueError(
                    f"Prior [{self.low:g}, {self.high:g}] is outside its limits [{lo:g}, {hi:g}]"
                )

    @staticmethod
    def problem(low: float, high: float, scale: str) -> str | None:
        """What is wrong with a box on a scale, or None."""
        if scale not in SCALES:
            return f"scale must be one of {', '.join(SCALES)}"
        if not all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            for v in (low, high)
        ):
            return "expected finite numbers"
        if not low < high:
            return "expected low < high"
        if scale == "log" and low <= 0:
            return "a log-uniform prior needs low > 0"
        if scale == "floor" and not (float(low).is_integer() and float(high).is_integer()):
            return "a prior on whole numbers needs whole bounds"
        return None

    def with_bounds(self, low: float, high: float) -> Prior:
        """The same prior on another box (limits kept)."""
        return Prior(float(low), float(high), self.scale, self.doc, self.limits, self.opt_in)

    @property
    def box(self) -> tuple[float, float]:
        """The box on the sampler's scale."""
        if self.scale == "log":
            return math.log(self.low), math.log(self.high)
        return self.low, self.high

    def to_natural(self, x: np.ndarray) -> np.ndarray:
        """Sampler scale to the parameter's own."""
        if self.scale == "log":
            return np.exp(x)
        if self.scale == "floor":
            return np.floor(x)
        return x

    def to_sampler(self, value: float) -> float:
        """A parameter value on the sampler's scale (a whole number: its middle)."""
        if self.scale == "log":
            return math.log(value)
        if self.scale == "floor":
            return math.floor(value) + 0.5
        return float(value)

    def describe(self) -> str:
        """``log uniform [0.2, 5]``; whole numbers as ``floor uniform [0, 9)``."""
        close = ")" if self.scale == "floor" else "]"
        return f"{self.scale} uniform [{self.low:g}, {self.high:g}{close}"
