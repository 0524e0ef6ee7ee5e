// TopicBroker operations page: polls the status API once a second and draws, per topic, the
// updates per second and the subscribers over the sampled history (docs/operations.md "Health, status, metrics").
// No dependencies and no build step; charts are drawn on <canvas> by hand.

const statusUrl = new URL("../api/status", location.href);
const historyUrl = new URL("../api/status/history", location.href);
const pollMs = 1000;

const history = { intervalSeconds: 1, historySeconds: 300, topics: [], samples: [] };
const cards = new Map();
const numberFormat = new Intl.NumberFormat("en-US");
const rateFormat = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });

const field = (root, name) => root.querySelector(`[data-field="${name}"]`);
const setText = (root, name, text) => {
  const element = field(root, name);
  if (element && element.textContent !== text) element.textContent = text;
};

async function getJson(url) {
  const response = await fetch(url, { cache: "no-store" });
  if (!response.ok) throw new Error(`${url.pathname}: HTTP ${response.status}`);
  return response.json();
}

function topicCard(name) {
  let card = cards.get(name);
  if (card) return card;
  const fragment = document.getElementById("topic-template").content.cloneNode(true);
  const element = fragment.querySelector(".topic");
  element.dataset.topic = name;
  setText(element, "name", name);
  document.getElementById("topics").append(fragment);
  card = { element, canvas: element.querySelector("canvas") };
  cards.set(name, card);
  return card;
}

function formatDuration(seconds) {
  const s = Math.floor(seconds);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d ${h}h ${m}m`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${s % 60}s`;
  return `${s}s`;
}

function formatAgo(iso, now) {
  if (!iso) return "never";
  const seconds = Math.max(0, (now - Date.parse(iso)) / 1000);
  return seconds < 1 ? "just now" : `${formatDuration(seconds)} ago`;
}

function renderHealth(health) {
  const badge = document.getElementById("health");
  badge.dataset.state = health.status;
  setText(badge, "health", health.status);
  const list = document.getElementById("health-checks");
  const items = Object.entries(health.checks).map(([name, state]) => {
    const item = document.createElement("li");
    item.dataset.check = name;
    item.dataset.state = state;
    item.textContent = `${name} ${state === "Healthy" ? "ok" : state.toLowerCase()}`;
    return item;
  });
  list.replaceChildren(...items);
}

// Sites and upstream replication (protocol.md "Sites and upstream replication"): one row per
// site and topic, on a head office (`sites`) and on a restaurant (`upstream`).
function renderReplication(status) {
  const rows = [];
  if (status.upstream) {
    for (const [topic, t] of Object.entries(status.upstream.topics)) {
      rows.push(["upstream", status.upstream.site, topic, status.upstream.connected, t.seq, t.forwarded, t.acknowledged, t.lag]);
    }
  }
  for (const [site, s] of Object.entries(status.sites?.sites ?? {})) {
    for (const [topic, t] of Object.entries(s.topics)) {
      rows.push(["site", site, topic, s.connected, t.restaurantSeq, t.forwarded, t.acknowledged, t.lag]);
    }
  }
  const section = document.getElementById("replication");
  section.hidden = rows.length === 0;
  document.getElementById("replication-rows").replaceChildren(...rows.map((row) => {
    const tr = document.createElement("tr");
    tr.dataset.lag = String(row[7] > 0);
    row.forEach((value, i) => {
      const td = document.createElement("td");
      td.textContent = i === 3 ? (value ? "up" : "down") : typeof value === "number" ? numberFormat.format(value) : value;
      tr.append(td);
    });
    return tr;
  }));
}

function renderStatus(status) {
  const now = Date.parse(status.time);
  renderHealth(status.health);
  setText(document, "version", status.version.split("+")[0]);
  setText(document, "uptime", formatDuration(status.uptimeSeconds));
  setText(document, "updated", new Date(now).toLocaleTimeString("en-GB"));

  const totals = status.totals;
  setText(document, "total-subscribers", numberFormat.format(totals.subscribers));
  setText(document, "total-connections", numberFormat.format(totals.webSocketConnections));
  setText(document, "total-updates-rate", rateFormat.format(totals.updatesPerSecond));
  setText(document, "total-updates", numberFormat.format(totals.updatesIn));
  setText(document, "total-frames-rate", rateFormat.format(totals.framesOutPerSecond));
  setText(document, "total-frames", numberFormat.format(totals.framesOut));
  setText(document, "total-slow", numberFormat.format(totals.slowConsumerCloses));
  setText(document, "total-conflated", numberFormat.format(totals.framesConflated));
  setText(document, "total-dropped", numberFormat.format(totals.framesDropped));
  field(document, "slow-card").dataset.alert = String(totals.slowConsumerCloses > 0);

  const bridge = document.getElementById("bridge");
  bridge.dataset.state = !status.bridge.enabled ? "off" : status.bridge.listening ? "up" : "down";
  setText(bridge, "bridge-state", !status.bridge.enabled ? "disabled" : status.bridge.listening ? "listening" : "down");
  setText(bridge, "bridge-connections", numberFormat.format(status.bridge.connections));
  setText(bridge, "bridge-endpoint", status.bridge.endPoint ?? "not bound");

  const ingest = document.getElementById("ingest");
  ingest.dataset.state = status.ingest.storeHealthy ? "up" : "down";
  setText(ingest, "ingest-rate", rateFormat.format(status.ingest.changesPerSecond));
  setText(ingest, "ingest-committed", numberFormat.format(status.ingest.committedChanges));
  setText(ingest, "store-state", status.ingest.storeHealthy ? "ok" : "failing");

  renderReplication(status);

  const cluster = document.getElementById("cluster");
  cluster.hidden = !status.cluster;
  if (status.cluster) {
    cluster.dataset.state = status.cluster.degraded ? "down" : "up";
    setText(cluster, "cluster-node", status.cluster.nodeId);
    setText(cluster, "cluster-link", status.cluster.degraded ? `Redis ${status.cluster.link}: delivering from the store` : "Redis link up");
    const lag = Object.values(status.cluster.topics).reduce((sum, topic) => sum + topic.lag, 0);
    setText(cluster, "cluster-lag", numberFormat.format(lag));
    setText(cluster, "cluster-backfills", numberFormat.format(status.cluster.backfills));
    setText(cluster, "cluster-duplicates", numberFormat.format(status.cluster.duplicatesDropped));
  }

  for (const [name, topic] of Object.entries(status.topics)) {
    const { element } = topicCard(name);
    element.dataset.slow = String(topic.slowConsumerCloses > 0);
    setText(element, "seq", numberFormat.format(topic.seq));
    setText(element, "subscribers", numberFormat.format(topic.subscribers));
    setText(element, "updatesPerSecond", rateFormat.format(topic.updatesPerSecond));
    setText(element, "updatesIn", numberFormat.format(topic.updatesIn));
    setText(element, "framesOut", numberFormat.format(topic.framesOut));
    setText(element, "slowConsumerCloses", numberFormat.format(topic.slowConsumerCloses));
    setText(element, "framesConflated", numberFormat.format(topic.framesConflated));
    setText(element, "framesDropped", numberFormat.format(topic.framesDropped));
    setText(element, "lastUpdate", formatAgo(topic.lastUpdateAt, now));
  }
}

function mergeHistory(update) {
  history.intervalSeconds = update.intervalSeconds;
  history.historySeconds = update.historySeconds;
  history.topics = update.topics;
  history.samples.push(...update.samples);
  const newest = history.samples.at(-1)?.time ?? 0;
  const oldestKept = newest - history.historySeconds * 1000;
  const firstKept = history.samples.findIndex((sample) => sample.time >= oldestKept);
  if (firstKept > 0) history.samples.splice(0, firstKept);
  const interval = history.intervalSeconds >= 1 ? `${rateFormat.format(history.intervalSeconds)} s` : `${Math.round(history.intervalSeconds * 1000)} ms`;
  setText(document, "window", `last ${formatDuration(history.historySeconds)}, one point per ${interval}`);
}

function niceMax(value) {
  if (value <= 1) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (value <= step * magnitude) return step * magnitude;
  }
  return 10 * magnitude;
}

function drawChart(canvas, index) {
  const styles = getComputedStyle(document.documentElement);
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  if (width === 0) return;
  if (canvas.width !== Math.round(width * ratio)) canvas.width = Math.round(width * ratio);
  if (canvas.height !== Math.round(height * ratio)) canvas.height = Math.round(height * ratio);
  const g = canvas.getContext("2d");
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, width, height);

  const samples = history.samples;
  const newest = samples.at(-1)?.time ?? Date.now();
  const span = history.historySeconds * 1000;
  const top = 14;
  const bottom = height - 2;
  const x = (time) => width - ((newest - time) / span) * width;

  const rates = samples.map((sample) => sample.updatesPerSecond[index] ?? 0);
  const subscribers = samples.map((sample) => sample.subscribers[index] ?? 0);
  const rateMax = niceMax(Math.max(0, ...rates));
  const subscriberMax = niceMax(Math.max(0, ...subscribers));
  const yRate = (value) => bottom - (value / rateMax) * (bottom - top);
  const ySubscribers = (value) => bottom - (value / subscriberMax) * (bottom - top);

  g.strokeStyle = styles.getPropertyValue("--border");
  g.lineWidth = 1;
  for (const fraction of [0, 0.5, 1]) {
    const y = Math.round(top + fraction * (bottom - top)) + 0.5;
    g.beginPath();
    g.moveTo(0, y);
    g.lineTo(width, y);
    g.stroke();
  }

  if (samples.length > 1) {
    const updates = styles.getPropertyValue("--updates").trim();
    g.beginPath();
    g.moveTo(x(samples[0].time), bottom);
    samples.forEach((sample, i) => g.lineTo(x(sample.time), yRate(rates[i])));
    g.lineTo(x(newest), bottom);
    g.closePath();
    g.fillStyle = `${updates}33`;
    g.fill();
    g.beginPath();
    samples.forEach((sample, i) => (i === 0 ? g.moveTo(x(sample.time), yRate(rates[i])) : g.lineTo(x(sample.time), yRate(rates[i]))));
    g.strokeStyle = updates;
    g.lineWidth = 1.5;
    g.stroke();

    // Subscribers change in steps: draw them as steps.
    g.beginPath();
    samples.forEach((sample, i) => {
      const px = x(sample.time);
      const py = ySubscribers(subscribers[i]);
      if (i === 0) g.moveTo(px, py);
      else {
        g.lineTo(px, ySubscribers(subscribers[i - 1]));
        g.lineTo(px, py);
      }
    });
    g.strokeStyle = styles.getPropertyValue("--subscribers").trim();
    g.lineWidth = 2;
    g.stroke();
  }

  g.font = "11px system-ui, sans-serif";
  g.textBaseline = "top";
  g.fillStyle = styles.getPropertyValue("--updates").trim();
  g.fillText(`${rateFormat.format(rateMax)}/s`, 2, 0);
  g.fillStyle = styles.getPropertyValue("--subscribers").trim();
  const label = `${numberFormat.format(subscriberMax)} subs`;
  g.fillText(label, width - g.measureText(label).width - 2, 0);
  canvas.dataset.points = String(samples.length);
}

function drawCharts() {
  history.topics.forEach((name, index) => drawChart(topicCard(name).canvas, index));
}

function markUnreachable(error) {
  const badge = document.getElementById("health");
  badge.dataset.state = "unreachable";
  setText(badge, "health", "unreachable");
  document.getElementById("health-checks").replaceChildren();
  console.warn(error);
}

async function poll() {
  try {
    const after = history.samples.at(-1)?.time;
    const historyQuery = new URL(historyUrl);
    if (after !== undefined) historyQuery.searchParams.set("after", String(after));
    const [status, update] = await Promise.all([getJson(statusUrl), getJson(historyQuery)]);
    renderStatus(status);
    mergeHistory(update);
    drawCharts();
  } catch (error) {
    markUnreachable(error);
  } finally {
    setTimeout(poll, pollMs);
  }
}

window.addEventListener("resize", drawCharts);
poll();
