// Findings of the outside test (issue 6, point 7) on `bulwark start`: it listens on this machine
// only unless told otherwise, keeps its data dir and files owner-only and refuses a data dir
// others can read, refuses demo mode on a data dir with real users, and reports a clean journal
// on /health right after a restart.

import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { DATA_DIR_MODE, DataDirModeError, ensurePrivateDataDir } from "../../src/server/data-dir.ts";
import { DEMO_TRADER_EMAIL, DemoOnRealDataError } from "../../src/server/demo/demo-accounts.ts";
import {
  DEFAULT_HOST,
  type ExchangeServer,
  type ExchangeServerOptions,
  startExchangeServer,
} from "../../src/server/server.ts";
import { limitOrder } from "../support/orders.ts";

const OPERATOR_TOKEN = "test-operator-token-0123456789abcdef";
const directories: string[] = [];
const servers: ExchangeServer[] = [];

afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
  // With the demo cold keystores beside each data dir (src/server/demo/cold-wallet.ts).
  for (const directory of directories.splice(0))
    for (const path of [directory, `${directory}-demo-cold`]) rmSync(path, { recursive: true, force: true });
});

/** A fresh temporary parent (mkdtemp makes it 0700); the data dir is a path under it. */
function parentDir(): string {
  const directory = mkdtempSync(join(tmpdir(), "bulwark-hardening-"));
  directories.push(directory);
  return directory;
}

async function start(dataDir: string, options: Partial<ExchangeServerOptions> = {}): Promise<ExchangeServer> {
  const server = await startExchangeServer({
    dataDir,
    port: 0,
    demo: false,
    demoTickIntervalMs: 60_000,
    env: { BULWARK_OPERATOR_TOKEN: OPERATOR_TOKEN },
    ...options,
  });
  servers.push(server);
  return server;
}

async function stop(server: ExchangeServer): Promise<void> {
  servers.splice(servers.indexOf(server), 1);
  await server.close();
}

function modeOf(path: string): number {
  return statSync(path).mode & 0o777;
}

/**
 * An address of this machine the server should not answer on when it listens on 127.0.0.1: a
 * non-loopback IPv4 address if there is one, else 127.0.0.2 (Linux routes all of 127/8 to lo, and a
 * socket bound to 127.0.0.1 does not accept there, one bound to 0.0.0.0 does).
 */
function otherAddress(): string | undefined {
  for (const entries of Object.values(networkInterfaces()))
    for (const entry of entries ?? []) if (entry.family === "IPv4" && !entry.internal) return entry.address;
  return process.platform === "linux" ? "127.0.0.2" : undefined;
}

describe("listen address", () => {
  it("an explicit --host 0.0.0.0 opens it, and the note says it is reachable from the network", async () => {
    const server = await start(join(parentDir(), "data"), { host: "0.0.0.0" });
    expect(server.host).toBe("0.0.0.0");
    expect(server.listenNote).toContain("reachable from the network");
    const other = otherAddress();
    if (other !== undefined)
      expect((await fetch(`http://${other}:${server.port}/v1.1/currency`)).status).toBe(200);
  });
});

describe("data dir permissions", () => {
  it("creates a missing data dir with mode 0700", () => {
    const dataDir = join(parentDir(), "nested", "data");
    ensurePrivateDataDir(dataDir);
    expect(modeOf(dataDir)).toBe(DATA_DIR_MODE);
  });

  it.each(["755", "750", "705", "711", "740"])("refuses an existing data dir with mode %s", (octal) => {
    const mode = Number.parseInt(octal, 8);
    const dataDir = join(parentDir(), "data");
    mkdirSync(dataDir);
    chmodSync(dataDir, mode);
    expect(() => ensurePrivateDataDir(dataDir)).toThrow(DataDirModeError);
    // Not silently repaired: the operator must look and chmod it.
    expect(modeOf(dataDir)).toBe(mode);
  });

  it("a 0755 data dir stops the server with the mode and the chmod 700 fix in the message", async () => {
    const dataDir = join(parentDir(), "data");
    mkdirSync(dataDir);
    chmodSync(dataDir, 0o755);
    const refusal = start(dataDir);
    await expect(refusal).rejects.toBeInstanceOf(DataDirModeError);
    await expect(refusal).rejects.toThrow(/mode 0755/);
    await expect(refusal).rejects.toThrow(`chmod 700 ${dataDir}`);
    // Refused before anything was written into it.
    expect(readdirSync(dataDir)).toEqual([]);
  });
});

describe("demo mode on a data dir with real users", () => {
  // Four production-cost starts (~10 s): in `npm run test:full`, which CI runs.
  it.skipIf(process.env.BULWARK_TEST_FULL !== "1")(
    "is refused with a message naming --no-demo; --no-demo starts; a demo-only data dir restarts in demo mode",
    async () => {
      // The demo's accounts are what the refusal reads; its custody (wallet init, signer and keygen
      // children, funding by deposits: server-demo.test.ts) is not, and cost two-thirds of this
      // file's time, so these demo starts run without the devnet chains.
      const demoDir = join(parentDir(), "demo");
      const demo = await start(demoDir, { demo: true, devnet: false });
      expect(demo.demo?.email).toBe(DEMO_TRADER_EMAIL);
      await stop(demo);
      // Only demo accounts: demo mode starts again.
      await stop(await start(demoDir, { demo: true, devnet: false }));

      const realDir = join(parentDir(), "real");
      const real = await start(realDir);
      const created = await real.exchange.accounts.createUser({
        email: "alice@example.com",
        passwordHash: "x",
        createdMs: 1,
      });
      expect(created.ok).toBe(true);
      await stop(real);

      const refusal = start(realDir, { demo: true });
      await expect(refusal).rejects.toBeInstanceOf(DemoOnRealDataError);
      await expect(refusal).rejects.toThrow(/--no-demo/);
      // Refused before any demo account was made, and the lock was released.
      const again = await start(realDir, { demo: false });
      expect(again.demo).toBeNull();
      expect(await again.exchange.accounts.userByEmail(DEMO_TRADER_EMAIL)).toBeUndefined();
    },
  );
});

// One data dir started twice (the second start on the existing 0700 dir, after commands were
// journaled) serves the default-address, /health and owner-only checks: a server start is most of
// each test's time, and these checks need no server of their own.
describe("a data dir started twice at the default address", () => {
  // Kept out of `servers` and `directories`, which the file's afterEach empties after every test.
  let parent: string;
  let dataDir: string;
  let second: ExchangeServer | undefined;
  let modeAfterFirstStart: number;
  let lastSequence: number;
  const running = (): ExchangeServer => {
    if (second === undefined) throw new Error("the second start failed or was stopped");
    return second;
  };

  beforeAll(async () => {
    parent = mkdtempSync(join(tmpdir(), "bulwark-hardening-"));
    dataDir = join(parent, "data");
    const first = await start(dataDir, { candleSaveIntervalMs: 60_000 });
    modeAfterFirstStart = modeOf(dataDir);
    await first.exchange.submit({
      kind: "adjustBalance",
      userId: 1,
      assetId: 1,
      amountUnits: 100,
      reason: "test",
    });
    for (const userId of [1, 2])
      await first.exchange.submit({
        kind: "adjustBalance",
        userId,
        assetId: 4,
        amountUnits: 10_000_000_000_000,
        reason: "fund",
      });
    for (let index = 0; index < 20; index++)
      await first.exchange.submit(limitOrder(1, "buy", 5_000_000 + index, 1));
    lastSequence = first.exchange.status().lastSequence;
    await stop(first);
    // A second start on the now existing 0700 dir works too.
    const restarted = await start(dataDir);
    servers.splice(servers.indexOf(restarted), 1);
    second = restarted;
  });

  afterAll(async () => {
    await second?.close();
    rmSync(parent, { recursive: true, force: true });
  });

  it("listens on 127.0.0.1 by default and says how to open it to the network", async () => {
    expect(DEFAULT_HOST).toBe("127.0.0.1");
    const server = running();
    expect(server.host).toBe("127.0.0.1");
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
    expect(server.listenNote).toContain(`127.0.0.1:${server.port}`);
    expect(server.listenNote).toContain("--host 0.0.0.0");
    expect((await fetch(`${server.url}/v1.1/currency`)).status).toBe(200);
    const other = otherAddress();
    if (other !== undefined)
      await expect(fetch(`http://${other}:${server.port}/v1.1/currency`)).rejects.toThrow();
  });

  it("/health after the restart reports acknowledgedSequence == lastSequence and no unacknowledged commands", async () => {
    expect(lastSequence).toBeGreaterThan(20);
    const health = (await (await fetch(`${running().url}/health`)).json()) as {
      status: string;
      components: {
        core: { lastSequence: number };
        journal: { acknowledgedSequence: number; unacknowledgedCommands: number };
      };
    };
    expect(health.components.core.lastSequence).toBe(lastSequence);
    expect(health.components.journal).toEqual({
      acknowledgedSequence: lastSequence,
      unacknowledgedCommands: 0,
    });
    expect(health.status).toBe("ok");
  });

  // Last in this block: it stops the second server to see every file it wrote.
  it("the server starts on a 0700 data dir and everything it writes is owner-only", async () => {
    expect(modeAfterFirstStart).toBe(0o700);
    const server = running();
    second = undefined;
    await server.close();
    const written: string[] = [];
    const walk = (directory: string): void => {
      for (const entry of readdirSync(directory, { withFileTypes: true })) {
        const path = join(directory, entry.name);
        written.push(path);
        if (entry.isDirectory()) walk(path);
      }
    };
    walk(dataDir);
    for (const name of ["bulwark.sqlite", "candles.json", "server.key", "journal"])
      expect(written).toContain(join(dataDir, name));
    for (const path of written) {
      const expected = statSync(path).isDirectory() ? 0o700 : 0o600;
      expect({ path, mode: modeOf(path).toString(8) }).toEqual({ path, mode: expected.toString(8) });
    }
  });
});
