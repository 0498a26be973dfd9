// The examiner workspace's only way to the server: /api/v1 with the bearer token, one refresh
// on an expired access token, and errors turned into sentences an examiner can act on.

const REFRESH_KEY = "newspeech.examiner.refresh";

export class ApiError extends Error {
  /** ``body`` is the server's JSON answer, if any (an import's report comes with its 422). */
  constructor(status, code, message, body = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

/** A plain-language sentence for a failed request (``what`` says what was being done). */
function describe(status, body, what) {
  const detail = body?.detail;
  const text = typeof detail === "string" ? detail : null;
  if (status === 0) return `${what} failed: the server could not be reached. Check the connection and try again.`;
  if (status === 401) return "Your sign-in has expired. Sign in again.";
  if (status === 403) return `${what} failed: your account is not allowed to do this${text ? ` (${text})` : ""}.`;
  if (status === 404) return `${what} failed: ${text ?? "it no longer exists"}.`;
  if (status === 409) return `${what} failed: ${text ?? "it conflicts with stored data"}.`;
  if (status === 413) return `${what} failed: the file is too large.`;
  if (status === 422 && Array.isArray(detail)) {
    const parts = detail.map((d) => `${(d.loc ?? []).filter((p) => p !== "body").join(".") || "input"}: ${d.msg}`);
    return `${what} failed: ${parts.join("; ")}.`;
  }
  if (status === 429) return `${what} failed: too many requests${text ? ` (${text})` : ""}. Wait a moment and try again.`;
  if (status >= 500) return `${what} failed: the server had a problem (${status}). Try again; if it persists, tell the administrator.`;
  return `${what} failed: ${text ?? `the server answered ${status}`}.`;
}

async function readBody(response) {
  const type = response.headers.get("content-type") ?? "";
  if (type.includes("json")) return response.json().catch(() => null);
  return null;
}

export class Api {
  constructor() {
    this.accessToken = null;
    this.user = null;
    this.refreshing = null;
    this.onSignedOut = () => {};
  }

  get refreshToken() { return sessionStorage.getItem(REFRESH_KEY); }

  set refreshToken(value) {
    if (value) sessionStorage.setItem(REFRESH_KEY, value);
    else sessionStorage.removeItem(REFRESH_KEY);
  }

  async login(username, password) {
    const response = await this.#send("/api/v1/auth/login", {
      method: "POST", json: { username, password }, auth: false, what: "Signing in",
    });
    this.#take(response.body);
    return this.user;
  }

  /** Continue a sign-in kept in this tab (a reload), if its refresh token still works. */
  async resume() {
    if (!this.refreshToken) return null;
    try {
      await this.#refresh();
      return this.user;
    } catch {
      this.refreshToken = null;
      return null;
    }
  }

  async logout() {
    if (this.accessToken) {
      await this.#send("/api/v1/auth/logout", { method: "POST", what: "Signing out" }).catch(() => {});
    }
    this.accessToken = null;
    this.user = null;
    this.refreshToken = null;
  }

  /** JSON from ``path``: ``options`` = {method, json, form, query, what}. */
  async request(path, options = {}) {
    return (await this.#send(path, options)).body;
  }

  /** The response body as a Blob (audio, PDF, export files), sent with the bearer token. */
  async blob(path, what) {
    const response = await this.#send(path, { what, raw: true });
    return response.blob;
  }

  #take(body) {
    this.accessToken = body.access_token;
    this.refreshToken = body.refresh_token;
    this.user = body.user;
  }

  #refresh() {
    // One refresh at a time: a refresh token works once, and presenting it twice revokes the
    // whole sign-in session.
    this.refreshing ??= (async () => {
      try {
        const response = await this.#send("/api/v1/auth/refresh", {
          method: "POST", json: { refresh_token: this.refreshToken }, auth: false,
          what: "Renewing your sign-in",
        });
        this.#take(response.body);
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  async #send(path, { method = "GET", json, form, query, auth = true, what = "Loading", raw = false }, retried = false) {
    const url = new URL(path, window.location.origin);
    for (const [name, value] of Object.entries(query ?? {})) {
      if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
    }
    const headers = { Accept: raw ? "*/*" : "application/json" };
    // A 401 for a request sent before the examiner signed out (or in again) says nothing about
    // the sign-in now: only one for the current token ends it.
    const sentWith = this.accessToken;
    if (auth && sentWith) headers.Authorization = `Bearer ${sentWith}`;
    let body;
    if (json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(json);
    } else if (form !== undefined) {
      body = form;
    }
    let response;
    try {
      response = await fetch(url, { method, headers, body });
    } catch (error) {
      throw new ApiError(0, "network", `${describe(0, null, what)} (${error.message})`);
    }
    if (response.status === 401 && auth && !retried && this.refreshToken) {
      try {
        await this.#refresh();
      } catch {
        this.onSignedOut();
        throw new ApiError(401, "unauthenticated", describe(401, null, what));
      }
      return this.#send(path, { method, json, form, query, auth, what, raw }, true);
    }
    if (!response.ok) {
      const errorBody = await readBody(response);
      if (response.status === 401 && auth && sentWith === this.accessToken) this.onSignedOut();
      throw new ApiError(response.status, errorBody?.error ?? "error",
        describe(response.status, errorBody, what), errorBody);
    }
    if (raw) return { status: response.status, blob: await response.blob() };
    return { status: response.status, body: response.status === 204 ? null : await readBody(response) };
  }
}
