// The Binance dialect's wallet endpoints (src/gateway/binance/wallet-routes.ts) against a real
// custody in process (CustodyService on a devnet UTXO chain with its signer, as in
// test/custody/custody-service.test.ts): a stock ccxt 4.5.84 binance fetches the deposit address,
// withdraws, and reads deposits, withdrawals and trading fees, seeing the same state EXMO's wallet
// endpoints show; every bad input gets Binance's error and changes nothing; a replayed withdraw
// signature is refused (-1021) and withdraws nothing more.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ed25519 } from "@noble/curves/ed25519.js";
import ccxt from "ccxt-current";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChainAdapter } from "../../../src/chains/adapter.ts";
import { addressOfKey, privateKeyFromSeed, UtxoDevnet } from "../../../src/chains/devnet/index.ts";
import { DEPOSIT_LABEL, devnetUtxoSigningPlugin, HOT_LABEL } from "../../../src/chains/devnet/signing.ts";
import { devnetCustodyConfigs } from "../../../src/custody/config.ts";
import { CustodyService, devnetChainWallet } from "../../../src/custody/custody-service.ts";
import type { CustodyPort } from "../../../src/custody/port.ts";
import { signBinancePayload } from "../../../src/gateway/binance/auth.ts";
import { initKeystore, Keystore } from "../../../src/signer/keystore.ts";
import type { AssetCaps } from "../../../src/signer/policy.ts";
import { SignerService } from "../../../src/signer/service.ts";
import { SignerState } from "../../../src/signer/state.ts";
import {
  createTrader,
  type Harness,
  type RawResponse,
  readResponse,
  signedPost,
  startHarness,
  type Trader,
} from "../support/rest-harness.ts";

const ONE_BTC = 100_000_000n;
const BIG: AssetCaps = {
  perTransaction: 10n ** 24n,
  per10m: 10n ** 25n,
  per1h: 10n ** 25n,
  per24h: 10n ** 25n,
};

let harness: Harness;
let dir: string;
let chain: UtxoDevnet;
let service: CustodyService;
let keystore: Keystore;
let signerState: SignerState;
let alice: Trader;
let bob: Trader;
let aliceDeposit: { address: string; txId: string };
/** An outside address in Alice's BTC address book, activated. */
let destination: string;
/** The gateway's clock runs this far behind while it starts (see beforeAll), then on time. */
let clockOffsetMs = -2_000;

// The gateway is made before custody (custody needs the harness's exchange): it reaches the
// service through this forwarding port.
const custodyPort = new Proxy({} as CustodyPort, {
  get(_target, name) {
    const value = (service as unknown as Record<string | symbol, unknown> | undefined)?.[name];
    return typeof value === "function" ? value.bind(service) : value;
  },
});

function binance(key: Trader): InstanceType<typeof ccxt.binance> {
  const base = harness.baseUrl;
  return new ccxt.binance({
    apiKey: key.keyId,
    secret: key.secret,
    rateLimit: 5,
    urls: { api: { public: `${base}/api/v3`, private: `${base}/api/v3`, sapi: `${base}/sapi/v1` } },
    options: { defaultType: "spot", fetchMarkets: { types: ["spot"] } },
  });
}

/** Binance's totalParams for `params` with a fresh timestamp, signed by `key`, signature last. */
function signed(key: Trader, params: Record<string, string>): string {
  const unsigned = new URLSearchParams({ ...params, timestamp: String(Date.now()) }).toString();
  return `${unsigned}&signature=${signBinancePayload(key.secret, unsigned)}`;
}

async function get(path: string, params: Record<string, string> = {}, key: Trader = alice) {
  const query = signed(key, params);
  return readResponse(
    await fetch(`${harness.baseUrl}${path}?${query}`, { headers: { "X-MBX-APIKEY": key.keyId } }),
  );
}

/** POST withdraw/apply with `body` exactly as given (ccxt sends the signed parameters as the body). */
async function postBody(body: string, key: Trader = alice) {
  return readResponse(
    await fetch(`${harness.baseUrl}/sapi/v1/capital/withdraw/apply`, {
      method: "POST",
      headers: { "X-MBX-APIKEY": key.keyId, "content-type": "application/x-www-form-urlencoded" },
      body,
    }),
  );
}

const withdraw = (params: Record<string, string>, key: Trader = alice) => postBody(signed(key, params), key);

/** What a refused request must leave alone: the user's balances and withdrawals, custody's and the store's. */
async function footprint(userId: number): Promise<string> {
  const balances = harness.exchange.assets().map((asset) => harness.exchange.balance(userId, asset.assetId));
  const held = await service.withdrawals({ userId, limit: 1_000 });
  const rows = await harness.exchange.reads.walletOperationsOfUser(userId, { offset: 0, limit: 100 });
  return JSON.stringify({ balances, held: held.length, rows: rows.length });
}

async function expectRefused(
  send: () => Promise<RawResponse>,
  status: number,
  code: number,
  msg?: string | RegExp,
) {
  const before = await footprint(alice.userId);
  const answer = await send();
  expect(answer.status, answer.text).toBe(status);
  expect((answer.body as { code: number }).code, answer.text).toBe(code);
  if (typeof msg === "string") expect((answer.body as { msg: string }).msg).toBe(msg);
  if (msg instanceof RegExp) expect((answer.body as { msg: string }).msg).toMatch(msg);
  expect(await footprint(alice.userId)).toBe(before);
  return answer;
}

async function bookAddress(userId: number, address: string, activate: boolean): Promise<void> {
  const nowMs = Date.now();
  await harness.exchange.accounts.addAddress({ userId, currency: "BTC", address, label: "out", nowMs });
  if (activate)
    await harness.exchange.accounts.activateAddressNow({
      userId,
      currency: "BTC",
      address,
      nowMs,
      operator: "test",
    });
}

/** Ticks custody, mining a block before each, until `done` (a few rounds on the devnet). */
async function tickUntil(done: () => Promise<boolean>): Promise<void> {
  for (let round = 0; round < 8; round++) {
    if (await done()) return;
    chain.mine(1);
    await service.tick();
  }
  throw new Error("custody did not get there");
}

beforeAll(async () => {
  // The replay guard accepts writes signed from 1 s after it was made (replay-guard.ts): made on a
  // clock 2 s behind, it accepts every request this file signs, without waiting out that second.
  const starting = startHarness({ custody: custodyPort, clock: () => Date.now() + clockOffsetMs });
  dir = mkdtempSync(join(tmpdir(), "bulwark-binance-wallet-"));
  chain = new UtxoDevnet();
  const plugin = devnetUtxoSigningPlugin({ hotLookahead: 2, depositLookahead: 4 });
  initKeystore(join(dir, "keystore"), "binance wallet test", new Uint8Array(32).fill(7), {
    N: 2 ** 10,
    r: 8,
    p: 1,
  });
  keystore = Keystore.open(join(dir, "keystore"), "binance wallet test");
  const exported = keystore.exportPublicKeys(plugin);
  const key = (label: string) => exported.find((entry) => entry.label === label)?.key ?? "";
  const policySecretKey = ed25519.utils.randomSecretKey();
  signerState = SignerState.open(join(dir, "signer-state"), Date.now());
  const signer = new SignerService(
    {
      chain: chain.chain,
      policyPublicKey: ed25519.getPublicKey(policySecretKey),
      caps: new Map(chain.assets.map((asset) => [asset.symbol, BIG])),
      coldAddresses: new Set(),
      maxFutureMs: 60 * 60_000,
    },
    signerState,
    plugin,
    keystore.hotKeys(chain.chain),
  );
  // The keystore and signer were made while the exchange opened.
  harness = await starting;
  clockOffsetMs = 0;
  const config = devnetCustodyConfigs().find((entry) => entry.chain === chain.chain);
  if (config === undefined) throw new Error("no devnet-btc config");
  service = new CustodyService({
    exchange: harness.exchange,
    chains: [
      {
        config,
        adapter: chain as ChainAdapter,
        kind: "utxo",
        wallet: devnetChainWallet("utxo", { hot: key(HOT_LABEL), deposit: key(DEPOSIT_LABEL) }),
        signer: {
          sign: async (intent, signature) =>
            signer.handle({ op: "sign", intent, signature }) as ReturnType<SignerService["handle"]> as never,
          status: async () => signer.handle({ op: "status" }) as never,
        },
        coldAddress: null,
        balanceOf: async (address) => chain.balance(address),
        feeAsset: "BTC",
        chainDecimals: new Map(chain.assets.map((asset) => [asset.symbol, asset.decimals])),
      },
    ],
    policySecretKey,
    stateDir: join(dir, "custody"),
    tickMs: 60_000,
  });
  alice = await createTrader(harness, { scopes: ["info", "trade", "withdraw"], ipAllowList: ["127.0.0.1"] });
  bob = await createTrader(harness, { scopes: ["info", "withdraw"], ipAllowList: ["127.0.0.1"] });
  // One BTC deposited on chain, credited after its confirmations, swept into hot (so it can pay).
  const address = (await service.depositAddress(alice.userId, "BTC")).address;
  const txId = chain.faucet(address, "BTC", ONE_BTC);
  aliceDeposit = { address, txId };
  chain.mine(3);
  await service.tick();
  for (let i = 0; i < 3; i++) {
    chain.mine(1);
    await service.tick();
  }
  destination = addressOfKey(chain, privateKeyFromSeed("binance wallet destination"));
  await bookAddress(alice.userId, destination, true);
}, 20_000);

afterAll(async () => {
  await harness?.close();
  signerState?.close();
  keystore?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe("ccxt 4.5.84 binance: the wallet through custody", () => {
  it("fetchDepositAddress: the address custody and EXMO's deposit_address give; a network of another chain is refused", async () => {
    const client = binance(alice);
    const found = await client.fetchDepositAddress("BTC");
    expect([found.currency, found.address, found.tag]).toEqual(["BTC", aliceDeposit.address, undefined]);
    const exmo = await signedPost(harness, alice, "deposit_address", { currency: "BTC" });
    expect(exmo.body).toEqual({ BTC: aliceDeposit.address });
    expect((await client.fetchDepositAddress("BTC", { network: "BTC" })).address).toBe(aliceDeposit.address);
    const raw = await get("/sapi/v1/capital/deposit/address", { coin: "BTC" });
    expect(raw.body).toEqual({ address: aliceDeposit.address, coin: "BTC", tag: "", url: "" });
    // Bob's is his own.
    expect((await binance(bob).fetchDepositAddress("BTC")).address).not.toBe(aliceDeposit.address);
  });

  it("fetchDeposits: the credited deposit as EXMO's wallet_operations shows it, and one still pending (0)", async () => {
    const deposits = await binance(alice).fetchDeposits();
    expect(
      deposits.map((d) => [d.type, d.currency, d.amount, d.status, d.txid, d.network, d.address]),
    ).toEqual([["deposit", "BTC", 1, "ok", aliceDeposit.txId, "BTC", aliceDeposit.address]]);
    const exmo = (await signedPost(harness, alice, "wallet_operations", { type: "deposit" })).body as {
      items: { order_id: number; amount: string; extra: { txid: string }; created: number }[];
    };
    expect(exmo.items.map((row) => [String(row.order_id), row.amount, row.extra.txid])).toEqual([
      [deposits[0]?.id, "1", aliceDeposit.txId],
    ]);
    expect(Math.floor((deposits[0]?.timestamp ?? 0) / 1000)).toBe(exmo.items[0]?.created);
    expect(await binance(bob).fetchDeposits()).toEqual([]);
    // Bob's deposit seen on chain, one confirmation of two: pending (status 0) until credited,
    // while EXMO's wallet_operations lists credited deposits only.
    const bobAddress = (await service.depositAddress(bob.userId, "BTC")).address;
    const bobTx = chain.faucet(bobAddress, "BTC", ONE_BTC / 2n);
    chain.mine(1);
    await service.tick();
    const pending = await binance(bob).fetchDeposits("BTC");
    expect(pending.map((d) => [d.amount, d.status, d.txid, d.address])).toEqual([
      [0.5, "pending", bobTx, bobAddress],
    ]);
    expect(pending[0]?.id).toMatch(new RegExp(`^${bobTx}:[0-9]+$`));
    const raw = await get("/sapi/v1/capital/deposit/hisrec", {}, bob);
    expect(raw.body).toMatchObject([{ status: 0, amount: "0.50000000", confirmTimes: "1/2", coin: "BTC" }]);
    expect((await get("/sapi/v1/capital/deposit/hisrec", { status: "1" }, bob)).body).toEqual([]);
    expect((await signedPost(harness, bob, "wallet_operations", { type: "deposit" })).body).toEqual({
      items: [],
      count: 0,
    });
    expect(await binance(alice).fetchDeposits("BTC", Date.now() + 1_000)).toEqual([]);
  });

  it("withdraw: held at once (pending), the same withdrawal in EXMO's wallet_operations; settled later (ok, txid)", async () => {
    const client = binance(alice);
    const placed = await client.withdraw("BTC", 0.1, destination);
    const placedId = String(placed.id);
    expect(placedId).toMatch(/^[0-9]+$/);
    const btc = harness.exchange.assetByCode("BTC");
    expect(harness.exchange.balance(alice.userId, btc?.assetId ?? 0)).toEqual({
      availableUnits: 90_000_000,
      heldUnits: 10_000_000,
    });
    // The caller's next read sees it (read-your-writes).
    const pending = await client.fetchWithdrawals("BTC");
    expect(pending.map((w) => [w.id, w.amount, w.fee?.cost, w.status, w.address, w.network])).toEqual([
      [placed.id, 0.0995, 0.0005, "pending", destination, "BTC"],
    ]);
    const exmo = (await signedPost(harness, alice, "wallet_operations", { type: "withdraw" })).body as {
      items: { order_id: number; amount: string; commission: string; status: string }[];
    };
    expect(exmo.items.map((row) => [String(row.order_id), row.amount, row.commission, row.status])).toEqual([
      [placed.id, "0.0995", "0.0005", "Processing"],
    ]);
    // A withdrawal made through EXMO is in Binance's history too.
    const viaExmo = await signedPost(harness, alice, "withdraw_crypt", {
      amount: "0.05",
      currency: "BTC",
      address: destination,
    });
    const taskId = String((viaExmo.body as { task_id: number }).task_id);
    // ccxt sorts by applyTime (whole seconds), so its order is the clock's: compare as sets.
    expect((await client.fetchWithdrawals()).map((w) => w.id).sort()).toEqual([placedId, taskId].sort());
    const processing = (await get("/sapi/v1/capital/withdraw/history", { status: "4" })).body as {
      id: string;
    }[];
    expect(processing.map((row) => row.id)).toEqual([taskId, placed.id]);
    const id = Number(placed.id);
    await tickUntil(async () => (await service.withdrawal(id))?.step === "settled");
    const settled = (await client.fetchWithdrawals("BTC")).find((w) => w.id === placed.id);
    const view = await service.withdrawal(id);
    expect([settled?.status, settled?.txid]).toEqual(["ok", view?.txId]);
    expect(settled?.txid).toMatch(/\S+/);
    const raw = await get("/sapi/v1/capital/withdraw/history", { idList: placedId });
    expect(raw.body).toMatchObject([
      {
        id: placed.id,
        amount: "0.09950000",
        transactionFee: "0.00050000",
        coin: "BTC",
        status: 6,
        transferType: 0,
      },
    ]);
    const completed = (await get("/sapi/v1/capital/withdraw/history", { status: "6" })).body as {
      id: string;
    }[];
    expect(completed.map((row) => row.id)).toContain(placed.id);
    expect((await get("/sapi/v1/capital/withdraw/history", { status: "5" })).body).toEqual([]);
  });

  it("fetchTradingFees / fetchTradingFee: each market's maker and taker rates, exact", async () => {
    const client = binance(alice);
    const fees = await client.fetchTradingFees();
    const markets = harness.exchange.markets();
    expect(Object.keys(fees).sort()).toEqual(Object.keys(await client.loadMarkets()).sort());
    for (const market of markets) {
      const symbol = `${market.base.code}/${market.quote.code}`;
      expect(fees[symbol]?.maker, symbol).toBe(market.config.makerFeePpm / 1e6);
      expect(fees[symbol]?.taker, symbol).toBe(market.config.takerFeePpm / 1e6);
    }
    const one = await client.fetchTradingFee("BTC/USD");
    expect(one.symbol).toBe("BTC/USD");
    const raw = await get("/sapi/v1/asset/tradeFee", { symbol: "BTCUSD" });
    const btcUsd = markets.find((market) => market.base.code === "BTC" && market.quote.code === "USD");
    expect(raw.body).toEqual([
      {
        symbol: "BTCUSD",
        makerCommission: formatPpm(btcUsd?.config.makerFeePpm ?? 0),
        takerCommission: formatPpm(btcUsd?.config.takerFeePpm ?? 0),
      },
    ]);
  });
});

function formatPpm(ppm: number): string {
  const whole = Math.floor(ppm / 1e6);
  const fraction = String(ppm % 1e6)
    .padStart(6, "0")
    .replace(/0+$/, "");
  return fraction === "" ? String(whole) : `${whole}.${fraction}`;
}

describe("refusals, each in Binance's shape, changing nothing", () => {
  const valid = () => ({ coin: "BTC", address: destination, amount: "0.01" });

  it("withdraw/apply: parameters, amounts, limits, address book, network, memo and client ids", async () => {
    await expectRefused(() => withdraw({ address: destination, amount: "0.01" }), 400, -1102, /'coin'/);
    await expectRefused(() => withdraw({ coin: "BTC", amount: "0.01" }), 400, -1102, /'address'/);
    await expectRefused(() => withdraw({ coin: "BTC", address: destination }), 400, -1102, /'amount'/);
    await expectRefused(
      () => withdraw({ ...valid(), coin: "DOGE" }),
      400,
      -4018,
      "We don't have this asset.",
    );
    await expectRefused(() => withdraw({ ...valid(), coin: "btc" }), 400, -1100);
    await expectRefused(
      () => withdraw({ ...valid(), amount: "0.123456789" }),
      400,
      -4021,
      /BTC has 8 decimals/,
    );
    for (const amount of ["abc", "1e-3", "-0.01", "0", "+0.01", ".5"])
      await expectRefused(() => withdraw({ ...valid(), amount }), 400, -1100, /'amount'/);
    await expectRefused(
      () => withdraw({ ...valid(), amount: "0.0005" }),
      400,
      -4022,
      /minimum withdrawal is 0\.001 BTC/,
    );
    await expectRefused(() => withdraw({ ...valid(), amount: "6" }), 400, -4023, /maximum/);
    await expectRefused(() => withdraw({ ...valid(), amount: "99999999999" }), 400, -4023);
    // More than the balance: Binance's exact text, which ccxt maps to InsufficientFunds whatever the URL.
    await expectRefused(
      () => withdraw({ ...valid(), amount: "0.9" }),
      400,
      -4026,
      "Account has insufficient balance for requested action.",
    );
    const stranger = addressOfKey(chain, privateKeyFromSeed("not in the book"));
    await expectRefused(() => withdraw({ ...valid(), address: stranger }), 400, -4035);
    const fresh = addressOfKey(chain, privateKeyFromSeed("still inside its delay"));
    await bookAddress(alice.userId, fresh, false);
    await expectRefused(() => withdraw({ ...valid(), address: fresh }), 400, -4036, /usable at/);
    await expectRefused(() => withdraw({ ...valid(), address: "0x1234" }), 400, -4033);
    await expectRefused(() => withdraw({ ...valid(), address: "a b" }), 400, -1100, /'address'/);
    await expectRefused(() => withdraw({ ...valid(), network: "ERC20" }), 400, -1130, /'network'/);
    await expectRefused(() => withdraw({ ...valid(), addressTag: "123" }), 400, -1106, /'addressTag'/);
    await expectRefused(
      () => withdraw({ ...valid(), withdrawOrderId: "mine-1" }),
      400,
      -1106,
      /'withdrawOrderId'/,
    );
    await expectRefused(() => withdraw({ ...valid(), walletType: "1" }), 400, -1130, /'walletType'/);
    // A key without the withdraw scope, one from another address: -2015, as every key refusal.
    const infoOnly = await createTrader(harness, { scopes: ["info"], ipAllowList: ["127.0.0.1"] });
    await expectRefused(() => withdraw(valid(), infoOnly), 401, -2015);
    // Authentication lets a withdraw key without an allow-list through; custody does not (same -2015).
    const open = await createTrader(harness, { scopes: ["info", "withdraw"], ipAllowList: [] });
    await bookAddress(open.userId, destination, true);
    const openBefore = await footprint(open.userId);
    expect((await withdraw(valid(), open)).body).toEqual({
      code: -2015,
      msg: "Invalid API-key, IP, or permissions for action.",
    });
    // A password change locks withdrawals for 24 hours.
    const carol = await createTrader(harness, {
      scopes: ["info", "withdraw"],
      ipAllowList: ["127.0.0.1"],
      funds: { BTC: "1" },
    });
    await bookAddress(carol.userId, destination, true);
    expect(await harness.exchange.accounts.changePasswordHash(carol.userId, "y".repeat(64), Date.now())).toBe(
      true,
    );
    const locked = await withdraw(valid(), carol);
    expect((locked.body as { code: number }).code, locked.text).toBe(-4016);
    expect(await footprint(open.userId)).toBe(openBefore);
    // ccxt raises the classes: InsufficientFunds by the text, BadRequest for the -1xxx codes.
    const client = binance(alice);
    const before = await footprint(alice.userId);
    await expect(client.withdraw("BTC", 0.9, destination)).rejects.toThrow(ccxt.InsufficientFunds);
    await expect(client.withdraw("BTC", 0.01, destination, "memo")).rejects.toThrow(ccxt.BadRequest);
    await expect(client.withdraw("BTC", 0.01, stranger)).rejects.toThrow(/-4035/);
    expect(await footprint(alice.userId)).toBe(before);
  });

  it("withdraw/apply: a replayed signature is -1021 and withdraws nothing more", async () => {
    const body = signed(alice, { coin: "BTC", address: destination, amount: "0.002" });
    const first = await postBody(body);
    expect(first.status, first.text).toBe(200);
    const id = (first.body as { id: string }).id;
    const again = await expectRefused(() => postBody(body), 400, -1021);
    expect((again.body as { msg: string }).msg).toMatch(/already received/);
    const ids = ((await get("/sapi/v1/capital/withdraw/history")).body as { id: string }[]).map(
      (row) => row.id,
    );
    expect(ids.filter((one) => one === id)).toHaveLength(1);
    await expect(binance(alice).withdraw("BTC", 0.002, destination)).resolves.toMatchObject({
      id: expect.any(String),
    });
  });

  it("withdraw/apply: a tripped breaker is -4019 naming it", async () => {
    await service.tripBreaker({
      chain: "devnet-btc",
      actor: "operator:test",
      reason: "binance wallet check",
    });
    try {
      await expectRefused(() => withdraw(valid()), 400, -4019, /devnet-btc breaker is tripped/);
    } finally {
      await service.resumeBreaker({ chain: "devnet-btc", approvers: ["operator:test"], reason: "done" });
    }
  });

  it("deposit/address, the histories and tradeFee", async () => {
    await expectRefused(() => get("/sapi/v1/capital/deposit/address"), 400, -1102, /'coin'/);
    await expectRefused(() => get("/sapi/v1/capital/deposit/address", { coin: "DOGE" }), 400, -4018);
    await expectRefused(() => get("/sapi/v1/capital/deposit/address", { coin: "USD" }), 400, -4018);
    await expectRefused(
      () => get("/sapi/v1/capital/deposit/address", { coin: "BTC", network: "ETH" }),
      400,
      -1130,
    );
    await expectRefused(
      () => get("/sapi/v1/capital/deposit/address", { coin: "BTC", network: "a b" }),
      400,
      -1100,
    );
    for (const path of ["/sapi/v1/capital/deposit/hisrec", "/sapi/v1/capital/withdraw/history"]) {
      await expectRefused(() => get(path, { coin: "DOGE" }), 400, -4018);
      await expectRefused(() => get(path, { limit: "0" }), 400, -1100, /'limit'/);
      await expectRefused(() => get(path, { limit: "1001" }), 400, -1100);
      await expectRefused(() => get(path, { status: "x" }), 400, -1100, /'status'/);
      await expectRefused(() => get(path, { startTime: "2000", endTime: "1000" }), 400, -4047);
      await expectRefused(() => get(path, { startTime: "0", endTime: String(91 * 86_400_000) }), 400, -4047);
    }
    await expectRefused(() => get("/sapi/v1/capital/withdraw/history", { idList: "1,x" }), 400, -1100);
    await expectRefused(() => get("/sapi/v1/asset/tradeFee", { symbol: "DOGEUSD" }), 400, -1121);
    // Filters that match nothing are empty lists, not errors.
    expect((await get("/sapi/v1/capital/deposit/hisrec", { status: "0" })).body).toEqual([]);
    expect((await get("/sapi/v1/capital/deposit/hisrec", { txId: "nope" })).body).toEqual([]);
    expect((await get("/sapi/v1/capital/withdraw/history", { withdrawOrderId: "x" })).body).toEqual([]);
    // Paging: offset and limit over the newest-first list.
    const all = (await get("/sapi/v1/capital/withdraw/history")).body as { id: string }[];
    expect(all.length).toBeGreaterThanOrEqual(3);
    const second = (await get("/sapi/v1/capital/withdraw/history", { offset: "1", limit: "1" })).body;
    expect(second).toEqual([all[1]]);
  });
});
