"""An example policy plugin: "two strikes" answers only every second hostile act.

The same code is shown in docs/plugins.md; tests/test_plugins.py loads it with
``--plugin example_policy`` (this directory on the Python path) and through an entry
point, and runs it.
"""

from typing import ClassVar

import numpy as np

from sim.policies import Observation, Param, Policy, register_policy


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

    def respond(self, obs: Observation) -> tuple[np.ndarray, np.ndarray]:
        if not hasattr(self, "_seen"):  # one policy object per relation and block of runs
            self._seen = np.zeros(obs.perceived.shape, dtype=np.int64)
        acted = obs.perceived > 0
        self._seen += acted
        answer = acted & (self._seen % self.strikes == 0)
        return np.where(answer, obs.perceived, 0.0), obs.perceived_kind
