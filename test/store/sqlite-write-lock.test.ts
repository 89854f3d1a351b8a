// SQLite has one write lock per file, and the projector writes from its own connection. A deferred
// transaction that reads, then writes, fails with SQLITE_BUSY_SNAPSHOT (without waiting) when the
// other connection commits in between: deposit-address assignments failed that way under load.
// The store's transactions begin immediate, so the other writer is the one that waits; the one
// read-only transaction (userSnapshot) stays deferred and takes no write lock.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type Database from "better-sqlite3";
import { afterAll, beforeAll, expect, it } from "vitest";
import { assignDepositAddress } from "../../src/store/custody.ts";
import { openSqliteFile, openStore, type Store } from "../../src/store/open-store.ts";
import { StoreReadModels } from "../../src/store/read-models.ts";

let dataDir: string;
let store: Store;
/** Another writer on the same file, as the projector's worker is; it never waits for the lock. */
let other: Database.Database;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "bulwark-write-lock-"));
  store = await openStore({ dataDir });
  other = openSqliteFile(join(dataDir, "bulwark.sqlite"));
  other.pragma("busy_timeout = 0");
  other.exec("CREATE TABLE IF NOT EXISTS elsewhere (n INTEGER)");
});

afterAll(async () => {
  other.close();
  await store.close();
  rmSync(dataDir, { recursive: true, force: true });
});

it("a read-then-write transaction holds the write lock from its start: another writer between its read and its write waits", async () => {
  let otherWriter = "not tried";
  const record = await assignDepositAddress(
    store.db,
    { userId: 5, chain: "btc", account: 0, createdMs: 1 },
    (index) => {
      // Between the transaction's read (the last index) and its insert.
      try {
        other.prepare("INSERT INTO elsewhere (n) VALUES (1)").run();
        otherWriter = "committed";
      } catch (error) {
        otherWriter = (error as { code?: string }).code ?? "failed";
      }
      return `btc-addr-${index}`;
    },
  );
  expect(record.address).toBe("btc-addr-0");
  // Deferred, the other writer would have committed and the insert failed with SQLITE_BUSY_SNAPSHOT.
  expect(otherWriter).toBe("SQLITE_BUSY");
  other.prepare("INSERT INTO elsewhere (n) VALUES (2)").run();
});

it("userSnapshot reads in a deferred transaction: it runs while another connection holds the write lock", async () => {
  const reads = new StoreReadModels(store.db, "sqlite");
  other.exec("BEGIN IMMEDIATE");
  try {
    other.prepare("INSERT INTO elsewhere (n) VALUES (3)").run();
    const snapshot = await reads.userSnapshot(5, 10);
    expect(snapshot).toMatchObject({ balances: [], orders: [] });
  } finally {
    other.exec("COMMIT");
  }
});
