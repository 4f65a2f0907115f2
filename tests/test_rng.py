"""Counter-based run streams: uniformity, independence, and numbers that belong to a run.

All checks use fixed seeds, so they are deterministic; statistical thresholds are set
so that a correct generator fails them with probability about 1e-4 or less.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from sim.engine.rng import RunStreams, slot

N = 200_000
P_MIN = 1e-4  # smallest acceptable p-value of a goodness-of-fit test


def streams(n: int = N, seed: int = 2024, first: int = 0) -> RunStreams:
    return RunStreams(seed, np.arange(first, first + n))


def chi_square_uniform(u: np.ndarray, bins: int) -> float:
    counts = np.bincount(np.minimum((u * bins).astype(int), bins - 1), minlength=bins)
    return float(stats.chisquare(counts).pvalue)


def corr_bound(n: int) -> float:
    """|Pearson r| of independent samples is below this with probability ~1 - 6e-5."""
    return 4.0 / np.sqrt(n)


class TestUniformity:
    @pytest.mark.parametrize(
        ("seed", "step", "name"), [(0, 0, "a"), (2024, 17, "respond"), (7, 10**6, "x")]
    )
    def test_chi_square_across_runs(self, seed, step, name):
        u = streams(seed=seed).uniform(step, slot(name))
        assert chi_square_uniform(u, 100) > P_MIN
        assert 0.0 < u.min() and u.max() < 1.0

    def test_chi_square_across_steps_of_one_run(self):
        s = RunStreams(99, np.array([12345]))
        u = np.array([s.uniform(t, slot("noise", "us", "russia"))[0] for t in range(20_000)])
        assert chi_square_uniform(u, 50) > P_MIN

    def test_two_dimensional_uniformity_of_neighbouring_runs(self):
        u = streams().uniform(3, slot("pairs"))
        x, y = u[0::2], u[1::2]
        cells = np.minimum((x * 10).astype(int), 9) * 10 + np.minimum((y * 10).astype(int), 9)
        assert stats.chisquare(np.bincount(cells, minlength=100)).pvalue > P_MIN

    def test_raw_bits_are_balanced(self):
        # every one of the 64 output bits is set about half the time
        bits = streams(50_000).bits(5, slot("bits"))
        ones = np.array([((bits >> np.uint64(b)) & np.uint64(1)).sum() for b in range(64)])
        n = len(bits)
        assert (np.abs(ones - n / 2) <= 4.5 * np.sqrt(n / 4)).all()

    def test_integers_uniform_on_the_inclusive_range(self):
        s = streams()
        k = s.integers(4, slot("lag"), 2, 7)
        assert k.min() == 2 and k.max() == 7
        counts = np.bincount(k - 2, minlength=6)
        assert stats.chisquare(counts).pvalue > P_MIN
        # per-run ranges broadcast
        lo = np.arange(N) % 3
        k = s.integers(4, slot("lag"), lo, lo + 1)
        assert ((k == lo) | (k == lo + 1)).all()


class TestIndependence:
    def test_neighbouring_runs(self):
        u = streams().uniform(0, slot("respond", "a", "b"))
        assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < corr_bound(N)

    def test_neighbouring_steps(self):
        s = streams(100_000)
        sl = slot("provoke", "a", "b")
        u0, u1, u9 = s.uniform(41, sl), s.uniform(42, sl), s.uniform(50, sl)
        assert abs(np.corrcoef(u0, u1)[0, 1]) < corr_bound(len(u0))
        assert abs(np.corrcoef(u0, u9)[0, 1]) < corr_bound(len(u0))

    def test_neighbouring_slots_named_and_raw(self):
        s = streams(100_000)
        named = [s.uniform(8, slot(n, "a", "b")) for n in ("respond", "lag", "noise")]
        raw = [s.uniform(8, k) for k in (0, 1, 2)]  # adjacent raw slot ids
        for x, y in [
            (named[0], named[1]),
            (named[1], named[2]),
            (raw[0], raw[1]),
            (raw[1], raw[2]),
        ]:
            assert abs(np.corrcoef(x, y)[0, 1]) < corr_bound(len(x))
            assert not np.array_equal(x, y)

    def test_neighbouring_seeds(self):
        a = streams(100_000, seed=1).uniform(0, slot("x"))
        b = streams(100_000, seed=2).uniform(0, slot("x"))
        assert abs(np.corrcoef(a, b)[0, 1]) < corr_bound(len(a))

    def test_step_and_slot_do_not_alias(self):
        # (step, slot) pairs are mixed separately: swapping them gives other numbers
        s = streams(1000)
        assert not np.array_equal(s.bits(1, 2), s.bits(2, 1))
        assert not np.array_equal(s.bits(0, 1), s.bits(1, 0))

    def test_no_collisions_in_a_large_block(self):
        bits = streams(N).bits(0, slot("x"))
        assert len(np.unique(bits)) == N


class TestRunsOwnTheirNumbers:
    def test_block_equals_runs_one_at_a_time_bit_for_bit(self):
        seed, n = 77, 257
        block = RunStreams(seed, np.arange(n))
        for step, sl in [(0, slot("a")), (13, slot("respond", "x", "y")), (2**31 + 5, 3)]:
            together = block.bits(step, sl)
            alone = np.array([RunStreams(seed, np.array([r])).bits(step, sl)[0] for r in range(n)])
            assert np.array_equal(together, alone)

    def test_any_subset_in_any_order(self):
        seed = 5
        full = RunStreams(seed, np.arange(10_000)).uniform(9, slot("z"))
        pick = np.array([9_999, 3, 512, 4_096, 0, 77])
        assert np.array_equal(RunStreams(seed, pick).uniform(9, slot("z")), full[pick])
        tail = RunStreams(seed, np.arange(5_000, 10_000)).uniform(9, slot("z"))
        assert np.array_equal(tail, full[5_000:])

    def test_streams_are_stateless(self):
        s = streams(1000)
        first = s.normal(3, slot("n"))
        s.uniform(4, slot("other"))
        assert np.array_equal(s.normal(3, slot("n")), first)

    def test_seed_matters(self):
        assert not np.array_equal(streams(100, seed=0).bits(0, 1), streams(100, seed=1).bits(0, 1))

    def test_slot_is_stable_across_processes(self):
        # not Python's salted hash(): the same slot numbers in every process
        code = "from sim.engine.rng import slot; print(slot('respond', 'us', 'russia'))"
        outs = set()
        for hash_seed in ("0", "12345"):
            env = {**os.environ, "PYTHONHASHSEED": hash_seed}
            out = subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
            )
            outs.add(int(out.stdout))
        assert outs == {slot("respond", "us", "russia")}


class TestDistributions:
    def test_normal_mean_and_variance(self):
        z = streams().normal(11, slot("noise", "a", "b"))
        n = len(z)
        assert abs(z.mean()) < 4 / np.sqrt(n)
        assert abs(z.var() - 1) < 4 * np.sqrt(2 / n)
        assert stats.kstest(z, "norm").pvalue > P_MIN

    def test_normal_tails(self):
        z = streams().normal(12, slot("tails"))
        n = len(z)
        for c in (1.0, 2.0, 3.0):
            p = 2 * stats.norm.sf(c)
            share = (np.abs(z) > c).mean()
            assert abs(share - p) < 4 * np.sqrt(p * (1 - p) / n)
        assert np.isfinite(z).all()

    def test_uniform_ks(self):
        u = streams().uniform(13, slot("ks"))
        assert stats.kstest(u, "uniform").pvalue > P_MIN

    def test_extreme_words_stay_inside_the_open_interval(self, monkeypatch):
        s = RunStreams(0, np.arange(2))
        words = np.array([0, 2**64 - 1], dtype=np.uint64)
        monkeypatch.setattr(s, "bits", lambda step, slot_id: words.copy())
        u = s.uniform(0, 0)
        assert 0.0 < u[0] and u[1] < 1.0
        assert np.isfinite(s.normal(0, 0)).all()
