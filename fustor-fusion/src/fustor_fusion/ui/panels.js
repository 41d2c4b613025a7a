// The stats strip and the Suspects, Blind spots, Lists and Sessions tabs.

import { hrefFor, parentOf } from "./address.js";
import { ApiError } from "./api.js";
import { byId, fill, h } from "./dom.js";
import * as fmt from "./format.js";
import { changed, LIST_PAGE, listState, state } from "./state.js";

// the names the default rules publish their lists under (GET /lists says which exist)
const SUSPECTS = "suspects";
export const ADDITIONS = "blind_spot_additions";
export const DELETIONS = "blind_spot_deletions";
const TOMBSTONES = "tombstones";

export async function loadStats(api) {
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

/** One list a rule keeps, read from ``/lists/{name}`` into ``target`` (a <ul>), paged by
 * ``moreButton``. A refresh re-reads from the top as many entries as "More" had shown; a list no
 * rule keeps on this Fusion (its plugin not installed) says so instead of failing the page. */
async function loadList(api, name, target, moreButton, more, none) {
  const list = listState(name);
  const params = more ? { limit: LIST_PAGE, cursor: list.cursor } : { limit: listLimit(list.shown) };
  let answer;
  try {
    answer = await api.get(`lists/${encodeURIComponent(name)}`, params);
  } catch (error) {
    if (!(error instanceof ApiError) || error.code !== "list_not_found") throw error;
    if (api !== state.api || !changed(`list:${target.id}`, [api.datastore, name, null])) return;
    fill(target, h("li", { class: "empty" }, `No rule keeps a “${name}” list on this Fusion.`));
    list.cursor = null;
    list.shown = 0;
    moreButton.hidden = true;
    return;
  }
  const { body, next } = answer;
  if (api !== state.api || (!more && !changed(`list:${target.id}`, [api.datastore, name, body, next]))) return;
  const items = body.map((entry) => listEntry(api.datastore, entry));
  if (more) target.append(...items);
  else fill(target, items.length ? items : h("li", { class: "empty" }, none));
  target.dataset.list = name;
  list.shown = target.querySelectorAll("li[data-path]").length;
  list.cursor = next;
  moreButton.hidden = !next;
}

export function loadSuspects(api, more = false) {
  return loadList(api, SUSPECTS, byId("suspects"), byId("suspects-more"), more, "No suspect files.");
}

export async function loadBlindSpots(api, more = null) {
  // two lists, each paged on its own: "More" under each reads only that one
  await Promise.all([
    more === null || more === ADDITIONS
      ? loadList(api, ADDITIONS, byId("blind-additions"), byId("blind-additions-more"), more !== null, "No additions.")
      : null,
    more === null || more === DELETIONS
      ? loadList(api, DELETIONS, byId("blind-deletions"), byId("blind-deletions-more"), more !== null, "No deletions.")
      : null,
  ]);
}

/** The Lists tab: every list the rules keep (``/lists``: name, entries, evicted), and the
 * entries of the chosen one — tombstones, or a list a third-party rule publishes. */
export async function loadLists(api, more = false) {
  const { body } = await api.get("lists");
  if (api !== state.api) return;
  const names = body.map((entry) => entry.name);
  if (state.chosenList === null || !names.includes(state.chosenList)) {
    state.chosenList = names.includes(TOMBSTONES) ? TOMBSTONES : (names[0] ?? null);
  }
  if (changed("lists", [api.datastore, body, state.chosenList])) {
    fill(
      byId("lists"),
      body.length
        ? body.map((entry) =>
            h(
              "tr",
              { "data-list": entry.name, class: entry.name === state.chosenList ? "chosen" : "" },
              h("td", { "data-label": "" }, h("button", { type: "button", class: "link", "data-choose-list": entry.name }, entry.name)),
              h("td", { class: "num", "data-label": "entries" }, fmt.count(entry.entries)),
              h("td", { class: "num", "data-label": "evicted", title: "Dropped by the list's size bound" }, fmt.count(entry.evicted)),
            ),
          )
        : h("tr", {}, h("td", { colspan: 3, class: "empty" }, "No rule keeps a list on this Fusion.")),
    );
  }
  fill(byId("list-name"), state.chosenList ?? "");
  if (state.chosenList === null) {
    fill(byId("list-entries"));
    byId("list-more").hidden = true;
    return;
  }
  await loadList(api, state.chosenList, byId("list-entries"), byId("list-more"), more, "Empty.");
}

export async function loadSessions(api, more = false) {
  const list = state.sessions;
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
