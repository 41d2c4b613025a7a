// Live updates: tells the page when what it shows may have changed.
//
// Fusion has no change feed yet, so a timer stands in for one: the page re-reads what it shows
// every few seconds (never two reads at once, and not while the tab is hidden). When the feed
// (GET /api/v1/views/{ds}/changes, Server-Sent Events) exists, a FeedWatcher with the same
// start/stop interface, calling ``onChange`` for each change under the shown path, replaces the
// PollingWatcher in ``watcherFor`` — nothing else in the page changes.

export const REFRESH_MS = 3000;

export class PollingWatcher {
  constructor(intervalMs = REFRESH_MS) {
    this.intervalMs = intervalMs;
    this.timer = null;
    this.busy = false;
    this.label = `refreshing every ${Math.round(intervalMs / 1000)} s`;
  }

  /** Call ``onChange()`` (async) whenever the shown data may be stale, until ``stop()``. */
  start(onChange) {
    this.stop();
    this.timer = setInterval(async () => {
      if (this.busy || document.hidden) return;
      this.busy = true;
      try {
        await onChange();
      } finally {
        this.busy = false;
      }
    }, this.intervalMs);
  }

  stop() {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}

/** The watcher for a datastore: the place to switch to the change feed. */
export function watcherFor(_api) {
  return new PollingWatcher();
}
