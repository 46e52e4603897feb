"""How System A learns of changes, live: it asks B (``poll``) or B tells it (``webhook``).

A module of its own, with no imports, so ``hooklab --help`` can list the modes cheaply.
"""

#: ``poll`` and ``webhook``, then the smarter pulls (``hooklab.live.pullers``)
SHOP_MODES = ("poll", "webhook", "conditional", "feed", "long-poll", "sse", "adaptive")
