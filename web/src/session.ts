// The signed-in person: the session API (/api/v1/session, JSON), the session door to the private
// EXMO methods (/api/v1/private/<method>, form fields, EXMO answers) and the private WebSocket feed
// (/v1/private, `{"method":"login","session":true}`). The session cookie is HttpOnly; every
// state-changing call carries the CSRF token (double submit: the `bulwark_csrf` cookie's value in
// the X-CSRF-Token header). See docs/API.md#sessions.
import { useEffect, useState } from "react";

export const SESSION_PREFIX = "/api/v1/session";
export const PRIVATE_PREFIX = "/api/v1/private";
const CSRF_COOKIE = "bulwark_csrf";
const CSRF_HEADER = "X-CSRF-Token";
/** Longest answer the app reads from the session API; bigger ones are refused, not parsed. */
const MAX_ANSWER_BYTES = 2 * 1024 * 1024;

/** A refused call, in words for the person: `message` is shown as is. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function readCookie(name: string): string | null {
  for (const part of document.cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return null;
}

function csrfHeaders(): Record<string, string> {
  const token = readCookie(CSRF_COOKIE);
  return token === null ? {} : { [CSRF_HEADER]: token };
}

async function readAnswer(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text.length > MAX_ANSWER_BYTES) throw new ApiError(response.status, "too_large", "answer too large");
  if (text === "") return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ApiError(response.status, "bad_answer", `the server answered HTTP ${response.status}`);
  }
}

/** Session API errors: { "error": { "code", "message" } } with an HTTP status. */
function sessionError(status: number, body: unknown): ApiError {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  const code = typeof error?.code === "string" ? error.code : "http_error";
  const message = typeof error?.message === "string" ? error.message : `the server answered HTTP ${status}`;
  return new ApiError(status, code, message);
}

export async function sessionGet<T>(path: string): Promise<T> {
  const response = await fetch(`${SESSION_PREFIX}${path}`, {
    headers: { accept: "application/json" },
    credentials: "same-origin",
  });
  const body = await readAnswer(response);
  if (!response.ok) throw sessionError(response.status, body);
  return body as T;
}

export async function sessionPost<T>(path: string, body: object = {}): Promise<T> {
  const response = await fetch(`${SESSION_PREFIX}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json", ...csrfHeaders() },
    credentials: "same-origin",
    body: JSON.stringify(body),
  });
  const answer = await readAnswer(response);
  if (response.status === 401 && path !== "/login") void refreshSession(); // the session ended: show signed out
  if (!response.ok) throw sessionError(response.status, answer);
  if (path === "/login" || path === "/signup" || path === "/logout") void refreshSession();
  return answer as T;
}

/**
 * A private EXMO method through the session door: the same handlers and answers as the HMAC API
 * (docs/API.md §10-11). EXMO refusals ({"result":false,"error":"Error 50052: …"}) and the session
 * door's own ({"error":{code,message}}) both become an ApiError.
 */
export async function privateCall<T>(method: string, params: Record<string, string> = {}): Promise<T> {
  const response = await fetch(`${PRIVATE_PREFIX}/${method}`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      accept: "application/json",
      ...csrfHeaders(),
    },
    credentials: "same-origin",
    body: new URLSearchParams(params).toString(),
  });
  const body = await readAnswer(response);
  if (response.status === 401) void refreshSession(); // the session ended: show signed out
  if (!response.ok) throw sessionError(response.status, body);
  const refused = body as { result?: unknown; error?: unknown } | null;
  if (refused !== null && typeof refused === "object" && refused.result === false)
    throw new ApiError(response.status, "refused", exmoMessage(String(refused.error ?? "refused")));
  return body as T;
}

/** "Error 50052: Insufficient funds" → "Insufficient funds" (the code stays in the title for support). */
export function exmoMessage(error: string): string {
  const match = /^Error (\d+): (.*)$/s.exec(error);
  return match === null ? error : match[2];
}

// ---- who is signed in ---------------------------------------------------------------------------

export interface Me {
  userId: number;
  email: string;
  status: string;
  totp: unknown;
  session: { id: string; secondFactor: boolean };
  csrfToken: string;
}

export type SessionState = { status: "loading" } | { status: "anonymous" } | { status: "signedIn"; me: Me };

let current: SessionState = { status: "loading" };
const listeners = new Set<(state: SessionState) => void>();
let inFlight: Promise<SessionState> | null = null;

function publish(state: SessionState): void {
  current = state;
  for (const listener of listeners) listener(state);
}

/** Asks the server who is signed in (after login, logout, or a refused call with 401). */
export function refreshSession(): Promise<SessionState> {
  inFlight ??= sessionGet<Me>("/me")
    .then((me): SessionState => ({ status: "signedIn", me }))
    .catch((error: unknown): SessionState => {
      if (error instanceof ApiError && error.status === 401) return { status: "anonymous" };
      return current.status === "loading" ? { status: "anonymous" } : current;
    })
    .then((state) => {
      inFlight = null;
      publish(state);
      return state;
    });
  return inFlight;
}

export function useSession(): SessionState {
  const [state, setState] = useState(current);
  useEffect(() => {
    listeners.add(setState);
    if (current.status === "loading") void refreshSession();
    else setState(current);
    return () => {
      listeners.delete(setState);
    };
  }, []);
  return state;
}

// ---- the private WebSocket feed -----------------------------------------------------------------

export type PrivateTopic = "spot/orders" | "spot/user_trades" | "spot/wallet";
type PrivateHandler = (event: "snapshot" | "update", data: unknown) => void;
const RECONNECT_DELAYS_MS = [500, 1000, 2000, 5000];

/**
 * One WebSocket to /v1/private for the signed-in person, logged in with the session cookie; topics
 * are subscribed while a handler wants them. A closed session (logout, revoke) ends the feed; it
 * reconnects only while the page still believes it is signed in.
 */
class PrivateFeed {
  private socket: WebSocket | null = null;
  private readonly handlers = new Map<PrivateTopic, Set<PrivateHandler>>();
  private loggedIn = false;
  private nextId = 1;
  private attempt = 0;
  private closed = false;

  constructor(private readonly url: string) {
    this.connect();
  }

  subscribe(topic: PrivateTopic, handler: PrivateHandler): () => void {
    let set = this.handlers.get(topic);
    if (set === undefined) {
      set = new Set();
      this.handlers.set(topic, set);
      if (this.loggedIn) this.send({ method: "subscribe", id: this.nextId++, topics: [topic] });
    }
    set.add(handler);
    return () => {
      const handlers = this.handlers.get(topic);
      if (handlers === undefined) return;
      handlers.delete(handler);
      if (handlers.size === 0) {
        this.handlers.delete(topic);
        if (this.loggedIn) this.send({ method: "unsubscribe", id: this.nextId++, topics: [topic] });
      }
    };
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
    this.loggedIn = false;
    socket.onopen = () => this.send({ method: "login", id: this.nextId++, session: true });
    socket.onmessage = (message) => this.receive(String(message.data));
    socket.onclose = () => {
      this.loggedIn = false;
      if (this.closed || current.status !== "signedIn") return;
      // A logout or revoke elsewhere closes the feed: ask who is signed in before reconnecting.
      void refreshSession();
      const delay = RECONNECT_DELAYS_MS[Math.min(this.attempt, RECONNECT_DELAYS_MS.length - 1)];
      this.attempt += 1;
      setTimeout(() => {
        if (!this.closed) this.connect();
      }, delay);
    };
  }

  private receive(text: string): void {
    let frame: { event?: string; topic?: string; data?: unknown };
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    if (frame.event === "logged_in") {
      this.loggedIn = true;
      this.attempt = 0;
      const topics = [...this.handlers.keys()];
      if (topics.length > 0) this.send({ method: "subscribe", id: this.nextId++, topics });
      return;
    }
    if ((frame.event === "snapshot" || frame.event === "update") && typeof frame.topic === "string") {
      for (const handler of this.handlers.get(frame.topic as PrivateTopic) ?? [])
        handler(frame.event, frame.data);
    }
  }
}

let feed: PrivateFeed | null = null;

/** The signed-in person's feed (created on first use, closed when they sign out). */
export function privateFeed(): PrivateFeed {
  if (feed === null) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    feed = new PrivateFeed(`${scheme}://${location.host}/v1/private`);
  }
  return feed;
}

listeners.add((state) => {
  if (state.status !== "signedIn" && feed !== null) {
    feed.close();
    feed = null;
  }
});
