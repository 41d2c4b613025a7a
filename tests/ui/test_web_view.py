"""The web view at /ui/ as a person meets it: headless Chromium against a real Fusion fed by a
real agent. Every test keeps a screenshot under ``test-artifacts/screenshots/`` (see README)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from webstack import BIG_ENTRIES, ODD_DIR, OTHER_QUERY_KEY, QUERY_KEY, WebStack

from fustor_core.testing import wait_for

Page = Any  # playwright.sync_api.Page; the module is imported only when a browser is available


def sign_in(page: Page, stack: WebStack, path: str = "/", key: str = QUERY_KEY) -> None:
    """Open ``path`` and enter ``key`` in the form the page asks for it with."""
    page.goto(stack.page_url(path))
    page.locator("#login-key").fill(key)
    page.locator("#login button[type=submit]").click()


def row(page: Page, path: str) -> Any:
    return page.locator(f'tr[data-path="{path}"]')


def shown_names(page: Page) -> list[str]:
    return page.locator("#entries tr[data-path]").evaluate_all("rows => rows.map(r => r.dataset.path)")


def test_the_key_is_asked_once_and_kept_for_the_tab_only(
    stack: WebStack, new_page: Callable[..., Page], screenshot: Callable[..., Path]
) -> None:
    page = new_page()
    page.goto(stack.page_url("/"))
    form = page.locator("#login")
    form.wait_for()
    assert page.locator("#login-datastore").input_value() == "demo"  # taken from the address
    screenshot(page, "01-key-form")
    sign_in(page, stack)
    row(page, "/upload").wait_for()
    assert form.is_hidden()

    page.reload()
    row(page, "/upload").wait_for()
    assert form.is_hidden(), "the key is kept for the tab"
    assert page.evaluate("sessionStorage.getItem('fustor.key')") == QUERY_KEY
    assert page.evaluate("localStorage.length") == 0, "the key never outlives the tab"

    other_tab = new_page()
    other_tab.goto(stack.page_url("/"))
    other_tab.locator("#login").wait_for()


def test_browse_with_breadcrumbs_counts_sizes_and_mtimes(
    stack: WebStack, new_page: Callable[..., Page], screenshot: Callable[..., Path]
) -> None:
    page = new_page()
    sign_in(page, stack)
    page.get_by_role("link", name="upload/").click()
    run = row(page, "/upload/run-1")
    run.wait_for()
    assert page.url.endswith("/ui/#/demo/upload")
    assert run.locator("td[data-label=files]").inner_text() == "2"
    assert run.locator("td[data-label=size]").inner_text() == "1.5 MiB"  # du: 1536 KiB + 100 B
    assert run.locator("td[data-label=modified]").inner_text() == "2020-09-13 12:26:40"
    crumbs = page.locator("#crumbs")
    assert crumbs.inner_text().replace(" ", "") == "demo/upload"
    assert crumbs.get_by_role("link").all_inner_texts() == ["demo"]  # the shown directory is no link
    screenshot(page, "02-browse-upload")

    run.get_by_role("link").click()
    data = row(page, "/upload/run-1/data.bin")
    data.wait_for()
    assert data.locator("td[data-label=size]").inner_text() == "1.5 MiB"
    assert data.locator("td[data-label=size]").get_attribute("title") == "1,572,864 bytes"
    assert row(page, "/upload/run-1/notes.txt").locator("td[data-label=size]").inner_text() == "100 B"
    assert "2 files · 0 dirs · 1.5 MiB" in page.locator("#summary").inner_text()

    page.locator("#crumbs").get_by_role("link", name="demo").click()
    row(page, "/big").wait_for()
    assert row(page, "/big").locator("td[data-label=files]").inner_text() == f"{BIG_ENTRIES:,}"


def test_names_are_shown_as_text_never_run_and_survive_the_address(
    stack: WebStack, new_page: Callable[..., Page]
) -> None:
    page = new_page()
    sign_in(page, stack, "/odd")
    name = "<img src=x onerror=window.pwned=1>.dat"
    row(page, f"/odd/{name}").wait_for()
    assert row(page, f"/odd/{name}").locator("td.name").inner_text() == name
    assert page.evaluate("window.pwned") is None
    assert page.locator("#entries img").count() == 0

    row(page, f"/odd/{ODD_DIR}").get_by_role("link").click()  # a name that means something in a URL
    row(page, f"/odd/{ODD_DIR}/inner.txt").wait_for()
    assert page.locator("#crumbs [aria-current=page]").inner_text() == ODD_DIR
    page.reload()  # the address alone brings it back
    row(page, f"/odd/{ODD_DIR}/inner.txt").wait_for()


def test_a_written_file_appears_with_its_suspect_badge(
    stack: WebStack, new_page: Callable[..., Page], screenshot: Callable[..., Path]
) -> None:
    page = new_page()
    sign_in(page, stack, "/live")
    settled = row(page, "/live/settled.dat")
    settled.wait_for()
    assert settled.locator("[data-flag=suspect]").count() == 0  # old: outside the hot window

    live = page.locator("#live")
    if stack.has_change_feed():
        live.filter(has_text="change feed").wait_for()
    else:  # a Fusion without the feed: the page re-reads on a timer
        live.filter(has_text="refreshing every 3 s").wait_for()
    (stack.root / "live" / "new-upload.dat").write_bytes(b"y" * 4096)
    fresh = row(page, "/live/new-upload.dat")
    fresh.wait_for(timeout=20_000)  # no reload: the page notices by itself
    if stack.has_change_feed():
        assert int(live.get_attribute("data-feed-events") or 0) >= 1, "the feed announced the write"
    fresh.locator("[data-flag=suspect]").wait_for()
    assert fresh.locator("td[data-label=size]").inner_text() == "4.0 KiB"
    assert page.locator("#summary").inner_text().startswith("2 files")
    screenshot(page, "03-new-file-suspect")

    page.get_by_role("tab", name="Suspects").click()
    listed = page.locator('#suspects li[data-path="/live/new-upload.dat"]')
    listed.wait_for()
    assert "reason: hot" in listed.inner_text()
    screenshot(page, "04-suspects-list")


def test_the_lists_come_from_the_lists_endpoints(
    stack: WebStack, new_page: Callable[..., Page], screenshot: Callable[..., Path]
) -> None:
    """Suspects, blind spots and every other list (a deleted file's tombstone here) are read from
    ``/lists/{name}``, the routes every rule's lists are served by, not the older aliases."""
    doomed = stack.root / "live" / "doomed.dat"
    doomed.write_bytes(b"d")
    wait_for(lambda: stack.node("/live/doomed.dat"), 15, "the new file to reach Fusion")
    doomed.unlink()
    wait_for(lambda: "/live/doomed.dat" in stack.list_paths("tombstones"), 15, "its tombstone")

    page = new_page()
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url.split("/views/demo/", 1)[-1]))
    sign_in(page, stack)
    row(page, "/upload").wait_for()

    page.get_by_role("tab", name="Suspects").click()
    page.locator("#suspects li").first.wait_for()
    page.get_by_role("tab", name="Blind spots").click()
    page.locator("#blind-deletions li").first.wait_for()

    page.get_by_role("tab", name="Lists").click()
    tombstones = page.locator('#lists tr[data-list="tombstones"]')
    tombstones.wait_for()
    shown = page.locator("#lists tr[data-list]").evaluate_all("rows => rows.map(r => r.dataset.list)")
    assert set(shown) == set(stack.list_sizes())
    assert int(tombstones.locator("td[data-label=entries]").inner_text().replace(",", "")) >= 1
    entry = page.locator('#list-entries li[data-path="/live/doomed.dat"]')
    entry.wait_for()  # the tombstones are the list shown first
    assert "deleted at: " in entry.inner_text()
    screenshot(page, "12-lists-tombstones")

    page.locator('#lists [data-choose-list="suspects"]').click()
    page.locator("#list-name").filter(has_text="suspects").wait_for()
    page.locator('#list-entries[data-list="suspects"]').wait_for(state="attached")

    routes = {url.split("?", 1)[0] for url in asked if not url.startswith("http")}
    assert {"lists", "lists/suspects", "lists/blind_spot_additions", "lists/blind_spot_deletions"} <= routes
    assert "lists/tombstones" in routes
    assert not routes & {"suspects", "blind-spots"}, f"an old alias was used: {sorted(routes)}"


def test_a_completed_upload_shows_its_badge(stack: WebStack, new_page: Callable[..., Page]) -> None:
    """A node's ``complete`` flag (set by the merge-completion rule) is shown as a badge. That rule
    is not part of this Fusion yet, so the browser's own answer of ``/tree`` is given the flag."""
    import json

    def with_completion(route: Any) -> None:
        answer = route.fetch()
        node = answer.json()
        for child in node.get("children", []):
            if child["is_dir"]:
                child["complete"] = child["name"] == "run-1"
        route.fulfill(response=answer, body=json.dumps(node))

    page = new_page()
    page.route("**/api/v1/views/demo/tree?*", with_completion)
    sign_in(page, stack, "/upload")
    done = row(page, "/upload/run-1").locator("[data-flag=complete]")
    done.wait_for()
    assert done.inner_text() == "complete"
    assert row(page, "/upload/run-2").locator("[data-flag]").count() == 0  # complete: false


def test_a_5000_entry_directory_is_paged(
    stack: WebStack, new_page: Callable[..., Page], screenshot: Callable[..., Path]
) -> None:
    page = new_page()
    sign_in(page, stack, "/big")
    row(page, "/big/f-00000.dat").wait_for()
    assert len(shown_names(page)) == 500  # the default page size
    assert page.locator("#page-info").inner_text() == "entries 1–500"
    assert page.locator("#prev").is_disabled()

    page.locator("#page-size").select_option("1000")
    page.locator("#page-info").filter(has_text="entries 1–1,000").wait_for()
    seen: list[str] = []
    for number in range(1, 6):
        first = f"{(number - 1) * 1000 + 1:,}"
        page.locator("#page-info").filter(has_text=f"entries {first}–").wait_for()
        seen.extend(shown_names(page))
        if number < 5:
            page.locator("#next").click()
    assert page.locator("#page-info").inner_text() == "entries 4,001–5,000"
    assert page.locator("#next").is_disabled()
    assert seen == [f"/big/f-{i:05d}.dat" for i in range(BIG_ENTRIES)]  # each once, in order
    screenshot(page, "05-paging-last-page")

    page.locator("#prev").click()
    page.locator("#page-info").filter(has_text="entries 3,001–4,000").wait_for()
    assert shown_names(page)[0] == "/big/f-03000.dat"


def test_sessions_and_stats(
    stack: WebStack, new_page: Callable[..., Page], screenshot: Callable[..., Path]
) -> None:
    page = new_page()
    sign_in(page, stack)
    leader = page.locator("[data-stat=leader] .value")
    leader.filter(has_text="ui-agent").wait_for()

    def files_agree() -> bool:
        shown = page.locator("[data-stat=files] .value").inner_text().replace(",", "")
        return shown == str(stack.stats()["files"])

    wait_for(files_agree, 15, "the stats shown to match Fusion's")

    stack.add_follower("ui-follower")
    page.get_by_role("tab", name="Sessions").click()
    session = page.locator('#sessions tr[data-agent="ui-agent"]')
    session.wait_for()
    assert session.get_attribute("data-role") == "leader"
    assert session.locator("[data-flag=leader]").inner_text() == "leader"
    age = session.locator("td.heartbeat").inner_text()
    assert age.endswith(" s ago") and float(age.split()[0]) < 3.0, age  # heartbeats every 0.5 s
    follower = page.locator('#sessions tr[data-agent="ui-follower"]')
    follower.wait_for(timeout=30_000)  # appears without a reload
    assert follower.get_attribute("data-role") == "follower"
    assert follower.locator("[data-flag=follower]").inner_text() == "follower"
    page.locator("[data-stat=sessions] .value").filter(has_text="2").wait_for()
    screenshot(page, "06-sessions")


def test_usable_on_a_phone(
    stack: WebStack, new_page: Callable[..., Page], screenshot: Callable[..., Path]
) -> None:
    page = new_page(width=390, height=844)
    sign_in(page, stack, "/upload/run-1")
    data = row(page, "/upload/run-1/data.bin")
    data.wait_for()
    for path in ("/upload/run-1", "/big", "/odd"):
        page.goto(stack.page_url(path))
        page.locator("#entries tr[data-path]").first.wait_for()
        width = page.evaluate("document.scrollingElement.scrollWidth")
        assert width <= 390, f"{path}: the page scrolls sideways ({width} px wide)"
    page.goto(stack.page_url("/upload/run-1"))
    data.wait_for()
    assert page.locator("table.entries thead").first.is_hidden()  # rows are cards
    name_width = data.locator("td.name").evaluate("cell => cell.getBoundingClientRect().width")
    assert name_width > 300, "the name has the whole width"
    assert data.locator("td[data-label=size]").inner_text() == "1.5 MiB"
    screenshot(page, "07-phone", full_page=True)


def test_errors_say_what_is_wrong(
    stack: WebStack, new_page: Callable[..., Page], screenshot: Callable[..., Path]
) -> None:
    page = new_page()
    message = page.locator("#message")

    sign_in(page, stack, key="not-a-key")
    message.filter(has_text="401").wait_for()
    assert "API key was refused" in message.inner_text()
    assert page.locator("#login").is_visible(), "asked for the key again"
    screenshot(page, "08-bad-key")

    page.locator("#login-key").fill(OTHER_QUERY_KEY)  # valid, but for datastore "other"
    page.locator("#login button[type=submit]").click()
    message.filter(has_text="403").wait_for()
    assert "may not read datastore “demo”" in message.inner_text()

    # a datastore the key is not for is 403 whether or not it exists: nothing to probe names with
    page.goto(stack.page_url("/", datastore="nope"))
    page.locator("#login-key").fill(QUERY_KEY)
    page.locator("#login button[type=submit]").click()
    message.filter(has_text="may not read datastore “nope”").wait_for()
    assert "check the datastore's name" in message.inner_text()

    page.goto(stack.page_url("/no/such/dir"))  # the key is right now: it is not asked again
    message.filter(has_text="Not in the tree").wait_for()
    page.get_by_role("link", name="Go up to /no/such").wait_for()


def test_a_file_only_an_audit_found_and_fusion_going_away(
    tmp_path: Path, new_page: Callable[..., Page], screenshot: Callable[..., Path]
) -> None:
    """An agent without realtime stands for a host without one: only its audits find new files."""
    root = tmp_path / "export"
    (root / "drop").mkdir(parents=True)
    stack = WebStack(tmp_path / "services", root, modes={"realtime": False, "sentinel": False}).start()
    try:
        page = new_page()
        sign_in(page, stack, "/drop")
        page.locator("#entries td.empty").wait_for()

        (root / "drop" / "from-elsewhere.dat").write_bytes(b"z" * 10)
        found = row(page, "/drop/from-elsewhere.dat")
        found.locator("[data-flag=agent-missing]").wait_for(timeout=30_000)
        assert found.locator("[data-flag=agent-missing]").inner_text() == "audit only"
        screenshot(page, "09-audit-only")

        page.get_by_role("tab", name="Blind spots").click()
        page.locator('#blind-additions li[data-path="/drop/from-elsewhere.dat"]').wait_for()
        screenshot(page, "10-blind-spots")

        stack.fusion.stop()
        started = time.monotonic()
        page.locator("#message").filter(has_text="Fusion is not answering").wait_for()
        assert time.monotonic() - started < 15
        assert page.locator("#live").inner_text() == "Fusion not answering"
        screenshot(page, "11-fusion-down")
    finally:
        stack.stop()


def test_a_list_no_rule_keeps_is_said_so(tmp_path: Path, new_page: Callable[..., Page]) -> None:
    """Without the suspect rule there is no ``suspects`` list: the tab says so, the rest works."""
    root = tmp_path / "export"
    (root / "data").mkdir(parents=True)
    (root / "data" / "a.dat").write_bytes(b"a")
    stack = WebStack(
        tmp_path / "services", root, fusion_env={"FUSTOR_DISABLE_PLUGINS": "merge-suspect"}
    ).start()
    try:
        assert "suspects" not in stack.list_sizes()
        page = new_page()
        sign_in(page, stack)
        row(page, "/data").wait_for()
        page.get_by_role("tab", name="Suspects").click()
        page.locator("#suspects li.empty").filter(has_text="No rule keeps a “suspects” list").wait_for()
        assert page.locator("#message").is_hidden(), "a missing list is no error"
        page.get_by_role("tab", name="Lists").click()
        page.locator('#lists tr[data-list="tombstones"]').wait_for()
        assert page.locator('#lists tr[data-list="suspects"]').count() == 0
    finally:
        stack.stop()
