// Custody's sweeps as operators read them: GET /operator/v1/custody/sweeps and
// `bulwark custody sweeps`, against a real server (devnet-btc wallet initialised, its signer child
// running, a cold address set). A 5 BTC deposit is credited, swept from its deposit address into
// hot, and hot above its 1 BTC cap is swept into cold: both appear, newest first, with their
// amounts, txids and steps. Bad query values are refused with the reason and change nothing;
// offline, custody is not running and the command says so. Every console role may read them.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addressOfKey, UtxoDevnet } from "../../src/chains/devnet/index.ts";
import { privateKeyFromSeed } from "../../src/chains/devnet/keys.ts";
import type { SweepView } from "../../src/custody/port.ts";
import { OPERATOR_ROLES, roleMay } from "../../src/operator/console/roles.ts";
import { writeColdAddressFile } from "../../src/server/cold-address.ts";
import { type ExchangeServer, startExchangeServer } from "../../src/server/server.ts";
import { initWallet } from "../../src/server/signers.ts";
import { parseDecimalBig } from "../../src/units/decimal.ts";
import { bulwarkIn, bulwarkText, newDataDir, type Run } from "../cli/harness.ts";
import { SMALL_SCRYPT } from "../signer/helpers.ts";

const PASSPHRASE = "custody-sweeps passphrase 0123";
const TOKEN = "operator-token-for-custody-sweeps-tests-01";
const DEPOSIT_SATS = 500_000_000n;
/** Blocks mined (one per custody tick or two) before the test gives up waiting for both sweeps. */
const MAX_BLOCKS_WAITED = 60;

let dataDir: string;
let server: ExchangeServer | undefined;
let depositAddress: string;
let coldAddress: string;
const bulwark = (...args: string[]) => bulwarkIn(dataDir, args);

/** Whole BTC (exact decimal text) → satoshis. */
function sats(text: string): bigint {
  const parsed = parseDecimalBig(text, 8);
  if (!parsed.ok) throw new Error(`not an amount: ${text}`);
  return parsed.value;
}

function expectFailure(run: Run, kind: string, message: RegExp): void {
  expect(run.json.ok, JSON.stringify(run.json)).toBe(false);
  expect(run.json.error?.kind).toBe(kind);
  expect(run.json.error?.message).toMatch(message);
}

interface Answer {
  status: number;
  json: { sweeps?: SweepView[]; error?: { kind: string; message: string } };
}

async function get(path: string): Promise<Answer> {
  const url = server?.operatorUrl;
  if (url === null || url === undefined) throw new Error("the operator API is not on TCP");
  const response = await fetch(`${url}${path}`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  return { status: response.status, json: (await response.json()) as Answer["json"] };
}

async function sweeps(query = ""): Promise<SweepView[]> {
  const answer = await get(`/custody/sweeps${query}`);
  expect(answer.status, JSON.stringify(answer.json)).toBe(200);
  return answer.json.sweeps ?? [];
}

beforeAll(async () => {
  dataDir = newDataDir("bulwark-custody-sweeps-");
  initWallet(dataDir, "devnet-btc", PASSPHRASE, SMALL_SCRYPT);
});

afterAll(async () => {
  await server?.close();
});

describe("custody sweeps, offline", () => {
  it("says custody is not running; a bad --limit is refused first", async () => {
    expectFailure(await bulwark("custody", "sweeps"), "notFound", /custody is not running/);
    expectFailure(
      await bulwark("custody", "sweeps", "--limit", "ten"),
      "invalid",
      /--limit must be a whole number/,
    );
  });
});

describe("custody sweeps, on a running server", () => {
  beforeAll(async () => {
    // Custody reads the cold address at start.
    coldAddress = addressOfKey(new UtxoDevnet(), privateKeyFromSeed("custody-sweeps cold"));
    writeColdAddressFile(dataDir, "devnet-btc", coldAddress);
    server = await startExchangeServer({
      dataDir,
      port: 0,
      host: "127.0.0.1",
      demo: false,
      devnetBlockMs: 0,
      custodyTickMs: 100,
      operatorListen: "127.0.0.1:0",
      env: { BULWARK_OPERATOR_TOKEN: TOKEN, BULWARK_SIGNER_PASSPHRASE: PASSPHRASE },
    });
  });

  it("lists the deposit sweep into hot and the sweep of hot above its cap into cold, newest first", async () => {
    const running = server;
    const chain = running?.devnet?.chains.find((handle) => handle.id === "btc");
    const custody = running?.custody ?? null;
    if (running === undefined || chain === undefined || custody === null) throw new Error("not running");
    const created = await running.exchange.accounts.createUser({
      email: "sweeps@example.com",
      passwordHash: "x".repeat(64),
      createdMs: Date.now(),
    });
    if (!created.ok) throw new Error("user not created");
    depositAddress = (await custody.depositAddress(created.user.userId, "BTC")).address;
    expect(await sweeps()).toEqual([]);
    chain.faucet(depositAddress, "BTC", DEPOSIT_SATS);
    const done = (list: SweepView[], kind: SweepView["kind"]) =>
      list.some((sweep) => sweep.kind === kind && sweep.step === "recorded");
    let listed: SweepView[] = [];
    for (let block = 0; block < MAX_BLOCKS_WAITED; block++) {
      chain.mine(1);
      await custody.tick();
      await custody.tick();
      listed = await sweeps();
      if (done(listed, "depositSweep") && done(listed, "sweepToCold")) break;
    }
    expect(listed.map((sweep) => sweep.kind)).toEqual(["sweepToCold", "depositSweep"]);
    const [toCold, fromDeposit] = listed;
    expect(fromDeposit).toMatchObject({
      chain: "devnet-btc",
      kind: "depositSweep",
      currency: "BTC",
      feeAsset: "BTC",
      from: "walletDepositAddresses",
      to: "walletHot",
      sourceAddress: depositAddress,
      step: "recorded",
      reason: null,
    });
    // The deposit less the network fee, exact to the satoshi: fee + amount = the deposit.
    expect(sats(fromDeposit.amount) + sats(fromDeposit.fee)).toBe(DEPOSIT_SATS);
    expect(fromDeposit.txId).toMatch(/^[0-9a-f]{64}$/);
    expect(fromDeposit.sweepId).toMatch(/^[0-9a-f]{32}$/);
    expect(toCold).toMatchObject({
      kind: "sweepToCold",
      from: "walletHot",
      to: "walletCold",
      toAddress: coldAddress,
      sourceAddress: null,
      step: "recorded",
    });
    expect(toCold.txId).toMatch(/^[0-9a-f]{64}$/);
    expect(toCold.txId).not.toBe(fromDeposit.txId);
    // Hot keeps at most its cap (1 BTC on a young exchange): the rest went to cold.
    expect(sats(toCold.amount)).toBeGreaterThan(3n * 10n ** 8n);
    expect(toCold.createdMs).toBeGreaterThanOrEqual(fromDeposit.createdMs);

    // One chain as the devnet commands name it or as custody does; another chain has none.
    expect(await sweeps("?chain=btc")).toEqual(listed);
    expect(await sweeps("?chain=devnet-btc&limit=200")).toEqual(listed);
    expect(await sweeps("?chain=devnet-eth")).toEqual([]);
    expect(await sweeps("?limit=1")).toEqual([toCold]);

    // The CLI through the operator socket: the same list, and a table naming both.
    const cli = await bulwark("custody", "sweeps", "--chain", "btc");
    expect(cli.json, JSON.stringify(cli.json)).toMatchObject({ ok: true });
    expect(cli.json.sweeps).toEqual(listed);
    const text = await bulwarkText(dataDir, ["custody", "sweeps"]);
    expect(text.status).toBe(0);
    expect(text.out).toMatch(/sweepToCold .*walletCold .*recorded/);
    expect(text.out).toMatch(/depositSweep .*walletHot .*recorded/);
    expect(text.out).toContain(depositAddress);
  });

  it("refuses bad query values with the reason, in the operator API's error format", async () => {
    const refusals: [string, number, RegExp][] = [
      ["?limit=0", 400, /limit must be a whole number 1\.\.200, got 0/],
      ["?limit=201", 400, /limit must be a whole number 1\.\.200, got 201/],
      ["?limit=ten", 400, /must be a whole number/],
      ["?limit=-1", 400, /must be a whole number/],
      ["?limit=1.5", 400, /must be a whole number/],
      ["?chain=devnet-doge", 404, /custody has no chain devnet-doge; its chains are devnet-btc, devnet-eth/],
      [`?chain=${"x".repeat(101)}`, 400, /chain/],
      ["?step=recorded", 400, /step/],
    ];
    for (const [query, status, message] of refusals) {
      const answer = await get(`/custody/sweeps${query}`);
      expect(answer.status, `${query}: ${JSON.stringify(answer.json)}`).toBe(status);
      expect(answer.json.error?.message, query).toMatch(message);
    }
    expectFailure(
      await bulwark("custody", "sweeps", "--limit", "500"),
      "invalid",
      /limit must be a whole number 1\.\.200, got 500/,
    );
    expectFailure(await bulwark("custody", "sweeps", "--chain", "nochain"), "notFound", /no chain nochain/);
    // Custody's own face checks the same, for any other caller.
    const custody = server?.custody;
    if (custody === null || custody === undefined) throw new Error("custody is not running");
    for (const limit of [0, 201, 1.5, Number.NaN])
      await expect(custody.sweeps({ limit })).rejects.toMatchObject({
        code: "invalidRequest",
        detail: "limit must be a whole number 1..200",
      });
    await expect(custody.sweeps({ chain: "btc", limit: 5 })).rejects.toMatchObject({ code: "notFound" });
  });

  it("is a read every console role may make", () => {
    for (const role of OPERATOR_ROLES) expect(roleMay(role, "GET", "/custody/sweeps"), role).toBe(true);
  });
});
