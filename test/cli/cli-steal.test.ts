// `bulwark devnet steal`, the theft drill, offline and through a running server's operator socket:
// a hot wallet keystore initialised in the data dir (small scrypt parameters), its hot address
// funded from the devnet faucet, and the CLI, as a thief holding the keystore and its passphrase,
// spending from it behind custody's back. After the next block the hot balance has dropped by the
// amount and the fee and the thief's address holds the coins. The passphrase comes from
// BULWARK_SIGNER_PASSPHRASE or a demo data dir's passphrase file; every refusal is clear and
// changes nothing; the broadcast is audited as a theft drill.

import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HDKey } from "@scure/bip32";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  AccountDevnet,
  addressOfKey,
  privateKeyFromSeed,
  UtxoDevnet,
} from "../../src/chains/devnet/index.ts";
import {
  DEVNET_KEY_VERSIONS,
  devnetAccountPath,
  devnetAccountXpub,
  devnetAddressFromXpub,
} from "../../src/chains/devnet/signing.ts";
import { type ExchangeServer, startExchangeServer } from "../../src/server/server.ts";
import { initKeystore } from "../../src/signer/keystore.ts";
import { openStore } from "../../src/store/open-store.ts";
import { parseDecimalBig } from "../../src/units/decimal.ts";
import { SMALL_SCRYPT } from "../signer/helpers.ts";
import { bulwarkIn, newDataDir, type Run } from "./harness.ts";

const PASSPHRASE = "thief-drill passphrase 0123";
const ENV = "BULWARK_SIGNER_PASSPHRASE";
const BTC = 100_000_000n;
const ETH = 10n ** 18n;
const VICTIM_ETH = addressOfKey(new AccountDevnet(), privateKeyFromSeed("cli-steal-eth-destination"));

function units(decimal: string, scale: number): bigint {
  const parsed = parseDecimalBig(decimal, scale);
  if (!parsed.ok) throw new Error(`not a decimal: ${decimal}`);
  return parsed.value;
}

function expectFailure(run: Run, kind: string, message: RegExp): void {
  expect(run.json.ok).toBe(false);
  expect(run.json.error?.kind).toBe(kind);
  expect(run.status).toBe(1);
  expect(run.json.error?.message).toMatch(message);
}

interface Theft {
  chain: string;
  name: string;
  asset: string;
  amount: string;
  amountUnits: string;
  from: string[];
  to: string;
  freshDestination: boolean;
  fee: string;
  feeAsset: string;
  txid: string;
}

describe.each([
  ["offline", false],
  ["through a running server's operator socket", true],
])("bulwark devnet steal, %s", (_mode, withServer) => {
  let dataDir: string;
  let server: ExchangeServer | null = null;
  const seeds = { btc: randomBytes(32), eth: randomBytes(32) };
  let hotBtc: string;
  let hotBtcChange: string;
  let hotEth: string;

  const bulwark = (...args: string[]) => bulwarkIn(dataDir, args);
  const ok = async (...args: string[]) => {
    const run = await bulwark(...args);
    expect(run.json, JSON.stringify(run.json)).toMatchObject({ ok: true });
    return run;
  };
  /** The chains as they are now: the server's own, or read from the state files offline. */
  const btcChain = () => server?.devnet?.btc ?? new UtxoDevnet({ dir: join(dataDir, "devnet", "btc") });
  const ethChain = () => server?.devnet?.eth ?? new AccountDevnet({ dir: join(dataDir, "devnet", "eth") });
  const steal = async (...args: string[]): Promise<Theft> =>
    (await ok("devnet", "steal", ...args)).json as unknown as Theft;

  beforeAll(async () => {
    dataDir = newDataDir("bulwark-steal-");
    // What `wallet init` leaves: one keystore per chain under <data-dir>/signers/<chain>/keystore/.
    initKeystore(join(dataDir, "signers", "devnet-btc", "keystore"), PASSPHRASE, seeds.btc, SMALL_SCRYPT);
    initKeystore(join(dataDir, "signers", "devnet-eth", "keystore"), PASSPHRASE, seeds.eth, SMALL_SCRYPT);
    const btcHot = devnetAccountXpub(seeds.btc, "utxo", 0);
    hotBtc = devnetAddressFromXpub("utxo", btcHot, 0, 0);
    hotBtcChange = devnetAddressFromXpub("utxo", btcHot, 1, 3);
    hotEth = devnetAddressFromXpub("account", devnetAccountXpub(seeds.eth, "account", 0), 0, 0);
    if (withServer)
      server = await startExchangeServer({
        dataDir,
        port: 0,
        host: "127.0.0.1",
        demo: false,
        devnetBlockMs: 0,
        env: { BULWARK_OPERATOR_TOKEN: "operator-token-for-steal-tests-012345" },
      });
    await ok("devnet", "faucet", "--chain", "btc", "--address", hotBtc, "--asset", "BTC", "--amount", "2");
    await ok(
      "devnet",
      "faucet",
      "--chain",
      "btc",
      "--address",
      hotBtcChange,
      "--asset",
      "BTC",
      "--amount",
      "0.3",
    );
    await ok("devnet", "faucet", "--chain", "eth", "--address", hotEth, "--asset", "ETH", "--amount", "10");
    await ok(
      "devnet",
      "faucet",
      "--chain",
      "eth",
      "--address",
      hotEth,
      "--asset",
      "USDT",
      "--amount",
      "5000",
    );
    await ok("devnet", "mine", "--chain", "btc");
    await ok("devnet", "mine", "--chain", "eth");
  });

  afterEach(() => {
    delete process.env[ENV];
  });

  afterAll(async () => {
    await server?.close();
  });

  it("refuses without a passphrase, with a wrong one, and without a keystore", async () => {
    expectFailure(
      await bulwark("devnet", "steal", "--chain", "btc", "--amount", "0.1"),
      "notFound",
      /no signer passphrase: set BULWARK_SIGNER_PASSPHRASE/,
    );
    process.env[ENV] = "not the passphrase at all";
    expectFailure(
      await bulwark("devnet", "steal", "--chain", "btc", "--amount", "0.1"),
      "rejected",
      /keystore of devnet-btc: wrong passphrase/,
    );
    process.env[ENV] = PASSPHRASE;
    const elsewhere = await bulwarkIn(newDataDir("bulwark-steal-empty-"), [
      "devnet",
      "steal",
      "--chain",
      "btc",
      "--amount",
      "0.1",
    ]);
    expectFailure(elsewhere, "notFound", /no hot wallet keystore for devnet-btc/);
    expect(btcChain().balance(hotBtc)).toBe(2n * BTC);
  });

  it("refuses bad flags clearly before touching the key", async () => {
    process.env[ENV] = PASSPHRASE;
    const run = (...args: string[]) => bulwark("devnet", "steal", ...args);
    expectFailure(await run("--chain", "doge", "--amount", "1"), "invalid", /unknown devnet chain "doge"/);
    expectFailure(await run("--chain", "btc", "--amount", "0.000000001"), "invalid", /at most 8 decimals/);
    expectFailure(await run("--chain", "btc", "--amount=-1"), "invalid", /positive decimal/);
    expectFailure(
      await run("--chain", "btc", "--amount", "1", "--asset", "ETH"),
      "invalid",
      /has no asset ETH/,
    );
    expectFailure(
      await run("--chain", "btc", "--amount", "1", "--to", VICTIM_ETH),
      "invalid",
      /is a devnet-eth address, not a devnet-btc one/,
    );
    expectFailure(await run("--chain", "btc", "--amount", "1000"), "rejected", /insufficient funds/);
    expect((await run("--chain", "btc")).json.error?.kind).toBe("usage");
    expect(btcChain().balance(hotBtc)).toBe(2n * BTC);
  });

  it("steals BTC from the hot wallet to a fresh thief address (passphrase from the environment)", async () => {
    process.env[ENV] = PASSPHRASE;
    const chain = btcChain();
    const hotBefore = chain.balance(hotBtc) + chain.balance(hotBtcChange);
    expect(hotBefore).toBe(2n * BTC + 30_000_000n);

    const run = await ok("devnet", "steal", "--chain", "btc", "--amount", "2.1");
    const theft = run.json as unknown as Theft;
    expect(theft).toMatchObject({
      chain: "btc",
      name: "devnet-btc",
      asset: "BTC",
      amount: "2.1",
      amountUnits: "210000000",
      freshDestination: true,
      feeAsset: "BTC",
    });
    // 2.1 BTC needs both coins: the receive address and the change address each sign.
    expect(new Set(theft.from)).toEqual(new Set([hotBtc, hotBtcChange]));
    expect(theft.to).not.toBe(hotBtc);
    expect(btcChain().normalizeAddress(theft.to)).toBe(theft.to);
    expect(theft.txid).toMatch(/^[0-9a-f]{64}$/);
    // No key material in what the thief prints.
    const master = HDKey.fromMasterSeed(seeds.btc, DEVNET_KEY_VERSIONS);
    const hotKey = master.derive(`${devnetAccountPath("utxo", 0)}/0/0`).privateKey;
    const printed = JSON.stringify(run.json);
    expect(printed).not.toContain(Buffer.from(hotKey ?? []).toString("hex"));
    expect(printed).not.toContain(seeds.btc.toString("hex"));

    expect(btcChain().lookupSync(theft.txid)).toEqual({ status: "pending" });
    await ok("devnet", "mine", "--chain", "btc");
    const after = btcChain();
    expect(after.lookupSync(theft.txid)).toMatchObject({ status: "confirmed", confirmations: 1 });
    expect(after.balance(theft.to)).toBe(210_000_000n);
    const fee = units(theft.fee, 8);
    expect(fee).toBeGreaterThan(0n);
    // The change went back to the hot wallet's first address.
    expect(after.balance(hotBtc) + after.balance(hotBtcChange)).toBe(hotBefore - 210_000_000n - fee);
  });

  it("steals ETH to a given address and USDT, the passphrase from a demo data dir's file", async () => {
    mkdirSync(join(dataDir, "signers"), { recursive: true, mode: 0o700 });
    writeFileSync(join(dataDir, "signers", "demo-passphrase"), `${PASSPHRASE}\n`, { mode: 0o600 });
    const before = ethChain().balance(hotEth, "ETH");
    expect(before).toBe(10n * ETH);

    const eth = await steal(
      "--chain",
      "eth",
      "--amount",
      "1.5",
      "--to",
      VICTIM_ETH.toUpperCase().replace("0X", "0x"),
    );
    expect(eth).toMatchObject({ chain: "eth", asset: "ETH", amount: "1.5", to: VICTIM_ETH, from: [hotEth] });
    expect(eth.freshDestination).toBe(false);
    // The next nonce comes from the mempool: two thefts in one block.
    const usdt = await steal("--chain", "devnet-eth", "--asset", "usdt", "--amount", "1234.5");
    expect(usdt).toMatchObject({ asset: "USDT", amountUnits: "1234500000", freshDestination: true });
    await ok("devnet", "mine", "--chain", "eth");

    const chain = ethChain();
    expect(chain.balance(VICTIM_ETH, "ETH")).toBe(1_500_000_000_000_000_000n);
    expect(chain.balance(usdt.to, "USDT")).toBe(1_234_500_000n);
    expect(chain.balance(hotEth, "USDT")).toBe(5_000_000_000n - 1_234_500_000n);
    const fees = units(eth.fee, 18) + units(usdt.fee, 18);
    expect(fees).toBeGreaterThan(0n);
    expect(chain.balance(hotEth, "ETH")).toBe(before - 1_500_000_000_000_000_000n - fees);
  });

  it("audits each broadcast as a theft drill", async () => {
    const rows = await (async () => {
      const read = (store: Awaited<ReturnType<typeof openStore>>) =>
        store.db
          .selectFrom("audit_log")
          .select(["action", "actor", "subject", "details_json"])
          .where("action", "=", "devnet.broadcast")
          .orderBy("seq")
          .execute();
      if (server !== null) return read(server.exchange.internals.store);
      const store = await openStore({ dataDir });
      try {
        return await read(store);
      } finally {
        await store.close();
      }
    })();
    expect(rows.map((row) => row.subject)).toEqual(["devnet:btc", "devnet:eth", "devnet:eth"]);
    for (const row of rows) {
      expect(row.actor).toMatch(/^operator:cli@/);
      expect(JSON.parse(row.details_json).note).toMatch(/^theft drill: /);
    }
    expect(JSON.parse(rows[0].details_json)).toMatchObject({
      chain: "btc",
      note: expect.stringContaining("2.1 BTC"),
    });
  });
});
