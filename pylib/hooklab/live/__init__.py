"""The real world: HTTP apps for System B and System A, clients, servers, SQLite, live runs.

Everything here touches sockets, threads, files or the wall clock, and drives :mod:`hooklab.core`.
"""
