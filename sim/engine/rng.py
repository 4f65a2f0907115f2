"""Counter-based random numbers that belong to a run, not to a batch.

The uniform drawn for run ``r`` at step ``t`` in slot ``s`` is a pure function of
``(seed, r, t, s)``: ``u = finalise(run_key(seed, r) ^ counter_key(t, s))``, where
``finalise`` is the SplitMix64 output function (Steele, Lea & Flood, OOPSLA 2014).
This is the construction of Salmon et al., "Parallel random numbers: as easy as
1, 2, 3" (SC 2011): a strong bit mixer applied to a counter instead of a stateful
generator. It is what lets one vectorised model step 10,000 runs at once while run
``r`` still sees exactly the numbers it would see alone, in another block, in a
sweep or on another worker.

Every random decision in the model has a fixed slot (see :func:`slot`). Numbers are
addressed, not drawn in sequence, so a decision that is not needed in a step is simply
not computed, and adding a state or a policy never shifts the numbers of the others.
"""

from __future__ import annotations

import hashlib

import numpy as np
from scipy.special import ndtri

__all__ = ["RunStreams", "slot"]

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB
_TWO_TO_MINUS_53 = 1.0 / (1 << 53)
_BELOW_ONE = float(np.nextafter(1.0, 0.0))


def _splitmix_int(x: int) -> int:
    """SplitMix64 finaliser on a Python int (used for the scalar parts of a key)."""
    x = (x + _GOLDEN) & _MASK
    x = ((x ^ (x >> 30)) * _M1) & _MASK
    x = ((x ^ (x >> 27)) * _M2) & _MASK
    return x ^ (x >> 31)


def _finalise(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser on a uint64 array, in place (multiplication wraps mod 2**64)."""
    x ^= x >> np.uint64(30)
    x *= np.uint64(_M1)
    x ^= x >> np.uint64(27)
    x *= np.uint64(_M2)
    x ^= x >> np.uint64(31)
    return x


def slot(*parts: object) -> int:
    """A stable 64-bit slot number for a named random decision.

    ``slot("respond", "us", "russia")`` is the same on every machine and in every
    Python process (it does not use :func:`hash`, which is salted per process).
    """
    text = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")


class RunStreams:
    """The random numbers of a block of runs, addressed by (step, slot).

    Parameters
    ----------
    seed:
        The scenario seed (any non-negative integer).
    runs:
        Global indices of the runs in this block (not necessarily contiguous).
    """

    def __init__(self, seed: int, runs: np.ndarray) -> None:
        self.seed = int(seed)
        self.runs = np.asarray(runs, dtype=np.uint64)
        seed_key = _splitmix_int(_splitmix_int(self.seed & _MASK) ^ 0x5EED)
        keys = self.runs * np.uint64(_GOLDEN) + np.uint64(seed_key)
        self._run_keys = _finalise(keys)

    def __len__(self) -> int:
        return len(self.runs)

    def bits(self, step: int, slot_id: int) -> np.ndarray:
        """Raw 64-bit random words, one per run."""
        counter = _splitmix_int(((int(step) & 0xFFFFFFFF) << 32) ^ _splitmix_int(slot_id))
        return _finalise(self._run_keys ^ np.uint64(counter))

    def uniform(self, step: int, slot_id: int) -> np.ndarray:
        """Uniforms in the open interval (0, 1), one per run."""
        top53 = self.bits(step, slot_id) >> np.uint64(11)
        u = (top53.astype(np.float64) + 0.5) * _TWO_TO_MINUS_53
        # The largest word rounds to exactly 1.0 (1 - 2**-54 is not a float): keep it below.
        return np.minimum(u, _BELOW_ONE)

    def normal(self, step: int, slot_id: int) -> np.ndarray:
        """Standard normal draws by inversion of the CDF."""
        return ndtri(self.uniform(step, slot_id))

    def integers(self, step: int, slot_id: int, low: np.ndarray, high: np.ndarray) -> np.ndarray:
        """Integers uniform on ``[low, high]`` (inclusive; arrays broadcast against runs)."""
        u = self.uniform(step, slot_id)
        span = np.asarray(high) - np.asarray(low) + 1
        return np.asarray(low) + np.minimum(np.floor(u * span), span - 1).astype(np.int64)
