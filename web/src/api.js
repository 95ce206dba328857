// The REST side: sessions (bearer tokens; the refresh token kept in sessionStorage, the access token
// in memory and refreshed before it expires) and calls that answer JSON or throw an ApiError.

const REFRESH_KEY = "chathub.refresh_token";
const USER_KEY = "chathub.username";

/** A refused call: the status and the problem's `code` and `detail` (RFC 9457). */
export class ApiError extends Error {
  constructor(status, code, detail) {
    super(detail || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

export class Api {
  /** `base`: the REST API's URL, without a trailing slash. */
  constructor(base) {
    this.base = base.replace(/\/$/, "");
    this.access = null;
    this.username = null;
    this.expiresAt = 0;
    this.refreshing = null;
    this.timer = null;
    /** Called with the new access token after each refresh (the socket reconnects with it). */
    this.onToken = () => {};
    /** Called when the session is gone (refresh refused): back to the sign-in form. */
    this.onSignedOut = () => {};
  }

  get signedIn() {
    return this.access !== null;
  }

  async register(username, password) {
    const tokens = await this.request("POST", "/auth/register", { username, password }, { auth: false });
    this.adopt(tokens);
    return tokens.user;
  }

  async login(username, password) {
    const tokens = await this.request("POST", "/auth/login", { username, password }, { auth: false });
    this.adopt(tokens);
    return tokens.user;
  }

  /** After a reload: a new access token from the refresh token this tab kept. */
  async restore() {
    if (!sessionStorage.getItem(REFRESH_KEY)) return false;
    try {
      await this.refresh();
      return true;
    } catch {
      this.forget();
      return false;
    }
  }

  async logout() {
    const refresh = sessionStorage.getItem(REFRESH_KEY);
    try {
      if (this.access) await this.request("POST", "/auth/logout", refresh ? { refresh_token: refresh } : {});
    } finally {
      this.forget();
    }
  }

  forget() {
    clearTimeout(this.timer);
    this.access = null;
    this.username = null;
    sessionStorage.removeItem(REFRESH_KEY);
    sessionStorage.removeItem(USER_KEY);
  }

  adopt(tokens) {
    this.access = tokens.access_token;
    this.username = tokens.user?.username || claims(tokens.access_token).sub || sessionStorage.getItem(USER_KEY);
    this.expiresAt = Date.now() + tokens.expires_in * 1000;
    sessionStorage.setItem(REFRESH_KEY, tokens.refresh_token);
    sessionStorage.setItem(USER_KEY, this.username);
    clearTimeout(this.timer);
    // Refreshed at four fifths of its life, so a call never carries an expired token.
    const wait = Math.max(5_000, (tokens.expires_in * 1000 * 4) / 5);
    this.timer = setTimeout(() => this.refresh().catch(() => this.signedOut()), wait);
  }

  signedOut() {
    this.forget();
    this.onSignedOut();
  }

  /** Rotates the refresh token for a new access token (one rotation at a time: a refresh token is
   * single use, and using it twice ends the session). */
  refresh() {
    if (!this.refreshing) {
      const refresh_token = sessionStorage.getItem(REFRESH_KEY);
      this.refreshing = this.request("POST", "/auth/refresh", { refresh_token }, { auth: false })
        .then((tokens) => {
          this.adopt(tokens);
          this.onToken(this.access);
          return this.access;
        })
        .finally(() => {
          this.refreshing = null;
        });
    }
    return this.refreshing;
  }

  /** A fresh enough access token (refreshed first when it expires within a minute). */
  async token() {
    if (this.access && this.expiresAt - Date.now() > 60_000) return this.access;
    return this.refresh();
  }

  get(path) {
    return this.request("GET", path);
  }

  post(path, body) {
    return this.request("POST", path, body ?? {});
  }

  patch(path, body) {
    return this.request("PATCH", path, body);
  }

  put(path, body) {
    return this.request("PUT", path, body);
  }

  delete(path) {
    return this.request("DELETE", path);
  }

  /** One call; a 401 on an authenticated call refreshes the token once and tries again. */
  async request(method, path, body, { auth = true, retried = false } = {}) {
    const headers = { accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (auth) headers.authorization = `Bearer ${await this.token()}`;
    const response = await fetch(this.base + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      // Bearer tokens, not the cookie: the login cookie is SameSite=Lax and would not reach an API
      // on another site.
      credentials: "omit",
    });
    if (response.status === 401 && auth && !retried) {
      try {
        await this.refresh();
      } catch {
        this.signedOut();
        throw new ApiError(401, "unauthorized", "signed out");
      }
      return this.request(method, path, body, { auth, retried: true });
    }
    if (response.status === 204) return null;
    const text = await response.text();
    const json = text ? safeJson(text) : null;
    if (!response.ok) throw new ApiError(response.status, json?.code, json?.detail);
    return json;
  }

  /** Uploads a file straight to storage: declared (`POST /files`), then PUT to the presigned URL
   * with exactly the headers it binds. Returns the file id. */
  async upload(file, purpose, conversationId) {
    const declared = await this.post("/files", {
      purpose,
      content_type: file.type || "application/octet-stream",
      size: file.size,
      name: file.name,
      conversation_id: conversationId,
    });
    const headers = { ...(declared.upload_headers || {}) };
    // The browser sets Content-Length itself (it may not be set by a page).
    for (const name of Object.keys(headers)) if (name.toLowerCase() === "content-length") delete headers[name];
    const put = await fetch(declared.upload_url, { method: declared.upload_method || "PUT", headers, body: file });
    if (!put.ok) throw new ApiError(put.status, "upload_failed", "the upload was refused");
    return declared.file_id;
  }

  /** A short-lived URL to show a file (`GET /files/{id}?redirect=false`), kept until it expires. */
  async fileUrl(fileId) {
    const cached = this.urls?.get(fileId);
    if (cached && cached.expires_at - Date.now() > 30_000) return cached.url;
    const found = await this.get(`/files/${encodeURIComponent(fileId)}?redirect=false`);
    (this.urls ??= new Map()).set(fileId, found);
    return found.url;
  }
}

function safeJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** The claims of a JWT (not verified: only to read who it is for). */
export function claims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part));
  } catch {
    return {};
  }
}
