// Fustor's web view: a read-only window on one datastore's live tree.
//
// The address says what is shown: #/<datastore>/<path…> (each part URL-encoded). The key is
// entered once and kept in this tab's sessionStorage; every read goes through Api (api.js) with
// it. What is shown is re-read when the watcher (live.js) says it may have changed.

import { Api, ApiError } from "./api.js";
import { byId, fill, h } from "./dom.js";
import * as fmt from "./format.js";
import { watcherFor } from "./live.js";

const KEY_ITEM = "fustor.key";
const DATASTORE_ITEM = "fustor.datastore";
const LIST_PAGE = 200;

const state = {
  api: null,
  path: "/",
  tab: "tree",
  pageSize: 500,
  cursor: null, // where the shown page of the directory starts (null: the first page)
  earlier: [], // cursors of the pages before the shown one, for "Previous"
  next: null, // X-Next-Cursor of the shown page
  lists: { suspects: { cursor: null, shown: 0 }, blind: { cursor: null, shown: 0 }, sessions: { shown: 0 } },
  watcher: null,
};

// -- the address ------------------------------------------------------------------------------

/** A part of the address as written; a mistyped escape ("%zz") stays as it is. */
function decodePart(part) {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

function parseHash() {
  const parts = window.location.hash.replace(/^#\/?/, "").split("/");
  const datastore = decodePart(parts[0] || "");
  const names = parts.slice(1).filter((p) => p !== "").map(decodePart);
  return { datastore, path: "/" + names.join("/") };
}

function hrefFor(datastore, path) {
  const names = path.split("/").filter((p) => p !== "");
  return "#/" + [datastore, ...names].map(encodeURIComponent).join("/");
}

function parentOf(path) {
  const cut = path.lastIndexOf("/");
  return cut <= 0 ? "/" : path.slice(0, cut);
}

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

function resetPaging() {
  state.cursor = null;
  state.earlier = [];
  state.next = null;
}

function resetLists() {
  state.lists = { suspects: { cursor: null, shown: 0 }, blind: { cursor: null, shown: 0 }, sessions: { shown: 0 } };
}

// -- reading and showing ----------------------------------------------------------------------

const shownData = new Map();

/** True when ``data`` differs from what ``part`` of the page shows now: a refresh that finds
 * nothing new leaves the page alone, so a selection or a hovered link survives it. */
function changed(part, data) {
  const signature = JSON.stringify(data);
  if (shownData.get(part) === signature) return false;
  shownData.set(part, signature);
  return true;
}

const TAB_LOADERS = { tree: loadTree, suspects: loadSuspects, "blind-spots": loadBlindSpots, sessions: loadSessions };

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

function startWatching() {
  if (state.watcher === null) state.watcher = watcherFor(state.api);
  state.watcher.start(refresh);
}

function stopWatching() {
  if (state.watcher !== null) state.watcher.stop();
  state.watcher = null;
}

async function loadStats(api) {
  const { body: s } = await api.get("stats");
  if (api !== state.api) return;
  const items = [
    ["files", "Files", fmt.count(s.files)],
    ["dirs", "Dirs", fmt.count(s.dirs)],
    ["bytes", "Bytes", fmt.bytes(s.bytes), `${fmt.count(s.bytes)} bytes`],
    ["suspects", "Suspects", fmt.count(s.suspects)],
    ["blind-spots", "Blind spots", `+${fmt.count(s.blind_spot_additions)} −${fmt.count(s.blind_spot_deletions)}`],
    ["tombstones", "Tombstones", fmt.count(s.tombstones)],
    ["sessions", "Sessions", fmt.count(s.sessions)],
    ["leader", "Leader", s.leader_agent_id ?? "none"],
  ];
  const scans = [s.snapshot_running && "snapshot", s.audit_running && "audit"].filter(Boolean);
  items.push(["scans", "Running", scans.length ? scans.join(", ") : "no scan"]);
  if (s.last_audit_end) items.push(["last-audit", "Last audit", fmt.time(s.last_audit_end)]);
  if (!changed("stats", items)) return;
  fill(
    byId("stats"),
    items.map(([id, label, value, title]) =>
      h("div", { class: "stat", "data-stat": id, title }, h("span", { class: "label" }, label), h("span", { class: "value" }, value)),
    ),
  );
}

function badges(node) {
  const marks = [];
  if (node.integrity_suspect) {
    marks.push(h("span", { class: "badge warn", "data-flag": "suspect", title: "Still being written, or too recent to trust" }, "suspect"));
  }
  if (node.agent_missing) {
    marks.push(h("span", { class: "badge info", "data-flag": "agent-missing", title: "Changed from a host without an agent: seen only by an audit" }, "audit only"));
  }
  if (node.complete === true) marks.push(h("span", { class: "badge ok", "data-flag": "complete", title: "Finished" }, "complete"));
  if (node.complete === false) marks.push(h("span", { class: "badge", "data-flag": "incomplete", title: "Not finished yet" }, "incomplete"));
  return marks;
}

function crumbs(datastore, path) {
  const names = path.split("/").filter((p) => p !== "");
  const parts = [h("a", { href: hrefFor(datastore, "/") }, datastore)];
  names.forEach((name, i) => {
    const here = "/" + names.slice(0, i + 1).join("/");
    parts.push(h("span", { class: "sep" }, "/"));
    parts.push(i === names.length - 1 ? h("span", { "aria-current": "page" }, name) : h("a", { href: hrefFor(datastore, here) }, name));
  });
  return parts;
}

async function loadTree(api) {
  const { path, cursor, pageSize } = state;
  const { body: node, next } = await api.get("tree", { path, depth: 1, limit: pageSize, cursor });
  // a click (another page, another directory) may have asked for something else meanwhile
  if (api !== state.api || path !== state.path || cursor !== state.cursor || pageSize !== state.pageSize) return;
  state.next = next;
  if (!changed("tree", [api.datastore, path, cursor, pageSize, node, next])) return;
  fill(byId("crumbs"), crumbs(api.datastore, path));
  const counts = node.is_dir
    ? [`${fmt.count(node.files)} files`, `${fmt.count(node.dirs)} dirs`, h("span", { title: `${fmt.count(node.bytes)} bytes` }, fmt.bytes(node.bytes))]
    : [h("span", { title: `${fmt.count(node.size)} bytes` }, fmt.bytes(node.size))];
  fill(
    byId("summary"),
    counts.flatMap((part) => [part, " · "]),
    `modified ${fmt.time(node.mtime)} `,
    badges(node),
  );
  const children = node.children ?? [];
  fill(byId("entries"), children.map((child) => entryRow(api.datastore, child)));
  if (node.is_dir && children.length === 0) {
    fill(byId("entries"), h("tr", {}, h("td", { colspan: 6, class: "empty" }, state.cursor ? "No more entries." : "Empty directory.")));
  }
  const first = state.earlier.length * state.pageSize;
  byId("page-info").textContent = children.length ? `entries ${fmt.count(first + 1)}–${fmt.count(first + children.length)}` : "";
  byId("prev").disabled = state.earlier.length === 0;
  byId("next").disabled = !next;
}

function entryRow(datastore, child) {
  const name = child.is_dir
    ? h("a", { href: hrefFor(datastore, child.path), class: "dir" }, child.name + "/")
    : h("span", { class: "file" }, child.name);
  const size = child.is_dir ? child.bytes : child.size;
  return h(
    "tr",
    { "data-path": child.path, class: child.is_dir ? "is-dir" : "is-file" },
    h("td", { class: "name", "data-label": "" }, name),
    h("td", { class: "flags", "data-label": "" }, badges(child)),
    h("td", { class: "num", "data-label": "size", title: `${fmt.count(size)} bytes` }, fmt.bytes(size)),
    h("td", { class: "num", "data-label": "files" }, child.is_dir ? fmt.count(child.files) : ""),
    h("td", { class: "num", "data-label": "dirs" }, child.is_dir ? fmt.count(child.dirs) : ""),
    h("td", { class: "mtime", "data-label": "modified" }, fmt.time(child.mtime)),
  );
}

/** A list entry's field as a person reads it: times as times, sizes as sizes. */
function fieldText(name, value) {
  if (name === "mtime" || name.endsWith("_at")) return fmt.time(value);
  if (name === "size") return fmt.bytes(value);
  return String(value);
}

function listEntry(datastore, entry) {
  const details = Object.entries(entry)
    .filter(([name]) => name !== "path")
    .map(([name, value]) => `${name.replace(/_/g, " ")}: ${fieldText(name, value)}`);
  return h(
    "li",
    { "data-path": entry.path },
    h("a", { href: hrefFor(datastore, parentOf(entry.path)), title: "Open the directory" }, entry.path),
    details.length ? h("span", { class: "details" }, details.join(" · ")) : null,
  );
}

/** How many entries to read so that a refresh shows at least what "More" already showed. */
function listLimit(shown) {
  return Math.min(10000, Math.max(LIST_PAGE, shown));
}

async function loadSuspects(api, more = false) {
  const list = state.lists.suspects;
  const params = more ? { limit: LIST_PAGE, cursor: list.cursor } : { limit: listLimit(list.shown) };
  const { body, next } = await api.get("suspects", params);
  if (api !== state.api || (!more && !changed("suspects", [api.datastore, body, next]))) return;
  const items = body.map((entry) => listEntry(api.datastore, entry));
  if (more) byId("suspects").append(...items);
  else fill(byId("suspects"), items.length ? items : h("li", { class: "empty" }, "No suspect files."));
  list.shown = byId("suspects").querySelectorAll("li[data-path]").length;
  list.cursor = next;
  byId("suspects-more").hidden = !next;
}

async function loadBlindSpots(api, more = false) {
  const list = state.lists.blind;
  const params = more ? { limit: LIST_PAGE, cursor: list.cursor } : { limit: listLimit(list.shown) };
  const { body, next } = await api.get("blind-spots", params);
  if (api !== state.api || (!more && !changed("blind-spots", [api.datastore, body, next]))) return;
  for (const [id, entries, none] of [
    ["blind-additions", body.additions, "No additions."],
    ["blind-deletions", body.deletions, "No deletions."],
  ]) {
    const items = entries.map((entry) => listEntry(api.datastore, entry));
    if (more) byId(id).append(...items);
    else fill(byId(id), items.length ? items : h("li", { class: "empty" }, none));
  }
  list.shown = Math.max(
    byId("blind-additions").querySelectorAll("li[data-path]").length,
    byId("blind-deletions").querySelectorAll("li[data-path]").length,
  );
  list.cursor = next;
  byId("blind-more").hidden = !next;
}

async function loadSessions(api, more = false) {
  const list = state.lists.sessions;
  const { body, next } = await api.get("sessions", more ? { cursor: list.cursor } : {});
  if (api !== state.api) return;
  const rows = body.map((s) =>
    h(
      "tr",
      { "data-agent": s.agent_id, "data-role": s.role },
      h("td", { "data-label": "" }, s.agent_id),
      h("td", { "data-label": "" }, h("span", { class: `badge ${s.role === "leader" ? "ok" : ""}`, "data-flag": s.role }, s.role)),
      h("td", { "data-label": "heartbeat", class: "heartbeat" }, `${fmt.age(s.last_heartbeat_age_s)} ago`),
      h("td", { "data-label": "source", class: "source" }, s.source_uri),
      h("td", { "data-label": "session", title: s.session_id, class: "session-id" }, s.session_id.slice(0, 8)),
    ),
  );
  if (more) byId("sessions").append(...rows);
  else fill(byId("sessions"), rows.length ? rows : h("tr", {}, h("td", { colspan: 5, class: "empty" }, "No live session: no agent is connected.")));
  list.cursor = next;
  byId("sessions-more").hidden = !next;
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
  byId("blind-more").addEventListener("click", () => runAndReport(() => loadBlindSpots(state.api, true)));
  byId("sessions-more").addEventListener("click", () => runAndReport(() => loadSessions(state.api, true)));
  window.addEventListener("hashchange", route);
}

wire();
route();
