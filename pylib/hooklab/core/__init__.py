"""The sans-I/O cores: System B's rules, System A's rules, what they agree on, and signing.

Standard library only, no clock read and no I/O: every method that needs the time takes ``now``.
Adapters in :mod:`hooklab.live` (real HTTP, wall clock) and :mod:`hooklab.sim` (virtual time)
drive the same objects.
"""
