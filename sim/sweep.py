"""``sim.sweep`` is :mod:`sim.analysis.sweep`, kept importable under its documented name."""

import sys

from sim.analysis import sweep as _moved

sys.modules[__name__] = _moved
