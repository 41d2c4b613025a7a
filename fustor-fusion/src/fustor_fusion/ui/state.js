// What the page shows (datastore, directory, page, tab) and what it last drew, shared by the
// modules that read and draw it.

export const LIST_PAGE = 200;

export const state = {
  api: null,
  path: "/",
  tab: "tree",
  pageSize: 500,
  cursor: null, // where the shown page of the directory starts (null: the first page)
  earlier: [], // cursors of the pages before the shown one, for "Previous"
  next: null, // X-Next-Cursor of the shown page
  lists: {}, // per list name: {cursor, shown} of its "More" paging
  chosenList: null, // the list the Lists tab shows
  sessions: { cursor: null },
  watcher: null,
};

export function resetPaging() {
  state.cursor = null;
  state.earlier = [];
  state.next = null;
}

export function resetLists() {
  state.lists = {};
  state.chosenList = null;
  state.sessions = { cursor: null };
}

/** The paging of list ``name``: where "More" goes on, how many entries are shown. */
export function listState(name) {
  if (!(name in state.lists)) state.lists[name] = { cursor: null, shown: 0 };
  return state.lists[name];
}

export const shownData = new Map();

/** True when ``data`` differs from what ``part`` of the page shows now: a refresh that finds
 * nothing new leaves the page alone, so a selection or a hovered link survives it. */
export function changed(part, data) {
  const signature = JSON.stringify(data);
  if (shownData.get(part) === signature) return false;
  shownData.set(part, signature);
  return true;
}
