"""Shared by the fixture scripts: deterministic weights that the C tests
reproduce exactly (an integer hash of the parameter's name and index), and
fastadv's counter-based random streams (Philox4x32-10, src/core/rng.c) so a
reference can use the very noise fastadv draws."""
import math

import numpy as np
import torch

M64 = (1 << 64) - 1


def hash_uniform(name, n):
    """n values in [-1, 1) from lowbias32 of (fnv1a(name) + i * golden)."""
    key = 2166136261
    for b in name.encode():
        key = ((key ^ b) * 16777619) & 0xFFFFFFFF
    x = (key + np.arange(n, dtype=np.uint64) * 0x9E3779B9) & 0xFFFFFFFF
    x ^= x >> 16
    x = (x * 0x7FEB352D) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 0x846CA68B) & 0xFFFFFFFF
    x ^= x >> 16
    return (x >> 8).astype(np.float64) / 16777216.0 * 2.0 - 1.0


def hashed_value(name, shape):
    """The tests' weights: the paper's init scale, deterministic values (float32-exact)."""
    u = hash_uniform(name, int(np.prod(shape)))
    if len(shape) == 4:
        v = u * math.sqrt(3) * math.sqrt(2.0 / (shape[2] * shape[3] * shape[0]))
    elif len(shape) == 2:
        v = u * math.sqrt(3) * math.sqrt(2.0 / shape[1])
    elif name.endswith(".weight"):
        v = 1.0 + 0.1 * u
    else:
        v = 0.1 * u
    return torch.tensor(v.astype(np.float32).astype(np.float64).reshape(shape))


def fill_hashed(model):
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(hashed_value(name, tuple(p.shape)))


def _mix64(z):
    z = (z + 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


STREAM_INIT, STREAM_SHUFFLE, STREAM_AUGMENT, STREAM_ATTACK, STREAM_EVAL = 1, 2, 3, 4, 5


class Stream:
    """fa_rng: key from (seed, purpose), counter of 128-bit blocks."""

    def __init__(self, seed, purpose):
        self.key = _mix64(_mix64(seed) ^ purpose)
        self.counter = 0

    def item(self, index):
        """fa_rng_item_stream: the stream of one example (its data set index) within this one, counter 0."""
        s = Stream.__new__(Stream)
        s.key, s.counter = _mix64(self.key ^ _mix64(index)), 0
        return s

    def uniform_per_example(self, shape, lo, hi, run):
        """fa_uniform_per_example: row i from example i's stream, `run` ceil(row / 4) blocks into it."""
        row = int(np.prod(shape[1:]))
        rows = []
        for i in range(shape[0]):
            s = self.item(i)
            s.counter = run * ((row + 3) // 4)
            rows.append(s.uniform((row,), lo, hi))
        return np.stack(rows).reshape(shape)

    def _blocks(self, n_blocks):
        ctr = np.arange(self.counter, self.counter + n_blocks, dtype=np.uint64)
        c0, c1 = ctr & 0xFFFFFFFF, ctr >> 32
        c2, c3 = np.zeros_like(c0), np.zeros_like(c0)
        k0, k1 = np.uint64(self.key & 0xFFFFFFFF), np.uint64(self.key >> 32)
        for _ in range(10):
            p0, p1 = np.uint64(0xD2511F53) * c0, np.uint64(0xCD9E8D57) * c2
            n0 = (p1 >> 32) ^ c1 ^ k0
            n2 = (p0 >> 32) ^ c3 ^ k1
            c1, c3, c0, c2 = p1 & 0xFFFFFFFF, p0 & 0xFFFFFFFF, n0, n2
            k0 = (k0 + np.uint64(0x9E3779B9)) & np.uint64(0xFFFFFFFF)
            k1 = (k1 + np.uint64(0xBB67AE85)) & np.uint64(0xFFFFFFFF)
        self.counter += n_blocks
        return np.stack([c0, c1, c2, c3], axis=1).reshape(-1)

    def uniform(self, shape, lo, hi):
        """fa_rng_fill_uniform in float32: lo + (hi - lo) * u."""
        n = int(np.prod(shape))
        words = self._blocks((n + 3) // 4)[:n]
        u = (words >> 8).astype(np.float32) * np.float32(1.0 / 16777216.0)
        lo, span = np.float32(lo), np.float32(hi) - np.float32(lo)
        return (lo + span * u).astype(np.float32).reshape(shape)
