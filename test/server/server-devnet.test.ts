// `bulwark start`'s devnet chains: off with devnet: false (the operator routes answer 404), a
// block on the timer otherwise, opened after the exchange and saved at close, so a restart finds
// the same chains.

import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { AccountDevnet, addressOfKey, privateKeyFromSeed } from "../../src/chains/devnet/index.ts";
import { runCli } from "../../src/cli/run.ts";
import { startExchangeServer } from "../../src/server/server.ts";

const directories: string[] = [];

function newDataDir(): string {
  const directory = mkdtempSync(join(tmpdir(), "bulwark-server-devnet-"));
  directories.push(directory);
  return directory;
}

afterAll(() => {
  for (const directory of directories) rmSync(directory, { recursive: true, force: true });
});

/** `bulwark <args> --json` in process: through the server's socket while one runs, else offline. */
async function bulwarkIn(
  dataDir: string,
  args: string[],
): Promise<Record<string, unknown> & { ok: boolean; error?: { kind: string; message: string } }> {
  const out: string[] = [];
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.DATABASE_URL;
  delete env.BULWARK_SERVER_KEY;
  await runCli([...args, "--json", "--data-dir", dataDir], {
    out: (line) => out.push(line),
    err: () => {},
    prompt: () => {},
    stdin: Readable.from([]),
    env,
  });
  return JSON.parse(out.at(-1) ?? "{}");
}

interface ChainStatus {
  chain: string;
  height: number;
}

const ETH_ADDRESS = addressOfKey(new AccountDevnet(), privateKeyFromSeed("server-devnet-eth"));

describe("the server's devnet", () => {
  it("is off with devnet: false (404), mines on its timer, and keeps its state across a restart", async () => {
    const dataDir = newDataDir();
    const off = await startExchangeServer({ dataDir, port: 0, demo: false, devnet: false });
    try {
      expect(off.devnet).toBeNull();
      const run = await bulwarkIn(dataDir, ["devnet", "status"]);
      expect(run.error).toMatchObject({
        kind: "notFound",
        message: expect.stringMatching(/devnet is off/),
      });
      expect(existsSync(join(dataDir, "devnet"))).toBe(false);
    } finally {
      await off.close();
    }

    const on = await startExchangeServer({ dataDir, port: 0, demo: false, devnetBlockMs: 20 });
    try {
      const paid = await bulwarkIn(dataDir, [
        ...["devnet", "faucet", "--chain", "eth", "--address", ETH_ADDRESS],
        ...["--asset", "ETH", "--amount", "2"],
      ]);
      expect(paid.ok).toBe(true);
      const deadline = Date.now() + 3_000;
      const devnet = on.devnet;
      while (devnet !== null && (devnet.btc.tip < 3 || devnet.eth.tip < 3) && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 20));
      expect(devnet?.btc.tip).toBeGreaterThanOrEqual(3);
      expect(devnet?.eth.balance(ETH_ADDRESS, "ETH")).toBe(2n * 10n ** 18n);
      const run = await bulwarkIn(dataDir, ["devnet", "status"]);
      expect(run).toMatchObject({
        ok: true,
        chains: [{ blockIntervalMs: 20 }, { blockIntervalMs: 20 }],
      });
    } finally {
      await on.close();
    }
    expect(existsSync(join(dataDir, "devnet", "btc", "devnet-btc.devnet"))).toBe(true);
    const saved = (await bulwarkIn(dataDir, ["devnet", "status"])).chains as ChainStatus[];
    await new Promise((resolve) => setTimeout(resolve, 60));
    // Closed: no timer mines any more, so the state on disk stays what close saved.
    expect((await bulwarkIn(dataDir, ["devnet", "status"])).chains).toEqual(saved);

    const again = await startExchangeServer({ dataDir, port: 0, demo: false, devnetBlockMs: 0 });
    try {
      expect((await bulwarkIn(dataDir, ["devnet", "status"])).chains).toEqual(saved);
      expect(again.devnet?.btc.tip).toBe(saved[0].height);
      expect(again.devnet?.eth.balance(ETH_ADDRESS, "ETH")).toBe(2n * 10n ** 18n);
    } finally {
      await again.close();
    }
  });
});
