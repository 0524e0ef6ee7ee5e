// The connection state and time of last update of a topic in the top bar, for every sample page:
// <span data-topic-status="orders"> shows client.status (and why it closed for good, as its
// title); <time data-topic-updated="orders"> shows when the last snapshot or update was applied.
// A site's topic (<site>/robots, protocol.md "Sites and upstream replication") shows in the
// elements of its base topic (robots).

const baseTopic = (topic) => topic.slice(topic.indexOf("/") + 1);

/** Shows a TopicClient's status in its [data-topic-status] element. */
export function showStatus(client) {
  const element = document.querySelector(`[data-topic-status="${baseTopic(client.topic)}"]`);
  element.textContent = client.status;
  element.dataset.state = client.status;
  element.title = client.closeReason ?? "";
}

/** Shows when a TopicClient last applied a snapshot or update, in its [data-topic-updated] element. */
export function showLastUpdate(client) {
  const element = document.querySelector(`[data-topic-updated="${baseTopic(client.topic)}"]`);
  if (!client.lastUpdate) return;
  element.textContent = client.lastUpdate.toLocaleTimeString([], { hour12: false });
  element.dateTime = client.lastUpdate.toISOString();
}
