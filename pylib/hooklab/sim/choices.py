"""The names the simulation takes, apart from the code, so ``hooklab --help`` lists them cheaply."""

#: How A learns of changes in a simulation (``simulate(mode=...)``, ``hooklab simulate --mode``).
MODES = ("poll", "webhook", "hybrid", "feed", "conditional", "long-poll", "sse", "adaptive")
#: When B's records change (``simulate(workload=...)``).
WORKLOADS = ("poisson", "bursts", "daily", "settlement")
#: How ``simulate`` computes a run: the vector engine where it applies (auto), or the one named.
ENGINES = ("auto", "events", "vector")
