// A users row lost in a power cut (SQLite synchronous=NORMAL) must not let a new account take an
// id the core holds money for: on open the exchange raises the id floor above the core's users.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { afterEach, expect, it } from "vitest";
import { Exchange } from "../../src/exchange/exchange.ts";
import { DEFAULT_ASSETS } from "../../src/server/default-markets.ts";
import { createUser } from "../../src/store/accounts.ts";

let dataDir = "";
afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

it("never reassigns the id of a user the core holds money for, even if its row was lost", async () => {
  dataDir = mkdtempSync(join(tmpdir(), "bulwark-id-floor-"));
  const first = await Exchange.open({ dataDir });
  for (const asset of DEFAULT_ASSETS) await first.submit({ kind: "addAsset", asset });
  const ids: number[] = [];
  for (const name of ["a", "b", "c"]) {
    const created = await createUser(first.internals.store.db, {
      email: `${name}@example.test`,
      passwordHash: "$scrypt$unused",
      createdMs: 1,
    });
    if (!created.ok) throw new Error("user exists");
    ids.push(created.user.userId);
  }
  const funded = ids[2];
  const result = await first.submit({
    kind: "adjustBalance",
    userId: funded,
    assetId: DEFAULT_ASSETS[0].assetId,
    amountUnits: 1_000,
    reason: "test",
  });
  expect(result.events.some((event) => event.type === "rejected")).toBe(false);
  // What a power cut can leave behind: the newest users row and the id counter's advance gone.
  await sql`delete from users where id = ${funded}`.execute(first.internals.store.db);
  await sql`update sqlite_sequence set seq = ${funded - 1} where name = 'users'`.execute(
    first.internals.store.db,
  );
  await first.close();

  const second = await Exchange.open({ dataDir });
  try {
    const created = await createUser(second.internals.store.db, {
      email: "new@example.test",
      passwordHash: "$scrypt$unused",
      createdMs: 2,
    });
    if (!created.ok) throw new Error("user exists");
    expect(created.user.userId).toBeGreaterThan(funded);
  } finally {
    await second.close();
  }
});
