// Reference server for the bench's peers mode: Node's http server with the ws package, one Set
// of sockets per topic and a send per subscriber (ws's broadcast recipe), the topic state in
// memory (state.mjs). Run by the bench as `node node-ws-server.mjs`; it prints
// {"ready":true,"http":P,"bridge":Q} once both listen on loopback.
import http from "node:http";
import net from "node:net";
import { WebSocketServer, WebSocket } from "ws";
import { Topics, applyLine, snapshotFrame, LineSplitter, topicOf, announce, exitWithParent } from "./state.mjs";

const topics = new Topics();
const subscribers = new Map();
const sockets = new WebSocketServer({ noServer: true, perMessageDeflate: false });

const server = http.createServer((request, response) => {
  response.writeHead(404).end("not found");
});

server.on("upgrade", (request, socket, head) => {
  const name = topicOf(new URL(request.url, "http://localhost").pathname);
  if (name === null) {
    socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n");
    return;
  }
  sockets.handleUpgrade(request, socket, head, (ws) => {
    const topic = topics.get(name);
    let set = subscribers.get(name);
    if (set === undefined) {
      set = new Set();
      subscribers.set(name, set);
    }
    ws.send(snapshotFrame(topic));
    set.add(ws);
    ws.on("close", () => set.delete(ws));
    ws.on("error", () => set.delete(ws));
  });
});

const bridge = net.createServer((socket) => {
  const lines = new LineSplitter();
  socket.setEncoding("utf8");
  socket.setNoDelay(true);
  socket.on("data", (text) => {
    let answers = "";
    for (const line of lines.push(text)) {
      const result = applyLine(topics, line);
      if (result.frame !== undefined) {
        const frame = Buffer.from(result.frame);
        const set = subscribers.get(result.topic.name);
        if (set !== undefined) {
          for (const ws of set) {
            if (ws.readyState === WebSocket.OPEN) {
              ws.send(frame, { binary: false });
            }
          }
        }
      }
      answers += result.answer + "\n";
    }
    // Node buffers what the socket does not take at once, so nothing is lost.
    socket.write(answers);
  });
  socket.on("error", () => socket.destroy());
});

server.listen(0, "127.0.0.1", () => {
  bridge.listen(0, "127.0.0.1", () => {
    exitWithParent();
    announce(server.address().port, bridge.address().port);
  });
});
