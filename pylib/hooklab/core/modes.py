"""How System A learns of changes, live: it asks B (``poll``) or B tells it (``webhook``).

A module of its own, with no imports, so ``hooklab --help`` can list the modes cheaply.
"""

SHOP_MODES = ("poll", "webhook")
