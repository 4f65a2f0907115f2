"""``sim.runner`` is :mod:`sim.analysis.runner`, kept importable under its documented name."""

import sys

from sim.analysis import runner as _moved

sys.modules[__name__] = _moved
