// Kitchen display: the `orders` topic as tickets in columns by status.
// A bump posts the order with its next status to the HTTP API (protocol.md "HTTP API"); the
// ticket moves only when the broker's update arrives, so every screen shows the same truth.

import { TopicClient, accessToken } from "./lib/topicbroker-client.js";
import { showLastUpdate, showStatus } from "./topic-status.js";

const COLUMNS = ["new", "cooking", "ready"]; // "served" orders leave the board
const NEXT_STATUS = { new: "cooking", cooking: "ready", ready: "served" };
const BUMP_LABEL = { new: "Start cooking", cooking: "Mark ready", ready: "Mark served" };
const WARN_AFTER_MS = 8 * 60_000;
const LATE_AFTER_MS = 15 * 60_000;

const template = document.getElementById("ticket-template");
const banner = document.querySelector("[data-connection-banner]");
const tickets = new Map(); // order id -> ticket element

// ---- Tickets ----

function renderAllOrders(entities) {
  for (const id of [...tickets.keys()]) {
    if (!entities.has(id)) removeTicket(id);
  }
  for (const [id, data] of entities) renderOrder(id, data);
}

function renderOrder(id, data) {
  const status = data?.status;
  if (!COLUMNS.includes(status)) {
    removeTicket(id);
    return;
  }

  let ticket = tickets.get(id);
  if (!ticket) {
    ticket = template.content.firstElementChild.cloneNode(true);
    ticket.dataset.orderId = id;
    ticket.querySelector(".ticket-id").textContent = id;
    ticket.querySelector(".bump").dataset.bump = id;
    tickets.set(id, ticket);
  }

  const createdAt = Number.isFinite(data.createdAt) ? String(data.createdAt) : "";
  const moved = ticket.dataset.status !== status || ticket.dataset.createdAt !== createdAt || !ticket.isConnected;
  ticket.querySelector(".ticket-table-name").textContent = typeof data.table === "string" ? data.table : "—";
  ticket.querySelector(".ticket-items").replaceChildren(...itemElements(data.items));
  const button = ticket.querySelector(".bump");
  button.textContent = BUMP_LABEL[status];
  button.setAttribute("aria-label", `${BUMP_LABEL[status]}: ${id}`);
  ticket.dataset.createdAt = createdAt;
  updateAge(ticket, Date.now());

  if (moved) {
    ticket.dataset.status = status;
    hideError(ticket);
    placeTicket(ticket, status);
    updateColumnCounts();
  }
}

// "2× ramen" rather than the same line twice: quicker to read across a kitchen.
function itemElements(items) {
  const counts = new Map();
  for (const item of Array.isArray(items) ? items : []) {
    const name = typeof item === "string" ? item : String(item?.name ?? JSON.stringify(item));
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return [...counts].map(([name, count]) => {
    const li = document.createElement("li");
    if (count > 1) {
      const quantity = document.createElement("span");
      quantity.className = "quantity";
      quantity.textContent = `${count}×`;
      li.append(quantity, " ");
    }
    li.append(name);
    return li;
  });
}

// Oldest order first in every column: that is the one to cook or carry next.
function placeTicket(ticket, status) {
  const column = document.querySelector(`[data-column="${status}"] .tickets`);
  const key = sortKey(ticket);
  const next = [...column.children].find((other) => other !== ticket && compareKeys(sortKey(other), key) > 0);
  column.insertBefore(ticket, next ?? null);
}

function sortKey(ticket) {
  const createdAt = ticket.dataset.createdAt === "" ? Number.MAX_SAFE_INTEGER : Number(ticket.dataset.createdAt);
  return [createdAt, ticket.dataset.orderId];
}

function compareKeys([timeA, idA], [timeB, idB]) {
  return timeA - timeB || idA.localeCompare(idB, undefined, { numeric: true });
}

function removeTicket(id) {
  const ticket = tickets.get(id);
  if (!ticket) return;
  ticket.remove();
  tickets.delete(id);
  updateColumnCounts();
}

function updateColumnCounts() {
  for (const status of COLUMNS) {
    const count = document.querySelector(`[data-column="${status}"] .tickets`).childElementCount;
    document.querySelector(`[data-column-count="${status}"]`).textContent = String(count);
  }
}

// ---- Ages and clock, once a second ----

function updateAge(ticket, now) {
  const age = ticket.querySelector("[data-age]");
  if (ticket.dataset.createdAt === "") {
    age.textContent = "--:--";
    ticket.dataset.ageLevel = "ok";
    return;
  }
  // Clamped at zero: the ordering device's clock may run slightly ahead of this screen's.
  const elapsed = Math.max(0, now - Number(ticket.dataset.createdAt));
  const seconds = Math.floor(elapsed / 1000);
  age.textContent = `${String(Math.floor(seconds / 60)).padStart(2, "0")}:${String(seconds % 60).padStart(2, "0")}`;
  ticket.dataset.ageLevel = elapsed >= LATE_AFTER_MS ? "late" : elapsed >= WARN_AFTER_MS ? "warn" : "ok";
}

function tick() {
  const now = Date.now();
  for (const ticket of tickets.values()) updateAge(ticket, now);
  document.querySelector("[data-clock]").textContent = new Date(now).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false });
}

// ---- Bump ----

async function bump(id, button) {
  const ticket = tickets.get(id);
  const current = orders.entities.get(id);
  const next = NEXT_STATUS[current?.status];
  if (!ticket || !next) return;

  // The next status comes from the broker's state, not from what this screen did last: a
  // double tap before the update arrives posts the same change twice, which is harmless.
  button.disabled = true;
  hideError(ticket);
  try {
    const token = accessToken();
    const response = await fetch(`/api/topics/orders/entities/${encodeURIComponent(id)}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ ...current, status: next }),
    });
    if (!response.ok) throw new Error(await describeError(response));
  } catch (error) {
    // fetch rejects with a TypeError only when no answer came back at all.
    showError(ticket, `Not bumped: ${error instanceof TypeError ? "the broker cannot be reached" : error.message}`);
  } finally {
    button.disabled = false;
  }
}

async function describeError(response) {
  try {
    const body = await response.json();
    return body.message ?? body.error ?? `HTTP ${response.status}`;
  } catch {
    return `HTTP ${response.status}`;
  }
}

function showError(ticket, message) {
  const error = ticket.querySelector(".ticket-error");
  error.textContent = message;
  error.hidden = false;
}

function hideError(ticket) {
  ticket.querySelector(".ticket-error").hidden = true;
}

document.querySelector(".board").addEventListener("click", (event) => {
  const button = event.target.closest("[data-bump]");
  if (button && !button.disabled) bump(button.dataset.bump, button);
});

// ---- Connection ----

// Besides the status in the top bar, a banner across the board whenever it may be out of date.
function showConnection(client) {
  showStatus(client);
  banner.hidden = client.status === "live";
  banner.dataset.state = client.status;
  banner.textContent =
    client.status === "closed" ? `Orders unavailable: ${client.closeReason ?? "disconnected"}`
    : client.status === "connecting" ? "Connecting to the broker…"
    : "Connection lost: reconnecting. Orders shown may be out of date.";
}

const orders = new TopicClient({
  topic: "orders",
  onSnapshot: (entities) => {
    renderAllOrders(entities);
    showLastUpdate(orders);
  },
  onUpdate: (id, data) => {
    if (data === null) removeTicket(id);
    else renderOrder(id, data);
    showLastUpdate(orders);
  },
  onStatus: (_, client) => showConnection(client),
});

tick();
setInterval(tick, 1000);
orders.connect();
