"""Run schemathesis (the CLI, as an operator would) against a service on loopback, bounded.

Reusable by any service's tests: give it the URL of an OpenAPI document served on 127.0.0.1, the
headers to authenticate with, and bounds. It answers how many requests were sent (counted in the
HAR report) and which checks failed (read from the JUnit report), with the console output for the
assertion message.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

LOOPBACK = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True)
class FuzzRun:
    requests: int
    failures: list[str]
    """One entry per failing operation: its name and schemathesis's account of the failure."""
    output: str
    returncode: int

    def summary(self) -> str:
        """One line; says the exit status when schemathesis failed without naming an operation
        (a crash, a schema it could not load), so the line never reads as a clean run."""
        line = f"{self.requests} requests, {len(self.failures)} failing operations"
        if self.returncode != 0 and not self.failures:
            line += f", schemathesis exited {self.returncode}"
        return line


def run_schemathesis(
    schema_url: str,
    *,
    report_dir: Path,
    headers: dict[str, str] | None = None,
    max_examples: int = 10,
    timeout_s: float = 300.0,
    include_operation_ids: Sequence[str] = (),
    exclude_operation_ids: Sequence[str] = (),
    exclude_checks: Sequence[str] = (),
    seed: int = 1,
) -> FuzzRun:
    """Fuzz every operation of ``schema_url`` (all phases, every check but ``exclude_checks``)."""
    host = urlsplit(schema_url).hostname
    if host not in LOOPBACK:
        raise ValueError(f"fuzzing only on loopback, not {host!r}")
    base = f"{urlsplit(schema_url).scheme}://{urlsplit(schema_url).netloc}"
    report_dir.mkdir(parents=True, exist_ok=True)
    har, junit = report_dir / "requests.har", report_dir / "junit.xml"
    argv = [
        str(Path(sys.executable).parent / "st"),
        "run",
        schema_url,
        "--url",
        base,
        "--max-examples",
        str(max_examples),
        "--seed",
        str(seed),
        "--workers",
        "1",
        "--request-timeout",
        "10",
        "--report",
        "har,junit",
        "--report-har-path",
        str(har),
        "--report-junit-path",
        str(junit),
        "--output-truncate",
        "true",
    ]
    for name, value in (headers or {}).items():
        argv += ["--header", f"{name}: {value}"]
    for operation in include_operation_ids:
        argv += ["--include-operation-id", operation]
    for operation in exclude_operation_ids:
        argv += ["--exclude-operation-id", operation]
    if exclude_checks:
        argv += ["--exclude-checks", ",".join(exclude_checks)]
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "160"}
    done = subprocess.run(  # in report_dir: schemathesis keeps a .schemathesis cache in its cwd
        argv, capture_output=True, text=True, timeout=timeout_s, env=env, check=False, cwd=report_dir
    )
    return FuzzRun(
        requests=_count_requests(har),
        failures=_failures(junit),
        output=done.stdout[-20000:] + done.stderr[-5000:],
        returncode=done.returncode,
    )


def _count_requests(har: Path) -> int:
    if not har.exists():
        return 0
    return len(json.loads(har.read_text())["log"]["entries"])


def _failures(junit: Path) -> list[str]:
    if not junit.exists():
        return ["no JUnit report written (did schemathesis start?)"]
    failures = []
    for case in ElementTree.parse(junit).iter("testcase"):
        for outcome in case:
            if outcome.tag in ("failure", "error"):
                failures.append(
                    f"{case.get('name')}: {(outcome.text or outcome.get('message') or '')[:3000]}"
                )
    return failures
