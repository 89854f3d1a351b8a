// Demo accounts: a trader for the person trying Bulwark (funded once, on the first start, with an
// info+trade API key shown at every start), and the market maker and taker behind the live books.
// All of them are ordinary users created through OperatorActions, so they are audited like any
// operator action (actor "system:demo") and funded through the core with adjustBalance.

import { randomBytes } from "node:crypto";
import { apiSecretContext } from "../../accounts/api-keys.ts";
import type { SecretBox } from "../../accounts/secret-box.ts";
import type { ExchangeBoundary } from "../../exchange/boundary.ts";
import type { OperatorActions } from "../../operator/actions.ts";

export const DEMO_ACTOR = "system:demo";
export const DEMO_TRADER_EMAIL = "demo@bulwark.local";
/** Shown at start: the demo account is for trying things on a local exchange, not a secret. */
export const DEMO_TRADER_PASSWORD = "bulwark-demo";
export const DEMO_MAKER_EMAIL = "demo-maker@bulwark.local";
export const DEMO_TAKER_EMAIL = "demo-taker@bulwark.local";
const MAX_KEYS_LOOKED_AT = 100;

/** Every account demo mode creates: a data dir with any other user is not a demo's. */
export const DEMO_EMAILS: readonly string[] = [DEMO_TRADER_EMAIL, DEMO_MAKER_EMAIL, DEMO_TAKER_EMAIL];

export class DemoOnRealDataError extends Error {
  constructor(readonly dataDir?: string) {
    super(
      `demo mode refused: the data dir${dataDir === undefined ? "" : ` ${dataDir}`} has users that are ` +
        "not demo accounts, and demo mode funds accounts and runs a market maker. Start with " +
        "--no-demo to serve it, or run the demo on a data dir of its own (--data-dir).",
    );
  }
}

/** Throws DemoOnRealDataError when the store has a user other than the demo accounts. */
export async function refuseDemoOnNonDemoUsers(exchange: ExchangeBoundary, dataDir?: string): Promise<void> {
  if ((await exchange.reads.userOutside(DEMO_EMAILS)) !== undefined) throw new DemoOnRealDataError(dataDir);
}

/** What a new account of each kind gets, in asset decimals; codes absent from the exchange are skipped. */
export const DEMO_TRADER_FUNDING: Readonly<Record<string, string>> = {
  BTC: "1",
  ETH: "10",
  USDT: "10000",
  USD: "10000",
};
export const DEMO_LIQUIDITY_FUNDING: Readonly<Record<string, string>> = {
  BTC: "1000",
  ETH: "20000",
  USDT: "100000000",
  USD: "100000000",
};

export interface DemoApiKey {
  keyId: string;
  secret: string;
}

const FUNDING_REASON = "demo funding";
const MAX_ADJUSTMENTS_LOOKED_AT = 1_000;

/**
 * Creates the user if missing and funds each asset once: an asset already credited with the
 * demo-funding reason is skipped, so a start interrupted halfway finishes the job next time and
 * a restart never funds twice.
 */
export async function ensureFundedUser(
  exchange: ExchangeBoundary,
  actions: OperatorActions,
  email: string,
  password: string,
  funding: Readonly<Record<string, string>>,
): Promise<number> {
  const existing = await exchange.accounts.userByEmail(email);
  const userId = existing?.userId ?? (await actions.createUser(DEMO_ACTOR, { email, password })).userId;
  const past = await exchange.reads.adjustmentsOfUser(userId, {
    offset: 0,
    limit: MAX_ADJUSTMENTS_LOOKED_AT,
  });
  const funded = new Set(
    past.filter((entry) => entry.reason === FUNDING_REASON).map((entry) => entry.assetId),
  );
  for (const [code, amount] of Object.entries(funding)) {
    const asset = exchange.assetByCode(code);
    if (asset === undefined || funded.has(asset.assetId)) continue;
    await actions.adjustBalance(DEMO_ACTOR, { email, asset: code, amount, reason: FUNDING_REASON });
  }
  return userId;
}

export function randomPassword(): string {
  return randomBytes(24).toString("base64url");
}

/**
 * The demo trader's info+trade key: the first usable one, opened from its sealed secret, or a
 * new one when there is none (first start, revoked, or sealed under a server key since replaced).
 */
export async function demoApiKey(
  exchange: ExchangeBoundary,
  actions: OperatorActions,
  secretBox: SecretBox,
  userId: number,
): Promise<DemoApiKey> {
  const keys = await exchange.accounts.apiKeysOfUser(userId, { limit: MAX_KEYS_LOOKED_AT });
  for (const key of keys) {
    if (key.revokedMs !== null || key.ipAllowList.length > 0 || !key.scopes.includes("trade")) continue;
    const opened = secretBox.open(key.secretCiphertext.toString("utf8"), apiSecretContext(key.keyId));
    if (opened.ok) return { keyId: key.keyId, secret: opened.plaintext.toString("utf8") };
  }
  const created = await actions.createApiKey(DEMO_ACTOR, {
    email: DEMO_TRADER_EMAIL,
    scopes: "info,trade",
    ipAllowList: [],
  });
  return { keyId: created.keyId, secret: created.secret };
}

/** The two lines a reader pastes into Node to trade on the demo exchange with ccxt 4.5.73. */
export function ccxtSnippet(httpOrigin: string, key: DemoApiKey): string {
  const wsOrigin = httpOrigin.replace(/^http/, "ws");
  return (
    `import ccxt from 'ccxt'; const base = '${httpOrigin}', ws = '${wsOrigin}';\n` +
    `const ex = new ccxt.pro.exmo({ apiKey: '${key.keyId}', secret: '${key.secret}', urls: { api: { public: base, private: base, web: base, ws: { public: ws + '/v1/public', spot: ws + '/v1/private', margin: ws + '/v1/margin/private' } } } });`
  );
}

/**
 * The same for today's ccxt (`npm i ccxt`, 4.5.84 here) through the Binance dialect: its spot
 * REST, WebSocket streams and WebSocket API pointed at this server, spot only.
 */
export function ccxtBinanceSnippet(httpOrigin: string, key: DemoApiKey): string {
  const wsOrigin = httpOrigin.replace(/^http/, "ws");
  return (
    `import ccxt from 'ccxt'; const base = '${httpOrigin}', ws = '${wsOrigin}';\n` +
    `const ex = new ccxt.pro.binance({ apiKey: '${key.keyId}', secret: '${key.secret}', options: { defaultType: 'spot', fetchMarkets: { types: ['spot'] } }, urls: { api: { public: base + '/api/v3', private: base + '/api/v3', v1: base + '/api/v1', sapi: base + '/sapi/v1', ws: { spot: ws + '/ws', 'ws-api': { spot: ws + '/ws-api/v3' } } } } });`
  );
}
