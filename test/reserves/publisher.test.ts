// The reserves publisher (src/server/reserves.ts) over a fake exchange and custody: publications
// numbered in order and stored, the key and secret created once (0600) and reused by the next
// process, a user's proof rebuilt from the stored leaves after a restart and verifying, refusals
// named, and a leaves file that no longer gives its root refused.

import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { CustodyPort } from "../../src/custody/port.ts";
import type { ExchangeBoundary } from "../../src/exchange/boundary.ts";
import { ReservesError } from "../../src/reserves/port.ts";
import { verifyReservesProof } from "../../src/reserves/proof.ts";
import { ReservesPublisher } from "../../src/server/reserves.ts";

const directories: string[] = [];
afterAll(() => {
  for (const directory of directories) rmSync(directory, { recursive: true, force: true });
});

const ASSETS = [
  { assetId: 1, code: "BTC", scale: 8 },
  { assetId: 2, code: "USD", scale: 2 },
];
const liabilities = new Map([
  [1, { userIds: [3, 5, 9], balancesUnits: [100, 250, 7] }],
  [2, { userIds: [3], balancesUnits: [5_000] }],
]);
const exchange = {
  assets: () => ASSETS,
  assetByCode: (code: string) => ASSETS.find((asset) => asset.code === code),
  customerLiabilities: (assetId: number) => liabilities.get(assetId) ?? { userIds: [], balancesUnits: [] },
} as unknown as ExchangeBoundary;
const custody = {
  terms: () => [{ currency: "BTC" }],
  reserveAddresses: async () => ({
    addresses: [
      {
        chain: "devnet-btc",
        currency: "BTC",
        role: "hot",
        address: "bcrt1hot",
        balanceUnits: 300,
        balance: "0.000003",
      },
      {
        chain: "devnet-btc",
        currency: "BTC",
        role: "cold",
        address: "bcrt1cold",
        balanceUnits: 100,
        balance: "0.000001",
      },
    ],
    complete: true,
  }),
} as unknown as CustodyPort;

function dataDir(): string {
  const directory = mkdtempSync(join(tmpdir(), "bulwark-reserves-"));
  directories.push(directory);
  return directory;
}

describe("reserves publisher", () => {
  it("publishes the assets custody holds, signed, next to the addresses; proofs survive a restart", async () => {
    const dir = dataDir();
    const first = new ReservesPublisher({
      dataDir: dir,
      exchange,
      custody: () => custody,
      clock: () => 1_000,
    });
    const [btc] = await first.publish();
    expect(btc).toMatchObject({
      publicationId: 1,
      asset: "BTC",
      leafCount: 3,
      liabilitiesUnits: "357",
      reservesUnits: "400",
      fullyBacked: true,
      publicKey: first.publicKeyHex,
    });
    expect(btc.reserveAddresses.map((a) => a.role)).toEqual(["hot", "cold"]);
    for (const file of ["reserves-key", "reserves-secret", "1-BTC.json", "1-BTC.leaves"])
      expect(statSync(join(dir, "reserves", file)).mode & 0o777).toBe(0o600);
    const [usd] = await first.publish(["USD"]);
    expect(usd).toMatchObject({ publicationId: 2, asset: "USD", reservesUnits: "0", fullyBacked: false });
    expect(first.list(10).map((p) => p.publicationId)).toEqual([2, 1]);

    // A new process: same key, the tree rebuilt from the stored leaves.
    const second = new ReservesPublisher({ dataDir: dir, exchange, custody: () => custody });
    expect(second.publicKeyHex).toBe(first.publicKeyHex);
    const proof = second.proof(5, "BTC");
    expect(verifyReservesProof(proof, btc.rootHash, { publicKeyHex: first.publicKeyHex })).toMatchObject({
      ok: true,
      accountId: 5,
      balance: "0.0000025",
    });
    expect(() => second.proof(4, "BTC")).toThrow(/user 4 held no BTC/);
    expect(() => second.proof(3, "ETH")).toThrow(ReservesError);
    await expect(second.publish(["DOGE"])).rejects.toThrow(/unknown asset DOGE/);
    expect(() => second.list(0)).toThrow(/limit/);

    // Leaves that no longer give the published root are refused, not served.
    const leavesPath = join(dir, "reserves", "1-BTC.leaves");
    const leaves = readFileSync(leavesPath);
    leaves[leaves.length - 1] ^= 1;
    writeFileSync(leavesPath, leaves);
    const third = new ReservesPublisher({ dataDir: dir, exchange, custody: () => custody });
    expect(() => third.proof(5, "BTC")).toThrow(/do not give its root/);
  });

  it("without custody publishes every asset with no reserves", async () => {
    const publisher = new ReservesPublisher({ dataDir: dataDir(), exchange, custody: () => null });
    const published = await publisher.publish();
    expect(published.map((p) => [p.asset, p.reservesUnits, p.fullyBacked])).toEqual([
      ["BTC", "0", false],
      ["USD", "0", false],
    ]);
  });
});
