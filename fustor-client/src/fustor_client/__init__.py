"""``fustor ls``, ``find``, ``du``, ``wait`` and ``watch``: Fusion's query API for people who live in
``find`` and ``du``.

A distribution of its own so that ``fustor-core`` stays contracts only (no HTTP client in core)
and a service host needs none of it; it reaches ``fustor`` through the ``fustor.commands``
entry-point group, like ``fustor demo``.
"""
