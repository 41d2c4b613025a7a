"""HTTP pusher from agent to Fusion: sessions, heartbeats and roles, ordered batches with retries.

Registers the pusher driver ``http``; a pipe selects it with
``pusher: {driver: http, url: ..., api_key: ...}``. The driver lives in
:mod:`fustor_pusher_http.pusher`; this module is what the entry point loads.
"""

from __future__ import annotations

from fustor_core import hookimpl
from fustor_core.agent_api import RegisterPusher
from fustor_pusher_http.options import HttpPusherOptions
from fustor_pusher_http.pusher import HttpPusher


@hookimpl
def fustor_pusher_drivers(register: RegisterPusher) -> None:
    register("http", HttpPusher.from_config)


__all__ = ["HttpPusher", "HttpPusherOptions", "fustor_pusher_drivers"]
