"""Fixtures of the web-view tests: Debian's Chromium driven by Playwright, a real Fusion fed by a
real agent (helpers in ``webstack``). Without Chromium or Playwright the tests are skipped with
the reason, except under ``CI=true``, where that is a failure."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from webstack import (
    CHROMIUM_ARGS,
    SCREENSHOTS,
    WebStack,
    browser_unavailable_reason,
    chromium_path,
    make_sample_tree,
)


def _require_browser() -> None:
    reason = browser_unavailable_reason()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"the web view must be tested in a browser in CI, but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium from the system (Playwright never downloads a browser here).

    Module-scoped: while Playwright's sync API runs, its event loop is the thread's running loop,
    so ``asyncio.run`` in any test collected after it would fail until it stops."""
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """``new_page(width=1280, height=800)``: a page in a fresh context (its own sessionStorage),
    in UTC so that shown times are known; every context is closed afterwards, and a script error
    on any page fails the test."""
    contexts: list[Any] = []
    script_errors: list[str] = []

    def make(width: int = 1280, height: int = 800) -> Any:
        context = browser.new_context(
            viewport={"width": width, "height": height}, timezone_id="UTC", locale="en-US"
        )
        context.set_default_timeout(20_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: script_errors.append(str(error)))
        return page

    yield make
    for context in contexts:
        context.close()
    assert not script_errors, f"the page threw: {script_errors}"


@pytest.fixture(scope="session")
def screenshot() -> Callable[[Any, str], Path]:
    """``screenshot(page, "name")`` keeps ``test-artifacts/screenshots/name.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page: Any, name: str, full_page: bool = False) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebStack]:
    """Fusion and a realtime agent over :func:`make_sample_tree`, shared by a module's tests."""
    _require_browser()
    base = tmp_path_factory.mktemp("web")
    root = base / "export"
    make_sample_tree(root)
    started = WebStack(base / "services", root).start()
    yield started
    started.stop()
