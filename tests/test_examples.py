"""The examples under ``examples/`` are third-party plugins that work as their READMEs say.

Each one is installed with pip (into a directory of its own, put on the services' PYTHONPATH:
never into the environment the other tests run in), shows in ``fustor plugins``, is configured
through its own options in the service's YAML and changes what real Fusion and agent processes
on loopback do. Their own tests (the family's contract suite or harness) run in their tox
environments (``tox -e example-NAME``). A misspelt hook in an example-like package stops Fusion
at start, naming it.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from fustor_core.testing import free_port, wait_for
from fustor_demo.processes import Service, command_path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
FAMILIES = {
    "merge-ignore-tmp": "fustor_batch_applied",
    "source-manifest": "fustor_source_drivers",
    "pusher-jsonl": "fustor_pusher_drivers",
    "sync-nightly-snapshot": "fustor_sync_modes",
    "storage-capped": "fustor_tree_store",
}
TOKEN = "agent-token"
CODE_LINES = 40
PIP_INSTALL = [
    sys.executable,
    "-m",
    "pip",
    "install",
    "--quiet",
    "--no-deps",
    "--no-build-isolation",
    "--no-index",
]


def pip_install(source: Path, site: Path) -> Path:
    """``pip install`` the package at ``source`` into ``site`` (offline: hatchling is a dev
    requirement) and return ``site``."""
    done = subprocess.run(
        [*PIP_INSTALL, "--target", str(site), str(source)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    return site


def code_lines(module: Path) -> int:
    """Lines of code: not blank, not a comment, not a docstring."""
    text = module.read_text()
    docstrings: set[int] = set()
    for node in ast.walk(ast.parse(text)):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                docstrings.update(range(body[0].lineno, (body[0].end_lineno or body[0].lineno) + 1))
    return sum(
        1
        for number, line in enumerate(text.splitlines(), 1)
        if number not in docstrings and line.strip() and not line.strip().startswith("#")
    )


def service_env(site: Path, home: Path) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("FUSTOR_")},
        "PYTHONPATH": str(site),
        "FUSTOR_HOME": str(home),
    }


def keys(datastore: str) -> list[dict[str, Any]]:
    return [
        {"key": f"ingest-{datastore}", "scopes": ["ingest"]},
        {"key": f"query-{datastore}", "scopes": ["query"]},
    ]


class Views:
    """Fusion's query API, with each datastore's query key."""

    def __init__(self, url: str) -> None:
        self.client = httpx.Client(base_url=url, timeout=10)

    def get(self, datastore: str, route: str, **params: Any) -> httpx.Response:
        return self.client.get(
            f"/{datastore}/{route}", params=params, headers={"X-API-Key": f"query-{datastore}"}
        )

    def children(self, datastore: str, path: str) -> list[str]:
        answer = self.get(datastore, "tree", path=path)
        return (
            sorted(child["path"] for child in answer.json().get("children", [])) if answer.is_success else []
        )

    def stats(self, datastore: str) -> dict[str, Any]:
        answer = self.get(datastore, "stats")
        return answer.json() if answer.is_success else {}  # type: ignore[no-any-return]


class Stack:
    """Fusion and an agent as real processes, started from YAML written here."""

    def __init__(self, tmp_path: Path, site: Path) -> None:
        self.tmp_path = tmp_path
        self.env = service_env(site, tmp_path / "home")
        self.services: list[Service] = []
        self.fusion_url = ""
        self.api_url = ""

    def fusion(self, datastores: dict[str, dict[str, Any]], **top: Any) -> Views:
        """Fusion serving ``datastores`` (keys ``ingest-NAME`` and ``query-NAME``); its views."""
        port = free_port()
        self.fusion_url = f"http://127.0.0.1:{port}"
        config = {
            "port": port,
            **top,
            "datastores": {n: {"api_keys": keys(n), **d} for n, d in datastores.items()},
        }
        path = self.tmp_path / "fusion.yaml"
        path.write_text(yaml.safe_dump(config))
        self._start("fusion", ["fustor-fusion", "serve", "--config", str(path)], f"{self.fusion_url}/readyz")
        return Views(f"{self.fusion_url}/api/v1/views")

    def agent(self, *pipes: dict[str, Any]) -> httpx.Client:
        """An agent running ``pipes`` (an http pusher to this Fusion unless a pipe has its own);
        a client of its API carrying the bearer token."""
        port = free_port()
        self.api_url = f"http://127.0.0.1:{port}"
        http = {"driver": "http", "url": self.fusion_url}
        config = {
            "api": {"port": port, "token": TOKEN},
            "pipes": [
                {"pusher": {**http, "api_key": f"ingest-{pipe['datastore']}"}, **pipe} for pipe in pipes
            ],
        }
        path = self.tmp_path / "agent.yaml"
        path.write_text(yaml.safe_dump(config))
        self._start("agent", ["fustor-agent", "run", "--config", str(path)], f"{self.api_url}/healthz")
        return httpx.Client(base_url=self.api_url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)

    def _start(self, name: str, argv: list[str], ready_url: str) -> None:
        argv = [command_path(argv[0]), *argv[1:]]
        self.services.append(
            Service(name, argv, log_dir=self.tmp_path, ready_url=ready_url, env=self.env).start()
        )

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()


@pytest.fixture
def stack_for(tmp_path: Path) -> Iterator[Callable[[str], Stack]]:
    """``stack_for("merge-ignore-tmp")``: a Stack whose services have that example pip-installed."""
    made: list[Stack] = []

    def make(example: str) -> Stack:
        stack = Stack(tmp_path, pip_install(EXAMPLES / example, tmp_path / "site"))
        made.append(stack)
        return stack

    yield make
    for stack in made:
        stack.stop()


def fs_pipe(tree: Path, datastore: str = "demo", **more: Any) -> dict[str, Any]:
    return {"datastore": datastore, "source": {"driver": "fs", "path": str(tree)}, **more}


# -- every example ------------------------------------------------------------------------------


@pytest.mark.parametrize("example", sorted(FAMILIES))
def test_the_example_is_small_installs_with_pip_and_shows_in_fustor_plugins(
    tmp_path: Path, example: str
) -> None:
    modules = list((EXAMPLES / example / "src").rglob("*.py"))
    assert sum(code_lines(module) for module in modules) <= CODE_LINES
    site = pip_install(EXAMPLES / example, tmp_path / "site")
    listed = subprocess.run(
        [command_path("fustor"), "plugins"],
        env=service_env(site, tmp_path / "home"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    [at] = [i for i, line in enumerate(lines) if line.split()[:2] == [example, example]]
    assert lines[at + 1].split()[0] == "hooks:" and FAMILIES[example] in lines[at + 1], lines[at : at + 2]
    assert "error" not in listed.stdout.lower()


# -- one end-to-end test per family ---------------------------------------------------------------


def test_merge_rule_scratch_files_of_its_configured_suffixes_are_not_suspect(
    tmp_path: Path, stack_for: Callable[[str], Stack]
) -> None:
    tree = tmp_path / "export"
    (tree / "up").mkdir(parents=True)
    for name in ("run.bin", "run.bin.part", "sheet.csv.tmp"):
        (tree / "up" / name).write_bytes(b"x")  # fresh: a snapshot finds them hot, so suspect
    stack = stack_for("merge-ignore-tmp")
    query = stack.fusion({"demo": {}}, rules={"merge-ignore-tmp": {"suffixes": [".part"]}})
    stack.agent(fs_pipe(tree, modes={"audit": False, "sentinel": False}))
    wait_for(lambda: len(query.children("demo", "/up")) == 3, 30, "the snapshot in Fusion")

    def suspects() -> list[str]:
        return sorted(entry["path"] for entry in query.get("demo", "lists/suspects").json())

    wait_for(lambda: "/up/run.bin" in suspects(), 30, "the suspect rule flagging the hot files")
    assert suspects() == ["/up/run.bin", "/up/sheet.csv.tmp"], "*.part unlisted; .tmp is not configured"


def test_source_the_tree_is_what_the_manifest_lists_and_an_audit_follows_it(
    tmp_path: Path, stack_for: Callable[[str], Stack]
) -> None:
    manifest = tmp_path / "MANIFEST"
    manifest.write_text("runs/\nruns/r1.fastq\nruns/r2.fastq\n")
    stack = stack_for("source-manifest")
    query = stack.fusion({"demo": {}})
    api = stack.agent({"datastore": "demo", "source": {"driver": "manifest", "manifest": str(manifest)}})
    wait_for(
        lambda: query.children("demo", "/runs") == ["/runs/r1.fastq", "/runs/r2.fastq"],
        30,
        "the manifest's tree",
    )
    manifest.write_text("runs/\nruns/r2.fastq\nruns/r3.fastq\n")
    assert api.post("/api/v1/pipes/demo/audit").status_code == 202
    wait_for(
        lambda: query.children("demo", "/runs") == ["/runs/r2.fastq", "/runs/r3.fastq"],
        30,
        "the audit's changes",
    )


def test_pusher_the_agent_writes_its_stream_to_the_configured_file(
    tmp_path: Path, stack_for: Callable[[str], Stack]
) -> None:
    tree = tmp_path / "export"
    tree.mkdir()
    (tree / "a").write_bytes(b"x")
    out = tmp_path / "stream.jsonl"
    stack = stack_for("pusher-jsonl")
    api = stack.agent(fs_pipe(tree, pusher={"driver": "jsonl", "path": str(out)}))

    def stream() -> list[dict[str, Any]]:
        return [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []

    def paths(source: str) -> set[str]:
        return {
            row["path"] for line in stream() if line.get("message_source") == source for row in line["rows"]
        }

    wait_for(lambda: {"signal": "snapshot/end"} in stream(), 30, "the snapshot in the file")
    assert "/a" in paths("snapshot")
    (tree / "b").write_bytes(b"y")
    wait_for(lambda: "/b" in paths("realtime"), 30, "the realtime write in the file")
    pipe = api.get("/api/v1/status").json()["pipes"][0]
    assert pipe["role"] == "leader", pipe


def test_sync_mode_configured_interval_and_a_triggered_run(
    tmp_path: Path, stack_for: Callable[[str], Stack]
) -> None:
    tree = tmp_path / "export"
    tree.mkdir()
    (tree / "f").write_bytes(b"x")
    stack = stack_for("sync-nightly-snapshot")
    stack.fusion({"demo": {}})
    modes = {"nightly-snapshot": {"interval_s": 3600}, "audit": False, "sentinel": False}
    api = stack.agent(fs_pipe(tree, modes=modes))

    def pipe() -> dict[str, Any]:
        return api.get("/api/v1/status").json()["pipes"][0]  # type: ignore[no-any-return]

    wait_for(lambda: "nightly-snapshot" in pipe()["modes"], 30, "the example's mode running (leading)")
    assert "nightly-snapshot" in pipe()["triggerable"]
    assert not pipe()["modes"]["nightly-snapshot"].get("runs"), "its interval is an hour"
    assert api.post("/api/v1/pipes/demo/nightly-snapshot").status_code == 202
    wait_for(lambda: pipe()["modes"]["nightly-snapshot"].get("runs") == 1, 30, "the triggered snapshot")
    assert pipe()["counters"]["snapshot_rows_read"] == 2 * 2, "the tenure's snapshot and the example's"


def test_storage_a_capped_datastore_holds_at_most_its_max_nodes(
    tmp_path: Path, stack_for: Callable[[str], Stack]
) -> None:
    tree = tmp_path / "export"
    tree.mkdir()
    for i in range(10):
        (tree / f"f{i}").write_bytes(b"x")
    stack = stack_for("storage-capped")
    capped = {"storage": {"backend": "capped", "options": {"max_nodes": 4}}}
    query = stack.fusion({"capped": capped, "full": {}})
    modes = {"audit": False, "sentinel": False}
    stack.agent(fs_pipe(tree, "capped", modes=modes), fs_pipe(tree, "full", modes=modes))

    wait_for(lambda: query.stats("full").get("files") == 10, 30, "the memory datastore's snapshot")
    wait_for(
        lambda: query.stats("capped").get("last_snapshot_end") is not None,
        30,
        "the capped datastore's snapshot",
    )
    assert query.stats("capped")["files"] == 3, "the root and three files: max_nodes 4"


# -- a mistake ------------------------------------------------------------------------------------


def test_an_example_with_a_misspelt_hook_stops_fusion_at_start_naming_it(tmp_path: Path) -> None:
    package = tmp_path / "merge-ignore-tmp"
    shutil.copytree(EXAMPLES / "merge-ignore-tmp", package, ignore=shutil.ignore_patterns("tests", "build"))
    module = package / "src" / "merge_ignore_tmp" / "__init__.py"
    module.write_text(module.read_text().replace("def fustor_batch_applied(", "def fustor_batch_aplied("))
    site = pip_install(package, tmp_path / "site")
    config = tmp_path / "fusion.yaml"
    config.write_text(yaml.safe_dump({"datastores": {"demo": {"api_keys": keys("demo")}}}))
    done = subprocess.run(
        [command_path("fustor-fusion"), "serve", "--port", "0", "--config", str(config)],
        env=service_env(site, tmp_path / "home"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert (
        "plugin 'merge-ignore-tmp' (distribution merge-ignore-tmp 0.2.0, entry point merge_ignore_tmp): "
        "implements unknown hook 'fustor_batch_aplied' (did you mean 'fustor_batch_applied'?)"
    ) in done.stderr
