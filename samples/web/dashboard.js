// Floor dashboard: the `robots` and `tables` topics on a floor map, plus a robot list.
// Rendering is incremental and keyed by entity id: an update touches only its own elements,
// and a snapshot reconciles every element against the client's entity map.
// All entity data is shown through textContent and attributes, never parsed as HTML.

import { TopicClient } from "./lib/topicbroker-client.js";
import { showLastUpdate, showStatus } from "./topic-status.js";

const SVG_NS = "http://www.w3.org/2000/svg";
const LOW_BATTERY = 20;
const TABLE_STATES = new Set(["free", "seated", "waiting"]);
const byNaturalOrder = new Intl.Collator(undefined, { numeric: true }).compare;
// ?site=<site> shows one restaurant's floor on a head-office broker: its topics are <site>/robots
// and <site>/tables (protocol.md "Sites and upstream replication").
const site = new URLSearchParams(location.search).get("site");
const topicOf = (name) => (site ? `${site}/${name}` : name);
if (site) document.title = `${site} · ${document.title}`;

const floorTables = document.getElementById("floor-tables");
const floorRobots = document.getElementById("floor-robots");
const robotRows = document.getElementById("robot-rows");
const robotsEmpty = document.getElementById("robots-empty");
const unplacedTables = document.getElementById("unplaced-tables");

// ---- Robots ----

const robotViews = new Map(); // id -> { row, marker }

function renderAllRobots(entities) {
  for (const id of [...robotViews.keys()]) {
    if (!entities.has(id)) removeRobot(id);
  }
  for (const [id, data] of entities) renderRobot(id, data);
}

function renderRobot(id, data) {
  let view = robotViews.get(id);
  if (!view) {
    view = createRobotView(id);
    robotViews.set(id, view);
    updateRobotCount();
  }

  const state = typeof data?.state === "string" ? data.state : "unknown";
  const battery = Number.isFinite(data?.battery) ? Math.round(data.battery) : null;
  const table = typeof data?.table === "string" ? data.table : "";
  const low = battery !== null && battery < LOW_BATTERY;

  const { row, marker } = view;
  row.dataset.state = state;
  row.classList.toggle("low-battery", low);
  const badge = row.querySelector('[data-field="state"] .badge');
  badge.textContent = state;
  badge.dataset.state = state;
  row.querySelector('[data-field="battery"] .battery-text').textContent = battery === null ? "—" : `${battery}%`;
  row.querySelector('[data-field="battery"] .battery-fill').style.width = `${battery ?? 0}%`;
  row.querySelector('[data-field="table"]').textContent = table || "—";

  marker.dataset.state = state;
  marker.classList.toggle("low-battery", low);
  marker.querySelector("title").textContent = `${id} · ${state}${battery === null ? "" : ` · ${battery}%`}${table ? ` · ${table}` : ""}`;
  if (Number.isFinite(data?.x) && Number.isFinite(data?.y)) {
    // CSS transform (not the SVG attribute) so the move is animated by the transition in styles.css.
    marker.style.transform = `translate(${data.x}px, ${data.y}px)`;
    marker.style.display = "";
  } else {
    marker.style.display = "none";
  }
}

function createRobotView(id) {
  const row = document.createElement("tr");
  row.dataset.robotId = id;
  row.innerHTML = `
    <th scope="row" class="robot-name"></th>
    <td data-field="state"><span class="badge"></span></td>
    <td data-field="battery"><span class="battery" aria-hidden="true"><span class="battery-fill"></span></span><span class="battery-text"></span></td>
    <td data-field="table"></td>`;
  row.querySelector(".robot-name").textContent = id;
  // Keep rows in natural id order: robot-2 before robot-10.
  const next = [...robotRows.children].find((other) => byNaturalOrder(other.dataset.robotId, id) > 0);
  robotRows.insertBefore(row, next ?? null);

  const marker = svg("g", { class: "robot" });
  marker.dataset.robotMarker = id;
  marker.append(svg("title"), svg("circle", { r: 0.42, class: "robot-body" }), svg("text", { class: "robot-label", dy: "0.05" }));
  marker.querySelector("text").textContent = shortRobotName(id);
  floorRobots.append(marker);
  return { row, marker };
}

function removeRobot(id) {
  const view = robotViews.get(id);
  if (!view) return;
  view.row.remove();
  view.marker.remove();
  robotViews.delete(id);
  updateRobotCount();
}

function updateRobotCount() {
  document.querySelector("[data-robot-count]").textContent = String(robotViews.size);
  robotsEmpty.hidden = robotViews.size > 0;
}

function shortRobotName(id) {
  return id.match(/(\d+)$/)?.[1] ?? id.slice(0, 2);
}

// ---- Tables ----

const tableViews = new Map(); // id -> element: an SVG group on the map, or a list item if unplaced
// Last known position per table: an external writer may replace a table's data with just
// {"state":"free"} (docs/operations.md "SQLite schema and external writers"), and the table should stay where it was.
const tablePositions = new Map();

function renderAllTables(entities) {
  for (const id of [...tableViews.keys()]) {
    if (!entities.has(id)) removeTable(id);
  }
  for (const [id, data] of entities) renderTable(id, data, false);
  updateTableCounts();
}

function renderTable(id, data, updateCounts = true) {
  if (Number.isFinite(data?.x) && Number.isFinite(data?.y)) tablePositions.set(id, { x: data.x, y: data.y });
  const position = tablePositions.get(id);
  const state = TABLE_STATES.has(data?.state) ? data.state : "unknown";
  const seats = Number.isInteger(data?.seats) && data.seats > 0 ? data.seats : null;

  let element = tableViews.get(id);
  const placed = position !== undefined;
  if (element && (element.namespaceURI === SVG_NS) !== placed) {
    element.remove(); // it moves between the map and the list of unplaced tables
    element = undefined;
  }
  if (!element) {
    element = placed ? createTableMarker(id) : createUnplacedTable(id);
    tableViews.set(id, element);
  }

  element.dataset.state = state;
  const seatsText = seats === null ? "" : `${seats} seats`;
  if (placed) {
    // Wider tables for more seats: 2 seats -> 1.1 m, 6 seats -> 2.1 m.
    const width = 0.6 + 0.25 * (seats ?? 4);
    const height = 1.2;
    const rect = element.querySelector("rect");
    setAttributes(rect, { x: -width / 2, y: -height / 2, width, height });
    element.setAttribute("transform", `translate(${position.x} ${position.y})`);
    element.querySelector(".table-seats").textContent = seats === null ? "" : `${seats}p`;
    element.querySelector("title").textContent = `${id} · ${state}${seatsText ? ` · ${seatsText}` : ""}`;
  } else {
    element.querySelector(".table-state").textContent = state;
  }

  if (updateCounts) updateTableCounts();
}

function createTableMarker(id) {
  const group = svg("g", { class: "table" });
  group.dataset.tableId = id;
  group.append(
    svg("title"),
    svg("rect", { rx: 0.18 }),
    svg("text", { class: "table-label", dy: "-0.05" }),
    svg("text", { class: "table-seats", dy: "0.38" }),
  );
  group.querySelector(".table-label").textContent = id;
  floorTables.append(group);
  return group;
}

function createUnplacedTable(id) {
  const item = document.createElement("li");
  item.dataset.tableId = id;
  item.innerHTML = `<span class="table-name"></span><span class="table-state"></span>`;
  item.querySelector(".table-name").textContent = id;
  unplacedTables.append(item);
  return item;
}

function removeTable(id) {
  tableViews.get(id)?.remove();
  tableViews.delete(id);
  tablePositions.delete(id);
  updateTableCounts();
}

function updateTableCounts() {
  const counts = { free: 0, seated: 0, waiting: 0 };
  for (const element of tableViews.values()) {
    if (element.dataset.state in counts) counts[element.dataset.state]++;
  }
  for (const [state, count] of Object.entries(counts)) {
    document.querySelector(`[data-table-count="${state}"]`).textContent = String(count);
  }
  document.querySelector("[data-table-total]").textContent = String(tableViews.size);
}

// ---- Wiring ----

function svg(name, attributes = {}) {
  return setAttributes(document.createElementNS(SVG_NS, name), attributes);
}

function setAttributes(element, attributes) {
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  return element;
}

const robots = new TopicClient({
  topic: topicOf("robots"),
  onSnapshot: (entities) => {
    renderAllRobots(entities);
    showLastUpdate(robots);
  },
  onUpdate: (id, data) => {
    if (data === null) removeRobot(id);
    else renderRobot(id, data);
    showLastUpdate(robots);
  },
  onStatus: (_, client) => showStatus(client),
});

const tables = new TopicClient({
  topic: topicOf("tables"),
  onSnapshot: (entities) => {
    renderAllTables(entities);
    showLastUpdate(tables);
  },
  onUpdate: (id, data) => {
    if (data === null) removeTable(id);
    else renderTable(id, data);
    showLastUpdate(tables);
  },
  onStatus: (_, client) => showStatus(client),
});

robots.connect();
tables.connect();
