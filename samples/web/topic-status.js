// The connection state and time of last update of a topic in the top bar, for every sample page:
// <span data-topic-status="orders"> shows client.status (and why it closed for good, as its
// title); <time data-topic-updated="orders"> shows when the last snapshot or update was applied.

/** Shows a TopicClient's status in its [data-topic-status] element. */
export function showStatus(client) {
  const element = document.querySelector(`[data-topic-status="${client.topic}"]`);
  element.textContent = client.status;
  element.dataset.state = client.status;
  element.title = client.closeReason ?? "";
}

/** Shows when a TopicClient last applied a snapshot or update, in its [data-topic-updated] element. */
export function showLastUpdate(client) {
  const element = document.querySelector(`[data-topic-updated="${client.topic}"]`);
  if (!client.lastUpdate) return;
  element.textContent = client.lastUpdate.toLocaleTimeString([], { hour12: false });
  element.dateTime = client.lastUpdate.toISOString();
}
