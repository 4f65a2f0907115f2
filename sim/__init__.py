"""escalation-sim: an agent-based Monte Carlo simulator of tit-for-tat diplomatic expulsions.

    import sim
    scenario = sim.load_scenario("scenarios/us_russia_2021.toml")
    result = sim.run(scenario.with_overrides({"states.us.policy.reciprocate": 0.5}))
    result.summary()["outcomes"]
    result.plot_fan_chart()

See ``docs/api.md``.
"""

from importlib import metadata

# The documented module names sim.runner, sim.sweep, sim.calibrate and sim.backtest
# (now in sim.analysis) are aliases; loading them before ``sweep`` is bound below keeps
# ``sim.sweep`` the function, not the module.
import sim.backtest
import sim.calibrate
import sim.runner
import sim.sweep  # noqa: F401
from sim.analysis.ablation import Change, ablation
from sim.analysis.discover import discover
from sim.analysis.sweep import SweepResult
from sim.api import (
    Result,
    compare,
    compare_results,
    load_results,
    load_scenario,
    offer_whatif,
    paired_difference,
    robust,
    run,
    sweep,
)
from sim.scenario import Scenario, ScenarioError

try:
    __version__ = metadata.version("escalation-sim")
except metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = [
    "Change",
    "Result",
    "Scenario",
    "ScenarioError",
    "SweepResult",
    "__version__",
    "ablation",
    "compare",
    "compare_results",
    "discover",
    "load_results",
    "load_scenario",
    "offer_whatif",
    "paired_difference",
    "robust",
    "run",
    "sweep",
]
