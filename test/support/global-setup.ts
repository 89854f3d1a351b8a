// vitest globalSetup (vitest.config.ts): runs once in the vitest process. Its teardown drops the
// run's PostgreSQL databases (one a worker: test/support/postgres-database.ts), and those a killed
// run left behind.

import { dropRunDatabases } from "./postgres-database.ts";

export default function setup(): () => Promise<void> {
  return () => dropRunDatabases(process.pid);
}
