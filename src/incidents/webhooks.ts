// Alerts to operators' webhooks (issue 8 §2, §7): incidents, notices and the audit log's head.
//
// Every configured URL gets every alert, in order, through its own bounded queue and one request
// at a time, so a dead receiver delays only itself. A failed request (network error, timeout,
// non-2xx answer) is retried with exponential backoff up to maxAttempts, then the alert is given
// up and counted. A full queue drops its oldest alert (counted): the newest state matters most
// to an operator woken by it. enqueue() never waits and never throws for delivery reasons, so
// the breaker's path is never slowed by a receiver.
//
// The body is JSON; the header X-Bulwark-Signature is "sha256=" + hex HMAC-SHA256 of the exact
// body bytes with the configured secret. A receiver recomputes it over the raw body and compares
// in constant time; the body's atMs and alertId let it refuse replays.

import { createHmac, randomUUID } from "node:crypto";

export const WEBHOOK_LIMITS = {
  /** Receivers one server alerts at most. */
  maxUrls: 16,
  maxUrlLength: 2_048,
  /** Alerts waiting per receiver; past it the oldest is dropped. */
  maxQueuedAlerts: 1_000,
  /** An alert's JSON body at most (a timeline entry's detail is ≤ 12 KiB). */
  maxBodyBytes: 64 * 1024,
  minSecretLength: 16,
  maxSecretLength: 1_024,
} as const;

export const WEBHOOK_DEFAULTS = {
  maxAttempts: 8,
  initialBackoffMs: 500,
  maxBackoffMs: 30_000,
  requestTimeoutMs: 5_000,
} as const;

export const SIGNATURE_HEADER = "x-bulwark-signature";
export const ALERT_ID_HEADER = "x-bulwark-alert-id";

/** What an alert says: the type decides the rest of the fields. */
export type AlertPayload = { type: string } & Record<string, unknown>;

export interface WebhookAlerterOptions {
  urls: readonly string[];
  /** The HMAC-SHA256 key (≥ 16 characters): from a 0600 file or the environment, never argv. */
  secret: string;
  maxQueuedAlerts?: number;
  maxAttempts?: number;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  requestTimeoutMs?: number;
  clock?: () => number;
  /** Reports deliveries given up and drops (the server logs them). */
  onProblem?: (what: string, detail: Record<string, unknown>) => void;
}

export interface WebhookTargetStats {
  url: string;
  queued: number;
  delivered: number;
  /** Alerts that used every attempt. */
  failed: number;
  /** Alerts dropped because the queue was full. */
  dropped: number;
  /** Requests that failed and were retried (or given up). */
  failedRequests: number;
  lastError: string | null;
}

interface QueuedAlert {
  alertId: string;
  body: string;
  attempts: number;
}

/** Checks a receiver URL: http(s) only, no credentials in it (they would be logged). */
export function checkWebhookUrl(text: string): URL {
  if (typeof text !== "string" || text.length === 0 || text.length > WEBHOOK_LIMITS.maxUrlLength)
    throw new RangeError(`webhook URL must be 1..${WEBHOOK_LIMITS.maxUrlLength} characters`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new RangeError(`webhook URL does not parse: ${text}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new RangeError(`webhook URL must be http:// or https://, got ${url.protocol}`);
  if (url.username !== "" || url.password !== "")
    throw new RangeError("webhook URL must not hold credentials (the HMAC secret authenticates alerts)");
  return url;
}

export function checkWebhookSecret(secret: string): string {
  if (
    typeof secret !== "string" ||
    secret.length < WEBHOOK_LIMITS.minSecretLength ||
    secret.length > WEBHOOK_LIMITS.maxSecretLength
  )
    throw new RangeError(
      `webhook secret must be ${WEBHOOK_LIMITS.minSecretLength}..${WEBHOOK_LIMITS.maxSecretLength} characters`,
    );
  return secret;
}

/** "sha256=" + hex HMAC-SHA256(secret, body): what a receiver recomputes. */
export function signWebhookBody(secret: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(body, "utf8").digest("hex")}`;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1)
    throw new RangeError(`webhooks: ${name} must be a positive integer`);
  return value;
}

class WebhookTarget {
  private readonly queue: QueuedAlert[] = [];
  private running = false;
  private timer: NodeJS.Timeout | null = null;
  private wake: (() => void) | null = null;
  private abort: AbortController | null = null;
  private closed = false;
  readonly stats: WebhookTargetStats;

  constructor(
    readonly url: string,
    private readonly config: Required<Omit<WebhookAlerterOptions, "urls" | "onProblem" | "clock">> & {
      onProblem: NonNullable<WebhookAlerterOptions["onProblem"]>;
    },
  ) {
    this.stats = {
      url,
      queued: 0,
      delivered: 0,
      failed: 0,
      dropped: 0,
      failedRequests: 0,
      lastError: null,
    };
  }

  push(alert: QueuedAlert): void {
    if (this.closed) return;
    if (this.queue.length >= this.config.maxQueuedAlerts) {
      // A retry in flight holds the head: drop the oldest behind it, keep the order of the rest.
      const dropAt = this.running && this.queue.length > 1 ? 1 : 0;
      const [dropped] = this.queue.splice(dropAt, 1);
      this.stats.dropped += 1;
      this.config.onProblem("webhook queue full: oldest alert dropped", {
        url: this.url,
        alertId: dropped.alertId,
      });
    }
    this.queue.push(alert);
    this.stats.queued = this.queue.length;
    if (!this.running) void this.run();
  }

  /** Resolves once the queue is empty (or the target is closed); for tests and orderly stops. */
  async idle(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length > 0 && !this.closed) {
      if (Date.now() > deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return true;
  }

  close(): void {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.abort?.abort();
    this.wake?.();
    this.queue.length = 0;
    this.stats.queued = 0;
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      // Bounded by the queue: each turn delivers, gives up or waits on one alert.
      while (!this.closed && this.queue.length > 0) {
        const alert = this.queue[0];
        alert.attempts += 1;
        const error = await this.send(alert);
        if (this.closed) return;
        if (error === null) {
          this.queue.shift();
          this.stats.delivered += 1;
        } else {
          this.stats.failedRequests += 1;
          this.stats.lastError = error;
          if (alert.attempts >= this.config.maxAttempts) {
            this.queue.shift();
            this.stats.failed += 1;
            this.config.onProblem("webhook alert given up", {
              url: this.url,
              alertId: alert.alertId,
              attempts: alert.attempts,
              error,
            });
          } else await this.sleep(this.backoffMs(alert.attempts));
        }
        this.stats.queued = this.queue.length;
      }
    } finally {
      this.running = false;
    }
  }

  private backoffMs(attempts: number): number {
    const exponential = this.config.initialBackoffMs * 2 ** Math.min(attempts - 1, 30);
    return Math.min(this.config.maxBackoffMs, exponential);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.wake = resolve;
      this.timer = setTimeout(resolve, ms);
      this.timer.unref();
    }).then(() => {
      this.timer = null;
      this.wake = null;
    });
  }

  /** One request; null on a 2xx answer, else why it failed. */
  private async send(alert: QueuedAlert): Promise<string | null> {
    const abort = new AbortController();
    this.abort = abort;
    const timer = setTimeout(() => abort.abort(), this.config.requestTimeoutMs);
    timer.unref();
    try {
      const response = await fetch(this.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          [SIGNATURE_HEADER]: signWebhookBody(this.config.secret, alert.body),
          [ALERT_ID_HEADER]: alert.alertId,
        },
        body: alert.body,
        signal: abort.signal,
        redirect: "error",
      });
      // The answer's body is not needed; cancel it so the connection is released at once.
      await response.body?.cancel().catch(() => undefined);
      return response.ok ? null : `HTTP ${response.status}`;
    } catch (error) {
      if (abort.signal.aborted) return `no answer within ${this.config.requestTimeoutMs} ms`;
      return error instanceof Error ? error.message : String(error);
    } finally {
      clearTimeout(timer);
      this.abort = null;
    }
  }
}

export class WebhookAlerter {
  private readonly targets: WebhookTarget[];
  private readonly clock: () => number;
  /** Tells alerts of this process apart from a restarted one's (alertIds restart at 1). */
  private readonly bootId = randomUUID();
  private nextAlert = 1;
  /** Alerts refused before queueing (their body was too large): a caller's bug, counted. */
  oversizedAlerts = 0;

  constructor(options: WebhookAlerterOptions) {
    if (options.urls.length > WEBHOOK_LIMITS.maxUrls)
      throw new RangeError(`at most ${WEBHOOK_LIMITS.maxUrls} webhook URLs`);
    const urls = [...new Set(options.urls.map((url) => checkWebhookUrl(url).toString()))];
    const config = {
      secret: checkWebhookSecret(options.secret),
      maxQueuedAlerts: positiveInteger(
        "maxQueuedAlerts",
        Math.min(options.maxQueuedAlerts ?? WEBHOOK_LIMITS.maxQueuedAlerts, WEBHOOK_LIMITS.maxQueuedAlerts),
      ),
      maxAttempts: positiveInteger("maxAttempts", options.maxAttempts ?? WEBHOOK_DEFAULTS.maxAttempts),
      initialBackoffMs: positiveInteger(
        "initialBackoffMs",
        options.initialBackoffMs ?? WEBHOOK_DEFAULTS.initialBackoffMs,
      ),
      maxBackoffMs: positiveInteger("maxBackoffMs", options.maxBackoffMs ?? WEBHOOK_DEFAULTS.maxBackoffMs),
      requestTimeoutMs: positiveInteger(
        "requestTimeoutMs",
        options.requestTimeoutMs ?? WEBHOOK_DEFAULTS.requestTimeoutMs,
      ),
      onProblem: options.onProblem ?? (() => undefined),
    };
    this.targets = urls.map((url) => new WebhookTarget(url, config));
    this.clock = options.clock ?? Date.now;
  }

  get urls(): string[] {
    return this.targets.map((target) => target.url);
  }

  /** Queues the alert for every receiver and returns at once. */
  enqueue(payload: AlertPayload): void {
    const alertId = `${this.bootId}:${this.nextAlert}`;
    this.nextAlert += 1;
    const body = JSON.stringify({ alertId, atMs: this.clock(), ...payload });
    if (Buffer.byteLength(body, "utf8") > WEBHOOK_LIMITS.maxBodyBytes) {
      this.oversizedAlerts += 1;
      return;
    }
    for (const target of this.targets) target.push({ alertId, body, attempts: 0 });
  }

  stats(): WebhookTargetStats[] {
    return this.targets.map((target) => ({ ...target.stats }));
  }

  /** Waits until every queue is empty; false when timeoutMs passed first. */
  async idle(timeoutMs: number): Promise<boolean> {
    const results = await Promise.all(this.targets.map((target) => target.idle(timeoutMs)));
    return results.every(Boolean);
  }

  /** Stops: in-flight requests are aborted, queued alerts discarded, no timer left behind. */
  close(): void {
    for (const target of this.targets) target.close();
  }
}
