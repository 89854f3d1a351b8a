// The store's NonceLedger and AccountCache on both engines: nonces checked in memory and
// group-committed before a request may run, kept across a restart (and a kill -9 on SQLite),
// ordered under concurrency on one key, and refused when another writer got there first; cached
// keys and users invalidated by this process's writes; the user id floor after a lost users row.

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterEach, describe, expect, it } from "vitest";
import {
  advanceNonce,
  createApiKey,
  createUser,
  lastNonce,
  raiseUserIdFloor,
  revokeApiKey,
  setUserStatus,
} from "../../src/store/accounts.ts";
import type { HotStatements, NonceAdvance, NonceCommit } from "../../src/store/hot-statements.ts";
import { NonceLedger, NonceLedgerBusyError } from "../../src/store/nonce-ledger.ts";
import { openSqliteFile, openStore, type Store } from "../../src/store/open-store.ts";
import { ENGINES, openTestStore, type TestStore } from "./engines.ts";

const NOW_MS = 1_790_000_000_000;

async function newUser(store: Store, email: string): Promise<number> {
  const result = await createUser(store.db, { email, passwordHash: "argon2id$x", createdMs: NOW_MS });
  if (!result.ok) throw new Error(`could not create ${email}`);
  return result.user.userId;
}

async function newKey(store: Store, userId: number, keyId: string): Promise<void> {
  const created = await createApiKey(store.db, {
    keyId,
    userId,
    secretCiphertext: Buffer.from("sealed"),
    scopes: ["info"],
    ipAllowList: [],
    createdMs: NOW_MS,
  });
  if (!created) throw new Error(`key ${keyId} exists`);
}

/** Counts commits and can hold them, around a store's real statements. */
function instrumented(real: HotStatements) {
  const commits: NonceAdvance[][] = [];
  let gate: Promise<void> = Promise.resolve();
  const statements: HotStatements = {
    apiKeyRow: (keyId) => real.apiKeyRow(keyId),
    userStatus: (userId) => real.userStatus(userId),
    lastNonce: (keyId) => real.lastNonce(keyId),
    async commitNonces(entries): Promise<NonceCommit> {
      commits.push([...entries]);
      await gate;
      return real.commitNonces(entries);
    },
  };
  return {
    statements,
    commits,
    hold(): () => void {
      let release = () => {};
      gate = new Promise((resolve) => {
        release = resolve;
      });
      return release;
    },
  };
}

describe.each(ENGINES)("nonce ledger on %s", (engine) => {
  let opened: TestStore[] = [];
  const open = async () => {
    const test = await openTestStore(engine);
    opened.push(test);
    return test;
  };
  afterEach(async () => {
    for (const test of opened) await test.dispose();
    opened = [];
  });

  it("keeps the last nonce across a restart: an old request replayed afterwards is refused", async () => {
    const test = await open();
    expect(await test.store.nonces.advance("K-restart", 1_000)).toBeNull();
    expect(await test.store.nonces.advance("K-restart", 1_001)).toBeNull();
    // Committed before advance() resolved: the table already says so, without a flush.
    expect(await lastNonce(test.store.db, "K-restart")).toBe(1_001);
    await test.store.close();
    const reopened = await test.reopen();
    expect(await reopened.nonces.advance("K-restart", 1_001)).toBe("notIncreasing");
    expect(await reopened.nonces.advance("K-restart", 1_000)).toBe("notIncreasing");
    expect(await reopened.nonces.advance("K-restart", 1_002)).toBeNull();
  });

  it("orders concurrent requests on one key as they arrive, in one commit", async () => {
    const test = await open();
    const { statements, commits } = instrumented(
      // The store's own statements, reached through a second ledger on the same handles.
      hotStatementsOf(test.store),
    );
    const ledger = new NonceLedger(statements);
    // The first use loads the key: every request waits on that one load and keeps its place.
    const nonces = [5, 3, 7, 7, 6, 10, 9, 11];
    const results = await Promise.all(nonces.map((nonce) => ledger.advance("K-busy", nonce)));
    expect(results).toEqual([
      null,
      "notIncreasing",
      null,
      "notIncreasing",
      "notIncreasing",
      null,
      "notIncreasing",
      null,
    ]);
    expect(commits).toEqual([[{ keyId: "K-busy", nonce: 11 }]]);
    expect(await lastNonce(test.store.db, "K-busy")).toBe(11);
    await ledger.close();
  });

  it("resolves only after the commit, one transaction for many keys", async () => {
    const test = await open();
    const probe = instrumented(hotStatementsOf(test.store));
    const ledger = new NonceLedger(probe.statements);
    // Loaded first (a first use waits for a read), so the three arrive in one turn.
    for (const keyId of ["K-1", "K-2", "K-3"]) expect(await ledger.advance(keyId, 1)).toBeNull();
    probe.commits.length = 0;
    const release = probe.hold();
    let settled = 0;
    const pending = ["K-1", "K-2", "K-3"].map((keyId) =>
      ledger.advance(keyId, 77).then((result) => {
        settled += 1;
        return result;
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(probe.commits.length).toBe(1);
    expect(probe.commits[0].map((entry) => entry.keyId).sort()).toEqual(["K-1", "K-2", "K-3"]);
    expect(settled).toBe(0);
    expect(await lastNonce(test.store.db, "K-1")).toBe(1);
    release();
    expect(await Promise.all(pending)).toEqual([null, null, null]);
    expect(await lastNonce(test.store.db, "K-3")).toBe(77);
    await ledger.close();
  });

  it("refuses what another writer already passed, then learns the stored nonce", async () => {
    const test = await open();
    expect(await test.store.nonces.advance("K-shared", 10)).toBeNull();
    // Another gateway (or the WS login path) stores 50 behind this process's back.
    expect(await advanceNonce(test.store.db, "K-shared", 50)).toBe(true);
    expect(await test.store.nonces.advance("K-shared", 20)).toBe("notIncreasing");
    expect(await test.store.nonces.advance("K-shared", 50)).toBe("notIncreasing");
    expect(await test.store.nonces.advance("K-shared", 51)).toBeNull();
  });

  it("refuses the requests of a commit that are not above what another writer stored", async () => {
    const test = await open();
    const probe = instrumented(hotStatementsOf(test.store));
    const ledger = new NonceLedger(probe.statements);
    expect(await ledger.advance("K-mixed", 10)).toBeNull();
    const release = probe.hold();
    const low = ledger.advance("K-mixed", 15);
    const high = ledger.advance("K-mixed", 30);
    // Lands while the ledger's commit is held back.
    await advanceNonce(test.store.db, "K-mixed", 20);
    release();
    expect(await low).toBe("notIncreasing");
    expect(await high).toBeNull();
    expect(await lastNonce(test.store.db, "K-mixed")).toBe(30);
  });

  it("sheds requests past its bound on waiting requests", async () => {
    const test = await open();
    const ledger = new NonceLedger(hotStatementsOf(test.store), { maxWaitingRequests: 2 });
    for (const keyId of ["K-a", "K-b", "K-c"]) expect(await ledger.advance(keyId, 1)).toBeNull();
    const first = ledger.advance("K-a", 2);
    const second = ledger.advance("K-b", 2);
    await expect(ledger.advance("K-c", 2)).rejects.toBeInstanceOf(NonceLedgerBusyError);
    expect(await Promise.all([first, second])).toEqual([null, null]);
    expect(await ledger.advance("K-c", 2)).toBeNull();
    await ledger.close();
  });

  it("drops a cached key when it is revoked and a cached user when frozen", async () => {
    const test = await open();
    const userId = await newUser(test.store, "cache@example.test");
    await newKey(test.store, userId, "K-cached");
    expect((await test.store.accounts.apiKey("K-cached"))?.revokedMs).toBeNull();
    expect(await test.store.accounts.userStatus(userId)).toBe("active");
    expect(await test.store.accounts.apiKey("K-unknown")).toBeUndefined();
    expect(await revokeApiKey(test.store.db, "K-cached", NOW_MS + 1)).toBe(true);
    expect(await setUserStatus(test.store.db, userId, "frozen")).toBe(true);
    expect((await test.store.accounts.apiKey("K-cached"))?.revokedMs).toBe(NOW_MS + 1);
    expect(await test.store.accounts.userStatus(userId)).toBe("frozen");
  });

  it("sees another process's change only after the TTL", async () => {
    const test = await open();
    let nowMs = 0;
    const clock = () => nowMs;
    const other = await test.reopen();
    const userId = await newUser(test.store, "ttl@example.test");
    const { AccountCache } = await import("../../src/store/account-cache.ts");
    const cache = new AccountCache(test.store.db, hotStatementsOf(test.store), { ttlMs: 1_000, clock });
    expect(await cache.userStatus(userId)).toBe("active");
    // Written through another handle: this process's invalidation never hears of it.
    await setUserStatus(other.db, userId, "frozen");
    nowMs = 999;
    expect(await cache.userStatus(userId)).toBe("active");
    nowMs = 1_000;
    expect(await cache.userStatus(userId)).toBe("frozen");
    cache.close();
  });

  it("raises the user id floor above ids the core holds, and never lowers it", async () => {
    const test = await open();
    expect(await newUser(test.store, "first@example.test")).toBe(1);
    await raiseUserIdFloor(test.store.db, test.store.engine, 41);
    expect(await newUser(test.store, "after-floor@example.test")).toBe(42);
    await raiseUserIdFloor(test.store.db, test.store.engine, 10);
    expect(await newUser(test.store, "not-lowered@example.test")).toBe(43);
  });
});

/** A store's hot statements, rebuilt the way openStore builds them. */
function hotStatementsOf(store: Store): HotStatements {
  return store.hotStatements;
}

describe("nonce ledger on sqlite after kill -9", () => {
  let dataDir = "";
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it("keeps every nonce whose advance resolved", async () => {
    dataDir = mkdtempSync(join(tmpdir(), "bulwark-nonce-crash-"));
    const child = spawn(
      process.execPath,
      ["--import", "tsx", join(import.meta.dirname, "nonce-crash-child.ts"), dataDir],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    let lastCommitted = 0;
    const exited = new Promise((resolve) => child.on("exit", resolve));
    for await (const line of createInterface({ input: child.stdout })) {
      lastCommitted = Number(line);
      // Killed mid-stream: the child keeps advancing, so the kill lands among commits.
      if (lastCommitted >= 200) {
        child.kill("SIGKILL");
        break;
      }
    }
    await exited;
    const store = await openStore({ dataDir });
    try {
      const stored = (await lastNonce(store.db, "K-crash")) ?? 0;
      expect(stored).toBeGreaterThanOrEqual(lastCommitted);
      expect(await store.nonces.advance("K-crash", lastCommitted)).toBe("notIncreasing");
      expect(await store.nonces.advance("K-crash", stored + 1)).toBeNull();
    } finally {
      await store.close();
    }
  });
});

describe("nonce commits on sqlite while another connection writes (the projector's worker)", () => {
  let test: TestStore | null = null;
  afterEach(async () => {
    await test?.dispose();
    test = null;
  });

  it("waits for the write lock with the event loop free, then commits", async () => {
    test = await openTestStore("sqlite");
    const { store } = test;
    await newKey(store, await newUser(store, "locked@example.test"), "k-locked");
    const other = openSqliteFile(store.sqliteFile!);
    try {
      other.exec("begin immediate");
      const committing = hotStatementsOf(store).commitNonces([{ keyId: "k-locked", nonce: 7 }]);
      let settled = false;
      void committing.finally(() => {
        settled = true;
      });
      // Timers keep firing on time while the commit waits: the event loop is not held by SQLite's
      // busy handler (which would sleep on it until the lock is free).
      const startedMs = performance.now();
      for (let turn = 0; turn < 10; turn++) await new Promise((resolve) => setTimeout(resolve, 5));
      expect(performance.now() - startedMs).toBeLessThan(1_000);
      expect(settled).toBe(false);
      other.exec("commit");
      const commit = await committing;
      expect([...commit.written]).toEqual(["k-locked"]);
      expect(await lastNonce(store.db, "k-locked")).toBe(7);
    } finally {
      if (other.inTransaction) other.exec("rollback");
      other.close();
    }
  });
});
