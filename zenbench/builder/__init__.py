"""The builder side of the latency stage: what measures on a device.

Workloads (units, heads, whole networks), the unit grid a profile times, the host-speed probe,
the resumable profile run that writes a latency table, and the end-to-end measurements a table is
validated against. It imports runtimes through ``zenbench.backends``; it uses :mod:`zenbench.latency`
to fit and score, never the other way round.
"""
