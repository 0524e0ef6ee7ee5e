// TopicBroker reference client (protocol.md "WebSocket", "Frames", "Close codes", "Resume after
// reconnect" and "Security"), for browsers and Node. The package is clients/js; the broker serves
// this file at /lib/topicbroker-client.js for the pages it hosts.
//
//   const robots = new TopicClient({
//     topic: "robots",
//     onSnapshot: (entities, seq) => { /* entities: Map id -> data */ },
//     onUpdate: (id, data, op, seq) => { /* data is null when op is "delete" */ },
//     onStatus: (status, client) => { /* "connecting" | "live" | "reconnecting" | "closed" */ },
//   });
//   robots.connect();
//
// In Node (20 has no global WebSocket), pass an implementation: `WebSocket: (await import("ws")).WebSocket`.
//
// The client keeps the topic's state itself (`entities`, `seq`), so a page only renders it.
// It never misses a change: after any disconnect it reconnects with `?since=<seq>` and the
// broker replays what happened meanwhile (or sends a fresh snapshot if it cannot).

/** The WebSocket URL of a topic on the server that served this page (ws: for http:, wss: for https:). */
export function topicUrl(topic, loc = globalThis.location) {
  const scheme = loc.protocol === "https:" ? "wss:" : "ws:";
  const token = accessToken(loc);
  // Browsers cannot set headers on a WebSocket, so a token travels as ?access_token= (protocol.md "Security").
  const query = token ? `?access_token=${encodeURIComponent(token)}` : "";
  return `${scheme}//${loc.host}/ws/${encodeURIComponent(topic)}${query}`;
}

/**
 * The token this page was opened with (`kitchen.html?access_token=<jwt>`), or null when the
 * broker runs without authentication. Screens get their token from whoever provisions them.
 */
export function accessToken(loc = globalThis.location) {
  return new URLSearchParams(loc.search).get("access_token");
}

// WebSocket.readyState of an open socket; read as a number so that any implementation will do.
const OPEN = 1;

export class TopicClient {
  /** Entity id -> data. Updated in place, so a reference to it stays current. */
  entities = new Map();
  /** seq of the last snapshot or update applied; null until the first one. */
  seq = null;
  /** "idle" (before connect), "connecting", "live", "reconnecting" or "closed". */
  status = "idle";
  /** When the last snapshot or update was applied (Date), or null. */
  lastUpdate = null;
  /** Why the client stopped for good (close code 1003), or null. */
  closeReason = null;
  /** The data of the last shutdown frame ({ reason, reconnectAfterMs, resumeFrom }), or null. */
  lastShutdown = null;
  /** The delay (ms) before the reconnect that is pending, or null when none is. */
  reconnectDelayMs = null;

  #WebSocket;
  #ws = null;
  #attempt = 0;
  #reconnectTimer = null;
  #watchdog = null;
  #lastFrameAt = 0;
  #shutdownDelayMs = null;
  #resumeFrom = null;
  #stopped = false;
  #token = null;
  #fetchingToken = false;
  #pendingAuth = []; // refreshToken() calls waiting for their answer, oldest first

  /**
   * @param {object} options
   * @param {string} [options.topic]  topic name; the URL is derived from the page's location
   * @param {string} [options.url]  full WebSocket URL instead, e.g. "ws://host:5000/ws/robots"
   * @param {(entities: Map<string, any>, seq: number) => void} [options.onSnapshot]
   * @param {(id: string, data: any, op: "upsert" | "delete", seq: number) => void} [options.onUpdate]
   * @param {(status: string, client: TopicClient) => void} [options.onStatus]
   * @param {number} [options.initialBackoffMs=500]  upper bound of the first reconnect delay
   * @param {number} [options.maxBackoffMs=15000]  cap of the reconnect delay
   * @param {number} [options.connectTimeoutMs=10000]  how long opening a connection may take
   * @param {number} [options.staleAfterMs=60000]  silence after which the connection is presumed dead
   * @param {string | (() => string | Promise<string>)} [options.token]  the JWT sent as ?access_token=;
   *   a function is asked again before every connection, so a reconnect after 4401 uses a fresh token
   * @param {typeof WebSocket} [options.WebSocket]  the WebSocket implementation (default: the global one;
   *   in Node 20, `WebSocket` from the `ws` package)
   */
  constructor({
    topic, url, onSnapshot, onUpdate, onStatus, token, WebSocket: WebSocketImpl = globalThis.WebSocket,
    initialBackoffMs = 500, maxBackoffMs = 15000, connectTimeoutMs = 10000, staleAfterMs = 60000,
  } = {}) {
    if (!url && !topic) throw new TypeError("TopicClient needs a topic or a url");
    if (typeof WebSocketImpl !== "function") {
      throw new TypeError("TopicClient needs a WebSocket implementation: pass { WebSocket } (in Node, from the ws package)");
    }
    this.topic = topic ?? decodeURIComponent(new URL(url).pathname.split("/").pop());
    this.url = url ?? topicUrl(topic);
    this.#WebSocket = WebSocketImpl;
    this.#token = token ?? null;
    this.onSnapshot = onSnapshot;
    this.onUpdate = onUpdate;
    this.onStatus = onStatus;
    this.initialBackoffMs = initialBackoffMs;
    this.maxBackoffMs = maxBackoffMs;
    this.connectTimeoutMs = connectTimeoutMs;
    this.staleAfterMs = staleAfterMs;
  }

  /** Opens the connection; from then on the client reconnects by itself until close(). */
  connect() {
    if (this.#ws || this.#reconnectTimer || this.#fetchingToken) return this;
    this.#stopped = false;
    this.#setStatus("connecting");
    this.#open();
    return this;
  }

  /** Closes the connection and stops reconnecting. The state is kept. */
  close() {
    this.#stopped = true;
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = null;
    this.reconnectDelayMs = null;
    this.#abandonSocket(1000);
    this.#setStatus("closed");
  }

  /**
   * Replaces the connection's token in place, before the old one expires (protocol.md "Tokens"):
   * sends {"type":"auth"} and resolves with the broker's answer ({ ok: true, expiresAt }); the
   * new token is then used for every later connection too (it replaces a `token` function).
   * Rejects with an Error whose `code` is the broker's ("invalid_token", "forbidden"), and the
   * old token stays in force, or "not_connected" if the connection dropped before the answer.
   * Between connections it only keeps the token for the next one and resolves with null.
   * @param {string} token
   * @returns {Promise<{ ok: true, expiresAt?: number } | null>}
   */
  refreshToken(token) {
    if (typeof token !== "string" || token === "") return Promise.reject(new TypeError("refreshToken needs a token"));
    const ws = this.#ws;
    if (!ws || ws.readyState !== OPEN) {
      this.#token = token; // the next connection carries it in its URL
      return Promise.resolve(null);
    }
    return new Promise((resolve, reject) => {
      this.#pendingAuth.push({
        ws,
        resolve: (answer) => {
          this.#token = token;
          resolve(answer);
        },
        reject,
      });
      ws.send(JSON.stringify({ type: "auth", data: { token } }));
    });
  }

  #open() {
    this.#reconnectTimer = null;
    this.reconnectDelayMs = null;
    const url = new URL(this.url);
    // Resume from the newest point we know of: our own seq, or the broker's resumeFrom from a
    // shutdown frame, whichever is greater (protocol.md "Frames", shutdown).
    const since = Math.max(this.seq ?? -1, this.#resumeFrom ?? -1);
    if (since >= 0) url.searchParams.set("since", String(since));
    if (typeof this.#token !== "function") {
      this.#dial(url, this.#token);
      return;
    }

    // A token function may be asynchronous (ask a token service); connect() waits for it.
    this.#fetchingToken = true;
    const failed = (error) => {
      this.#fetchingToken = false;
      console.warn(`TopicBroker ${this.topic}: getting a token failed: ${error?.message ?? error}`);
      if (!this.#stopped) this.#scheduleReconnect();
    };
    let pending;
    try {
      pending = Promise.resolve(this.#token());
    } catch (error) {
      failed(error);
      return;
    }
    pending.then((token) => {
      this.#fetchingToken = false;
      if (!this.#stopped) this.#dial(url, token);
    }, failed);
  }

  #dial(url, token) {
    // Browsers cannot set headers on a WebSocket, so the token travels in the query (protocol.md "WebSocket").
    if (token) url.searchParams.set("access_token", token);
    const ws = new this.#WebSocket(url);
    this.#ws = ws;
    this.#lastFrameAt = Date.now();
    this.#startWatchdog();
    // Every handler checks that its socket is still the current one: an abandoned socket may
    // still deliver events, and they must not touch the state.
    ws.onopen = () => {
      if (ws !== this.#ws) return;
      this.#lastFrameAt = Date.now();
      this.#setStatus("live");
    };
    ws.onmessage = (event) => {
      if (ws === this.#ws) this.#handleFrame(ws, event.data);
    };
    ws.onclose = (event) => {
      this.#failPendingAuth(ws, "not_connected", "the connection closed before the broker answered");
      if (ws !== this.#ws) return;
      this.#ws = null;
      this.#handleClose(event.code, event.reason);
    };
    // An error is always followed by a close event, which does the work.
    ws.onerror = () => {};
  }

  #handleFrame(ws, text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      return; // the broker only sends JSON; ignore anything else rather than fail
    }
    this.#lastFrameAt = Date.now();
    // A frame proves the connection works, so the next drop starts again from a short delay.
    // Resetting on "open" alone would spin fast against a broker that accepts and closes at once.
    this.#attempt = 0;

    switch (frame.type) {
      case "ping":
        ws.send(JSON.stringify({ type: "pong", data: frame.data }));
        break;

      case "snapshot":
        // A snapshot replaces everything, even with a lower seq: the broker may have started
        // over with another database, and its state is the truth.
        this.entities.clear();
        for (const [id, data] of Object.entries(frame.data ?? {})) this.entities.set(id, data);
        this.seq = frame.seq;
        this.#resumeFrom = null;
        this.lastUpdate = new Date();
        this.onSnapshot?.(this.entities, this.seq);
        break;

      case "update":
        // Updates can repeat across a reconnect; one we already have is not applied twice.
        if (this.seq !== null && frame.seq <= this.seq) return;
        if (frame.op === "delete") this.entities.delete(frame.id);
        else this.entities.set(frame.id, frame.data);
        this.seq = frame.seq;
        this.lastUpdate = new Date();
        this.onUpdate?.(frame.id, frame.op === "delete" ? null : frame.data, frame.op, frame.seq);
        break;

      case "shutdown":
        // The broker is restarting; a close 1001 follows. Come back when it says, not at once,
        // so that all its clients do not return in the same instant.
        this.lastShutdown = frame.data ?? null;
        this.#shutdownDelayMs = Number(frame.data?.reconnectAfterMs) || 0;
        if (Number.isFinite(frame.data?.resumeFrom)) this.#resumeFrom = frame.data.resumeFrom;
        break;

      case "auth":
        // The broker answers auth messages in the order they were sent.
        this.#pendingAuth.shift()?.resolve(frame.data);
        break;

      case "error":
        if ((frame.data?.code === "invalid_token" || frame.data?.code === "forbidden") && this.#pendingAuth.length > 0) {
          const { reject } = this.#pendingAuth.shift();
          reject(Object.assign(new Error(`${frame.data.code}: ${frame.data.message}`), { code: frame.data.code }));
          break;
        }
        console.warn(`TopicBroker ${this.topic}: ${frame.data?.code}: ${frame.data?.message}`);
        break;
    }
  }

  #failPendingAuth(ws, code, message) {
    const failed = this.#pendingAuth.filter((pending) => pending.ws === ws);
    this.#pendingAuth = this.#pendingAuth.filter((pending) => pending.ws !== ws);
    for (const { reject } of failed) reject(Object.assign(new Error(message), { code }));
  }

  #handleClose(code, reason) {
    this.#stopWatchdog();
    if (this.#stopped) return;

    // 1003: the topic does not exist (or we sent a binary frame); retrying cannot help.
    if (code === 1003) {
      this.closeReason = reason || "unsupported";
      console.error(`TopicBroker ${this.topic}: closed for good: ${this.closeReason}`);
      this.#stopped = true;
      this.#setStatus("closed");
      return;
    }
    this.#scheduleReconnect();
  }

  #scheduleReconnect() {
    let delay;
    if (this.#shutdownDelayMs !== null) {
      delay = this.#shutdownDelayMs;
      this.#shutdownDelayMs = null;
    } else {
      // Exponential backoff with full jitter: uniform in [0, min(cap, base * 2^attempt)], so
      // thousands of screens that lost the broker together do not reconnect together.
      const ceiling = Math.min(this.maxBackoffMs, this.initialBackoffMs * 2 ** this.#attempt);
      delay = Math.random() * ceiling;
      this.#attempt = Math.min(this.#attempt + 1, 30);
    }
    this.reconnectDelayMs = delay;
    this.#setStatus("reconnecting");
    this.#reconnectTimer = setTimeout(() => this.#open(), delay);
  }

  // Browsers can take minutes to give up on a connection that never opens (packets silently
  // dropped) or that died half-open (laptop slept, network changed). The broker pings every
  // 15 s by default, so silence far beyond that, or an open that takes too long, means the
  // socket is dead: drop it and reconnect.
  #startWatchdog() {
    this.#stopWatchdog();
    this.#watchdog = setInterval(() => {
      const ws = this.#ws;
      const limit = ws?.readyState === OPEN ? this.staleAfterMs : this.connectTimeoutMs;
      if (ws && Date.now() - this.#lastFrameAt > limit) {
        this.#abandonSocket(4000);
        this.#scheduleReconnect();
      }
    }, 1000);
  }

  #stopWatchdog() {
    clearInterval(this.#watchdog);
    this.#watchdog = null;
  }

  // Detaches the current socket first, so its late close event is ignored, then closes it.
  #abandonSocket(code) {
    const ws = this.#ws;
    this.#ws = null;
    this.#stopWatchdog();
    if (ws) this.#failPendingAuth(ws, "not_connected", "the connection was dropped before the broker answered");
    if (ws && ws.readyState <= OPEN) {
      try {
        ws.close(code);
      } catch {
        // Closing an already failing socket may throw; it is being dropped anyway.
      }
    }
  }

  #setStatus(status) {
    if (status === this.status) return;
    this.status = status;
    this.onStatus?.(status, this);
  }
}
