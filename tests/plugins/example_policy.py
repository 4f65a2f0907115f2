"""An example policy plugin: "two strikes" answers only every second hostile act.

The same code is shown in docs/plugins.md; tests/test_plugins.py loads it with
``--plugin example_policy`` (this directory on the Python path) and through an entry
point, and runs it; tests/test_policy_suite.py runs the suite every registered policy
passes on it.
"""

import math
from typing import ClassVar

import numpy as np

from sim.policies import Classifier, Memory, Observation, Param, Policy, Response, register_policy


@register_policy
class TwoStrikes(Policy):
    """Two strikes: let the first hostile act go, answer the second in kind, and so on.

    Counts, per run, the steps in which the counterpart was seen to act; answers (with
    the perceived size, in the same instrument) only when that count reaches a multiple
    of ``strikes``.
    """

    name = "two_strikes"
    params: ClassVar[dict[str, Param]] = {
        "strikes": Param(2, "acts seen before one is answered", "int", 1, 100),
    }
    # self.seen: an int64 array over the block's runs, zero at the start of every block.
    memory: ClassVar[dict[str, Memory]] = {
        "seen": Memory(np.int64, 0, "steps in which the counterpart was seen to act"),
    }
    classifier = Classifier(memory_depth=math.inf, stochastic=False, initiates=False)

    def respond(self, obs: Observation) -> Response:
        acted = obs.perceived > 0
        self.seen += acted
        answer = acted & (self.seen % self.strikes == 0)
        return Response(np.where(answer, obs.perceived, 0.0), obs.perceived_kind)
