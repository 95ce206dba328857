// The WebSocket side: requests answered by `request_id`, pushes dispatched by `type`, and a socket
// that comes back by itself (after the laptop sleeps, a network change, or API Gateway's 10-minute
// idle and 2-hour limits), telling the app so it can catch up.

const KEEPALIVE_MS = 4 * 60_000; // API Gateway closes a socket idle for 10 minutes
const ANSWER_MS = 15_000;

export class Socket {
  /** `url`: the WebSocket API's URL; `token()`: a fresh access token. */
  constructor(url, token) {
    this.url = url.replace(/\/$/, "");
    this.token = token;
    this.ws = null;
    this.pending = new Map();
    this.handlers = new Map();
    this.next = 1;
    this.attempt = 0;
    this.stopped = false;
    this.opened = false;
    /** Called on every open; `again` is true after a reconnect (time to catch up). */
    this.onOpen = () => {};
    /** Called with "online" or "offline" when the connection comes or goes. */
    this.onStatus = () => {};
  }

  /** Handles pushes of `type` (several handlers may listen). */
  on(type, handler) {
    if (!this.handlers.has(type)) this.handlers.set(type, []);
    this.handlers.get(type).push(handler);
  }

  get open() {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  async connect() {
    this.stopped = false;
    let token;
    try {
      token = await this.token();
    } catch {
      return; // signed out meanwhile
    }
    if (this.stopped) return;
    // `wss://<api>/<stage>?token=`, as API.md gives it (a bare origin gets its "/" from the browser).
    const ws = new WebSocket(`${this.url}?token=${encodeURIComponent(token)}`);
    this.ws = ws;
    ws.addEventListener("open", () => {
      const again = this.opened;
      this.opened = true;
      this.attempt = 0;
      this.onStatus("online");
      this.keepalive = setInterval(() => this.request("ping").catch(() => {}), KEEPALIVE_MS);
      this.onOpen(again);
    });
    ws.addEventListener("message", (event) => this.received(event.data));
    ws.addEventListener("close", () => {
      clearInterval(this.keepalive);
      for (const { reject, timer } of this.pending.values()) {
        clearTimeout(timer);
        reject(Object.assign(new Error("the connection closed"), { code: "closed" }));
      }
      this.pending.clear();
      if (this.ws === ws) this.ws = null;
      this.onStatus("offline");
      if (!this.stopped) this.retry();
    });
  }

  /** Reconnects after 1, 2, 4 … up to 30 seconds (a little random, so a room of clients that lost
   * the network together does not come back in one instant). */
  retry() {
    const wait = Math.min(30_000, 1000 * 2 ** this.attempt) * (0.75 + Math.random() / 2);
    this.attempt += 1;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), wait);
  }

  /** Reconnects now (a new access token, the browser back online). */
  reconnect() {
    clearTimeout(this.retryTimer);
    if (this.ws) {
      this.ws.close();
    } else {
      this.connect();
    }
  }

  close() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.ws?.close();
  }

  /** Sends a request; resolves with its `data`, rejects with its `code` and `error`. */
  request(type, fields = {}) {
    if (!this.open) return Promise.reject(Object.assign(new Error("offline"), { code: "offline" }));
    const request_id = `r${this.next++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(request_id);
        reject(Object.assign(new Error("no answer"), { code: "timeout" }));
      }, ANSWER_MS);
      this.pending.set(request_id, { resolve, reject, timer });
      this.ws.send(JSON.stringify({ type, ...fields, request_id }));
    });
  }

  received(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    const waiting = frame.request_id && this.pending.get(frame.request_id);
    if (waiting) {
      this.pending.delete(frame.request_id);
      clearTimeout(waiting.timer);
      if (frame.success) waiting.resolve(frame.data);
      else waiting.reject(Object.assign(new Error(frame.error || frame.code), { code: frame.code }));
      return;
    }
    if (!frame.success) return;
    if (frame.type === "send_message_batch") {
      for (const message of frame.data?.messages || []) this.dispatch("send_message", message);
      return;
    }
    this.dispatch(frame.type, frame.data);
  }

  dispatch(type, data) {
    for (const handler of this.handlers.get(type) || []) {
      try {
        handler(data);
      } catch (e) {
        console.error(`handling ${type}`, e);
      }
    }
  }
}
