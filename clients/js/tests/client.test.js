// TopicClient (lib/topicbroker-client.js) against the real broker, in Node with the `ws` package.
// Run by Broker.Tests/Clients/JavaScriptClientTests.cs, which starts the broker with auth on,
// pings every 100 ms and shutdown frames spreading reconnects over 1.5 s.

import assert from "node:assert/strict";
import { after, afterEach, describe, test } from "node:test";
import { TopicClient } from "../lib/topicbroker-client.js";
import {
  changed, missingBroker, mintToken, publish, publishWhileAway, recordingWebSocket, startBroker, stopBroker, topicUrl, until,
} from "./broker.js";

const clients = [];

/** A client of `topic` that records what it saw; every callback wakes the pending until(). */
function subscribe(topic, options = {}) {
  const seen = { snapshots: [], updates: [], statuses: [] };
  const recording = recordingWebSocket();
  const client = new TopicClient({
    url: topicUrl(topic),
    token: mintToken({ subscribe: [topic] }),
    WebSocket: recording.WebSocket,
    // Back within moments once a broker listens again.
    initialBackoffMs: 50,
    maxBackoffMs: 200,
    onSnapshot: (entities, seq) => {
      seen.snapshots.push({ entities: new Map(entities), seq });
      changed();
    },
    onUpdate: (id, data, op, seq) => {
      seen.updates.push({ id, data, op, seq });
      changed();
    },
    onStatus: (status) => {
      seen.statuses.push({ status, at: Date.now() });
      changed();
    },
    ...options,
  });
  clients.push(client);
  return { client, seen, ...recording };
}

after(() => {
  for (const client of clients) client.close();
});

describe("TopicClient against the broker", { skip: missingBroker }, () => {
  // A test that failed while the broker was stopped must not fail the next ones too.
  afterEach(() => startBroker());

  test("connect: the first frame is a snapshot of the topic's state", async () => {
    const seq = await publish("tables", "T1", { state: "seated", seats: 4 });
    const { client, seen } = subscribe("tables");

    client.connect();
    await until(() => seen.snapshots.length === 1, { message: "the snapshot" });

    assert.equal(client.status, "live");
    assert.equal(client.seq, seq);
    assert.deepEqual(client.entities.get("T1"), { state: "seated", seats: 4 });
    assert.deepEqual(seen.snapshots[0].entities.get("T1"), { state: "seated", seats: 4 });
  });

  test("updates: upserts and deletes are applied in seq order, each once", async () => {
    const { client, seen } = subscribe("robots");
    client.connect();
    await until(() => seen.snapshots.length === 1, { message: "the snapshot" });

    const first = await publish("robots", "robot-1", { x: 1, y: 2, battery: 90 });
    const second = await publish("robots", "robot-1", { x: 1.5, y: 2, battery: 89 });
    const third = await publish("robots", "robot-1", null);
    await until(() => client.seq === third, { message: `seq ${third}` });

    assert.deepEqual(seen.updates, [
      { id: "robot-1", data: { x: 1, y: 2, battery: 90 }, op: "upsert", seq: first },
      { id: "robot-1", data: { x: 1.5, y: 2, battery: 89 }, op: "upsert", seq: second },
      { id: "robot-1", data: null, op: "delete", seq: third },
    ]);
    assert.equal(client.entities.has("robot-1"), false);
  });

  test("broker restart: the client resumes with since= and gets what it missed as updates", async () => {
    let tokensAsked = 0;
    const { client, seen, dials } = subscribe("orders", {
      // A token function is asked before every connection.
      token: () => {
        tokensAsked++;
        return mintToken({ subscribe: ["orders"] });
      },
    });
    await publish("orders", "order-1", { table: "T1", status: "new" });
    client.connect();
    await until(() => seen.snapshots.length === 1, { message: "the snapshot" });
    const seqBefore = client.seq;

    await stopBroker();
    await until(() => client.status === "reconnecting", { message: "status reconnecting" });
    const { seq: missedUpTo } = await publishWhileAway([
      { topic: "orders", id: "order-1", data: { table: "T1", status: "cooking" } },
      { topic: "orders", id: "order-2", data: { table: "T3", status: "new" } },
    ]);
    await startBroker();

    await until(() => client.seq === missedUpTo && client.status === "live", { message: `seq ${missedUpTo}, live` });
    const resumed = dials.at(-1).url;
    assert.equal(resumed.searchParams.get("since"), String(seqBefore), `resumed with ${resumed}`);
    assert.equal(seen.snapshots.length, 1, "the missed changes came as updates, not as a new snapshot");
    assert.deepEqual(seen.updates.map((u) => [u.id, u.data.status]), [["order-1", "cooking"], ["order-2", "new"]]);
    assert.deepEqual(client.entities.get("order-2"), { table: "T3", status: "new" });
    assert.ok(tokensAsked >= 2, `the token function was asked ${tokensAsked} times`);
  });

  test("shutdown frame: the client waits reconnectAfterMs before it reconnects", async () => {
    // A first reconnect delay of at most 1 ms: a client that ignored reconnectAfterMs would be back at once.
    const { client, seen, dials, frames } = subscribe("status", { initialBackoffMs: 1, maxBackoffMs: 1 });
    client.connect();
    await until(() => seen.snapshots.length === 1, { message: "the snapshot" });

    await stopBroker();
    await until(() => client.status === "reconnecting", { message: "status reconnecting" });
    const shutdown = frames.find((f) => f.frame.type === "shutdown");
    assert.ok(shutdown, "the broker sent a shutdown frame");
    const { reconnectAfterMs } = shutdown.frame.data;
    assert.deepEqual(client.lastShutdown, shutdown.frame.data);
    assert.equal(client.reconnectDelayMs, reconnectAfterMs);
    await startBroker();

    await until(() => dials.length >= 2, { message: "a second connection" });
    const waited = dials[1].at - shutdown.at;
    // Timers never fire early; 2 ms covers Date.now()'s rounding at both ends.
    assert.ok(waited >= reconnectAfterMs - 2, `reconnected ${waited} ms after the shutdown frame, told to wait ${reconnectAfterMs} ms`);
    await until(() => client.status === "live", { message: "live again" });
  });

  test("token refresh: the connection outlives its first token, and a refused refresh keeps the old one", async () => {
    const oldExpiry = Date.now() + 2000;
    const { client, seen, frames } = subscribe("events", { token: mintToken({ subscribe: ["events"], expiresInSeconds: 2 }) });
    client.connect();
    await until(() => seen.snapshots.length === 1, { message: "the snapshot" });

    await assert.rejects(client.refreshToken(mintToken({ subscribe: ["orders"] })), { code: "forbidden" });
    const answer = await client.refreshToken(mintToken({ subscribe: ["events"], expiresInSeconds: 3600 }));

    assert.equal(answer.ok, true);
    assert.ok(answer.expiresAt > Date.now() + 30 * 60_000, `expiresAt ${answer.expiresAt}`);
    // Pings stamped a second past the first token's expiry prove the socket outlived it.
    await until(() => frames.some((f) => f.frame.type === "ping" && f.frame.data.timestamp > oldExpiry + 1000), {
      message: "a ping after the first token expired",
    });
    assert.equal(client.status, "live");
    assert.deepEqual(seen.statuses.map((s) => s.status), ["connecting", "live"], "never disconnected");
    const seq = await publish("events", "e-1", { kind: "door" });
    await until(() => client.seq === seq, { message: `seq ${seq}` });
  });
});
