// A real exchange and gateway on 127.0.0.1 for the REST tests: default assets and markets, users
// and API keys made directly in the store (as the console will), money credited through the core.

import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ccxt from "ccxt";
import pino from "pino";
import { generateApiKey, sealApiSecret } from "../../../src/accounts/api-keys.ts";
import { SecretBox } from "../../../src/accounts/secret-box.ts";
import type { UnstampedCommand } from "../../../src/core/commands.ts";
import type { CustodyPort } from "../../../src/custody/port.ts";
import { Exchange } from "../../../src/exchange/exchange.ts";
import { signRestBody } from "../../../src/gateway/auth/signature.ts";
import type { RateLimitOptions } from "../../../src/gateway/guard/rate-limit.ts";
import {
  createGateway,
  type Gateway,
  type GatewayOptions,
  type HttpLimits,
} from "../../../src/gateway/http/server.ts";
import type { SessionOptions } from "../../../src/gateway/session/session-routes.ts";
import { DEFAULT_ASSETS, DEFAULT_MARKETS } from "../../../src/server/default-markets.ts";
import { createApiKey, createUser } from "../../../src/store/accounts.ts";
import { dropPgSchema } from "../../../src/store/open-store.ts";
import { parseDecimal } from "../../../src/units/decimal.ts";

export const TEST_DATABASE_URL =
  process.env.BULWARK_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

export interface Harness {
  exchange: Exchange;
  gateway: Gateway;
  baseUrl: string;
  secretBox: SecretBox;
  close(): Promise<void>;
}

export interface Trader {
  userId: number;
  keyId: string;
  secret: string;
}

let userCounter = 0;

/**
 * The suites burst far past EXMO's 10 req/s from one address (ccxt at 5 ms, fuzzing), so by
 * default the limiter runs with a budget nothing reaches; rate-limit tests pass their own.
 */
export const UNREACHABLE_RATE_LIMIT: RateLimitOptions = {
  requestsPerSecond: 1_000_000,
  burst: 1_000_000,
  cancel: { requestsPerSecond: 1_000_000, burst: 1_000_000 },
};

export async function startHarness(
  options: {
    postgres?: boolean;
    rateLimit?: RateLimitOptions | false;
    httpLimits?: Partial<HttpLimits>;
    /** The flood guard's other settings (GatewayOptions); default: no proxies trusted, nothing shed. */
    guard?: Pick<GatewayOptions, "trustedProxies" | "clientAddressHeader" | "loadShedding">;
    /** People's sessions (expiry, login throttle) and the gateway's clock (tests move it). */
    session?: SessionOptions;
    clock?: () => number;
    /** Custody's port (a double); default none, so the wallet writes answer 59014. */
    custody?: CustodyPort;
  } = {},
): Promise<Harness> {
  const dataDir = mkdtempSync(join(tmpdir(), "bulwark-rest-"));
  const pgSchema =
    options.postgres === true ? `rest_test_${process.pid}_${randomBytes(4).toString("hex")}` : undefined;
  const exchange = await Exchange.open({
    dataDir,
    ...(pgSchema === undefined ? {} : { databaseUrl: TEST_DATABASE_URL, pgSchema }),
  });
  for (const asset of DEFAULT_ASSETS) await exchange.submit({ kind: "addAsset", asset });
  for (const market of DEFAULT_MARKETS) await exchange.submit({ kind: "addMarket", market });
  const secretBox = new SecretBox(randomBytes(32));
  const gateway = createGateway(exchange, {
    secretBox,
    logger: pino({ level: "silent" }),
    port: 0,
    host: "127.0.0.1",
    defaultMetrics: false,
    rateLimit: options.rateLimit ?? UNREACHABLE_RATE_LIMIT,
    ...(options.httpLimits === undefined ? {} : { httpLimits: options.httpLimits }),
    ...options.guard,
    ...(options.session === undefined ? {} : { session: options.session }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.custody === undefined ? {} : { custody: options.custody }),
  });
  const { port } = await gateway.listen();
  return {
    exchange,
    gateway,
    baseUrl: `http://127.0.0.1:${port}`,
    secretBox,
    async close() {
      await gateway.close();
      await exchange.close();
      rmSync(dataDir, { recursive: true, force: true });
      if (pgSchema !== undefined) await dropPgSchema(TEST_DATABASE_URL, pgSchema);
    },
  };
}

/** A user with an API key and money: `funds` maps currency codes to decimal amounts. */
export async function createTrader(
  harness: Harness,
  options: { scopes?: string[]; ipAllowList?: string[]; funds?: Record<string, string> } = {},
): Promise<Trader> {
  const db = harness.exchange.internals.store.db;
  userCounter += 1;
  const created = await createUser(db, {
    email: `trader${userCounter}-${randomBytes(4).toString("hex")}@example.test`,
    passwordHash: "$scrypt$unused-in-rest-tests",
    createdMs: Date.now(),
  });
  if (!created.ok) throw new Error("test user exists");
  const userId = created.user.userId;
  const { keyId, secret } = generateApiKey();
  await createApiKey(db, {
    keyId,
    userId,
    secretCiphertext: sealApiSecret(harness.secretBox, keyId, secret),
    scopes: options.scopes ?? ["info", "trade"],
    ipAllowList: options.ipAllowList ?? [],
    createdMs: Date.now(),
  });
  await fund(harness, userId, options.funds ?? {});
  return { userId, keyId, secret };
}

export async function fund(harness: Harness, userId: number, funds: Record<string, string>): Promise<void> {
  let last = 0;
  for (const [code, amount] of Object.entries(funds)) {
    const asset = harness.exchange.assetByCode(code);
    if (asset === undefined) throw new Error(`unknown asset ${code}`);
    const units = parseDecimal(amount, asset.scale);
    if (!units.ok) throw new Error(`bad amount ${amount}`);
    const command: UnstampedCommand = {
      kind: "adjustBalance",
      userId,
      assetId: asset.assetId,
      amountUnits: units.value,
      reason: "test funding",
    };
    const result = await harness.exchange.submit(command);
    if (result.events.some((event) => event.type === "rejected")) throw new Error("funding rejected");
    last = result.sequence;
  }
  await harness.exchange.whenProjected(last);
}

/** ccxt 4.5.73's exmo pointed at the harness (docs/API.md#ccxt-client). */
export function ccxtExmo(harness: Harness, trader?: Trader): InstanceType<typeof ccxt.exmo> {
  return new ccxt.exmo({
    ...(trader === undefined ? {} : { apiKey: trader.keyId, secret: trader.secret }),
    // ccxt's throttle spaces calls so Date.now() nonces stay strictly increasing; 5 ms keeps tests fast.
    rateLimit: 5,
    urls: { api: { public: harness.baseUrl, private: harness.baseUrl, web: harness.baseUrl } },
  });
}

let lastNonce = 0;

/** A strictly increasing nonce shared by every raw request in this process. */
export function nextNonce(): number {
  lastNonce = Math.max(lastNonce + 1, Date.now());
  return lastNonce;
}

export interface RawResponse {
  status: number;
  body: unknown;
  text: string;
}

/** A fetch Response's status, text and parsed JSON body (null when it is not JSON). */
export async function readResponse(response: Response): Promise<RawResponse> {
  const text = await response.text();
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  return { status: response.status, body, text };
}

/** A signed private POST with exactly `rawBody` (the caller controls every byte). */
export async function postRaw(
  harness: Harness,
  path: string,
  rawBody: string | Buffer,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  const response = await fetch(`${harness.baseUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: rawBody,
  });
  return readResponse(response);
}

/** POST /v1.1/<path> signed by `trader` with a fresh nonce first, as ccxt builds it. */
export async function signedPost(
  harness: Harness,
  trader: Trader,
  path: string,
  fields: Record<string, string> = {},
  options: { nonce?: number; secret?: string } = {},
): Promise<RawResponse> {
  const body = new URLSearchParams({ nonce: String(options.nonce ?? nextNonce()), ...fields }).toString();
  return postRaw(harness, `/v1.1/${path}`, body, {
    key: trader.keyId,
    sign: signRestBody(options.secret ?? trader.secret, body),
  });
}

export async function publicGet(harness: Harness, pathAndQuery: string): Promise<RawResponse> {
  return readResponse(await fetch(`${harness.baseUrl}${pathAndQuery}`));
}

/** ccxt binance's REST URLs (`urls.api`) pointed at a Bulwark server at `base` (docs/API.md §17). */
export function binanceRestUrls(base: string) {
  return {
    public: `${base}/api/v3`,
    private: `${base}/api/v3`,
    v1: `${base}/api/v1`,
    sapi: `${base}/sapi/v1`,
    fapiPublic: `${base}/fapi/v1`,
    dapiPublic: `${base}/dapi/v1`,
  };
}
