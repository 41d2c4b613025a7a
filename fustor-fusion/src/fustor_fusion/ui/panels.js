// The stats strip and the Suspects, Blind spots and Sessions tabs.

import { hrefFor, parentOf } from "./address.js";
import { byId, fill, h } from "./dom.js";
import * as fmt from "./format.js";
import { changed, LIST_PAGE, state } from "./state.js";

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

export async function loadSuspects(api, more = false) {
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

export async function loadBlindSpots(api, more = false) {
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

export async function loadSessions(api, more = false) {
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
