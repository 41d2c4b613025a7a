// The page's address: #/<datastore>/<path…>, each part URL-encoded.

/** A part of the address as written; a mistyped escape ("%zz") stays as it is. */
function decodePart(part) {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

export function parseHash() {
  const parts = window.location.hash.replace(/^#\/?/, "").split("/");
  const datastore = decodePart(parts[0] || "");
  const names = parts.slice(1).filter((p) => p !== "").map(decodePart);
  return { datastore, path: "/" + names.join("/") };
}

export function hrefFor(datastore, path) {
  const names = path.split("/").filter((p) => p !== "");
  return "#/" + [datastore, ...names].map(encodeURIComponent).join("/");
}

export function parentOf(path) {
  const cut = path.lastIndexOf("/");
  return cut <= 0 ? "/" : path.slice(0, cut);
}
