// Reference server for the bench's peers mode: Bun.serve with uWebSockets' pub/sub
// (server.publish per topic), the topic state in memory (state.mjs). Run by the bench as
// `bun bun-server.mjs`; it prints {"ready":true,"http":P,"bridge":Q} once both listen on loopback.
import { Topics, applyLine, snapshotFrame, LineSplitter, topicOf, announce, exitWithParent } from "./state.mjs";

const topics = new Topics();

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch(request, server) {
    const topic = topicOf(new URL(request.url).pathname);
    if (topic !== null && server.upgrade(request, { data: { topic } })) {
      return undefined;
    }
    return new Response("not found", { status: 404 });
  },
  websocket: {
    perMessageDeflate: false,
    // A subscriber of the bench is silent for the whole run; Bun's own pings keep it alive.
    idleTimeout: 960,
    open(ws) {
      // Single-threaded: no change can be published between the snapshot and the subscribe.
      const topic = topics.get(ws.data.topic);
      ws.send(snapshotFrame(topic));
      ws.subscribe(topic.name);
    },
    message() {
      // Clients of the fanout scenario send nothing the broker must answer.
    },
  },
});

const bridge = Bun.listen({
  hostname: "127.0.0.1",
  port: 0,
  socket: {
    open(socket) {
      socket.data = { lines: new LineSplitter(), decoder: new TextDecoder(), pending: "" };
    },
    data(socket, chunk) {
      const state = socket.data;
      let answers = "";
      for (const line of state.lines.push(state.decoder.decode(chunk, { stream: true }))) {
        const result = applyLine(topics, line);
        if (result.frame !== undefined) {
          server.publish(result.topic.name, result.frame);
        }
        answers += result.answer + "\n";
      }
      write(socket, answers);
    },
    drain(socket) {
      write(socket, "");
    },
  },
});

// Answers are never dropped: what the socket did not take now goes first when it drains.
function write(socket, text) {
  const state = socket.data;
  state.pending += text;
  if (state.pending.length === 0) {
    return;
  }
  const bytes = Buffer.from(state.pending);
  const written = socket.write(bytes);
  state.pending = written >= bytes.length ? "" : bytes.subarray(Math.max(written, 0)).toString();
}

exitWithParent();
announce(server.port, bridge.port);
