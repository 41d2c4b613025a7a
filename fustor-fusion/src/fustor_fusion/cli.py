"""The ``fustor-fusion`` command: ``serve`` the HTTP API, list ``plugins``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from fustor_core.commands import add_plugins_command, run_subcommand
from fustor_core.errors import ConfigError, FustorError
from fustor_core.http_server import listening_socket, uvicorn_config
from fustor_core.logs import add_log_format_argument, configure_logging, log_event
from fustor_core.notify import ServiceNotifier
from fustor_core.paths import fustor_home
from fustor_core.runtime import tune_garbage_collection
from fustor_fusion.app import create_app
from fustor_fusion.config import load_fusion_config
from fustor_fusion.server import FusionServer

logger = logging.getLogger("fustor_fusion")


def _config_path(given: str | None) -> Path:
    return Path(given) if given else fustor_home() / "fusion.yaml"


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve until interrupted."""
    config = load_fusion_config(_config_path(args.config))
    host = args.host or config.host
    port = config.port if args.port is None else args.port
    try:
        configure_logging((args.log_level or config.log_level).upper(), args.log_format or config.log_format)
    except ValueError as exc:
        raise FustorError(f"--log-level: {exc}") from None
    notifier = ServiceNotifier()
    try:
        app = create_app(config, notifier=notifier)
    except ConfigError as exc:  # a rule's options, validated against the installed plugins
        raise ConfigError(f"{_config_path(args.config)}: {exc.message}") from None
    tune_garbage_collection()
    # bind first, so the log line names the real port even when port 0 asked for any free one
    try:
        sock = listening_socket(host, port)
    except OSError as exc:
        raise FustorError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    bound_port = sock.getsockname()[1]
    sock.listen(2048)  # connections made from now on wait in the backlog until uvicorn accepts them
    server = FusionServer(
        uvicorn_config(app, config.connections, log_config=None, access_log=False, lifespan="on"), notifier
    )
    app.state.fusion.stopping = lambda: server.should_exit  # long polls end when shutdown begins
    log_event(
        logger,
        logging.INFO,
        "fusion listening",
        url=f"http://{host}:{bound_port}",
        datastores=",".join(config.datastores),
    )
    server.run(sockets=[sock])
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fustor-fusion", description="Fustor Fusion service")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the ingest and query API")
    serve.add_argument("--config", help="fusion.yaml (default: $FUSTOR_HOME/fusion.yaml)")
    serve.add_argument("--host", help="address to listen on (default: config 'host', 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default: config 'port', 8102; 0: any)")
    serve.add_argument("--log-level", help="log level (default: config 'log_level', INFO)")
    add_log_format_argument(serve)
    serve.set_defaults(func=cmd_serve)
    add_plugins_command(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return run_subcommand(build_parser(), argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
