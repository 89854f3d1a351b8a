// Loss cover and proof of reserves end to end on a real server (no devnet, no demo): the books
// given a hot wallet and an insurance fund by core commands, then `incident cover` (bad input
// refused with nothing changed, a second cover refused), `insurance status`, `reserves publish|
// list|proof`, the user's proof through the private API (reserves_proof), and `reserves verify`
// on the file: it passes, and a tampered or malformed file is rejected with the reason.

import { createHmac } from "node:crypto";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ExchangeServer, startExchangeServer } from "../../src/server/server.ts";
import { bulwarkIn, newDataDir, type Run } from "./harness.ts";

/** The cheapest scrypt SCRYPT_LIMITS allows for the passwords the server hashes (test/server/server-demo.test.ts checks the default). */
const FAST_PASSWORD_SCRYPT = { logN: 10, blockSize: 8, parallelization: 1 };

let dataDir: string;
let server: ExchangeServer;
let userId: number;
let incidentId: number;
let resolvedIncidentId: number;
let apiKey: { keyId: string; secret: string };
const BTC_UNITS = 100_000_000;

const bulwark = (...args: string[]) => bulwarkIn(dataDir, args);
async function ok(...args: string[]): Promise<Record<string, unknown>> {
  const run = await bulwark(...args);
  expect(run.json, JSON.stringify(run.json)).toMatchObject({ ok: true });
  return run.json;
}
function expectFailure(run: Run, kind: string, message: RegExp): void {
  expect(run.json.ok, JSON.stringify(run.json)).toBe(false);
  expect(run.json.error?.kind, JSON.stringify(run.json)).toBe(kind);
  expect(run.json.error?.message).toMatch(message);
}
function btcBooks() {
  const asset = server.exchange.assetByCode("BTC")!;
  return { books: server.exchange.walletBooks(asset.assetId), covers: server.exchange.incidentCovers() };
}
async function signedPost(path: string, params: Record<string, string>): Promise<Record<string, unknown>> {
  const body = new URLSearchParams({ ...params, nonce: String(Date.now()) }).toString();
  const sign = createHmac("sha512", apiKey.secret).update(body).digest("hex");
  const response = await fetch(`${server.url}/v1.1/${path}`, {
    method: "POST",
    headers: { Key: apiKey.keyId, Sign: sign, "content-type": "application/x-www-form-urlencoded" },
    body,
  });
  return (await response.json()) as Record<string, unknown>;
}

beforeAll(async () => {
  dataDir = newDataDir("bulwark-cli-reserves-");
  server = await startExchangeServer({
    dataDir,
    port: 0,
    demo: false,
    devnet: false,
    passwordScrypt: FAST_PASSWORD_SCRYPT,
  });
  const created = await bulwarkIn(
    dataDir,
    ["user create", "--email", "alice@example.com"].flatMap((a) => a.split(" ")),
    "correct horse battery\n",
  );
  userId = created.json.userId as number;
  const key = await ok("key", "create", "--email", "alice@example.com", "--scopes", "info");
  apiKey = { keyId: key.keyId as string, secret: key.secret as string };
  const btc = server.exchange.assetByCode("BTC")!.assetId;
  // 1 BTC deposited by alice, swept to hot; the operator's 0.5 BTC in cold for the insurance fund.
  for (const command of [
    {
      kind: "creditDeposit",
      userId,
      assetId: btc,
      amountUnits: BTC_UNITS,
      chain: "btc",
      txId: "d1",
      outputIndex: 0,
    },
    {
      kind: "recordWalletMovement",
      assetId: btc,
      from: "walletDepositAddresses",
      to: "walletHot",
      amountUnits: BTC_UNITS,
      txId: "s1",
    },
  ] as const)
    expect((await server.exchange.submit(command)).events[0].type).not.toBe("rejected");
  await ok("insurance", "fund", "--asset", "BTC", "--amount", "0.5", "--wallet", "cold", "--txid", "f00d");
  incidentId = (
    await server.incidents.open({
      kind: "unmatchedOutflow",
      chain: "devnet-btc",
      title: "Hot wallet drained",
      detail: {},
      detectedAtMs: Date.now(),
      actor: "system:test",
    })
  ).incidentId;
  resolvedIncidentId = (
    await server.incidents.open({
      kind: "operator",
      chain: null,
      title: "Old one",
      detail: {},
      detectedAtMs: Date.now(),
      actor: "operator:test",
    })
  ).incidentId;
  await server.incidents.resolve(resolvedIncidentId, { actor: "operator:test", reason: "done" });
}, 60_000);

let closed = false;
afterAll(async () => {
  if (!closed) await server?.close();
});

describe("incident cover and the insurance fund", () => {
  it("refuses bad input with a clear error and changes nothing", async () => {
    const before = btcBooks();
    const cover = (...extra: string[]) => bulwark("incident", "cover", ...extra);
    const id = String(incidentId);
    expectFailure(await cover("--id", id, "--asset", "DOGE", "--amount", "0.1"), "notFound", /no asset DOGE/);
    expectFailure(await cover("--id", id, "--asset", "BTC", "--amount", "0"), "invalid", /positive decimal/);
    expectFailure(await cover("--id", id, "--asset", "BTC", "--amount=-0.1"), "invalid", /positive decimal/);
    expectFailure(
      await cover("--id", id, "--asset", "BTC", "--amount", "abc"),
      "invalid",
      /positive decimal/,
    );
    expectFailure(
      await cover("--id", id, "--asset", "BTC", "--amount", "0.123456789"),
      "invalid",
      /8 decimals/,
    );
    expectFailure(
      await cover("--id", id, "--asset", "BTC", "--amount", "1.5", "--from", "equity"),
      "rejected",
      /more than the hot wallet holds on the books \(1\)/,
    );
    expectFailure(
      await cover("--id", id, "--asset", "BTC", "--amount", "0.6"),
      "rejected",
      /insurance fund holds 0.5 BTC/,
    );
    expectFailure(
      await cover("--id", id, "--asset", "BTC", "--amount", "0.1", "--from", "luck"),
      "invalid",
      /insurance or equity/,
    );
    expectFailure(
      await cover("--id", "999", "--asset", "BTC", "--amount", "0.1"),
      "notFound",
      /no incident 999/,
    );
    expectFailure(
      await cover("--id", String(resolvedIncidentId), "--asset", "BTC", "--amount", "0.1"),
      "conflict",
      /resolved/,
    );
    expectFailure(await cover("--id", "x", "--asset", "BTC", "--amount", "0.1"), "invalid", /whole number/);
    expectFailure(
      await bulwark("insurance", "fund", "--asset", "BTC", "--amount", "1", "--wallet", "warm"),
      "invalid",
      /cold or hot/,
    );
    expectFailure(
      await bulwark("insurance", "fund", "--asset", "BTC", "--amount", "1", "--txid", "a b"),
      "invalid",
      /txid/,
    );
    expect(btcBooks()).toEqual(before);
  });

  it("covers the loss once: hot wallet down, fund down, users untouched, on the timeline, reserves published", async () => {
    const aliceBefore = server.exchange.balance(userId, server.exchange.assetByCode("BTC")!.assetId);
    const result = await ok(
      "incident",
      "cover",
      "--id",
      String(incidentId),
      "--asset",
      "BTC",
      "--amount",
      "0.3",
    );
    expect(result).toMatchObject({
      incidentId,
      asset: "BTC",
      amount: "0.3",
      source: "insuranceFund",
      hotOnBooks: "0.7",
      insuranceFund: "0.2",
      customerLiabilities: "1",
      reserves: { asset: "BTC", liabilities: "1", users: 1 },
    });
    expect(server.exchange.balance(userId, server.exchange.assetByCode("BTC")!.assetId)).toEqual(aliceBefore);
    expectFailure(
      await bulwark("incident", "cover", "--id", String(incidentId), "--asset", "BTC", "--amount", "0.1"),
      "conflict",
      /covered already/,
    );
    const timeline = (await server.incidents.get(incidentId))!.timeline.map((entry) => entry.type);
    expect(timeline).toEqual(expect.arrayContaining(["cover", "reservesPublished"]));
    // Audited: the incident's rows of the audit log hold the cover (incident export reads them).
    const exported = await server.incidents.exportTimeline(incidentId);
    expect(exported.timeline.map((row) => row.action)).toContain("incident.cover");
    const status = await ok("insurance", "status");
    expect(status.assets).toEqual(
      expect.arrayContaining([
        {
          asset: "BTC",
          insuranceFund: "0.2",
          lossesCovered: "0.3",
          covers: [{ incidentId, amount: "0.3", source: "insuranceFund" }],
        },
      ]),
    );
  });
});

describe("proof of reserves", () => {
  let proofFile: string;
  let root: string;

  it("publishes, lists, and hands support a user's proof; the keys are owner-only", async () => {
    const published = (await ok("reserves", "publish", "--asset", "BTC")).publications as {
      rootHash: string;
      publicationId: number;
    }[];
    expect(published).toHaveLength(1);
    root = published[0].rootHash;
    const listed = (await ok("reserves", "list")).publications as { publicationId: number }[];
    expect(listed[0].publicationId).toBe(published[0].publicationId);
    for (const file of ["reserves-key", "reserves-secret"])
      expect(statSync(join(dataDir, "reserves", file)).mode & 0o777).toBe(0o600);
    const support = await ok("reserves", "proof", "--user", String(userId), "--asset", "BTC");
    expect(support.proof).toMatchObject({ leaf: { accountId: userId, balanceUnits: String(BTC_UNITS) } });
    expectFailure(
      await bulwark("reserves", "proof", "--user", "9999", "--asset", "BTC"),
      "notFound",
      /held no BTC/,
    );
    expectFailure(
      await bulwark("reserves", "proof", "--user", String(userId), "--asset", "NOPE"),
      "notFound",
      /no asset NOPE/,
    );
    expectFailure(await bulwark("reserves", "list", "--limit", "0"), "invalid", /limit/);
  });

  it("the user fetches their proof through the private API and verifies it offline", async () => {
    const answer = await signedPost("reserves_proof", { currency: "BTC" });
    expect(answer).toMatchObject({ format: "bulwark-reserves-proof/1", leaf: { accountId: userId } });
    proofFile = join(dataDir, "..", `proof-${process.pid}.json`);
    writeFileSync(proofFile, JSON.stringify(answer));
    const verified = await ok("reserves", "verify", "--proof", proofFile, "--root", root);
    expect(verified).toMatchObject({ accountId: userId, balance: "1", asset: "BTC", liabilities: "1" });
    expect(await signedPost("reserves_proof", { currency: "DOGE" })).toMatchObject({
      error: expect.stringMatching(/59005/),
    });
    expect(await signedPost("reserves_proof", {})).toMatchObject({
      error: expect.stringMatching(/50013|currency/),
    });
    expect(await signedPost("reserves_proof", { currency: "ETH" })).toMatchObject({
      error: expect.stringMatching(/59035/),
    });
  });

  it("rejects a wrong root, a tampered proof, a negative balance and a malformed file with the reason", async () => {
    const proof = JSON.parse(readFileSync(proofFile, "utf8"));
    expectFailure(
      await bulwark("reserves", "verify", "--proof", proofFile, "--root", "ab".repeat(32)),
      "rejected",
      /wrong root/,
    );
    const write = (value: unknown) => {
      writeFileSync(proofFile, typeof value === "string" ? value : JSON.stringify(value));
      return proofFile;
    };
    expectFailure(
      await bulwark(
        "reserves",
        "verify",
        "--proof",
        write({ ...proof, leaf: { ...proof.leaf, balanceUnits: "200000000" } }),
        "--root",
        root,
      ),
      "rejected",
      /does not sum/,
    );
    expectFailure(
      await bulwark(
        "reserves",
        "verify",
        "--proof",
        write({ ...proof, leaf: { ...proof.leaf, balanceUnits: "-1" } }),
        "--root",
        root,
      ),
      "rejected",
      /negative/,
    );
    expectFailure(
      await bulwark("reserves", "verify", "--proof", write("{not json"), "--root", root),
      "invalid",
      /not JSON/,
    );
    expectFailure(
      await bulwark("reserves", "verify", "--proof", write({ hello: 1 }), "--root", root),
      "rejected",
      /format/,
    );
    expectFailure(
      await bulwark("reserves", "verify", "--proof", join(dataDir, "missing.json"), "--root", root),
      "notFound",
      /cannot read/,
    );
    expectFailure(await bulwark("reserves", "verify", "--root", root), "usage", /--proof/);
  });
});

describe("offline, with the server stopped", () => {
  it("reads the covers from the core; publishing needs the running server", async () => {
    closed = true;
    await server.close();
    const status = await ok("insurance", "status");
    expect(status.assets).toEqual(
      expect.arrayContaining([expect.objectContaining({ asset: "BTC", lossesCovered: "0.3" })]),
    );
    expectFailure(await bulwark("reserves", "publish"), "notFound", /running server/);
    expectFailure(
      await bulwark("incident", "cover", "--id", String(incidentId), "--asset", "BTC", "--amount", "0.1"),
      "conflict",
      /covered already/,
    );
  });
});
