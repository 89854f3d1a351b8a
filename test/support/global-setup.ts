// vitest globalSetup (vitest.config.ts): runs once in the vitest process. Its teardown drops the
// run's PostgreSQL databases (one a worker: test/support/postgres-database.ts), and those a killed
// run left behind, and removes the run's migrated SQLite templates (test/store/engines.ts).

import { readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dropRunDatabases } from "./postgres-database.ts";

/** test/store/engines.ts's SQLITE_TEMPLATE_PREFIX (not imported: that module loads the store). */
const SQLITE_TEMPLATE_PREFIX = "bulwark-store-template-";

function removeRunSqliteTemplates(runPid: number): void {
  const prefix = `${SQLITE_TEMPLATE_PREFIX}${runPid}-`;
  for (const name of readdirSync(tmpdir()))
    if (name.startsWith(prefix)) rmSync(join(tmpdir(), name), { recursive: true, force: true });
}

export default function setup(): () => Promise<void> {
  return async () => {
    removeRunSqliteTemplates(process.pid);
    await dropRunDatabases(process.pid);
  };
}
