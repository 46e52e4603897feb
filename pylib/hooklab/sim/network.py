"""The modelled network between System A and System B: one-way delays and lost deliveries.

A delay model draws one-way delays in seconds from a seeded numpy generator, in chunks (one
numpy call per few thousand requests keeps the per-request cost at a list lookup).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

#: Draws per numpy call; any value gives the same stream of delays for a given seed.
_CHUNK = 4096


@dataclass(frozen=True)
class LogNormalDelay:
    """One-way delay ``median_s * exp(sigma * Z)``: mostly near the median, a long right tail.

    Loopback HTTP on a laptop is a round trip of 1-3 ms; the default (1 ms one way) mirrors it.
    """

    median_s: float = 0.001
    sigma: float = 0.5

    def __post_init__(self) -> None:
        if not self.median_s > 0 or not self.sigma >= 0:
            raise ValueError(f"need median_s > 0 and sigma >= 0, got {self.median_s}, {self.sigma}")

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.lognormal(math.log(self.median_s), self.sigma, n)

    @property
    def mean_s(self) -> float:
        return self.median_s * math.exp(self.sigma**2 / 2)

    @property
    def high_s(self) -> float:
        """A delay exceeded about once in a million requests (mean + 4.75 sigma in log space)."""
        return self.median_s * math.exp(4.75 * self.sigma)


@dataclass(frozen=True)
class ExponentialDelay:
    """One-way delay ``min_s`` plus an exponential with mean ``mean_s - min_s``."""

    mean_s: float = 0.001
    min_s: float = 0.0

    def __post_init__(self) -> None:
        if not 0 <= self.min_s <= self.mean_s:
            raise ValueError(f"need 0 <= min_s <= mean_s, got min_s={self.min_s} mean_s={self.mean_s}")

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        extra = self.mean_s - self.min_s
        if extra == 0:
            return np.full(n, self.min_s)
        return self.min_s + rng.exponential(extra, n)

    @property
    def high_s(self) -> float:
        return self.min_s + 14 * (self.mean_s - self.min_s)


@dataclass(frozen=True)
class ConstantDelay:
    """Every one-way trip takes exactly ``seconds``: handy to check results by hand."""

    seconds: float = 0.001

    def __post_init__(self) -> None:
        if not self.seconds >= 0:
            raise ValueError(f"delay must be >= 0 seconds, got {self.seconds}")

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.full(n, float(self.seconds))

    @property
    def mean_s(self) -> float:
        return float(self.seconds)

    @property
    def high_s(self) -> float:
        return float(self.seconds)


@dataclass(frozen=True)
class Network:
    """How requests travel: ``delay`` one way (each direction drawn afresh) and, for webhook
    deliveries, ``failure_prob``: the chance that an attempt gets no answer from A (A down, a
    dropped connection), so that B retries it on its schedule; ``reply_loss_prob``: the chance
    that A got the delivery and answered ``200`` but B never heard it (the lost ``200``), so B
    sends again what A already has.
    """

    delay: LogNormalDelay | ExponentialDelay | ConstantDelay = LogNormalDelay()
    failure_prob: float = 0.0
    reply_loss_prob: float = 0.0

    def __post_init__(self) -> None:
        if not 0 <= self.failure_prob <= 1:
            raise ValueError(f"failure_prob must be in [0, 1], got {self.failure_prob}")
        if not 0 <= self.reply_loss_prob <= 1:
            raise ValueError(f"reply_loss_prob must be in [0, 1], got {self.reply_loss_prob}")


def draw_stream(draw, rng: np.random.Generator, chunk: int = _CHUNK):
    """An endless stream of draws, made ``chunk`` at a time: call the result for the next one.

    (A list iterator chained over chunks: the per-draw cost is one C-level ``next``.) The chunk
    size changes the cost, never the values: the n-th call returns ``draw(rng, N)[n - 1]``.
    """

    def chunks():
        while True:
            yield draw(rng, chunk).tolist()

    return itertools.chain.from_iterable(chunks()).__next__
