"""Agent: sources, event bus, sync modes and pushers on each NFS client host.

``fustor-agent run --config agent.yaml`` builds one :class:`~fustor_agent.pipe.Pipe` per
configured datastore from the installed plugins (sources, pushers, sync modes — see
:mod:`fustor_core.agent_api`) and serves a small status API.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("fustor-agent")
except PackageNotFoundError:  # pragma: no cover - source tree without install
    __version__ = "0.0.0"

__all__ = ["__version__"]
