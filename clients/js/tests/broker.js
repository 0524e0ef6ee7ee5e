// What the tests know of the broker they run against. Broker.Tests/Clients/JavaScriptClientTests.cs
// starts it and sets:
//   TOPICBROKER_URL          http://127.0.0.1:<port> of the broker
//   TOPICBROKER_CONTROL_URL  where the NUnit test takes orders: POST /stop, /start, /publish-while-away
//   TOPICBROKER_SIGNING_KEY  Broker:Auth:SigningKey, to mint tokens (HS256)

import { createHmac } from "node:crypto";
import { WebSocket as NodeWebSocket } from "ws";

export const brokerUrl = process.env.TOPICBROKER_URL;
const controlUrl = process.env.TOPICBROKER_CONTROL_URL;
const signingKey = process.env.TOPICBROKER_SIGNING_KEY;

/** Why the tests cannot run, or false: they need a broker started for them. */
export const missingBroker =
  brokerUrl && controlUrl && signingKey ? false : "run through Broker.Tests (JavaScriptClientTests), which starts the broker";

/** The WebSocket URL of a topic. */
export function topicUrl(topic) {
  return `${brokerUrl.replace(/^http/, "ws")}/ws/${topic}`;
}

/** An HS256 JWT with the broker's key, as an operator's token service would mint it (protocol.md "Tokens"). */
export function mintToken({ subscribe = ["*"], publish = [], expiresInSeconds = 3600 } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const encode = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const header = encode({ alg: "HS256", typ: "JWT" });
  const payload = encode({ sub: "js-client-test", subscribe, publish, iat: now - 60, nbf: now - 60, exp: now + expiresInSeconds });
  const signature = createHmac("sha256", signingKey).update(`${header}.${payload}`).digest("base64url");
  return `${header}.${payload}.${signature}`;
}

/** Publishes through the HTTP API; returns the committed seq. */
export async function publish(topic, id, data) {
  const response = await fetch(`${brokerUrl}/api/topics/${topic}/entities/${encodeURIComponent(id)}`, {
    method: data === null ? "DELETE" : "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${mintToken({ publish: [topic] })}` },
    body: data === null ? undefined : JSON.stringify(data),
  });
  const body = await response.json();
  if (!body.ok) throw new Error(`publish ${topic}/${id}: ${response.status} ${JSON.stringify(body)}`);
  return body.seq;
}

async function control(path, body) {
  const response = await fetch(`${controlUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body ?? null),
  });
  if (!response.ok) throw new Error(`control ${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

/** Stops the broker gracefully, as on SIGTERM: clients get a shutdown frame, then a close 1001. */
export const stopBroker = () => control("/stop");

/** Starts the broker again on the same port and database (nothing if it is running). */
export const startBroker = () => control("/start");

/**
 * While the broker is stopped: commits changes ([{ topic, id, data }]) to its database through
 * another broker on a port the clients do not know, so they can only see them by resuming.
 * Returns { seq } of the last one.
 */
export const publishWhileAway = (changes) => control("/publish-while-away", changes);

/**
 * The `ws` WebSocket, recording every socket the client opens ({ url, at, socket }) and every
 * frame it receives ({ frame, at }), so a test can see what went over the wire and when.
 */
export function recordingWebSocket() {
  const dials = [];
  const frames = [];
  class RecordingWebSocket extends NodeWebSocket {
    constructor(url, ...rest) {
      super(url, ...rest);
      dials.push({ url: new URL(url), at: Date.now(), socket: this });
      this.addEventListener("message", (event) => {
        frames.push({ frame: JSON.parse(event.data), at: Date.now() });
        changed();
      });
      changed();
    }
  }
  return { WebSocket: RecordingWebSocket, dials, frames };
}

/**
 * Resolves once `condition()` is true, checking it at once and whenever changed() is called (on
 * every recorded frame and dial, and from the clients' callbacks); rejects after `timeoutMs`
 * with `message`. Waits on events, never on time.
 */
export function until(condition, { timeoutMs = 15000, message = "condition" } = {}) {
  return new Promise((resolve, reject) => {
    const check = () => {
      try {
        if (condition()) {
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        }
      } catch (error) {
        clearTimeout(timer);
        waiters.delete(check);
        reject(error);
      }
    };
    const timer = setTimeout(() => {
      waiters.delete(check);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${message}`));
    }, timeoutMs);
    waiters.add(check);
    check();
  });
}

const waiters = new Set();

/** Tells every pending until() to look again; call it from the client's callbacks. */
export function changed() {
  for (const check of [...waiters]) check();
}
