// `bulwark devnet …` in process, offline and through a running server's operator socket (the same
// table both ways, as cli.test.ts does for the other commands): mining, the faucet (seen by
// scanning the chain through its adapter), reorgs, status, every bad input refused as `invalid`
// with nothing changed. The server's side (devnet off, the block timer, a restart) is in
// test/server/server-devnet.test.ts.

import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChainAdapter } from "../../src/chains/adapter.ts";
import {
  AccountDevnet,
  addressOfKey,
  privateKeyFromSeed,
  UtxoDevnet,
} from "../../src/chains/devnet/index.ts";
import { type ExchangeServer, startExchangeServer } from "../../src/server/server.ts";
import { bulwarkIn, bulwarkText, newDataDir, type Run } from "./harness.ts";

function expectInvalid(run: Run, message: RegExp): void {
  expect(run.json.ok).toBe(false);
  expect(run.json.error?.kind).toBe("invalid");
  expect(run.status).toBe(1);
  expect(run.json.error?.message).toMatch(message);
}

interface ChainStatus {
  chain: string;
  name: string;
  height: number;
  tipHash: string;
  mempoolSize: number;
  blockIntervalMs: number;
}

const BTC_ADDRESS = addressOfKey(new UtxoDevnet(), privateKeyFromSeed("cli-devnet-btc"));
const ETH_ADDRESS = addressOfKey(new AccountDevnet(), privateKeyFromSeed("cli-devnet-eth"));
const transcripts = new Map<string, string[]>();

describe.each([
  ["offline", false],
  ["through a running server's operator socket", true],
])("bulwark devnet, %s", (mode, withServer) => {
  let dataDir: string;
  let server: ExchangeServer | null = null;
  const transcript: string[] = [];
  transcripts.set(mode, transcript);

  const bulwark = (...args: string[]) => bulwarkIn(dataDir, args);
  /** Records a successful answer (the same both ways: devnet hashes are deterministic). */
  const record = async (...args: string[]) => {
    const run = await bulwark(...args);
    expect(run.json).toMatchObject({ ok: true });
    expect(run.status).toBe(0);
    transcript.push(JSON.stringify(run.json));
    return run;
  };
  const status = async (): Promise<Record<string, ChainStatus>> => {
    const run = await record("devnet", "status");
    const chains = (run.json as unknown as { chains: ChainStatus[] }).chains;
    return Object.fromEntries(chains.map((chain) => [chain.chain, chain]));
  };
  /** The chain as custody sees it: the server's own, or the state on disk when offline. */
  const adapter = (chain: "btc" | "eth"): ChainAdapter => {
    if (server?.devnet) return server.devnet[chain];
    const dir = join(dataDir, "devnet", chain);
    return chain === "btc" ? new UtxoDevnet({ dir }) : new AccountDevnet({ dir });
  };

  beforeAll(async () => {
    dataDir = newDataDir("bulwark-devnet-");
    if (withServer)
      server = await startExchangeServer({
        dataDir,
        port: 0,
        host: "127.0.0.1",
        demo: false,
        devnetBlockMs: 0,
        env: { BULWARK_OPERATOR_TOKEN: "operator-token-for-devnet-tests-012345" },
      });
  });

  afterAll(async () => {
    await server?.close();
  });

  it("reports every chain's height, tip, mempool and block interval", async () => {
    const chains = await status();
    expect(Object.keys(chains)).toEqual(["btc", "eth"]);
    expect(chains.btc).toMatchObject({ name: "devnet-btc", height: 0, mempoolSize: 0, blockIntervalMs: 0 });
    expect(chains.eth).toMatchObject({ name: "devnet-eth", height: 0, mempoolSize: 0 });
    expect(chains.btc.tipHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it("mines blocks on demand", async () => {
    const mined = await record("devnet", "mine", "--chain", "btc", "--blocks", "3");
    expect(mined.json).toMatchObject({ chain: "btc", blocks: 3, height: 3 });
    expect((await record("devnet", "mine", "--chain", "eth")).json).toMatchObject({ blocks: 1, height: 1 });
    const chains = await status();
    expect(chains.btc.height).toBe(3);
    expect(chains.btc.tipHash).toBe(mined.json.tipHash);
    expect(chains.eth.height).toBe(1);
  });

  it("pays an address from the faucet in exact base units, seen by a scan after the next block", async () => {
    const paid = await record(
      "devnet",
      "faucet",
      "--chain",
      "btc",
      "--address",
      BTC_ADDRESS,
      "--asset",
      "btc",
      "--amount",
      "1.23456789",
    );
    expect(paid.json).toMatchObject({ asset: "BTC", amount: "1.23456789", amountUnits: "123456789" });
    const token = await record(
      "devnet",
      "faucet",
      "--chain",
      "eth",
      "--address",
      ETH_ADDRESS,
      "--asset",
      "USDT",
      "--amount",
      "12.5",
    );
    expect(token.json).toMatchObject({ amountUnits: "12500000", amount: "12.5" });
    const wei = await record(
      "devnet",
      "faucet",
      "--chain",
      "eth",
      "--address",
      ETH_ADDRESS,
      "--asset",
      "ETH",
      "--amount",
      "0.000000000000000001",
    );
    expect(wei.json).toMatchObject({ amountUnits: "1" });
    expect((await status()).eth.mempoolSize).toBe(2);
    await record("devnet", "mine", "--chain", "btc");
    await record("devnet", "mine", "--chain", "eth");
    expect((await status()).eth.mempoolSize).toBe(0);

    const btc = adapter("btc");
    const scan = await btc.scan(4, 4, new Set([BTC_ADDRESS]));
    expect(scan.transfers).toMatchObject([
      { txid: paid.json.txid, address: BTC_ADDRESS, asset: "BTC", amount: 123_456_789n, blockHeight: 4 },
    ]);
    const eth = await adapter("eth").scan(2, 2, new Set([ETH_ADDRESS]));
    expect(eth.transfers.map((t) => [t.asset, t.amount])).toEqual([
      ["USDT", 12_500_000n],
      ["ETH", 1n],
    ]);
  });

  it("replaces the tip with a reorg, keeping its transactions", async () => {
    const before = await status();
    const reorg = await record("devnet", "reorg", "--chain", "btc", "--depth", "2");
    expect(reorg.json).toMatchObject({ chain: "btc", depth: 2, forkHeight: 2, height: 4 });
    const after = await status();
    expect(after.btc.height).toBe(before.btc.height);
    expect(after.btc.tipHash).not.toBe(before.btc.tipHash);
    expect(after.eth).toEqual(before.eth);
    const scan = await adapter("btc").scan(3, 4, new Set([BTC_ADDRESS]));
    expect(scan.transfers).toHaveLength(1);
    expect(scan.blocks[1].hash).toBe(after.btc.tipHash);
  });

  it("refuses bad inputs as invalid, with the reason, changing nothing", async () => {
    const before = await status();
    expectInvalid(await bulwark("devnet", "mine", "--chain", "doge"), /unknown devnet chain doge.*btc, eth/);
    expectInvalid(
      await bulwark("devnet", "mine", "--chain", "btc", "--blocks=-1"),
      /blocks must be .*1\.\.1000/,
    );
    expectInvalid(await bulwark("devnet", "mine", "--chain", "btc", "--blocks", "0"), /1\.\.1000/);
    expectInvalid(await bulwark("devnet", "mine", "--chain", "btc", "--blocks", "1001"), /1\.\.1000/);
    expectInvalid(await bulwark("devnet", "mine", "--chain", "btc", "--blocks", "2.5"), /whole number/);
    const faucet = (chain: string, address: string, asset: string, amount: string) =>
      bulwark(
        "devnet",
        "faucet",
        "--chain",
        chain,
        "--address",
        address,
        "--asset",
        asset,
        "--amount",
        amount,
      );
    expectInvalid(await faucet("btc", BTC_ADDRESS, "BTC", "0.000000001"), /at most 8 decimals/);
    expectInvalid(await faucet("eth", ETH_ADDRESS, "USDT", "1.0000001"), /at most 6 decimals/);
    expectInvalid(await faucet("btc", BTC_ADDRESS, "BTC", "0"), /positive decimal/);
    expectInvalid(await faucet("btc", BTC_ADDRESS, "BTC", "1e3"), /positive decimal/);
    expectInvalid(await faucet("btc", BTC_ADDRESS, "BTC", "1000000001"), /at most 1000000000 BTC/);
    expectInvalid(await faucet("btc", BTC_ADDRESS, "USDT", "1"), /no asset USDT/);
    expectInvalid(await faucet("btc", ETH_ADDRESS, "BTC", "1"), /not a devnet-btc address/);
    expectInvalid(await faucet("eth", "0x1234", "ETH", "1"), /not a devnet-eth address/);
    expectInvalid(await faucet("sol", BTC_ADDRESS, "BTC", "1"), /unknown devnet chain/);
    expectInvalid(
      await bulwark("devnet", "reorg", "--chain", "btc", "--depth", "101"),
      /depth must be .*1\.\.4/,
    );
    expectInvalid(
      await bulwark("devnet", "reorg", "--chain", "btc", "--depth", "5"),
      /depth must be .*1\.\.4/,
    );
    expectInvalid(await bulwark("devnet", "reorg", "--chain", "btc", "--depth", "0"), /depth must be/);
    expectInvalid(await bulwark("devnet", "reorg", "--chain", "btc", "--depth", "x"), /whole number/);
    const usage = await bulwark("devnet", "reorg", "--chain", "btc");
    expect(usage.json.error?.kind).toBe("usage");
    expect(usage.status).toBe(2);
    expect(await status()).toEqual(before);
  });

  it.runIf(withServer)("checks the operator API's bodies with the same kinds", async () => {
    const { OperatorClient } = await import("../../src/cli/remote.ts");
    const client = new OperatorClient(join(dataDir, "operator.sock"));
    const refused = async (path: string, body: unknown) =>
      client.post(path, body).then(
        () => expect.unreachable(`${path} accepted ${JSON.stringify(body)}`),
        (error: { kind: string; message: string }) => error,
      );
    expect(await refused("/devnet/mine", { chain: "btc", blocks: "3" })).toMatchObject({
      kind: "invalid",
      message: expect.stringMatching(/^blocks: /),
    });
    expect(await refused("/devnet/mine", { chain: "btc", blocks: 1e300 })).toMatchObject({
      kind: "invalid",
      message: expect.stringMatching(/^blocks: /),
    });
    expect(await refused("/devnet/mine", { chain: "btc", blocks: 5000 })).toMatchObject({
      kind: "invalid",
      message: expect.stringMatching(/1\.\.1000/),
    });
    expect(await refused("/devnet/reorg", { chain: "btc", depth: 1, omit: [] })).toMatchObject({
      kind: "invalid",
    });
    expect(
      await refused("/devnet/faucet", { chain: "btc", address: BTC_ADDRESS, asset: "BTC", amount: 1 }),
    ).toMatchObject({
      kind: "invalid",
      message: expect.stringMatching(/^amount: /),
    });
  });

  it("prints text without --json, and audits every change", async () => {
    const text = await bulwarkText(dataDir, ["devnet", "status"]);
    expect(text.status).toBe(0);
    expect(text.out.split("\n")[0]).toMatch(/^chain\s+height\s+tipHash\s+mempoolSize\s+blockIntervalMs$/);
    const mined = await bulwarkText(dataDir, ["devnet", "mine", "--chain", "eth", "--blocks", "2"]);
    expect(mined.out).toMatch(/^mined 2 block\(s\) on eth: height 4, tip [0-9a-f]{64}$/);
    const audit = await bulwark("audit", "verify");
    // mine ×4, faucet ×3, reorg ×1, and the mine just above.
    expect(audit.json).toMatchObject({ ok: true, checkedRows: 9 });
  });
});

describe("both ways", () => {
  it("give the same answers, offline and through a running server", () => {
    const [offline, remote] = [...transcripts.values()];
    expect(offline.length).toBeGreaterThan(10);
    expect(remote).toEqual(offline);
  });
});
