"""Virtual-time simulation: hours of polling and webhook traffic in milliseconds.

The *same* System A and System B cores as the live runs (:mod:`hooklab.core.shop`,
:mod:`hooklab.core.provider`), driven by a discrete-event loop on a virtual clock, with the network's
delay and failures modelled, deterministic from a seed. Start with :func:`simulate`.

- :mod:`hooklab.sim.run`: :func:`simulate`, :func:`sweep`, :func:`theory_poll`, :class:`SimRun`
- :mod:`hooklab.sim.strategies`: how A learns (:class:`Poll`, :class:`Webhook`, :class:`Hybrid`,
  :class:`Feed`)
- :mod:`hooklab.sim.workloads`: when B's records change (:class:`Poisson`, :class:`Bursts`,
  :class:`DailyCycle`, :class:`Settlement`)
- :mod:`hooklab.sim.world`: the two cores and the network on the loop (:class:`Sim`)
- :mod:`hooklab.sim.network`: delays and failures; :mod:`hooklab.sim.engine`: the event loop
  (and why it is not SimPy)

Introduced in notebooks/01-api-polling.ipynb and notebooks/04-pull-vs-push.ipynb.
"""

from hooklab.sim.engine import Environment, SimClock
from hooklab.sim.network import ConstantDelay, ExponentialDelay, LogNormalDelay, Network
from hooklab.sim.run import (
    MODES,
    SIM_SUMMARY_KEYS,
    SWEEP_INTERVALS,
    WORKLOADS,
    SimRun,
    simulate,
    sweep,
    theory_poll,
    theory_webhook,
)
from hooklab.sim.strategies import Feed, Hybrid, Poll, Strategy, Webhook
from hooklab.sim.workloads import Bursts, DailyCycle, Poisson, Settlement, Workload
from hooklab.sim.world import Sim

__all__ = [
    "MODES",
    "SIM_SUMMARY_KEYS",
    "SWEEP_INTERVALS",
    "WORKLOADS",
    "Bursts",
    "ConstantDelay",
    "DailyCycle",
    "Environment",
    "ExponentialDelay",
    "Feed",
    "Hybrid",
    "LogNormalDelay",
    "Network",
    "Poisson",
    "Poll",
    "Settlement",
    "Sim",
    "SimClock",
    "SimRun",
    "Strategy",
    "Webhook",
    "Workload",
    "simulate",
    "sweep",
    "theory_poll",
    "theory_webhook",
]
