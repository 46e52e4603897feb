"""How System A learns of changes: one table, from which every list of modes is read.

The CLI's choices, live A's loops, the simulation's strategies, the vector engine's reach and the
summaries' request kinds all come from :data:`MODES`, so a mode is added in one place. A module of
its own, with no imports, so ``hooklab --help`` can list the modes cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mode:
    """One way for A to learn of B's changes.

    ``live``: ``hooklab consumer --mode`` runs it (``loop``: the thread it runs in: ``"poller"``, the
    poll loop; ``"pull"``, an event loop of its own that stopping cancels at once; ``None``: B
    pushes). ``simulated``: ``hooklab simulate --mode`` runs it; ``vector``: numpy's engine computes
    it exactly. ``kinds``: the request kinds that count as its requests in a summary. ``how``: what
    the CLI prints of a run, with ``{interval}`` and ``{reconcile}`` in seconds.
    """

    name: str
    how: str
    kinds: tuple[str, ...]
    live: bool = False
    loop: str | None = None
    simulated: bool = True
    vector: bool = False


#: Every mode, in the order the CLI lists them.
MODES: tuple[Mode, ...] = (
    Mode("poll", "polling every {interval} s", ("poll",), live=True, loop="poller", vector=True),
    Mode("webhook", "webhooks", ("webhook",), live=True, vector=True),
    Mode("hybrid", "webhooks + polling every {reconcile} s", ("poll", "webhook"), vector=True),
    Mode("feed", "one changes feed (GET /events) every {interval} s", ("feed",), live=True, loop="pull"),
    Mode(
        "conditional",
        "conditional polling (If-None-Match) every {interval} s",
        ("poll",),
        live=True,
        loop="poller",
        vector=True,
    ),
    Mode("long-poll", "long polling (GET /events?wait=)", ("long-poll",), live=True, loop="pull"),
    Mode("sse", "Server-Sent Events (GET /events/stream)", ("sse",), live=True, loop="pull"),
    Mode(
        "adaptive",
        "adaptive conditional polling, {interval} s on average",
        ("poll",),
        live=True,
        loop="poller",
    ),
    # webhooks with `reconcile_s`: what a `webhook` run becomes, never asked for by name
    Mode("reconciled", "webhooks + GET /events every {reconcile} s", ("webhook", "feed"), simulated=False),
)
BY_NAME = {mode.name: mode for mode in MODES}

#: ``hooklab consumer --mode`` (``ShopService(mode=...)``).
SHOP_MODES = tuple(m.name for m in MODES if m.live)
#: Live modes that run on an event loop of their own (``hooklab.live.pullers``).
PULL_LOOP_MODES = tuple(m.name for m in MODES if m.loop == "pull")
#: ``hooklab simulate --mode`` (``simulate(mode=...)``).
SIM_MODES = tuple(m.name for m in MODES if m.simulated)
#: The modes numpy's engine computes (``hooklab.sim.vector``).
VECTOR_MODES = tuple(m.name for m in MODES if m.vector)
#: Which request kinds count as a mode's requests in a summary.
MODE_KINDS = {m.name: m.kinds for m in MODES}


def describe(name: str, *, interval_s: float, reconcile_s: float) -> str:
    """What a run in mode ``name`` does, in a few words (``hooklab simulate`` prints it)."""
    return BY_NAME[name].how.format(interval=f"{interval_s:g}", reconcile=f"{reconcile_s:g}")
