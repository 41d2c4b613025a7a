// The query API as the page uses it: every call carries the key, every failure becomes an
// ApiError whose ``message`` says what a person can do about it.

export const NEXT_CURSOR = "X-Next-Cursor";

export class ApiError extends Error {
  /**
   * @param {number} status HTTP status, 0 when Fusion did not answer at all
   * @param {string} code the error code of Fusion's JSON error body ("" when there was none)
   * @param {string} message what to tell the person
   */
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }

  /** True when the key or the datastore is wrong: the person must enter them again. */
  get needsLogin() {
    return this.status === 401 || this.status === 403 || this.code === "datastore_not_found";
  }
}

export class Api {
  constructor(datastore, key, base = window.location.origin) {
    this.datastore = datastore;
    this.key = key;
    this.base = base;
  }

  /**
   * GET a query route of the datastore: ``get("tree", {path: "/x"})``.
   * @returns {Promise<{body: any, next: string|null}>} the JSON body and the X-Next-Cursor header
   */
  async get(route, params = {}) {
    const url = new URL(`/api/v1/views/${encodeURIComponent(this.datastore)}/${route}`, this.base);
    for (const [name, value] of Object.entries(params)) {
      if (value !== null && value !== undefined) url.searchParams.set(name, String(value));
    }
    let response;
    try {
      response = await fetch(url, { headers: { "X-API-Key": this.key }, cache: "no-store" });
    } catch {
      throw new ApiError(0, "", `Fusion is not answering at ${this.base}: is it running? Retrying…`);
    }
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    if (!response.ok) throw this.describe(response.status, body);
    return { body, next: response.headers.get(NEXT_CURSOR) };
  }

  describe(status, body) {
    const code = body?.error?.code ?? "";
    const detail = body?.error?.message ?? "";
    const ds = this.datastore;
    if (status === 401) {
      return new ApiError(status, code, `The API key was refused (401: ${detail}). Enter a key with the query scope.`);
    }
    if (status === 403) {
      return new ApiError(
        status,
        code,
        `This key may not read datastore “${ds}” (403: ${detail}): check the datastore's name, or enter its key.`,
      );
    }
    if (code === "datastore_not_found") {
      return new ApiError(status, code, `This Fusion does not serve a datastore named “${ds}” (404).`);
    }
    if (code === "path_not_found") {
      return new ApiError(status, code, `Not in the tree (any more?): ${detail} (404).`);
    }
    return new ApiError(status, code, `Fusion answered ${status}${detail ? `: ${detail}` : ""}.`);
  }
}
