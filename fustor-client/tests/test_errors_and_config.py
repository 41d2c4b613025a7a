"""Errors are one line naming the HTTP cause, exit status 2; settings come from flags, then the
environment, then the client file; a closed pipe ends ``find`` quietly."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from clientkit import FUSTOR, OTHER_KEY, QUERY_KEY, Fusion, fustor, lines, serve_fusion


@pytest.fixture(scope="module")
def fusion() -> Iterator[Fusion]:
    with serve_fusion() as served:
        rows = [{"path": "/big", "is_dir": True, "size": 0, "mtime": 1.0e9}]
        rows += [
            {"path": f"/big/file-{i:05d}.dat", "is_dir": False, "size": i, "mtime": 1.0e9}
            for i in range(12_000)
        ]
        served.ingest().send(rows)
        yield served


def one_line_error(result: subprocess.CompletedProcess[bytes]) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout[:200], result.stderr)
    text = result.stderr.decode()
    assert text.count("\n") == 1 and "Traceback" not in text, text
    return text


def test_a_bad_key_is_one_line_naming_401(fusion: Fusion) -> None:
    text = one_line_error(fustor(fusion, "ls", "/", key="not-a-key"))
    assert "HTTP 401" in text


def test_an_unknown_datastore_is_one_line_naming_403(fusion: Fusion) -> None:
    text = one_line_error(fustor(fusion, "du", "-s", "/", env={"FUSTOR_DATASTORE": "nosuch"}))
    assert "HTTP 403" in text and "nosuch" in text
    text = one_line_error(fustor(fusion, "find", "/", key=OTHER_KEY))  # a key of another datastore
    assert "HTTP 403" in text


def test_a_missing_path_is_one_line_naming_404(fusion: Fusion) -> None:
    text = one_line_error(fustor(fusion, "ls", "/nowhere"))
    assert "HTTP 404" in text and "/nowhere" in text


def test_fusion_down_is_one_line(fusion: Fusion) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here
    text = one_line_error(fustor(fusion, "find", "/", env={"FUSTOR_URL": f"http://127.0.0.1:{port}"}))
    assert "cannot reach Fusion" in text and str(port) in text


def test_a_bad_expression_is_one_line(fusion: Fusion) -> None:
    assert "unknown predicate" in one_line_error(fustor(fusion, "find", "/", "-frobnicate"))
    assert "-size" in one_line_error(fustor(fusion, "find", "/", "-size", "12Q"))


def test_settings_from_the_client_file_and_their_precedence(fusion: Fusion, tmp_path: Path) -> None:
    config = tmp_path / "config"
    (config / "fustor").mkdir(parents=True)
    (config / "fustor" / "client.yaml").write_text(
        f"url: {fusion.url}\napi_key: {QUERY_KEY}\ndatastore: demo\n"
    )
    from_file = fustor(None, "ls", "/", env={"XDG_CONFIG_HOME": str(config)})
    assert lines(from_file) == ["big"]
    # the environment wins over the file, a flag over both
    env = {"XDG_CONFIG_HOME": str(config), "FUSTOR_API_KEY": "wrong"}
    assert "HTTP 401" in one_line_error(fustor(None, "ls", "/", env=env))
    assert lines(fustor(None, "ls", "/", "--key", QUERY_KEY, env=env)) == ["big"]
    no_datastore = fustor(None, "ls", "/", env={"XDG_CONFIG_HOME": str(tmp_path / "empty")})
    assert "no datastore" in one_line_error(no_datastore)


def test_find_follows_every_page(fusion: Fusion) -> None:
    found = lines(fustor(fusion, "find", "/big", "-type", "f"))
    assert found == [f"/big/file-{i:05d}.dat" for i in range(12_000)]
    listed = lines(fustor(fusion, "ls", "/big"))
    assert len(listed) == 12_000 and listed[-1] == "file-11999.dat"


def test_a_pipe_closed_early_is_not_an_error(fusion: Fusion) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FUSTOR_")}
    env.update(FUSTOR_URL=fusion.url, FUSTOR_API_KEY=QUERY_KEY, FUSTOR_DATASTORE="demo")
    process = subprocess.Popen(
        [FUSTOR, "find", "/big"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.readline() == b"/big\n"
    process.stdout.close()  # like `| head -1`
    assert process.wait(timeout=60) == 0
    assert process.stderr.read() == b""
