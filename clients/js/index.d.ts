// Type declarations of lib/topicbroker-client.js (the TopicBroker client, protocol.md "Reference client").

/** A topic's connection state as the client reports it. */
export type TopicStatus = "idle" | "connecting" | "live" | "reconnecting" | "closed";

/** The data of a `shutdown` frame (protocol.md "Frames"). */
export interface ShutdownData {
  reason: string;
  reconnectAfterMs: number;
  resumeFrom: number;
}

/** The broker's answer to a token refresh (protocol.md "Tokens"). */
export interface AuthAnswer {
  ok: true;
  /** Unix milliseconds; absent when the token never expires. */
  expiresAt?: number;
}

/** Anything constructible like the browser's WebSocket: the global one, or `WebSocket` from the `ws` package. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: any) => void) | null;
  onmessage: ((event: { data: any }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: any) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string | URL) => WebSocketLike;

export interface TopicClientOptions<T = any> {
  /** Topic name; the URL is derived from the page's location. */
  topic?: string;
  /** Full WebSocket URL instead, e.g. "ws://host:5000/ws/robots". */
  url?: string;
  /** A snapshot replaced the whole state. */
  onSnapshot?: (entities: Map<string, T>, seq: number) => void;
  /** One entity changed; `data` is null when `op` is "delete". */
  onUpdate?: (id: string, data: T | null, op: "upsert" | "delete", seq: number) => void;
  onStatus?: (status: TopicStatus, client: TopicClient<T>) => void;
  /** The JWT sent as ?access_token=; a function is asked again before every connection. */
  token?: string | (() => string | Promise<string>);
  /** The WebSocket implementation; default the global one (Node 20 has none: pass `ws`'s). */
  WebSocket?: WebSocketConstructor;
  /** Upper bound of the first reconnect delay (default 500). */
  initialBackoffMs?: number;
  /** Cap of the reconnect delay (default 15000). */
  maxBackoffMs?: number;
  /** How long opening a connection may take (default 10000). */
  connectTimeoutMs?: number;
  /** Silence after which the connection is presumed dead (default 60000). */
  staleAfterMs?: number;
}

export class TopicClient<T = any> {
  constructor(options: TopicClientOptions<T>);
  readonly topic: string;
  readonly url: string;
  /** Entity id -> data, updated in place. */
  readonly entities: Map<string, T>;
  /** seq of the last snapshot or update applied; null until the first one. */
  readonly seq: number | null;
  readonly status: TopicStatus;
  /** When the last snapshot or update was applied. */
  readonly lastUpdate: Date | null;
  /** Why the client stopped for good (close code 1003), or null. */
  readonly closeReason: string | null;
  /** The data of the last shutdown frame, or null. */
  readonly lastShutdown: ShutdownData | null;
  /** The delay before the pending reconnect, or null when none is pending. */
  readonly reconnectDelayMs: number | null;
  onSnapshot?: TopicClientOptions<T>["onSnapshot"];
  onUpdate?: TopicClientOptions<T>["onUpdate"];
  onStatus?: TopicClientOptions<T>["onStatus"];
  initialBackoffMs: number;
  maxBackoffMs: number;
  connectTimeoutMs: number;
  staleAfterMs: number;
  /** Opens the connection; from then on the client reconnects by itself until close(). */
  connect(): this;
  /** Closes the connection and stops reconnecting; the state is kept. */
  close(): void;
  /**
   * Replaces the connection's token in place. Resolves with the broker's answer, or with null
   * between connections (the token is kept for the next one); rejects with an Error whose `code`
   * is "invalid_token", "forbidden" or "not_connected".
   */
  refreshToken(token: string): Promise<AuthAnswer | null>;
}

/** The WebSocket URL of a topic on the server that served this page, with its ?access_token=. */
export function topicUrl(topic: string, loc?: { protocol: string; host: string; search: string }): string;

/** The token this page was opened with (?access_token=), or null. */
export function accessToken(loc?: { search: string }): string | null;
