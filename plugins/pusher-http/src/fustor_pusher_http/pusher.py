"""The HTTP pusher: one session with Fusion, heartbeats, ordered batches, retries that never lose.

Delivery is at-least-once and in order. Batches are numbered per session (``seq`` 1, 2, ...);
a batch that failed in transit is re-sent with the *same* number, so Fusion applies it once.
While Fusion is unreachable the pusher keeps retrying the batch in hand with exponential
backoff and jitter and takes nothing more from the bus, so the bus fills and producers wait.
When Fusion says the session is gone (409 ``session_expired``: expired, or Fusion restarted) the
pusher opens a new session and re-sends what was not acknowledged under new numbers; the pipe
sees the new session and, as leader, starts a new tenure: with an audit when Fusion says it
still holds the same view (the session-open answer's ``view``, reported in
:class:`~fustor_core.agent_api.SessionInfo`), with a snapshot when the view is new.

Batching: the pusher takes whatever the bus holds, up to ``batch_size`` rows, and sends it at
once — an idle bus means a lone realtime change goes out immediately, a busy one means big
batches. ``flush_interval_s`` > 0 makes a partial batch wait that long for more rows.

In a cluster every call goes through a :class:`~fustor_pusher_http.routing.FusionRoute`, which
follows a node's 307 to the owner of the view and keeps sending there; a new owner that does not
know the session is, for the pusher, a Fusion that forgot it (above).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from fustor_core.agent_api import LeaderTask, OutgoingEvent, PusherLink, SentinelCheck, SessionInfo, Signal
from fustor_core.config import parse_config
from fustor_core.errors import Conflict, FustorError
from fustor_core.logs import log_event
from fustor_pusher_http.backoff import Backoff
from fustor_pusher_http.bootstrap import BootstrapRefused, ask_registry_once, discover_fusion
from fustor_pusher_http.encoding import EncodedEvent, batch_body
from fustor_pusher_http.options import HttpPusherOptions
from fustor_pusher_http.routing import FusionRoute

logger = logging.getLogger(__name__)

JSON = {"Content-Type": "application/json"}
NO_DELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
"""httpx writes a request's head and body separately; without this, Nagle holds the body back."""
UNREACHABLE_LOG_EVERY_S = 30.0


class FusionRefused(FustorError):
    """Fusion answered a request with an error that retrying will not fix."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"Fusion answered {status} {code}: {message}", code=code)
        self.status = status


class SessionGone(Exception):
    """The session this request used is no longer valid (a new one is being opened)."""


def _error_of(response: httpx.Response) -> tuple[str, str]:
    try:
        error = orjson.loads(response.content).get("error", {})
        return str(error.get("code", "")), str(error.get("message", ""))
    except (orjson.JSONDecodeError, AttributeError):
        return "", response.text[:200]


def _session_gone(response: httpx.Response, code: str) -> bool:
    """409 ``session_expired`` (or any 409 that is not about order or role), or a 404 about the session."""
    if response.status_code == 409:
        return code not in ("not_leader", "seq_gap")
    return response.status_code == 404 and code != "datastore_not_found"


class HttpPusher:
    """Implements :class:`fustor_core.agent_api.Pusher` over Fusion's ingest API (docs/http-api.md)."""

    def __init__(
        self, options: HttpPusherOptions, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.options = options
        self._transport = transport
        """Tests may inject one (e.g. to lose a response after Fusion applied the batch)."""
        self.session: SessionInfo | None = None
        self.seq = 0
        """The last ``seq`` Fusion acknowledged in the current session."""
        self._client: httpx.AsyncClient | None = None
        self._link: PusherLink | None = None
        self._session_lock = asyncio.Lock()
        self._session_ready = asyncio.Event()
        self._renewal: asyncio.Task[None] | None = None
        """The running replacement of a forgotten session (see :meth:`_renew_session`)."""
        self._unreachable_since: float | None = None
        self._unreachable_logged = 0.0
        self._route: FusionRoute | None = None
        self.credentials: dict[str, str] = {}
        """Storage credentials the Registry handed out at bootstrap (empty with a static url)."""

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> HttpPusher:
        """The factory registered for ``driver: http``: validates the pipe's pusher section."""
        return cls(parse_config(HttpPusherOptions, config, source="pusher"))

    # -- plumbing ----------------------------------------------------------------------------

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            raise FustorError("the pusher is not running")
        return self._client

    @property
    def fusion_url(self) -> str | None:
        """The Fusion node in use: an entry point, or the owner of the view a 307 named."""
        if self._route is not None:
            return self._route.current
        entries = self.options.entry_urls
        return entries[0] if entries else None

    @property
    def route(self) -> FusionRoute:
        if self._route is None:
            raise FustorError("the pusher is not running")
        return self._route

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One ingest call to the node in use, following the view's owner (see :mod:`.routing`)."""
        return await self.route.request(self.client, method, path, **kwargs)

    @property
    def link(self) -> PusherLink:
        if self._link is None:
            raise FustorError("the pusher is not running")
        return self._link

    def _session_url(self, session_id: str, tail: str) -> str:
        return f"/api/v1/ingest/sessions/{session_id}/{tail}"

    def _unreachable(self, what: str, exc: BaseException) -> None:
        now = time.monotonic()
        if self._unreachable_since is None:
            self._unreachable_since = now
        if now - self._unreachable_logged >= UNREACHABLE_LOG_EVERY_S:
            self._unreachable_logged = now
            log_event(
                logger,
                logging.WARNING,
                "Fusion unreachable; retrying (queued rows are kept)",
                url=self.fusion_url,
                during=what,
                error=repr(exc),
                down_s=round(now - self._unreachable_since, 1),
            )
        if self._link is not None:
            self._link.error(f"Fusion unreachable during {what}: {exc!r}")

    def _reachable(self) -> None:
        if self._unreachable_since is not None:
            log_event(
                logger,
                logging.INFO,
                "Fusion reachable again",
                url=self.fusion_url,
                down_s=round(time.monotonic() - self._unreachable_since, 1),
            )
            self._unreachable_since = None
            self._unreachable_logged = 0.0

    # -- sessions ----------------------------------------------------------------------------

    async def _open_session(self) -> SessionInfo:
        """Open a session, retrying until Fusion grants one."""
        backoff = Backoff(self.options.retry_initial_s, self.options.retry_max_s)
        link = self.link
        while True:
            try:
                response = await self._call(
                    "POST",
                    "/api/v1/ingest/sessions",
                    content=orjson.dumps({"agent_id": link.agent_id, "source_uri": link.source_uri}),
                    headers=JSON,
                )
            except httpx.HTTPError as exc:
                self._unreachable("session open", exc)
                await asyncio.sleep(backoff.next_delay())
                continue
            self._reachable()
            if response.status_code in (200, 201):
                body = orjson.loads(response.content)
                view = body.get("view") if isinstance(body.get("view"), dict) else {}
                session = SessionInfo(
                    session_id=body["session_id"],
                    role=body["role"],
                    heartbeat_interval_s=body.get("heartbeat_interval_s"),
                    session_timeout_s=body.get("session_timeout_s"),
                    view_id=_str_or_none(view.get("id")),
                    view_seq=_int_or_none(view.get("seq")),
                    view_restored=view.get("restored") is True,
                )
                link.count("sessions_opened")
                log_event(
                    logger,
                    logging.INFO,
                    "session opened",
                    session=session.session_id,
                    role=session.role,
                    view=session.view_id,
                    view_seq=session.view_seq,
                    view_restored=session.view_restored,
                )
                return session
            code, message = _error_of(response)
            link.error(f"session open refused: {response.status_code} {code}: {message}")
            log_event(
                logger,
                logging.ERROR,
                "Fusion refused to open a session; retrying",
                status=response.status_code,
                code=code,
                detail=message,
            )
            await asyncio.sleep(max(backoff.next_delay(), 1.0))

    async def _current_session(self) -> SessionInfo:
        while self.session is None:
            await self._session_ready.wait()
        return self.session

    def _set_session(self, session: SessionInfo | None) -> None:
        self.session = session
        if session is None:
            self._session_ready.clear()
        else:
            self._session_ready.set()
        self.link.session_changed(session)

    async def _renew_session(self, old_session_id: str) -> None:
        """Replace a session Fusion forgot; concurrent callers renew it once.

        The renewal runs in a task of the pusher's own, and callers only wait for it: reporting
        "no session" to the pipe ends the leader tenure, which cancels the leader modes — so a
        renewal started by a sentinel call inside such a mode would otherwise be cancelled
        half-way, leaving the pusher with no session and nobody to open one.
        """
        renewal = self._renewal
        if renewal is None or renewal.done():
            if self.session is not None and self.session.session_id != old_session_id:
                return
            renewal = self._renewal = asyncio.create_task(
                self._replace_session(old_session_id), name="fustor-session-renewal"
            )
        await asyncio.shield(renewal)

    async def _replace_session(self, old_session_id: str) -> None:
        async with self._session_lock:
            if self.session is not None and self.session.session_id != old_session_id:
                return
            log_event(logger, logging.WARNING, "session gone; opening a new one", session=old_session_id)
            self._set_session(None)
            self.seq = 0
            self._set_session(await self._open_session())

    async def _close_session(self) -> None:
        session = self.session
        if session is None or self._client is None:
            return
        try:
            await self._call(
                "DELETE",
                f"/api/v1/ingest/sessions/{session.session_id}",
                timeout=self.options.close_timeout_s,
            )
            log_event(logger, logging.INFO, "session closed", session=session.session_id)
        except httpx.HTTPError as exc:
            log_event(
                logger, logging.WARNING, "session close failed", session=session.session_id, error=repr(exc)
            )

    def _heartbeat_interval(self) -> float:
        interval = self.link.settings.heartbeat_interval_s
        session = self.session
        if session is not None:
            if session.heartbeat_interval_s:
                interval = min(interval, session.heartbeat_interval_s)
            if session.session_timeout_s:
                interval = min(interval, session.session_timeout_s / 3)
        return interval

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_interval())
            try:
                await self._heartbeat()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bad answer must not end heartbeats (and role changes)
                log_event(logger, logging.ERROR, "heartbeat failed", error=repr(exc))

    async def _heartbeat(self) -> None:
        session = self.session
        if session is None:
            return
        try:
            response = await self._call("POST", self._session_url(session.session_id, "heartbeat"))
        except httpx.HTTPError as exc:
            self._unreachable("heartbeat", exc)
            return
        self._reachable()
        if response.status_code == 200:
            role = orjson.loads(response.content).get("role")
            if role in ("leader", "follower") and self.session is session and role != session.role:
                log_event(logger, logging.INFO, "role changed", session=session.session_id, role=role)
                self._set_session(replace(session, role=role))
            return
        code, message = _error_of(response)
        if _session_gone(response, code):
            await self._renew_session(session.session_id)
        else:
            self.link.error(f"heartbeat refused: {response.status_code} {code}: {message}")

    # -- delivery ----------------------------------------------------------------------------

    async def _locate_fusion(self) -> FusionRoute:
        """The route to Fusion: from the configured entry points, or learnt from the Registry
        (asked until it answers at start, and again whenever the node in use is lost)."""
        options = self.options
        count = self.link.count
        if options.entry_urls:
            return FusionRoute(options.entry_urls, max_redirects=options.max_redirects, count=count)
        assert options.registry_url is not None  # the options validator guarantees one
        found = await discover_fusion(
            options.registry_url,
            options.api_key,
            timeout_s=options.connect_timeout_s,
            retry_initial_s=options.retry_initial_s,
            retry_max_s=options.retry_max_s,
            on_error=self.link.error,
            transport=self._transport,
        )
        self.credentials = found.credentials
        return FusionRoute(
            [found.fusion_url.rstrip("/")],
            max_redirects=options.max_redirects,
            rediscover=self._ask_registry_again,
            count=count,
        )

    async def _ask_registry_again(self) -> str | None:
        """The owner the Registry names now, or None (logged) when it cannot say."""
        assert self.options.registry_url is not None
        try:
            found = await ask_registry_once(
                self.options.registry_url,
                self.options.api_key,
                timeout_s=self.options.connect_timeout_s,
                transport=self._transport,
            )
        except (httpx.HTTPError, BootstrapRefused) as exc:
            log_event(
                logger,
                logging.WARNING,
                "cannot ask the Registry for Fusion's owner; retrying the last node",
                registry_url=self.options.registry_url,
                error=repr(exc),
            )
            self.link.error(f"Registry unreachable while looking for Fusion's owner: {exc!r}")
            return None
        self.credentials = found.credentials or self.credentials
        return found.fusion_url

    async def run(self, link: PusherLink) -> None:
        self._link = link
        options = self.options
        timeout = httpx.Timeout(options.timeout_s, connect=options.connect_timeout_s)
        self._route = await self._locate_fusion()
        async with httpx.AsyncClient(
            headers={"X-API-Key": options.api_key},
            timeout=timeout,
            transport=self._transport,
        ) as client:
            self._client = client
            heartbeat = asyncio.create_task(self._heartbeat_loop(), name="fustor-heartbeat")
            try:
                async with self._session_lock:
                    self._set_session(await self._open_session())
                await self._deliver()
                await self._close_session()
            finally:
                heartbeat.cancel()
                renewal = self._renewal
                if renewal is not None:
                    renewal.cancel()
                await asyncio.gather(heartbeat, *([renewal] if renewal else []), return_exceptions=True)
                self.session = None
                self._session_ready.clear()
                link.session_changed(None)
                self._client = None

    async def _deliver(self) -> None:
        link = self.link
        settings = link.settings
        while True:
            items = await link.take(settings.batch_size, settings.flush_interval_s)
            if not items:
                return
            events: list[OutgoingEvent] = []
            for item in items:
                if isinstance(item, Signal):
                    if events:
                        await self._send_events(events)
                        events = []
                    await self._send_signal(item)
                else:
                    events.append(item)
            if events:
                await self._send_events(events)

    def _current_only(self, events: list[EncodedEvent]) -> list[EncodedEvent]:
        link = self.link
        kept = [event for event in events if link.is_current(event.event)]
        if len(kept) != len(events):
            link.count("stale_scan_rows_skipped", sum(e.rows for e in events) - sum(e.rows for e in kept))
        return kept

    async def _send_events(self, events: list[OutgoingEvent]) -> None:
        """Deliver these events, however long it takes; only a malformed batch is given up."""
        await self._send_encoded([EncodedEvent(event) for event in events])

    async def _send_encoded(self, encoded: list[EncodedEvent]) -> None:
        link = self.link
        backoff = Backoff(self.options.retry_initial_s, self.options.retry_max_s)
        while True:
            encoded = self._current_only(encoded)
            if not encoded:
                return
            session = await self._current_session()
            seq = self.seq + 1
            rows = sum(event.rows for event in encoded)
            try:
                response = await self._call(
                    "POST",
                    self._session_url(session.session_id, "events"),
                    content=batch_body(encoded, seq),
                    headers=JSON,
                )
            except httpx.HTTPError as exc:
                self._unreachable("events", exc)
                link.count("retries")
                await asyncio.sleep(backoff.next_delay())
                continue
            self._reachable()
            status = response.status_code
            if status == 200:
                if self.session is session:
                    self.seq = seq
                self._record_answer(orjson.loads(response.content), rows)
                return
            code, message = _error_of(response)
            if status == 413 and (len(encoded) > 1 or rows > 1):
                link.count("batches_split")
                for part in _halves(encoded):
                    await self._send_encoded(part)
                return
            if _session_gone(response, code) or code == "seq_gap":
                await self._renew_session(session.session_id)
                continue
            if status in (400, 413, 422):
                # malformed beyond repair (a bug, not a condition to wait out); the seq is not
                # consumed by a refused batch, so the next one reuses it
                link.count("rows_rejected", rows)
                link.error(f"batch rejected: {status} {code}: {message}")
                log_event(
                    logger,
                    logging.ERROR,
                    "batch rejected by Fusion",
                    status=status,
                    code=code,
                    detail=message,
                )
                return
            # 401/403 (key revoked?), 404 datastore, 429, 5xx: keep the rows, wait, try again
            link.count("retries")
            link.error(f"events refused: {status} {code}: {message}")
            if backoff.failures == 0:
                log_event(
                    logger,
                    logging.WARNING,
                    "events refused; retrying",
                    status=status,
                    code=code,
                    detail=message,
                )
            await asyncio.sleep(backoff.next_delay())

    def _record_answer(self, answer: dict[str, Any], rows: int) -> None:
        link = self.link
        link.count("batches_sent")
        link.count("rows_sent", rows)
        link.count("rows_accepted", int(answer.get("accepted", 0)))
        link.count("rows_unchanged", int(answer.get("unchanged", 0)))
        dropped = int(answer.get("dropped", 0))
        if dropped:
            link.count("rows_dropped", dropped)
            for reason, count in (answer.get("reasons") or {}).items():
                link.count(f"dropped:{reason}", int(count))
        if answer.get("duplicate"):
            link.count("duplicate_batches")

    async def _send_signal(self, signal: Signal) -> None:
        """Send a lifecycle signal after every batch before it; resolve its future."""
        link = self.link
        done = signal.done
        backoff = Backoff(self.options.retry_initial_s, self.options.retry_max_s)
        while True:
            if not link.is_current(signal):
                _fail(done, Conflict(f"{signal.name}: the leader tenure it belonged to has ended"))
                return
            session = await self._current_session()
            try:
                response = await self._call(
                    "POST",
                    self._session_url(session.session_id, signal.name),
                    content=orjson.dumps({"after_seq": self.seq} if self.seq else {}),
                    headers=JSON,
                )
            except httpx.HTTPError as exc:
                self._unreachable(signal.name, exc)
                link.count("retries")
                await asyncio.sleep(backoff.next_delay())
                continue
            self._reachable()
            if response.status_code == 200:
                link.count(f"signals:{signal.name}")
                if done is not None and not done.done():
                    done.set_result(orjson.loads(response.content))
                return
            code, message = _error_of(response)
            if _session_gone(response, code) or code == "seq_gap":
                await self._renew_session(session.session_id)
                continue
            if response.status_code >= 500 or response.status_code == 429:
                link.count("retries")
                await asyncio.sleep(backoff.next_delay())
                continue
            link.error(f"{signal.name} refused: {response.status_code} {code}: {message}")
            _fail(done, FusionRefused(response.status_code, code, message))
            return

    # -- sentinel ----------------------------------------------------------------------------

    async def _leader_call(
        self, method: str, tail: str, body: Any = None, *, timeout_s: float | None = None
    ) -> dict[str, Any]:
        session = self.session
        if session is None:
            raise Conflict("no session with Fusion")
        try:
            response = await self._call(
                method,
                self._session_url(session.session_id, tail),
                content=orjson.dumps(body) if body is not None else None,
                headers=JSON if body is not None else None,
                timeout=(
                    httpx.Timeout(timeout_s, connect=self.options.connect_timeout_s)
                    if timeout_s
                    else httpx.USE_CLIENT_DEFAULT
                ),
            )
        except httpx.HTTPError as exc:
            self._unreachable(tail, exc)
            raise FustorError(f"Fusion unreachable: {exc!r}") from exc
        if response.status_code == 200:
            result: dict[str, Any] = orjson.loads(response.content)
            return result
        code, message = _error_of(response)
        if _session_gone(response, code):
            await self._renew_session(session.session_id)
        raise FusionRefused(response.status_code, code, message)

    async def sentinel_tasks(self, limit: int = 1000) -> list[str]:
        answer = await self._leader_call("GET", f"sentinel/tasks?limit={limit}")
        return [str(path) for path in answer.get("paths", [])]

    async def sentinel_feedback(self, updates: list[SentinelCheck]) -> dict[str, Any]:
        return await self._leader_call("POST", "sentinel/feedback", {"updates": updates})

    # -- the leader's task channel ----------------------------------------------------------

    async def leader_tasks(self, wait_s: float) -> list[LeaderTask]:
        """A long poll: Fusion answers as soon as a ``fresh=true`` query asks for a listing."""
        timeout_s = wait_s + self.options.timeout_s
        answer = await self._leader_call("GET", f"tasks?wait={wait_s:g}", timeout_s=timeout_s)
        return [
            {"id": task["id"], "kind": str(task.get("kind", "")), "path": task["path"]}
            for task in answer.get("tasks", [])
            if isinstance(task, dict) and all(isinstance(task.get(key), str) for key in ("id", "path"))
        ]

    async def task_done(self, task_id: str, report: dict[str, Any]) -> None:
        await self._leader_call("POST", f"tasks/{quote(task_id, safe='')}/done", report)


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _fail(done: asyncio.Future[dict[str, Any]] | None, error: BaseException) -> None:
    if done is not None and not done.done():
        done.set_exception(error)


def _halves(encoded: list[EncodedEvent]) -> list[list[EncodedEvent]]:
    """Split a batch in two (by events, or a single event's rows) after a 413."""
    if len(encoded) > 1:
        middle = len(encoded) // 2
        return [encoded[:middle], encoded[middle:]]
    event = encoded[0].event
    middle = len(event.rows) // 2
    parts = []
    for rows in (event.rows[:middle], event.rows[middle:]):
        part = OutgoingEvent(event.message_source, event.event_type, rows, event.index, event.tenure)
        parts.append([EncodedEvent(part)])
    return parts
