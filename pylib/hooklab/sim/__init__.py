"""Virtual-time simulation: hours of polling and webhook traffic in milliseconds.

The *same* System A and System B cores as the live runs (:mod:`hooklab.core.shop`,
:mod:`hooklab.core.provider`), driven by a discrete-event loop on a virtual clock, with the network's
delay and failures modelled, deterministic from a seed. Start with :func:`simulate`.

- :mod:`hooklab.sim.run`: :func:`simulate`, :func:`sweep`, :func:`theory_poll`, :class:`SimRun`
- :mod:`hooklab.sim.strategies`: how A learns (:class:`Poll`, :class:`Adaptive`, :class:`Webhook`,
  :class:`Hybrid`, :class:`Reconciled`, :class:`Feed`, :class:`LongPoll`, :class:`ServerSentEvents`)
- :mod:`hooklab.sim.workloads`: when B's records change (:class:`Poisson`, :class:`MixedPoisson`,
  :class:`Bursts`, :class:`OneBurst`, :class:`DailyCycle`, :class:`Settlement`)
- :mod:`hooklab.sim.world`: the two cores and the network on the loop (:class:`Sim`)
- :mod:`hooklab.sim.network`: delays and failures; :mod:`hooklab.sim.engine`: the event loop
  (and why it is not SimPy)
- :mod:`hooklab.sim.vector`: the arithmetic engine, the same runs of polling and webhooks worked
  out with numpy (equal results, 25-60x faster in ``benchmarks/bench_sim.py``); :func:`simulate`
  uses it wherever it applies

"""

# Names load on first use (PEP 562): ``hooklab --help`` reads ``hooklab.sim.choices`` without
# paying for numpy and pandas, which the simulation itself needs.
import importlib

_WHERE = {
    "Environment": "hooklab.sim.engine",
    "SimClock": "hooklab.sim.engine",
    "ConstantDelay": "hooklab.sim.network",
    "ExponentialDelay": "hooklab.sim.network",
    "LogNormalDelay": "hooklab.sim.network",
    "Network": "hooklab.sim.network",
    "MODES": "hooklab.sim.choices",
    "WORKLOADS": "hooklab.sim.choices",
    "SIM_SUMMARY_KEYS": "hooklab.sim.run",
    "SWEEP_INTERVALS": "hooklab.sim.run",
    "SimRun": "hooklab.sim.run",
    "simulate": "hooklab.sim.run",
    "sweep": "hooklab.sim.run",
    "theory_poll": "hooklab.sim.run",
    "theory_webhook": "hooklab.sim.run",
    "Adaptive": "hooklab.sim.strategies",
    "Feed": "hooklab.sim.strategies",
    "LongPoll": "hooklab.sim.strategies",
    "Reconciled": "hooklab.sim.strategies",
    "ServerSentEvents": "hooklab.sim.strategies",
    "Hybrid": "hooklab.sim.strategies",
    "Poll": "hooklab.sim.strategies",
    "Strategy": "hooklab.sim.strategies",
    "Webhook": "hooklab.sim.strategies",
    "Bursts": "hooklab.sim.workloads",
    "OneBurst": "hooklab.sim.workloads",
    "DailyCycle": "hooklab.sim.workloads",
    "MixedPoisson": "hooklab.sim.workloads",
    "Poisson": "hooklab.sim.workloads",
    "Settlement": "hooklab.sim.workloads",
    "Workload": "hooklab.sim.workloads",
    "Sim": "hooklab.sim.world",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'hooklab.sim' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
