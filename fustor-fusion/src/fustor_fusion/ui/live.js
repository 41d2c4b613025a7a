// Live updates: tells the page when what it shows may have changed.
//
// The change feed (GET /api/v1/views/{ds}/changes with Accept: text/event-stream) says when the
// tree changed; the page then re-reads what it shows. The stream is read with fetch, not
// EventSource, because the key travels in the X-API-Key header, which EventSource cannot send.
// What the feed does not carry (sessions and their heartbeat ages, running scans) is re-read on
// a slow timer beside it. Where there is no feed — a Fusion without the route (404), or the
// stream broken until it is opened again — a timer re-reads everything every 3 s instead.
//
// A re-read never runs twice at once, nor while the tab is hidden (it runs when the tab shows
// again), and the feed's bursts (an agent's snapshot) are folded into one re-read at a time.

export const REFRESH_MS = 3000;
/** With the feed: how often to re-read what the feed does not carry. */
export const FEED_SLOW_MS = 10000;
/** How long to wait before opening the feed again after the stream broke. */
export const RETRY_MS = 5000;
/** Shortest gap between two re-reads the feed asked for. */
export const MIN_GAP_MS = 300;

const POLLING_LABEL = `refreshing every ${Math.round(REFRESH_MS / 1000)} s`;
const FEED_LABEL = "change feed";

/** Runs ``task`` on request: one run at a time, requests during a run folded into one more run. */
class Refresher {
  constructor(task) {
    this.task = task;
    this.busy = false;
    this.pending = false; // a request not yet served
    this.scheduled = false; // a timer will serve it
    this.lastRun = 0;
    this.onVisible = () => {
      if (!document.hidden && this.pending) this.request();
    };
    document.addEventListener("visibilitychange", this.onVisible);
  }

  /** Re-read soon: now, or ``gapMs`` after the last run ended, or after the running one. */
  request(gapMs = 0) {
    this.pending = true;
    if (this.busy || this.scheduled || document.hidden) return;
    const wait = this.lastRun + gapMs - Date.now();
    if (wait > 0) {
      this.scheduled = true;
      setTimeout(() => {
        this.scheduled = false;
        this.request();
      }, wait);
      return;
    }
    this.run();
  }

  /** A timer's tick: re-read unless a re-read is running or due anyway, or the tab is hidden. */
  tick() {
    if (!this.busy && !this.scheduled && !document.hidden) this.request();
  }

  async run() {
    this.busy = true;
    this.pending = false;
    try {
      await this.task();
    } finally {
      this.busy = false;
      this.lastRun = Date.now();
      if (this.pending) this.request(MIN_GAP_MS);
    }
  }

  close() {
    document.removeEventListener("visibilitychange", this.onVisible);
    this.task = async () => {};
  }
}

/** Server-Sent Events from a byte stream: ``onEvent(name, data)`` for each event (comments and
 * keep-alives skipped). Resolves when the stream ends. */
async function readEvents(body, onEvent) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const boundary = /\r?\n\r?\n/;
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let found;
    while ((found = boundary.exec(buffer)) !== null) {
      const block = buffer.slice(0, found.index);
      buffer = buffer.slice(found.index + found[0].length);
      let name = "message";
      const data = [];
      for (const line of block.split(/\r?\n/)) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) onEvent(name, data.join("\n"));
    }
  }
}

/** Follows the change feed of ``api``'s datastore, or polls where there is none. */
export class LiveWatcher {
  constructor(api) {
    this.api = api;
    this.label = POLLING_LABEL;
    this.feedEvents = 0; // changes the feed announced (shown as data-feed-events on #live)
    this.refresher = null;
    this.timer = null;
    this.retry = null;
    this.controller = null;
    this.stopped = true;
  }

  /** Call ``onChange()`` (async) whenever the shown data may be stale, until ``stop()``. */
  start(onChange) {
    this.stop();
    this.stopped = false;
    this.refresher = new Refresher(onChange);
    this.every(REFRESH_MS);
    this.open();
  }

  stop() {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    if (this.retry !== null) clearTimeout(this.retry);
    if (this.controller !== null) this.controller.abort();
    if (this.refresher !== null) this.refresher.close();
    this.timer = this.retry = this.controller = this.refresher = null;
  }

  every(ms) {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = setInterval(() => this.refresher?.tick(), ms);
  }

  poll() {
    this.label = POLLING_LABEL;
    this.every(REFRESH_MS);
  }

  async open() {
    const controller = new AbortController();
    this.controller = controller;
    const url = new URL(`/api/v1/views/${encodeURIComponent(this.api.datastore)}/changes`, this.api.base);
    try {
      const response = await fetch(url, {
        headers: { "X-API-Key": this.api.key, Accept: "text/event-stream" },
        cache: "no-store",
        signal: controller.signal,
      });
      if (response.status === 404 || response.status === 401 || response.status === 403) {
        // no feed on this Fusion (or the key is refused, which the next re-read tells the person)
        response.body?.cancel().catch(() => {});
        this.poll();
        return;
      }
      if (!response.ok || response.body === null) throw new Error(`feed answered ${response.status}`);
      this.label = FEED_LABEL;
      this.every(FEED_SLOW_MS);
      this.refresher.request(); // whatever changed while the feed was not followed
      await readEvents(response.body, (name) => {
        if (name !== "message" && name !== "reset") return; // "start": the position, no change
        this.feedEvents += 1;
        document.getElementById("live")?.setAttribute("data-feed-events", String(this.feedEvents));
        this.refresher?.request(MIN_GAP_MS);
      });
    } catch {
      // the stream broke (Fusion stopped or restarted) or stop() aborted it
    }
    if (this.stopped || controller !== this.controller) return;
    this.poll();
    this.retry = setTimeout(() => {
      this.retry = null;
      if (!this.stopped) this.open();
    }, RETRY_MS);
  }
}

/** The watcher for a datastore. */
export function watcherFor(api) {
  return new LiveWatcher(api);
}
