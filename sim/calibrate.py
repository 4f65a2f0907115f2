"""``sim.calibrate`` is :mod:`sim.analysis.calibrate`, kept importable under its documented name."""

import sys

from sim.analysis import calibrate as _moved

sys.modules[__name__] = _moved
