"""``sim.backtest`` is :mod:`sim.analysis.backtest`, kept importable under its documented name."""

import sys

from sim.analysis import backtest as _moved

sys.modules[__name__] = _moved
