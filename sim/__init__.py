"""escalation-sim: an agent-based Monte Carlo simulator of tit-for-tat diplomatic expulsions.

    import sim
    scenario = sim.load_scenario("scenarios/us_russia_2021.toml")
    result = sim.run(scenario.with_overrides({"states.us.policy.reciprocate": 0.5}))
    result.summary()["outcomes"]
    result.plot_fan_chart()

See ``docs/api.md``.
"""

from importlib import metadata

from sim.api import (
    Result,
    compare,
    load_results,
    load_scenario,
    offer_whatif,
    paired_difference,
    run,
    sweep,
)
from sim.scenario import Scenario, ScenarioError
from sim.sweep import SweepResult

try:
    __version__ = metadata.version("escalation-sim")
except metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = [
    "Result",
    "Scenario",
    "ScenarioError",
    "SweepResult",
    "__version__",
    "compare",
    "load_results",
    "load_scenario",
    "offer_whatif",
    "paired_difference",
    "run",
    "sweep",
]
