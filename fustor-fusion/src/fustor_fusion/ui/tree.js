// The Tree tab: breadcrumbs, the directory's summary and one page of its entries.

import { hrefFor } from "./address.js";
import { byId, fill, h } from "./dom.js";
import * as fmt from "./format.js";
import { changed, state } from "./state.js";

export function badges(node) {
  const marks = [];
  if (node.integrity_suspect) {
    marks.push(h("span", { class: "badge warn", "data-flag": "suspect", title: "Still being written, or too recent to trust" }, "suspect"));
  }
  if (node.agent_missing) {
    marks.push(h("span", { class: "badge info", "data-flag": "agent-missing", title: "Changed from a host without an agent: seen only by an audit" }, "audit only"));
  }
  // ``complete`` comes from the merge-completion rule; without it every node says false, so
  // only a completed node is marked (an unmarked directory may simply have no such rule)
  if (node.complete === true) {
    marks.push(h("span", { class: "badge ok", "data-flag": "complete", title: "Finished: its upload is complete" }, "complete"));
  }
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

export async function loadTree(api) {
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
