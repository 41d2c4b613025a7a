"""``fustor demo``: the whole product on one machine, driven through the services' commands.

The demo imports nothing of the services: it runs ``fustor-registry``, ``fustor-fusion`` and
``fustor-agent`` as child processes, exactly as an operator would, so it also proves that the
documented commands and config files work together.
"""

from fustor_core.demo.orchestrator import DemoOptions, run_demo

__all__ = ["DemoOptions", "run_demo"]
