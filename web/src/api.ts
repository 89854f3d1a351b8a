// The public API the bots use: REST under /v1.1 and the WebSocket at /v1/public (docs/API.md).

export interface Ticker {
  buy_price: string;
  sell_price: string;
  last_trade: string;
  high: string;
  low: string;
  avg: string;
  vol: string;
  vol_curr: string;
  updated: number;
}

export interface Trade {
  trade_id: number;
  date: number;
  type: "buy" | "sell";
  quantity: string;
  price: string;
  amount: string;
}

export interface Candle {
  t: number;
  o: number;
  c: number;
  h: number;
  l: number;
  v: number;
}

/** A book level as the API writes it: [price, quantity, amount]. */
export type Level = [string, string, string];

export interface BookFrame {
  ask: Level[];
  bid: Level[];
}

async function getJson<T>(path: string): Promise<T> {
  const response = await fetch(path, { headers: { accept: "application/json" } });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  const body = (await response.json()) as T & { error?: string; result?: boolean };
  if (body !== null && typeof body === "object" && body.result === false)
    throw new Error(`${path}: ${body.error ?? "refused"}`);
  return body;
}

export const fetchTickers = () => getJson<Record<string, Ticker>>("/v1.1/ticker");

export async function fetchTrades(pair: string): Promise<Trade[]> {
  const body = await getJson<Record<string, Trade[]>>(`/v1.1/trades?pair=${encodeURIComponent(pair)}`);
  return body[pair] ?? [];
}

export async function fetchCandles(
  pair: string,
  resolution: string,
  fromSeconds: number,
  toSeconds: number,
): Promise<Candle[]> {
  const query = new URLSearchParams({
    symbol: pair,
    resolution,
    from: String(fromSeconds),
    to: String(toSeconds),
  });
  const body = await getJson<{ candles: Candle[] }>(`/v1.1/candles_history?${query}`);
  return body.candles;
}

export interface Notice {
  message: string;
  kind: string;
  chain: string | null;
  at: number;
}

type TopicHandler = (event: "snapshot" | "update", data: unknown) => void;

/** Reconnect delays (ms), the last one repeated: a dropped client resubscribes for fresh snapshots. */
const RECONNECT_DELAYS_MS = [500, 1000, 2000, 5000];
/** The server allows 200 topics a connection; the app never needs more than this. */
const MAX_TOPICS = 150;

/**
 * One WebSocket to /v1/public shared by every page: topics subscribed while any handler wants
 * them, resubscribed after a reconnect; incident notices go to the notice listeners.
 */
export class PublicFeed {
  private socket: WebSocket | null = null;
  private readonly handlers = new Map<string, Set<TopicHandler>>();
  private readonly noticeListeners = new Set<(notice: Notice) => void>();
  private nextId = 1;
  private attempt = 0;
  private closed = false;

  constructor(private readonly url: string) {
    this.connect();
  }

  subscribe(topic: string, handler: TopicHandler): () => void {
    let set = this.handlers.get(topic);
    if (set === undefined) {
      if (this.handlers.size >= MAX_TOPICS) throw new Error(`at most ${MAX_TOPICS} topics`);
      set = new Set();
      this.handlers.set(topic, set);
      this.send({ method: "subscribe", id: this.nextId++, topics: [topic] });
    }
    set.add(handler);
    return () => {
      const current = this.handlers.get(topic);
      if (current === undefined) return;
      current.delete(handler);
      if (current.size === 0) {
        this.handlers.delete(topic);
        this.send({ method: "unsubscribe", id: this.nextId++, topics: [topic] });
      }
    };
  }

  onNotice(listener: (notice: Notice) => void): () => void {
    this.noticeListeners.add(listener);
    return () => this.noticeListeners.delete(listener);
  }

  close(): void {
    this.closed = true;
    this.socket?.close();
  }

  private send(message: object): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  private connect(): void {
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.onopen = () => {
      this.attempt = 0;
      const topics = [...this.handlers.keys()];
      if (topics.length > 0) this.send({ method: "subscribe", id: this.nextId++, topics });
    };
    socket.onmessage = (message) => this.receive(String(message.data));
    socket.onclose = () => {
      if (this.closed) return;
      const delay = RECONNECT_DELAYS_MS[Math.min(this.attempt, RECONNECT_DELAYS_MS.length - 1)];
      this.attempt += 1;
      setTimeout(() => this.connect(), delay);
    };
  }

  private receive(text: string): void {
    let frame: { event?: string; topic?: string; data?: unknown; message?: string } & Record<string, unknown>;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    if (frame.event === "info" && frame.topic === "notice") {
      const notice: Notice = {
        message: String(frame.message ?? "notice"),
        kind: String(frame.kind ?? ""),
        chain: typeof frame.chain === "string" ? frame.chain : null,
        at: typeof frame.at === "number" ? frame.at : Date.now(),
      };
      for (const listener of this.noticeListeners) listener(notice);
      return;
    }
    if ((frame.event === "snapshot" || frame.event === "update") && typeof frame.topic === "string") {
      for (const handler of this.handlers.get(frame.topic) ?? []) handler(frame.event, frame.data);
    }
  }
}

let feed: PublicFeed | null = null;

export function publicFeed(): PublicFeed {
  if (feed === null) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    feed = new PublicFeed(`${scheme}://${location.host}/v1/public`);
  }
  return feed;
}
