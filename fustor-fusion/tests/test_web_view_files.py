"""The web view's files: served at /ui/ without a key, shipped inside the package, kept out of
the API document. (The page itself is tested in a real browser: tests/ui/.)"""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from importlib import resources
from pathlib import Path

import pytest
from fusion_testkit import Fusion

from fustor_fusion.webui import SECURITY_HEADERS

PAGE_FILES = {
    "index.html",
    "style.css",
    "app.js",
    "address.js",
    "api.js",
    "dom.js",
    "format.js",
    "live.js",
    "panels.js",
    "state.js",
    "tree.js",
}
TYPES = {".html": "text/html", ".css": "text/css", ".js": "text/javascript"}


def referenced_files() -> set[str]:
    """What index.html loads and what the modules import, read from the files themselves."""
    ui = resources.files("fustor_fusion") / "ui"
    html = (ui / "index.html").read_text()
    wanted = set(re.findall(r'(?:src|href)="([\w.-]+\.(?:js|css))"', html))
    pending = [name for name in wanted if name.endswith(".js")]
    while pending:
        source = (ui / pending.pop()).read_text()
        for name in re.findall(r'from "\./([\w.-]+\.js)"', source):
            if name not in wanted:
                wanted.add(name)
                pending.append(name)
    return wanted


def test_the_page_and_everything_it_loads_is_served_without_a_key(fusion: Fusion) -> None:
    client = fusion.client(key=None)
    page = client.get("/ui/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="app.js">' in page.text
    assert referenced_files() == PAGE_FILES - {"index.html"}
    for name in sorted(PAGE_FILES):
        answer = client.get(f"/ui/{name}")
        assert answer.status_code == 200, name
        assert answer.headers["content-type"].startswith(TYPES[Path(name).suffix]), name
        for header, value in SECURITY_HEADERS.items():
            assert answer.headers[header] == value, (name, header)


def test_ui_without_slash_leads_to_the_page(fusion: Fusion) -> None:
    answer = fusion.client(key=None).get("/ui", follow_redirects=False)
    assert answer.status_code in (307, 308)
    assert answer.headers["location"].endswith("/ui/")


def test_an_unknown_file_is_a_json_404(fusion: Fusion) -> None:
    answer = fusion.client(key=None).get("/ui/nope.js")
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"
    assert fusion.client(key=None).get("/ui/%2e%2e/app.py").status_code == 404  # no way out of ui/


def test_the_page_is_not_part_of_the_api_document(fusion: Fusion) -> None:
    paths = fusion.client(key=None).get("/api/v1/openapi.json").json()["paths"]
    assert not [path for path in paths if path.startswith("/ui")]


def test_the_data_still_needs_a_key(fusion: Fusion) -> None:
    assert fusion.client(key=None).get("/api/v1/views/demo/stats").status_code == 401


def test_the_files_are_package_data_of_the_wheel(tmp_path: Path) -> None:
    project = Path(__file__).resolve().parents[1]
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    built = subprocess.run(
        [*pip_wheel, "-w", str(tmp_path), str(project)],
        capture_output=True,
        text=True,
    )
    if built.returncode != 0:
        pytest.fail(f"building the wheel failed:\n{built.stderr[-2000:]}")
    (wheel,) = tmp_path.glob("fustor_fusion-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"fustor_fusion/ui/{name}" for name in PAGE_FILES} <= names
