"""``fustor-registry``: serve the API, migrate the database, and administer it from scripts.

The ``admin`` commands work directly on the database named by the config file (no server
needed, no login: whoever can read the config is an admin). ``--json`` prints one JSON document
for scripts; a created API key's secret is printed exactly once, by ``create-key``.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy.orm import Session

from fustor_core.commands import run_subcommand
from fustor_core.errors import InvalidInput
from fustor_core.http_server import NotifyingServer, uvicorn_config
from fustor_core.logs import add_log_format_argument, configure_logging
from fustor_core.notify import ServiceNotifier
from fustor_registry import migrate
from fustor_registry.access import CLI_ADMIN
from fustor_registry.config import read_config
from fustor_registry.registry import Registry
from fustor_registry.schemas import (
    CredentialCreate,
    DatastoreCreate,
    KeyCreate,
    StorageEnvironmentCreate,
    UserCreate,
    describe_errors,
)
from fustor_registry.services import cluster, datastores, keys, storage, users
from fustor_registry.services.users import find_user

PROG = "fustor-registry"


# --- serve / db / gen-secret-key ---------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    from fustor_registry.api import create_app

    config = read_config(args.config)
    configure_logging(config.log_level, args.log_format or config.log_format)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # our own line says "database migrated"
    notifier = ServiceNotifier()
    app = create_app(config, notifier=notifier)
    NotifyingServer(
        uvicorn_config(
            app,
            config.connections,
            host=args.host or config.host,
            port=args.port if args.port is not None else config.port,
            log_config=None,
            access_log=False,
            # the app decides whom to believe (trusted_proxies); uvicorn's own handling would
            # trust X-Forwarded-For from loopback and hide the real peer from it
            proxy_headers=False,
        ),
        notifier,
    ).run()
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    registry = Registry.open(read_config(args.config), migrate_schema=False, need_secret=False)
    try:
        revision = migrate.upgrade(registry.db.engine, args.revision)
    finally:
        registry.close()
    _emit(args, {"revision": revision, "database": registry.db.safe_url}, f"database at revision {revision}")
    return 0


def cmd_db_current(args: argparse.Namespace) -> int:
    registry = Registry.open(read_config(args.config), migrate_schema=False, need_secret=False)
    try:
        revision = migrate.current_revision(registry.db.engine)
    finally:
        registry.close()
    head = migrate.head_revision()
    _emit(args, {"revision": revision, "head": head}, f"revision {revision or '<empty>'} (head {head})")
    return 0


def cmd_gen_secret_key(args: argparse.Namespace) -> int:
    print(Fernet.generate_key().decode("ascii"))
    return 0


# --- admin -------------------------------------------------------------------------------------


def cmd_create_user(args: argparse.Namespace) -> int:
    password = _read_password(args)
    body = _validated(UserCreate, {"username": args.username, "password": password, "role": args.role})
    answer = _admin_unit(
        args, lambda registry, session: users.create_user(session, CLI_ADMIN, body, registry.passwords)
    )
    _emit(args, answer, f"created {answer['role']} {answer['username']} (id {answer['id']})")
    return 0


def cmd_create_datastore(args: argparse.Namespace) -> int:
    data: dict[str, Any] = {"name": args.name, "description": args.description or ""}
    if args.fusion_url:
        data["fusion_url"] = args.fusion_url
    if args.storage_environment:
        data["storage_environment"] = args.storage_environment
    body = _validated(DatastoreCreate, data)

    def work(registry: Registry, session: Session) -> dict[str, Any]:
        answer = datastores.create_datastore(session, CLI_ADMIN, body)
        if args.owner:
            record = datastores.find_datastore(session, body.name)
            record.owner = find_user(session, args.owner)
            answer["owner"] = args.owner
        return answer

    answer = _admin_unit(args, work)
    _emit(args, answer, f"created datastore {answer['name']}")
    return 0


def cmd_create_key(args: argparse.Namespace) -> int:
    data: dict[str, Any] = {"scopes": [scope.strip() for scope in args.scopes.split(",") if scope.strip()]}
    if args.expires_in_s is not None:
        data["expires_in_s"] = args.expires_in_s
    if args.label:
        data["label"] = args.label
    body = _validated(KeyCreate, data)
    answer = _admin_unit(
        args, lambda registry, session: keys.create_key(session, CLI_ADMIN, args.datastore, body)
    )
    if args.json:
        _emit(args, answer, "")
    else:
        print(answer["key"])
        print(
            f"# key {answer['id']} ({answer['prefix']}) for {answer['datastore']}, scopes "
            f"{','.join(answer['scopes'])}, expires {answer['expires_at'] or 'never'}; shown only once",
            file=sys.stderr,
        )
    return 0


def cmd_revoke_key(args: argparse.Namespace) -> int:
    answer = _admin_unit(args, lambda registry, session: keys.revoke_key(session, CLI_ADMIN, args.id))
    _emit(args, answer, f"key {answer['id']} ({answer['prefix']}) is {answer['state']}")
    return 0


def cmd_list_keys(args: argparse.Namespace) -> int:
    def work(registry: Registry, session: Session) -> list[dict[str, Any]]:
        if args.datastore:
            return keys.list_datastore_keys(session, CLI_ADMIN, args.datastore)
        return keys.list_keys(session, CLI_ADMIN)

    answer = _admin_unit(args, work)
    lines = [
        f"{key['id']:>5} {key['prefix']:<12} {key['datastore'] or '-':<20} {','.join(key['scopes']):<13} "
        f"{key['state']:<8} expires={key['expires_at'] or 'never'} {key['label']}"
        for key in answer
    ]
    _emit(args, {"keys": answer}, "\n".join(lines) if lines else "no keys")
    return 0


def cmd_create_storage_environment(args: argparse.Namespace) -> int:
    try:
        details = json.loads(args.details) if args.details else {}
    except ValueError:
        raise InvalidInput("--details: not valid JSON") from None
    body = _validated(StorageEnvironmentCreate, {"name": args.name, "kind": args.kind, "details": details})
    answer = _admin_unit(args, lambda registry, session: storage.create_environment(session, CLI_ADMIN, body))
    _emit(args, answer, f"created storage environment {answer['name']} ({answer['kind']})")
    return 0


def cmd_add_credential(args: argparse.Namespace) -> int:
    secret = sys.stdin.readline().rstrip("\n")
    body = _validated(CredentialCreate, {"name": args.name, "secret": secret})
    answer = _admin_unit(
        args,
        lambda registry, session: storage.create_credential(
            session, CLI_ADMIN, args.storage_environment, body, registry.box
        ),
        need_secret=True,
    )
    _emit(args, answer, f"stored credential {answer['name']} for {answer['storage_environment']}")
    return 0


def cmd_nodes_list(args: argparse.Namespace) -> int:
    answer = _admin_unit(
        args, lambda registry, session: cluster.list_nodes(session, registry.config.node_timeout_s)
    )
    lines = [
        f"{node['node_id']:<20} {'alive' if node['alive'] else 'DOWN':<5} {node['advertise_url'] or '-':<32} "
        f"seen={node['last_seen'] or 'never'} owns={','.join(node['owned']) or '-'} "
        f"serves={','.join(node['serving']) or '-'} placed={','.join(node['placed']) or '-'}"
        for node in answer
    ]
    _emit(args, {"nodes": answer}, "\n".join(lines) if lines else "no nodes")
    return 0


def cmd_datastores_place(args: argparse.Namespace) -> int:
    nodes = [node.strip() for node in args.nodes.split(",") if node.strip()]

    def work(registry: Registry, session: Session) -> dict[str, Any]:
        datastore = datastores.find_datastore(session, args.datastore)
        return {"datastore": datastore.name, "nodes": cluster.place_datastore(session, datastore, nodes)}

    answer = _admin_unit(args, work)
    text = (
        f"datastore {answer['datastore']} placed on {', '.join(answer['nodes'])}"
        if answer["nodes"]
        else f"datastore {answer['datastore']} is unplaced (routed by its fusion_url)"
    )
    _emit(args, answer, text)
    return 0


def _admin_unit(
    args: argparse.Namespace, work: Callable[[Registry, Session], Any], *, need_secret: bool = False
) -> Any:
    registry = Registry.open(read_config(args.config), need_secret=need_secret)
    try:
        return registry.run(lambda session: work(registry, session))
    finally:
        registry.close()


def _validated(model: Any, data: dict[str, Any]) -> Any:
    from pydantic import ValidationError

    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(describe_errors(exc)) from None


def _read_password(args: argparse.Namespace) -> str:
    if args.password is not None:
        return str(args.password)
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if sys.stdin.isatty():
        return getpass.getpass(f"password for {args.username}: ")
    raise InvalidInput("password: give --password, --password-stdin, or run on a terminal")


def _emit(args: argparse.Namespace, data: Any, text: str) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, indent=2, ensure_ascii=False))
    elif text:
        print(text)


# --- parser ------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the HTTP API (migrates the database first)")
    _add_config(serve)
    serve.add_argument("--host", help="address to listen on (default: config host, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default: config port, 8101)")
    add_log_format_argument(serve)
    serve.set_defaults(func=cmd_serve)

    db = sub.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True)
    upgrade = db.add_parser("upgrade", help="migrate the database to the newest (or given) revision")
    _add_config(upgrade)
    upgrade.add_argument("--revision", default="head")
    upgrade.add_argument("--json", action="store_true", help="print one JSON document")
    upgrade.set_defaults(func=cmd_db_upgrade)
    current = db.add_parser("current", help="show the database's revision")
    _add_config(current)
    current.add_argument("--json", action="store_true", help="print one JSON document")
    current.set_defaults(func=cmd_db_current)

    gen = sub.add_parser("gen-secret-key", help="print a fresh Fernet key for `secret_key`")
    gen.set_defaults(func=cmd_gen_secret_key)

    admin = sub.add_parser("admin", help="administer the database directly (for scripts)")
    commands = admin.add_subparsers(dest="admin_command", required=True)

    create_user = _admin_command(commands, "create-user", "create a user", cmd_create_user)
    create_user.add_argument("--username", required=True)
    create_user.add_argument("--role", choices=["admin", "user"], default="user")
    create_user.add_argument(
        "--password", help="visible to other local users via ps; prefer --password-stdin"
    )
    create_user.add_argument("--password-stdin", action="store_true", help="read the password from stdin")

    create_ds = _admin_command(commands, "create-datastore", "create a datastore", cmd_create_datastore)
    create_ds.add_argument("--name", required=True)
    create_ds.add_argument("--description")
    create_ds.add_argument("--fusion-url", help="the Fusion that serves this datastore")
    create_ds.add_argument("--storage-environment")
    create_ds.add_argument("--owner", help="user name of the owner (default: none, admins only)")

    create_key = _admin_command(commands, "create-key", "create an API key (printed once)", cmd_create_key)
    create_key.add_argument("--datastore", required=True)
    create_key.add_argument("--scopes", default="ingest,query", help="comma-separated: ingest,query")
    create_key.add_argument("--expires-in-s", type=float)
    create_key.add_argument("--label")

    revoke = _admin_command(commands, "revoke-key", "revoke an API key by id", cmd_revoke_key)
    revoke.add_argument("--id", type=int, required=True)

    list_keys = _admin_command(
        commands, "list-keys", "list API keys (prefixes, never secrets)", cmd_list_keys
    )
    list_keys.add_argument("--datastore")

    env = _admin_command(
        commands, "create-storage-environment", "create a storage environment", cmd_create_storage_environment
    )
    env.add_argument("--name", required=True)
    env.add_argument("--kind", required=True, help="nfs, local, smb, ...")
    env.add_argument("--details", help="JSON object of connection/mount details (no secrets)")

    cred = _admin_command(
        commands, "add-credential", "store a credential (secret read from stdin)", cmd_add_credential
    )
    cred.add_argument("--storage-environment", required=True)
    cred.add_argument("--name", required=True)

    nodes = commands.add_parser("nodes", help="the Fusion nodes of a cluster").add_subparsers(
        dest="nodes_command", required=True
    )
    _admin_command(
        nodes, "list", "list the nodes: last report, alive, owned/served/placed datastores", cmd_nodes_list
    )

    placement = commands.add_parser("datastores", help="datastores of a cluster").add_subparsers(
        dest="datastores_command", required=True
    )
    place = _admin_command(placement, "place", "place a datastore on cluster nodes", cmd_datastores_place)
    place.add_argument("datastore", help="the datastore's name")
    place.add_argument(
        "--nodes",
        required=True,
        help="comma-separated node ids (cluster.node_id of each Fusion); '' makes it unplaced again",
    )
    return parser


def _add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="registry.yaml (default: all defaults, SQLite in FUSTOR_HOME)")


def _admin_command(
    commands: Any, name: str, help_text: str, func: Callable[[argparse.Namespace], int]
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(name, help=help_text)
    _add_config(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.set_defaults(func=func)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return run_subcommand(build_parser(), argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
