"""The names the simulation takes, apart from the code, so ``hooklab --help`` lists them cheaply."""

from hooklab.core.modes import SIM_MODES

#: How A learns of changes in a simulation (``simulate(mode=...)``, ``hooklab simulate --mode``):
#: read from the one table of modes, :data:`hooklab.core.modes.MODES`.
MODES = SIM_MODES
#: When B's records change (``simulate(workload=...)``).
WORKLOADS = ("poisson", "bursts", "daily", "settlement")
#: How ``simulate`` computes a run: the vector engine where it applies (auto), or the one named.
ENGINES = ("auto", "events", "vector")
