"""``fustor demo``: the whole product on one machine, driven through the services' commands.

The demo imports nothing of the services: it runs ``fustor-registry``, ``fustor-fusion`` and
``fustor-agent`` as child processes, exactly as an operator would, so it also proves that the
documented commands and config files work together. It is its own distribution so that
``fustor-core`` stays contracts only, and reaches ``fustor`` through the ``fustor.commands``
entry-point group like any third-party command (:mod:`fustor_demo.command`).

* :mod:`fustor_demo.orchestrator` — start, bootstrap, serve, stop (``run_demo``);
* :mod:`fustor_demo.processes` — a service as a child process (also used by the end-to-end tests);
* :mod:`fustor_demo.sample_tree` — the generated tree watched when no path is given.

Nothing is imported here, so ``fustor --help`` stays fast.
"""
