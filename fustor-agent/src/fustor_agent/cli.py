"""``fustor-agent``: run the agent, show its status, trigger a scan, list plugins.

fustor-agent run --config agent.yaml [--host 127.0.0.1] [--port 8103]
fustor-agent status [--config agent.yaml | --port 8103] [--json]
fustor-agent trigger MODE PIPE --config agent.yaml [--deep]   (any triggerable mode of the pipe)
fustor-agent plugins
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from collections.abc import Sequence
from typing import Any

import httpx

from fustor_agent.agent import Agent
from fustor_agent.api import create_app
from fustor_agent.config import DEFAULT_API_PORT, AgentConfig, load_agent_config
from fustor_agent.progress import progress_for
from fustor_agent.server import ApiServer
from fustor_agent.status_text import render_status
from fustor_core.commands import add_plugins_command, run_subcommand
from fustor_core.errors import FustorError
from fustor_core.logs import add_log_format_argument, configure_logging, log_event
from fustor_core.notify import ServiceNotifier
from fustor_core.runtime import tune_garbage_collection

logger = logging.getLogger("fustor_agent")

QUIET_LOGGERS = ("httpx", "httpcore", "uvicorn", "uvicorn.error")
"""Libraries whose per-request INFO lines would drown the agent's own."""


# -- run ------------------------------------------------------------------------------------------


async def run_agent(
    config: AgentConfig, *, host: str, port: int, notifier: ServiceNotifier | None = None
) -> None:
    """Run until SIGINT/SIGTERM (a second signal stops without waiting for delivery).

    ``notifier`` (the service manager) hears ``READY=1`` once every pipe watches in realtime,
    holds a session and, when leading, has started its snapshot; ``WATCHDOG=1`` while the event
    loop turns; ``STOPPING=1`` at the first signal.
    """
    notifier = notifier if notifier is not None else ServiceNotifier({})
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    main = asyncio.current_task()

    def on_signal(signum: int) -> None:
        if stop.is_set():
            log_event(
                logger, logging.WARNING, "second signal: stopping now", signal=signal.Signals(signum).name
            )
            if main is not None:
                main.cancel()
            return
        log_event(
            logger, logging.INFO, "stopping: delivering queued rows", signal=signal.Signals(signum).name
        )
        notifier.stopping("stopping: delivering queued rows")
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)

    agent = Agent(config)
    server = (
        ApiServer(create_app(agent, token=config.api.token), host, port, config.api.connections)
        if port
        else None
    )
    if server is not None:
        await server.start()
    log_event(
        logger,
        logging.INFO,
        "agent started",
        agent_id=config.agent_id,
        pipes=",".join(pipe.name for pipe in agent.pipes),
        api=f"http://{host}:{server.port}" if server else "disabled",
    )
    helpers = [
        asyncio.create_task(progress_for(agent.pipes, every_s=config.progress_log_interval_s).run()),
        asyncio.create_task(notifier.ready_when(agent.not_started, ready_status="running")),
        asyncio.create_task(notifier.keep_alive()),
    ]
    try:
        await agent.run(stop)
    finally:
        for task in helpers:
            task.cancel()
        await asyncio.gather(*helpers, return_exceptions=True)
        if server is not None:
            await server.stop()
    log_event(logger, logging.INFO, "agent stopped", agent_id=config.agent_id)


def cmd_run(args: argparse.Namespace) -> int:
    config = load_agent_config(args.config)
    configure_logging(args.log_level or config.log_level, args.log_format or config.log_format)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    host = args.host or config.api.host
    port = args.port if args.port is not None else config.api.port
    tune_garbage_collection()
    with contextlib.suppress(asyncio.CancelledError):
        asyncio.run(run_agent(config, host=host, port=port, notifier=ServiceNotifier()))
    return 0


# -- status and trigger ---------------------------------------------------------------------------


def _api_address(args: argparse.Namespace) -> tuple[str, int, str | None]:
    host, port, token = "127.0.0.1", DEFAULT_API_PORT, None
    if args.config:
        config = load_agent_config(args.config)
        host, port, token = config.api.host, config.api.port, config.api.token
    host = args.host or host
    port = args.port if args.port is not None else port
    if not port:
        raise FustorError("the agent API is disabled (port 0); nothing to ask")
    return host, port, getattr(args, "token", None) or token


def _get_status(host: str, port: int) -> dict[str, Any]:
    try:
        response = httpx.get(f"http://{host}:{port}/api/v1/status", timeout=5.0)
    except httpx.HTTPError as exc:
        raise FustorError(f"no agent answers at http://{host}:{port} ({exc.__class__.__name__})") from None
    response.raise_for_status()
    status: dict[str, Any] = response.json()
    return status


def cmd_status(args: argparse.Namespace) -> int:
    host, port, _ = _api_address(args)
    status = _get_status(host, port)
    print(json.dumps(status, indent=2) if args.json else render_status(status))
    return 0


def cmd_trigger(args: argparse.Namespace) -> int:
    host, port, token = _api_address(args)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = {"deep": True} if args.deep else None  # the mode says whether it takes it (422 if not)
    try:
        response = httpx.post(
            f"http://{host}:{port}/api/v1/pipes/{args.pipe}/{args.mode}", headers=headers, json=body
        )
    except httpx.HTTPError as exc:
        raise FustorError(f"no agent answers at http://{host}:{port} ({exc.__class__.__name__})") from None
    if response.status_code != 202:
        message = response.json().get("error", {}).get("message", response.text)
        raise FustorError(f"{args.mode} not started: {message}")
    print(f"{'deep ' if args.deep else ''}{args.mode} requested on pipe {args.pipe}")
    return 0


# -- parser ---------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fustor-agent", description="Fustor agent")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the agent")
    run.add_argument("--config", required=True, help="agent.yaml")
    run.add_argument("--host", help="address of the agent API (default: api.host, 127.0.0.1)")
    run.add_argument(
        "--port", type=int, help=f"port of the agent API (default {DEFAULT_API_PORT}; 0 disables)"
    )
    run.add_argument("--log-level", help="DEBUG, INFO, WARNING ... (default: log_level from the config)")
    add_log_format_argument(run)
    run.set_defaults(func=cmd_run)

    for name, func, help_text in (
        ("status", cmd_status, "show a running agent's status"),
        ("trigger", cmd_trigger, "run a mode of a pipe now (audit, snapshot, sentinel...)"),
    ):
        command = sub.add_parser(name, help=help_text)
        if name == "trigger":
            command.add_argument(
                "mode", help="a triggerable mode of the pipe (its status lists them: 'triggerable')"
            )
            command.add_argument("pipe", help="pipe name (default: the datastore name)")
            command.add_argument("--token", help="the agent's api.token (default: from --config)")
            command.add_argument(
                "--deep",
                action="store_true",
                help="audit: deep-check the whole tree now (every file re-stat'ed)",
            )
        command.add_argument("--config", help="agent.yaml, to find the API address (and token)")
        command.add_argument("--host")
        command.add_argument("--port", type=int)
        if name == "status":
            command.add_argument("--json", action="store_true", help="machine-readable output")
        command.set_defaults(func=func)

    add_plugins_command(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return run_subcommand(build_parser(), argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
