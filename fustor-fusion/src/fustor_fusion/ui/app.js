// Fustor's web view: a read-only window on one datastore's live tree.
//
// The address says what is shown: #/<datastore>/<path…> (each part URL-encoded). The key is
// entered once and kept in this tab's sessionStorage; every read goes through Api (api.js) with
// it. What is shown is re-read when the watcher (live.js) says it may have changed: the change
// feed where Fusion has one, a 3 s timer where it has not.
//
// This module wires the page: messages, the key form, the address, refreshes and the controls;
// tree.js and panels.js read and draw the tabs.

import { hrefFor, parentOf, parseHash } from "./address.js";
import { Api, ApiError } from "./api.js";
import { byId, fill, h } from "./dom.js";
import * as fmt from "./format.js";
import { watcherFor } from "./live.js";
import { ADDITIONS, DELETIONS, loadBlindSpots, loadLists, loadSessions, loadStats, loadSuspects } from "./panels.js";
import { resetLists, resetPaging, shownData, state } from "./state.js";
import { loadTree } from "./tree.js";

const KEY_ITEM = "fustor.key";
const DATASTORE_ITEM = "fustor.datastore";

// -- messages and the login form ----------------------------------------------------------------

function showMessage(text, kind = "error", ...extra) {
  const box = byId("message");
  fill(box, text, ...extra);
  box.dataset.kind = kind;
  box.hidden = false;
}

function clearMessage() {
  byId("message").hidden = true;
}

function showLogin(datastore) {
  stopWatching();
  shownData.clear();
  byId("main").hidden = true;
  byId("change").hidden = true;
  byId("live").hidden = true;
  byId("login").hidden = false;
  byId("login-datastore").value = datastore || sessionStorage.getItem(DATASTORE_ITEM) || "";
  byId("login-key").value = "";
  (byId("login-datastore").value ? byId("login-key") : byId("login-datastore")).focus();
}

function onLogin(event) {
  event.preventDefault();
  const datastore = byId("login-datastore").value.trim();
  const key = byId("login-key").value;
  if (!datastore || !key) return;
  sessionStorage.setItem(KEY_ITEM, key);
  sessionStorage.setItem(DATASTORE_ITEM, datastore);
  state.api = null;
  clearMessage();
  const wanted = hrefFor(datastore, parseHash().datastore === datastore ? parseHash().path : "/");
  if (window.location.hash === wanted) route();
  else window.location.hash = wanted;
}

// -- routing ----------------------------------------------------------------------------------

function route() {
  const { datastore: fromHash, path } = parseHash();
  const datastore = fromHash || sessionStorage.getItem(DATASTORE_ITEM) || "";
  const key = sessionStorage.getItem(KEY_ITEM);
  if (!datastore || !key) {
    showLogin(datastore);
    return;
  }
  if (!fromHash) {
    window.location.replace(hrefFor(datastore, "/"));
    return;
  }
  if (state.api === null || state.api.datastore !== datastore || state.api.key !== key) {
    state.api = new Api(datastore, key);
    resetLists();
  }
  if (path !== state.path) resetPaging();
  state.path = path;
  byId("login").hidden = true;
  byId("main").hidden = false;
  byId("change").hidden = false;
  fill(byId("where"), datastore);
  refresh();
  startWatching();
}

// -- refreshing -------------------------------------------------------------------------------

const TAB_LOADERS = {
  tree: loadTree,
  suspects: loadSuspects,
  "blind-spots": loadBlindSpots,
  lists: loadLists,
  sessions: loadSessions,
};

/** Re-read the stats and the open tab; say what went wrong in words a person can act on. */
async function refresh() {
  const api = state.api;
  if (api === null) return;
  try {
    await Promise.all([loadStats(api), TAB_LOADERS[state.tab](api)]);
    if (api !== state.api) return;
    clearMessage();
    showLive(`live · ${state.watcher ? state.watcher.label : ""} · ${fmt.time(Date.now() / 1000)}`, "ok");
  } catch (error) {
    if (api !== state.api) return;
    if (!(error instanceof ApiError)) throw error;
    if (error.needsLogin) {
      if (error.status === 401) sessionStorage.removeItem(KEY_ITEM); // a refused key is not kept
      showLogin(api.datastore);
      showMessage(error.message);
      return;
    }
    if (error.code === "path_not_found") {
      const up = parentOf(state.path);
      showMessage(error.message, "error", " ", h("a", { href: hrefFor(api.datastore, up) }, `Go up to ${up}`));
      fill(byId("entries"));
      shownData.delete("tree");
      return;
    }
    showLive(error.status === 0 ? "Fusion not answering" : "error", "down");
    showMessage(error.message);
  }
}

function showLive(text, kind) {
  const el = byId("live");
  el.textContent = text;
  el.dataset.kind = kind;
  el.hidden = false;
}

/** Follow the shown datastore's changes (kept across navigation; a new key or datastore gets a
 * new watcher). */
function startWatching() {
  if (state.watcher !== null && state.watcher.api === state.api) return;
  stopWatching();
  state.watcher = watcherFor(state.api);
  state.watcher.start(refresh);
}

function stopWatching() {
  if (state.watcher !== null) state.watcher.stop();
  state.watcher = null;
}

// -- controls ---------------------------------------------------------------------------------

function selectTab(tab) {
  state.tab = tab;
  for (const button of document.querySelectorAll("[data-tab]")) {
    button.setAttribute("aria-selected", button.dataset.tab === tab ? "true" : "false");
  }
  for (const panel of document.querySelectorAll("[data-panel]")) panel.hidden = panel.dataset.panel !== tab;
  refresh();
}

function runAndReport(task) {
  task().catch((error) => {
    if (error instanceof ApiError) showMessage(error.message);
    else throw error;
  });
}

function wire() {
  byId("login").addEventListener("submit", onLogin);
  byId("change").addEventListener("click", () => showLogin(state.api?.datastore));
  for (const button of document.querySelectorAll("[data-tab]")) {
    button.addEventListener("click", () => selectTab(button.dataset.tab));
  }
  byId("next").addEventListener("click", () => {
    if (!state.next) return;
    state.earlier.push(state.cursor);
    state.cursor = state.next;
    refresh();
  });
  byId("prev").addEventListener("click", () => {
    if (state.earlier.length === 0) return;
    state.cursor = state.earlier.pop();
    refresh();
  });
  byId("page-size").addEventListener("change", (event) => {
    state.pageSize = Number(event.target.value);
    resetPaging();
    refresh();
  });
  byId("suspects-more").addEventListener("click", () => runAndReport(() => loadSuspects(state.api, true)));
  byId("blind-additions-more").addEventListener("click", () => runAndReport(() => loadBlindSpots(state.api, ADDITIONS)));
  byId("blind-deletions-more").addEventListener("click", () => runAndReport(() => loadBlindSpots(state.api, DELETIONS)));
  byId("list-more").addEventListener("click", () => runAndReport(() => loadLists(state.api, true)));
  byId("lists").addEventListener("click", (event) => {
    const chosen = event.target.closest("[data-choose-list]");
    if (chosen === null) return;
    state.chosenList = chosen.dataset.chooseList;
    runAndReport(() => loadLists(state.api));
  });
  byId("sessions-more").addEventListener("click", () => runAndReport(() => loadSessions(state.api, true)));
  window.addEventListener("hashchange", route);
}

wire();
route();
