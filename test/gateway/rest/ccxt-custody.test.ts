// ccxt 4.5.73 against a real `bulwark start` (startExchangeServer, demo mode: devnet chains mining
// on demand, wallets initialised, signer child processes, custody wired to the gateway): deposit
// addresses, networks and fees, an end-to-end deposit (faucet → confirmations → credit) and
// withdrawal (address book → withdraw → signer → chain → settled), and every bad input to the
// wallet endpoints refused with its EXMO error, changing no balance and recording no withdrawal.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ccxt from "ccxt";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateApiKey, sealApiSecret } from "../../../src/accounts/api-keys.ts";
import { loadServerKey } from "../../../src/accounts/server-key.ts";
import { addressOfKey, privateKeyFromSeed } from "../../../src/chains/devnet/index.ts";
import type { CurrencyTerms, CustodyPort } from "../../../src/custody/port.ts";
import { signRestBody } from "../../../src/gateway/auth/signature.ts";
import { type ExchangeServer, startExchangeServer } from "../../../src/server/server.ts";
import { nextNonce } from "../support/rest-harness.ts";

const ONE_BTC = 100_000_000n; // satoshis
const ONE_ETH = 10n ** 18n; // wei
const POLL_MS = 200;
const WAIT_MS = 60_000;

interface Key {
  userId: number;
  keyId: string;
  secret: string;
}

let dataDir: string;
let server: ExchangeServer;
let custody: CustodyPort;
let makeKey: (userId: number, scopes: string[], ipAllowList: string[]) => Promise<Key>;
/** Withdraw, trade and info scopes, allowed from 127.0.0.1: the user the happy path runs as. */
let alice: Key;
let bob: Key;
let btcAddress: string;
let ethAddress: string;
/** An outside BTC address in Alice's address book, activated. */
let aliceDestination: string;

function custodyOf(started: ExchangeServer): CustodyPort {
  if (started.custody === null) throw new Error("the server runs without custody");
  return started.custody;
}

function devnet() {
  if (server.devnet === null) throw new Error("devnet is off");
  return server.devnet;
}

function termsOf(currency: string): CurrencyTerms {
  const terms = custody.terms().find((entry) => entry.currency === currency);
  if (terms === undefined) throw new Error(`custody does not serve ${currency}`);
  return terms;
}

function outsideAddress(chain: "btc" | "eth", seed: string): string {
  return addressOfKey(chain === "btc" ? devnet().btc : devnet().eth, privateKeyFromSeed(seed));
}

async function newUser(label: string): Promise<number> {
  const created = await server.exchange.accounts.createUser({
    email: `${label}-${Date.now()}@ccxt-custody.test`,
    passwordHash: "x".repeat(64),
    createdMs: Date.now(),
  });
  if (!created.ok) throw new Error(`user ${label} not created`);
  return created.user.userId;
}

async function bookAddress(userId: number, currency: string, address: string, activate: boolean) {
  const added = await server.exchange.accounts.addAddress({
    userId,
    currency,
    address,
    label: `${currency} out`,
    nowMs: Date.now(),
  });
  expect(added).toBeTruthy();
  if (activate)
    expect(
      await server.exchange.accounts.activateAddressNow({
        userId,
        currency,
        address,
        nowMs: Date.now(),
        operator: "ccxt-custody test",
      }),
    ).toBe(true);
}

function client(key: Key): InstanceType<typeof ccxt.exmo> {
  return new ccxt.exmo({
    apiKey: key.keyId,
    secret: key.secret,
    rateLimit: 5,
    urls: { api: { public: server.url, private: server.url, web: server.url } },
  });
}

interface Answer {
  status: number;
  code: number | "ok";
  body: unknown;
}

/** A signed POST /v1.1/<path> with exactly these fields (after a fresh nonce). */
async function post(key: Key, path: string, fields: Record<string, string>): Promise<Answer> {
  const body = new URLSearchParams({ nonce: String(nextNonce()), ...fields }).toString();
  return postBody(key, path, body);
}

async function postBody(key: Key, path: string, body: string): Promise<Answer> {
  const response = await fetch(`${server.url}/v1.1/${path}`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      key: key.keyId,
      sign: signRestBody(key.secret, body),
    },
    body,
  });
  const text = await response.text();
  const parsed = JSON.parse(text) as { result?: unknown; error?: unknown };
  let code: number | "ok" = "ok";
  if (parsed.result === false && typeof parsed.error === "string") {
    const match = /^Error (\d+): /.exec(parsed.error);
    if (match === null) throw new Error(`malformed error body ${text}`);
    code = Number(match[1]);
  }
  return { status: response.status, code, body: parsed };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns a value, mining a block on `mine` before each look. */
async function until<T>(what: string, check: () => Promise<T | undefined>, mine?: "btc" | "eth"): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    if (mine !== undefined) (mine === "btc" ? devnet().btc : devnet().eth).mine(1);
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(POLL_MS);
  }
}

/** Everything a refused wallet request must leave alone: the user's balances and withdrawals. */
async function footprint(userId: number): Promise<string> {
  const balances = server.exchange.assets().map((asset) => server.exchange.balance(userId, asset.assetId));
  const withdrawals = await custody.withdrawals({ userId, limit: 1_000 });
  const operations = await server.exchange.reads.walletOperationsOfUser(userId, {
    kind: "withdrawal",
    offset: 0,
    limit: 100,
  });
  return JSON.stringify({ balances, withdrawals: withdrawals.length, operations: operations.length });
}

/** Sends, expects EXMO code `code`, and that the key's user has the same balances and withdrawals. */
async function expectRefused(key: Key, send: () => Promise<Answer>, code: number): Promise<Answer> {
  const before = await footprint(key.userId);
  const answer = await send();
  expect(answer.code, JSON.stringify(answer.body)).toBe(code);
  expect(await footprint(key.userId)).toBe(before);
  return answer;
}

/** A whole server with devnet chains and signers (~15 s to start): `npm run test:full`, which CI runs. */
const FULL = process.env.BULWARK_TEST_FULL === "1";

beforeAll(async () => {
  if (!FULL) return;
  dataDir = mkdtempSync(join(tmpdir(), "bulwark-ccxt-custody-"));
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.DATABASE_URL;
  delete env.BULWARK_SERVER_KEY;
  delete env.BULWARK_OPERATOR_TOKEN;
  delete env.BULWARK_OPERATOR_LISTEN;
  delete env.BULWARK_SIGNER_PASSPHRASE;
  server = await startExchangeServer({
    dataDir,
    port: 0,
    demo: true,
    devnetBlockMs: 0,
    custodyTickMs: 200,
    // The demo's own deposits and withdrawals would add blocks and rows of their own.
    demoWalletIntervalMs: 0,
    rateLimit: false,
    env,
    logger: pino({ level: "silent" }),
    // The demo's accounts and operators at the cheapest scrypt (test/server/server-demo.test.ts checks the default).
    passwordScrypt: { logN: 10, blockSize: 8, parallelization: 1 },
  });
  custody = custodyOf(server);
  const secretBox = loadServerKey(dataDir, env).secretBox;
  makeKey = async (userId, scopes, ipAllowList) => {
    const { keyId, secret } = generateApiKey();
    const created = await server.exchange.accounts.createApiKey({
      keyId,
      userId,
      secretCiphertext: sealApiSecret(secretBox, keyId, secret),
      scopes,
      ipAllowList,
      createdMs: Date.now(),
    });
    if (!created) throw new Error("key not created");
    return { userId, keyId, secret };
  };
  alice = await makeKey(await newUser("alice"), ["info", "trade", "withdraw"], ["127.0.0.1"]);
  bob = await makeKey(await newUser("bob"), ["info", "withdraw"], ["127.0.0.1"]);
}, 180_000);

afterAll(async () => {
  await server?.close();
  if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
  // The demo cold keystores beside the data dir (src/server/demo/cold-wallet.ts).
  if (dataDir !== undefined) rmSync(`${dataDir}-demo-cold`, { recursive: true, force: true });
}, 60_000);

describe.skipIf(!FULL)("ccxt 4.5.73 reads custody's networks, limits and fees", () => {
  it("fetchCurrencies: one network per served currency, enabled, with the real limits; USD disabled", async () => {
    const currencies = await client(alice).fetchCurrencies();
    const served = custody.terms();
    expect(served.map((terms) => terms.currency).sort()).toEqual(["BTC", "ETH", "USDT"]);
    expect(served.map((terms) => terms.network).sort()).toEqual(["BTC", "ERC20", "ETH"]);
    for (const terms of served) {
      expect(terms.depositEnabled && terms.withdrawEnabled, terms.currency).toBe(true);
      const network = currencies[terms.currency]?.networks[terms.network];
      expect(network, terms.currency).toBeDefined();
      expect(network?.id).toBe(terms.network);
      expect([network?.deposit, network?.withdraw]).toEqual([true, true]);
      expect(Number(network?.limits.withdraw?.min)).toBe(Number(terms.minWithdraw));
      expect(Number(network?.limits.withdraw?.max)).toBe(Number(terms.maxWithdraw));
      expect(Number(network?.limits.deposit?.min)).toBe(Number(terms.minDeposit));
      const info = network?.info as { type: string; currency_confirmations: number }[];
      expect(info.map((provider) => provider.type)).toEqual(["deposit", "withdraw"]);
      expect(info.map((provider) => provider.currency_confirmations)).toEqual([
        terms.confirmations,
        terms.confirmations,
      ]);
    }
    // ccxt keeps a network's limits as the strings sent and makes numbers of the currency's.
    // The maximum is what the BTC signer can sign in 10 minutes: on a fresh demo, the budget's
    // 1 BTC floor (src/server/custody.ts signerBoundConfig), below the configured 5.
    expect(currencies.BTC?.networks.BTC?.limits.withdraw).toEqual({ min: "0.001", max: "1" });
    expect(currencies.BTC?.limits.withdraw).toEqual({ min: 0.001, max: 1 });
    // ccxt's type for a currency's limits names amount and withdraw only; it fills deposit too.
    const usdtLimits = currencies.USDT?.limits as { deposit?: { min?: number } } | undefined;
    expect(usdtLimits?.deposit?.min).toBe(1);
    const usd = currencies.USD?.networks.USD;
    expect([usd?.deposit, usd?.withdraw]).toEqual([false, false]);
  });

  it("fetchDepositWithdrawFees: the flat withdrawal fee per network and currency, deposits free", async () => {
    const fees = await client(alice).fetchDepositWithdrawFees();
    // ccxt's typings say a network has {fee, percentage}; exmo fills {withdraw, deposit} per network.
    type Side = { fee?: number; percentage?: boolean };
    const networkFees = (code: string) =>
      fees[code]?.networks as unknown as Record<string, { withdraw: Side; deposit: Side }> | undefined;
    for (const terms of custody.terms()) {
      const fee = fees[terms.currency];
      expect(fee?.withdraw, terms.currency).toEqual({ fee: Number(terms.withdrawFee), percentage: false });
      expect(fee?.deposit?.fee).toBe(0);
      expect(networkFees(terms.currency)?.[terms.network]?.withdraw).toEqual({
        fee: Number(terms.withdrawFee),
        percentage: false,
      });
    }
    expect(fees.BTC?.withdraw?.fee).toBe(0.0005);
    expect(networkFees("USDT")?.ERC20?.withdraw.fee).toBe(5);
    expect(fees.USD?.withdraw?.fee).toBeUndefined(); // "-": unknown
  });
});

describe.skipIf(!FULL)("deposit addresses", () => {
  it("fetchDepositAddress: an address of the currency's chain per user, stable, ETH and USDT sharing one", async () => {
    const ex = client(alice);
    const btc = await ex.fetchDepositAddress("BTC");
    const eth = await ex.fetchDepositAddress("ETH");
    const usdt = await ex.fetchDepositAddress("USDT");
    btcAddress = String(btc.address);
    ethAddress = String(eth.address);
    expect(devnet().btc.normalizeAddress(btcAddress)).toBe(btc.address);
    expect(devnet().eth.normalizeAddress(ethAddress)).toBe(eth.address);
    expect(usdt.address).toBe(eth.address);
    expect([btc.currency, btc.tag, eth.tag]).toEqual(["BTC", undefined, undefined]);
    // EXMO's shape: every ready currency keyed by code, no USD.
    expect(btc.info).toEqual({ BTC: btc.address, ETH: eth.address, USDT: eth.address });
    expect((await ex.fetchDepositAddress("BTC")).address).toBe(btc.address);
    expect((await custody.depositAddress(alice.userId, "BTC")).address).toBe(btc.address);
    // Another user, other addresses.
    const bobs = await client(bob).fetchDepositAddress("BTC");
    expect(bobs.address).not.toBe(btc.address);
    // A currency without deposits is not in the answer: ccxt says so itself.
    await expect(ex.fetchDepositAddress("USD")).rejects.toThrow(ccxt.InvalidAddress);
  });

  it("deposit_address with a currency answers that one only; unknown or unserved currencies are 59005", async () => {
    const one = await post(alice, "deposit_address", { currency: "ETH" });
    expect(one.body).toEqual({ ETH: ethAddress });
    await expectRefused(alice, () => post(alice, "deposit_address", { currency: "DOGE" }), 59005);
    await expectRefused(alice, () => post(alice, "deposit_address", { currency: "USD" }), 59005);
    await expectRefused(alice, () => post(alice, "deposit_address", { currency: "x".repeat(17) }), 59001);
  });
});

describe.skipIf(!FULL)("a deposit and a withdrawal the whole way", () => {
  let btcDepositTx: string;
  let withdrawalId: string;

  it("deposits: faucet → confirmations → credited, in fetchBalance, fetchDeposits and fetchDeposit", async () => {
    const ex = client(alice);
    btcDepositTx = devnet().btc.faucet(btcAddress, "BTC", ONE_BTC);
    const ethDepositTx = devnet().eth.faucet(ethAddress, "ETH", 2n * ONE_ETH);
    // Not credited before the chain's confirmations.
    expect((await ex.fetchBalance()).BTC?.free ?? 0).toBe(0);
    await until(
      "the BTC and ETH credits",
      async () => {
        devnet().eth.mine(1);
        const balance = await ex.fetchBalance();
        return balance.BTC?.free === 1 && balance.ETH?.free === 2 ? balance : undefined;
      },
      "btc",
    );
    const deposits = await ex.fetchDeposits();
    expect(deposits.map((d) => [d.currency, d.amount, d.status, d.txid, d.network]).sort()).toEqual([
      ["BTC", 1, "ok", btcDepositTx, "BTC"],
      ["ETH", 2, "ok", ethDepositTx, "ETH"],
    ]);
    const btcDeposit = deposits.find((d) => d.currency === "BTC");
    const one = await ex.fetchDeposit(String(btcDeposit?.id));
    expect([one.id, one.amount, one.currency, one.status, one.txid]).toEqual([
      btcDeposit?.id,
      1,
      "BTC",
      "ok",
      btcDepositTx,
    ]);
    // Bob sees none of it.
    expect(await client(bob).fetchDeposits()).toEqual([]);
  });

  it("withdraw to an active address-book entry: held at once, then signed, broadcast and settled (ok)", async () => {
    const ex = client(alice);
    aliceDestination = outsideAddress("btc", "ccxt-custody alice outside btc");
    await bookAddress(alice.userId, "BTC", aliceDestination, true);
    // The deposit is swept into the hot wallet before there is anything to pay from.
    await until(
      "the deposit swept into hot",
      async () => {
        const status = await custody.status();
        const btc = status.chains.flatMap((chain) => chain.balances).find((b) => b.currency === "BTC");
        return btc !== undefined && Number(btc.onBooks.hot) >= 0.5 ? btc : undefined;
      },
      "btc",
    );
    const sent = await ex.withdraw("BTC", 0.1, aliceDestination, undefined, { network: "BTC" });
    withdrawalId = String(sent.id);
    expect(withdrawalId).toMatch(/^[1-9][0-9]*$/);
    expect((sent.info as { result: boolean; task_id: number }).result).toBe(true);
    // Held at once, and visible to the very next read.
    const balance = await ex.fetchBalance();
    expect([balance.BTC?.free, balance.BTC?.used]).toEqual([0.9, 0.1]);
    const pending = await ex.fetchWithdrawal(withdrawalId);
    expect([pending.id, pending.currency, pending.amount, pending.status, pending.fee?.cost]).toEqual([
      withdrawalId,
      "BTC",
      0.0995,
      "pending",
      0.0005,
    ]);
    const settled = await until(
      "the withdrawal settled",
      async () => {
        const withdrawal = await ex.fetchWithdrawal(withdrawalId);
        return withdrawal.status === "ok" ? withdrawal : undefined;
      },
      "btc",
    );
    expect(settled.txid).toMatch(/^\S+$/);
    expect([settled.amount, settled.fee?.cost, settled.network]).toEqual([0.0995, 0.0005, "BTC"]);
    expect(devnet().btc.balance(aliceDestination)).toBe(9_950_000n);
    const after = await ex.fetchBalance();
    expect([after.BTC?.free, after.BTC?.used]).toEqual([0.9, 0]);
    const txid = await post(alice, "withdraw_get_txid", { task_id: withdrawalId });
    expect(txid.body).toEqual({ result: true, error: "", status: true, txid: settled.txid });
    const view = await custody.withdrawal(Number(withdrawalId));
    expect(view?.step).toBe("settled");
    expect(view?.address).toBe(aliceDestination);
  });

  it("fetchWithdrawals and fetchDepositsWithdrawals show both sides with the same amounts and fees", async () => {
    const ex = client(alice);
    const withdrawals = await ex.fetchWithdrawals("BTC");
    expect(withdrawals.map((w) => [w.id, w.amount, w.status, w.fee?.cost])).toEqual([
      [withdrawalId, 0.0995, "ok", 0.0005],
    ]);
    const history = await ex.fetchDepositsWithdrawals();
    const withdrawal = history.find((row) => row.type === "withdrawal");
    expect(withdrawal).toMatchObject({
      id: withdrawalId,
      amount: 0.0995,
      status: "ok",
      address: aliceDestination,
      fee: { cost: 0.0005, currency: "BTC" },
    });
    const deposit = history.find((row) => row.type === "deposit" && row.currency === "BTC");
    expect(deposit).toMatchObject({ amount: 1, status: "ok", txid: btcDepositTx });
  });
});

describe.skipIf(!FULL)(
  "bad input to the wallet endpoints: an EXMO error, nothing held, no withdrawal",
  () => {
    const withdraw = (key: Key, fields: Record<string, string>) => () => post(key, "withdraw_crypt", fields);
    const valid = () => ({ amount: "0.01", currency: "BTC", address: aliceDestination });

    it("currency, amount and address problems", async () => {
      expect(Number(termsOf("BTC").maxWithdraw)).toBe(1);
      await expectRefused(alice, withdraw(alice, { ...valid(), currency: "DOGE" }), 59005);
      await expectRefused(alice, withdraw(alice, { ...valid(), currency: "USD", amount: "10" }), 59005);
      // Not an address of the BTC chain (an ETH address), one of the exchange's own.
      const ethOutside = outsideAddress("eth", "ccxt-custody eth outside");
      await expectRefused(alice, withdraw(alice, { ...valid(), address: ethOutside }), 59023);
      await expectRefused(alice, withdraw(alice, { ...valid(), address: btcAddress }), 59023);
      await expectRefused(alice, withdraw(alice, { ...valid(), address: "bcrt1notanaddress" }), 59023);
      // Too many decimals, below the minimum, above the largest withdrawal.
      const precise = await expectRefused(
        alice,
        withdraw(alice, { ...valid(), amount: "0.123456789" }),
        50381,
      );
      expect(precise.body).toEqual({
        result: false,
        error: "Error 50381: More decimal places than permitted for this currency: BTC has 8 decimals",
      });
      const low = await expectRefused(alice, withdraw(alice, { ...valid(), amount: "0.0005" }), 59024);
      expect((low.body as { error: string }).error).toMatch(/minimum withdrawal is 0\.001 BTC/);
      const high = await expectRefused(alice, withdraw(alice, { ...valid(), amount: "1.00000001" }), 59025);
      expect((high.body as { error: string }).error).toMatch(/maximum withdrawal is 1 BTC/);
      await expectRefused(alice, withdraw(alice, { ...valid(), amount: "6" }), 59025);
      await expectRefused(alice, withdraw(alice, { ...valid(), amount: "99999999999" }), 59025);
      // More than the balance (0.9 BTC available).
      await expectRefused(alice, withdraw(alice, { ...valid(), amount: "0.95" }), 50052);
      // Malformed amounts.
      for (const amount of ["abc", "1e-3", "-0.01", "0", "0.01 ", "+0.01", "0x10", ".5"])
        await expectRefused(alice, withdraw(alice, { ...valid(), amount }), 59001);
      // Address syntax, network and memo.
      await expectRefused(alice, withdraw(alice, { ...valid(), address: `${aliceDestination},123` }), 59001);
      await expectRefused(alice, withdraw(alice, { ...valid(), address: "a b" }), 59001);
      await expectRefused(alice, withdraw(alice, { ...valid(), transport: "ERC20" }), 59031);
      await expectRefused(alice, withdraw(alice, { ...valid(), invoice: "123" }), 59032);
      // Missing parameters.
      await expectRefused(alice, withdraw(alice, { amount: "0.01", currency: "BTC" }), 50013);
      await expectRefused(alice, withdraw(alice, { address: aliceDestination, currency: "BTC" }), 50013);
    });

    it("the address book: an address not in it, and one still inside its activation delay", async () => {
      const stranger = outsideAddress("btc", "ccxt-custody not in book");
      await expectRefused(alice, withdraw(alice, { ...valid(), address: stranger }), 59026);
      const fresh = outsideAddress("btc", "ccxt-custody fresh entry");
      await bookAddress(alice.userId, "BTC", fresh, false);
      const answer = await expectRefused(alice, withdraw(alice, { ...valid(), address: fresh }), 59027);
      expect((answer.body as { error: string }).error).toMatch(/usable at \d{4}-\d\d-\d\dT/);
      // The same address in another currency's book does not count.
      const ethDestination = outsideAddress("eth", "ccxt-custody alice eth");
      await bookAddress(alice.userId, "ETH", ethDestination, true);
      await expectRefused(
        alice,
        withdraw(alice, { amount: "0.1", currency: "USDT", address: ethDestination }),
        59024,
      );
      await expectRefused(
        alice,
        withdraw(alice, { amount: "10", currency: "USDT", address: ethDestination }),
        59026,
      );
    });

    it("the key: no withdraw scope, a wrong IP, no allow-list at all; withdrawals locked after a security change", async () => {
      const tradeKey = await makeKey(alice.userId, ["info", "trade"], ["127.0.0.1"]);
      await expectRefused(tradeKey, withdraw(tradeKey, valid()), 40032);
      const elsewhere = await makeKey(alice.userId, ["info", "withdraw"], ["10.1.2.3"]);
      await expectRefused(elsewhere, withdraw(elsewhere, valid()), 40032);
      // Authentication lets a key without an allow-list through; custody does not.
      const open = await makeKey(alice.userId, ["info", "withdraw"], []);
      const refused = await expectRefused(open, withdraw(open, valid()), 40032);
      expect((refused.body as { error: string }).error).toMatch(/allow-list/);
      // A password change locks withdrawals for 24 hours.
      const carol = await makeKey(await newUser("carol"), ["info", "withdraw"], ["127.0.0.1"]);
      await bookAddress(carol.userId, "BTC", aliceDestination, true);
      expect(
        await server.exchange.accounts.changePasswordHash(carol.userId, "y".repeat(64), Date.now()),
      ).toBe(true);
      await expectRefused(carol, withdraw(carol, valid()), 59030);
    });

    it("oversized and repeated parameters", async () => {
      await expectRefused(alice, withdraw(alice, { ...valid(), address: "1".repeat(129) }), 59001);
      await expectRefused(alice, withdraw(alice, { ...valid(), amount: "1".repeat(41) }), 59001);
      await expectRefused(alice, withdraw(alice, { ...valid(), invoice: "i".repeat(600) }), 59001);
      const many: Record<string, string> = valid();
      for (let i = 0; i < 40; i++) many[`x${i}`] = "1";
      await expectRefused(alice, withdraw(alice, many), 59018);
      const repeated = `nonce=${nextNonce()}&amount=0.01&amount=0.02&currency=BTC&address=${aliceDestination}`;
      await expectRefused(alice, () => postBody(alice, "withdraw_crypt", repeated), 59001);
      const huge = `nonce=${nextNonce()}&amount=0.01&currency=BTC&address=${aliceDestination}&pad=${"p".repeat(70_000)}`;
      const answer = await expectRefused(alice, () => postBody(alice, "withdraw_crypt", huge), 59018);
      expect(answer.status).toBe(413);
    });

    it("ccxt raises the table's classes for them", async () => {
      const ex = client(alice);
      const before = await footprint(alice.userId);
      await expect(ex.withdraw("BTC", 0.95, aliceDestination)).rejects.toThrow(ccxt.InsufficientFunds);
      await expect(ex.withdraw("BTC", 0.123456789, aliceDestination)).rejects.toThrow(ccxt.InvalidOrder);
      await expect(ex.withdraw("BTC", 0.01, outsideAddress("eth", "x"))).rejects.toThrow(/Error 59023/);
      await expect(ex.withdraw("BTC", 0.01, aliceDestination, "memo")).rejects.toThrow(/Error 59032/);
      await expect(ex.withdraw("BTC", 0.01, aliceDestination, undefined, { network: "ETH" })).rejects.toThrow(
        /Error 59031/,
      );
      const tradeKey = await makeKey(alice.userId, ["info", "trade"], ["127.0.0.1"]);
      await expect(client(tradeKey).withdraw("BTC", 0.01, aliceDestination)).rejects.toThrow(
        ccxt.PermissionDenied,
      );
      expect(await footprint(alice.userId)).toBe(before);
    });

    it("a tripped breaker: withdraw_crypt of the chain's currencies answers 59015 naming the breaker, other chains go on", async () => {
      const service = server.custody;
      if (service === null) throw new Error("no custody");
      await service.tripBreaker({
        chain: "devnet-btc",
        actor: "operator:test",
        reason: "ccxt-custody breaker check",
      });
      try {
        const refused = await expectRefused(alice, withdraw(alice, valid()), 59015);
        expect((refused.body as { error: string }).error).toMatch(
          /^Error 59015: Withdrawals of this currency are temporarily disabled.*devnet-btc breaker is tripped/,
        );
        await expect(client(alice).withdraw("BTC", 0.01, aliceDestination)).rejects.toThrow(/Error 59015/);
        // ETH is another chain: its withdrawals are not refused for the BTC breaker (refused here only for the book).
        const eth = await post(alice, "withdraw_crypt", {
          amount: "0.01",
          currency: "ETH",
          address: outsideAddress("eth", "ccxt-custody eth not in book"),
        });
        expect(eth.code).not.toBe(59015);
      } finally {
        await service.resumeBreaker({
          chain: "devnet-btc",
          approvers: ["operator:test"],
          reason: "check done",
        });
      }
      expect((await service.breakers()).find((breaker) => breaker.chain === "devnet-btc")?.state).toBe(
        "closed",
      );
    });
  },
);
