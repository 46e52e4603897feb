"""hooklab: API polling versus webhooks, measured on your own machine.

System B (:mod:`hooklab.core.provider`) is a mock payment provider; System A (:mod:`hooklab.core.shop`) is
the shop that needs to know when payments settle. Both are sans-I/O cores driven either live over
real HTTP (:mod:`hooklab.live.runs`) or in virtual time (:mod:`hooklab.sim`).
"""

__version__ = "0.1.0"
