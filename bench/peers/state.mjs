// The in-memory topic state both reference servers share: the last value per id and the seq,
// bridge lines in (protocol.md "TCP bridge": one JSON change per line, answered in order with
// {"ok":true,"seq":N}), snapshot and update frames out (protocol.md "Frames"). Only the subset
// the bench's fanout and connections scenarios use: upserts and deletes, no auth, no history.

export class Topics {
  #topics = new Map();

  get(name) {
    let topic = this.#topics.get(name);
    if (topic === undefined) {
      topic = { name, quoted: JSON.stringify(name), seq: 0, entities: new Map() };
      this.#topics.set(name, topic);
    }
    return topic;
  }
}

export function snapshotFrame(topic) {
  const parts = [];
  for (const [id, data] of topic.entities) {
    parts.push(`${JSON.stringify(id)}:${data}`);
  }
  return `{"type":"snapshot","topic":${topic.quoted},"seq":${topic.seq},"data":{${parts.join(",")}}}`;
}

// Applies one bridge line. Returns { topic, frame, answer }; topic and frame are absent when the
// line was refused. The data object is taken over as the exact text the publisher sent (the
// bench's timestamps are 64-bit integers, which a JSON.parse/stringify round trip would round).
export function applyLine(topics, line) {
  let change;
  try {
    change = JSON.parse(line);
  } catch {
    return { answer: '{"ok":false,"error":"invalid_json"}' };
  }
  if (change === null || typeof change.topic !== "string" || typeof change.id !== "string" || change.id.length === 0) {
    return { answer: '{"ok":false,"error":"invalid_change"}' };
  }

  const topic = topics.get(change.topic);
  const at = line.lastIndexOf('"data":');
  const data = change.data === undefined || change.data === null
    ? null
    : at >= 0 && line.endsWith("}") ? line.slice(at + 7, -1) : JSON.stringify(change.data);
  const seq = ++topic.seq;
  if (data === null) {
    topic.entities.delete(change.id);
  } else {
    topic.entities.set(change.id, data);
  }

  const frame = `{"type":"update","topic":${topic.quoted},"seq":${seq},"id":${JSON.stringify(change.id)},"op":"${data === null ? "delete" : "upsert"}","data":${data ?? "null"}}`;
  return { topic, frame, answer: `{"ok":true,"seq":${seq}}` };
}

// Splits a stream of text into lines, keeping the unfinished tail for the next chunk.
export class LineSplitter {
  #rest = "";

  *push(text) {
    let start = 0;
    const buffer = this.#rest.length > 0 ? this.#rest + text : text;
    for (let newline = buffer.indexOf("\n"); newline >= 0; newline = buffer.indexOf("\n", start)) {
      const line = buffer.slice(start, newline).trim();
      start = newline + 1;
      if (line.length > 0) {
        yield line;
      }
    }
    this.#rest = buffer.slice(start);
  }
}

// The WebSocket path /ws/<topic>; null for anything else.
export function topicOf(pathname) {
  const match = /^\/ws\/([^/]+)$/.exec(pathname);
  return match === null ? null : decodeURIComponent(match[1]);
}

// The bench reads this line to learn the ports; it then talks to the server on loopback only.
export function announce(httpPort, bridgePort) {
  console.log(JSON.stringify({ ready: true, http: httpPort, bridge: bridgePort }));
}

// The bench holds our standard input open for as long as it wants us: if it goes away, so do we.
export function exitWithParent() {
  process.stdin.on("end", () => process.exit(0));
  process.stdin.on("error", () => process.exit(0));
  process.stdin.resume();
}
