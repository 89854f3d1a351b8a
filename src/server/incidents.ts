// The incident service as `bulwark start` runs it (issue 8 §2, §3, §7): its webhooks read from the
// server's options or the data dir, the alerter, the periodic audit-head shipping, and an audit
// row (config.change) whenever a start's security configuration (webhooks, production mode)
// differs from the last one recorded, so every change between starts is in the log.
//
// Webhook configuration, first found wins:
//   receivers: ExchangeServerOptions.webhooks (`start --webhook URL`, repeated)
//              → <data-dir>/webhooks.json {"webhooks": [{"url": "https://…"}], "auditHeadIntervalMs": 60000}
//   secret:    ExchangeServerOptions.webhookSecret (programmatic) → env BULWARK_WEBHOOK_SECRET
//              → <data-dir>/webhook-secret (must be 0600) → generated there on first use (0600)
// A secret never comes from the command line (argv is visible in `ps`).

import { randomBytes } from "node:crypto";
import { readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ExchangeBoundary, JsonValue } from "../exchange/boundary.ts";
import type { Exchange } from "../exchange/exchange.ts";
import {
  DEFAULT_AUDIT_HEAD_INTERVAL_MS,
  INCIDENT_LIMITS,
  IncidentService,
} from "../incidents/incident-service.ts";
import {
  checkWebhookSecret,
  checkWebhookUrl,
  WEBHOOK_LIMITS,
  WebhookAlerter,
} from "../incidents/webhooks.ts";

export const WEBHOOK_SECRET_ENV = "BULWARK_WEBHOOK_SECRET";
export const WEBHOOK_SECRET_FILE_NAME = "webhook-secret";
export const WEBHOOKS_CONFIG_FILE_NAME = "webhooks.json";
const MAX_CONFIG_BYTES = 64 * 1024;

export interface WebhookOptions {
  /** Receivers of alerts; absent: <data-dir>/webhooks.json, else none. */
  webhooks?: readonly { url: string }[];
  /** The HMAC key; absent: env, then <data-dir>/webhook-secret. */
  webhookSecret?: string;
  /** How often the audit head is shipped (default 60 s; also after every incident entry). */
  auditHeadIntervalMs?: number;
}

export interface WebhookConfig {
  urls: string[];
  secret: string;
  secretSource: "option" | "env" | "file" | "generated";
  auditHeadIntervalMs: number;
  /** Where the receivers came from. */
  source: "option" | "file" | "none";
}

/** Refused configuration: the server does not start (an operator asked for alerts it would not get). */
export class WebhookConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WebhookConfigError";
  }
}

function readConfigFile(dataDir: string): { urls: string[]; auditHeadIntervalMs?: number } | null {
  const path = join(dataDir, WEBHOOKS_CONFIG_FILE_NAME);
  let text: string;
  try {
    if (statSync(path).size > MAX_CONFIG_BYTES) throw new WebhookConfigError(`${path} is larger than 64 KiB`);
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new WebhookConfigError(`${path} is not JSON`);
  }
  const config = parsed as { webhooks?: unknown; auditHeadIntervalMs?: unknown };
  if (typeof parsed !== "object" || parsed === null || !Array.isArray(config.webhooks))
    throw new WebhookConfigError(`${path} must be {"webhooks": [{"url": "https://…"}, …]}`);
  const urls = config.webhooks.map((entry: unknown, index: number) => {
    const url = (entry as { url?: unknown } | null)?.url;
    if (typeof url !== "string") throw new WebhookConfigError(`${path}: webhooks[${index}].url must be text`);
    return url;
  });
  const interval = config.auditHeadIntervalMs;
  if (interval !== undefined && typeof interval !== "number")
    throw new WebhookConfigError(`${path}: auditHeadIntervalMs must be a number of milliseconds`);
  return { urls, ...(interval === undefined ? {} : { auditHeadIntervalMs: interval }) };
}

function readSecretFile(path: string): string | null {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
  if ((mode & 0o077) !== 0)
    throw new WebhookConfigError(
      `${path} must be readable by its owner only (chmod 600), is ${(mode & 0o777).toString(8)}`,
    );
  return readFileSync(path, "utf8").trim();
}

/** Resolves the webhook configuration (see the file's header); null when no receiver is configured. */
export function resolveWebhookConfig(
  dataDir: string,
  env: NodeJS.ProcessEnv,
  options: WebhookOptions,
): WebhookConfig | null {
  const file = options.webhooks === undefined ? readConfigFile(dataDir) : null;
  const urls = options.webhooks?.map((entry) => entry.url) ?? file?.urls ?? [];
  if (urls.length === 0) return null;
  if (urls.length > WEBHOOK_LIMITS.maxUrls)
    throw new WebhookConfigError(`at most ${WEBHOOK_LIMITS.maxUrls} webhooks`);
  try {
    for (const url of urls) checkWebhookUrl(url);
  } catch (error) {
    throw new WebhookConfigError((error as Error).message);
  }
  const interval = options.auditHeadIntervalMs ?? file?.auditHeadIntervalMs ?? DEFAULT_AUDIT_HEAD_INTERVAL_MS;
  if (
    !Number.isSafeInteger(interval) ||
    interval < INCIDENT_LIMITS.minAuditHeadIntervalMs ||
    interval > INCIDENT_LIMITS.maxAuditHeadIntervalMs
  )
    throw new WebhookConfigError(
      `auditHeadIntervalMs must be ${INCIDENT_LIMITS.minAuditHeadIntervalMs}..${INCIDENT_LIMITS.maxAuditHeadIntervalMs}, got ${interval}`,
    );
  let secret: string;
  let secretSource: WebhookConfig["secretSource"];
  const secretPath = join(dataDir, WEBHOOK_SECRET_FILE_NAME);
  const fromFile =
    options.webhookSecret === undefined && !env[WEBHOOK_SECRET_ENV] ? readSecretFile(secretPath) : null;
  if (options.webhookSecret !== undefined) {
    secret = options.webhookSecret;
    secretSource = "option";
  } else if (env[WEBHOOK_SECRET_ENV] !== undefined && env[WEBHOOK_SECRET_ENV] !== "") {
    secret = env[WEBHOOK_SECRET_ENV];
    secretSource = "env";
  } else if (fromFile !== null) {
    secret = fromFile;
    secretSource = "file";
  } else {
    // First start with webhooks and no secret: one is made for the operator to give the receivers.
    secret = randomBytes(32).toString("hex");
    const temporary = `${secretPath}.tmp`;
    writeFileSync(temporary, `${secret}\n`, { mode: 0o600 });
    renameSync(temporary, secretPath);
    secretSource = "generated";
  }
  try {
    checkWebhookSecret(secret);
  } catch (error) {
    throw new WebhookConfigError(`webhook secret (${secretSource}): ${(error as Error).message}`);
  }
  return {
    urls,
    secret,
    secretSource,
    auditHeadIntervalMs: interval,
    source: options.webhooks === undefined ? "file" : "option",
  };
}

/** A URL as the audit log records it: no query string or fragment (they may carry a receiver's token). */
function redactedUrl(text: string): string {
  const url = new URL(text);
  return `${url.origin}${url.pathname}`;
}

export interface StartedIncidents {
  service: IncidentService;
  alerter: WebhookAlerter | null;
  webhooks: WebhookConfig | null;
  stop(): void;
}

/** The security configuration a start records when it differs from the last one recorded. */
export interface RecordedConfig {
  productionMode: boolean;
  webhooks: string[];
  webhookSource: WebhookConfig["source"];
  webhookSecretSource: WebhookConfig["secretSource"] | null;
  auditHeadIntervalMs: number | null;
  [key: string]: JsonValue;
}

/** What a data dir that never recorded one runs with: no webhooks, not in production mode. */
const DEFAULT_RECORDED_CONFIG: RecordedConfig = {
  productionMode: false,
  webhooks: [],
  webhookSource: "none",
  webhookSecretSource: null,
  auditHeadIntervalMs: null,
};

export const CONFIG_AUDIT_SUBJECT = "config:server";

/**
 * Appends "config.change" (subject config:server) with the new and the previous configuration
 * when this start's differs from the last one recorded (or from the defaults, before any), so
 * every change between starts is in the log and an unchanged restart adds nothing.
 */
async function auditConfigChange(exchange: Exchange, atMs: number, config: RecordedConfig): Promise<void> {
  const rows = await exchange.incidents.auditRowsOfSubject(CONFIG_AUDIT_SUBJECT);
  const last = rows.at(-1);
  // Written only here: {config, previous}.
  const previous =
    last === undefined
      ? DEFAULT_RECORDED_CONFIG
      : (JSON.parse(last.detailsJson) as { config: RecordedConfig }).config;
  if (canonicalText(previous) === canonicalText(config)) return;
  await exchange.audit.append({
    tsMs: atMs,
    actor: "system:server",
    action: "config.change",
    subject: CONFIG_AUDIT_SUBJECT,
    details: { config, previous },
  });
}

/** JSON with sorted keys (one level deep is all a RecordedConfig has). */
function canonicalText(config: RecordedConfig): string {
  return JSON.stringify(Object.fromEntries(Object.entries(config).sort(([a], [b]) => a.localeCompare(b))));
}

/** Builds the incident service and its alerter, records a changed configuration, ships the head. */
export async function startIncidents(input: {
  dataDir: string;
  env: NodeJS.ProcessEnv;
  exchange: Exchange;
  options: WebhookOptions;
  /** Resuming a breaker needs two approvers (custody's production mode). */
  productionMode: boolean;
  clock: () => number;
  log: (what: string, detail: Record<string, unknown>) => void;
}): Promise<StartedIncidents> {
  const webhooks = resolveWebhookConfig(input.dataDir, input.env, input.options);
  const alerter =
    webhooks === null
      ? null
      : new WebhookAlerter({
          urls: webhooks.urls,
          secret: webhooks.secret,
          clock: input.clock,
          onProblem: (what, detail) => input.log(what, detail),
        });
  const service = new IncidentService({
    exchange: input.exchange,
    clock: input.clock,
    alerts: alerter,
    onError: (what, error) =>
      input.log(what, { err: error instanceof Error ? error.message : String(error) }),
  });
  await auditConfigChange(input.exchange, input.clock(), {
    productionMode: input.productionMode,
    webhooks: webhooks === null ? [] : webhooks.urls.map(redactedUrl),
    webhookSource: webhooks?.source ?? "none",
    // A secret generated at the first start is read from the same file at the next: not a change.
    webhookSecretSource:
      webhooks === null ? null : webhooks.secretSource === "generated" ? "file" : webhooks.secretSource,
    auditHeadIntervalMs: webhooks?.auditHeadIntervalMs ?? null,
  });
  if (webhooks !== null) service.startAuditHeadShipping(webhooks.auditHeadIntervalMs);
  return {
    service,
    alerter,
    webhooks,
    stop: () => {
      service.stop();
      alerter?.close();
    },
  };
}

/**
 * The withdrawal pipeline's step hook: appends "withdrawal.step" to the audit log for every step
 * a withdrawal reaches (held: the request was accepted and the funds held, whether it came from
 * the API, a 2FA request or an operator; then approved, signed, broadcast, settled, or rejected,
 * failed, stuck), with who asked and where it goes. An audit failure is logged, never blocks the
 * pipeline; `then` runs after it (the crash drill's kill).
 */
export function auditWithdrawalSteps(
  exchange: Pick<ExchangeBoundary, "custody" | "audit">,
  clock: () => number,
  log: (message: string) => void,
  then?: (withdrawalId: number, step: string) => void,
): (withdrawalId: number, step: string) => Promise<void> {
  return async (withdrawalId, step) => {
    try {
      const withdrawal = await exchange.custody.getWithdrawal(withdrawalId);
      await exchange.audit.append({
        tsMs: clock(),
        actor: "system:custody",
        action: "withdrawal.step",
        subject: `withdrawal:${withdrawalId}`,
        details: {
          step,
          userId: withdrawal?.userId ?? null,
          currency: withdrawal?.currency ?? null,
          chain: withdrawal?.chain ?? null,
          amountUnits: withdrawal?.amountUnits ?? null,
          destination: withdrawal?.destination ?? null,
          via: withdrawal?.via ?? null,
          approvals: withdrawal?.approvals ?? [],
          txId: withdrawal?.txId ?? null,
          reason: withdrawal?.reason ?? null,
        },
      });
    } catch (error) {
      log(`audit of withdrawal ${withdrawalId} at ${step} failed: ${(error as Error).message}`);
    }
    then?.(withdrawalId, step);
  };
}
