import { defineConfig } from "vitest/config";

/**
 * Files that run in a fresh worker process of their own. The others share their worker's modules
 * from file to file (isolate: false below); event-pipeline's back-pressure bound failed that way in
 * 2 of 2 whole runs under load (2300 < 2248) and passes alone. (ccxt-custody's deposit-address
 * tests, EXMO 59999, failed in whole runs both shared and isolated and pass alone: not this.)
 */
const ISOLATED_FILES = ["test/exchange/event-pipeline.test.ts"];

// Two workers (a third was slower: the suite is CPU bound on 2 cores). Files that use PostgreSQL
// run in parallel like the others: every worker has a database of its own
// (test/support/postgres-database.ts), so no file's migrations see another file's schemas.
export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: "forks",
    maxWorkers: 2,
    globalSetup: ["test/support/global-setup.ts"],
    setupFiles: ["test/support/worker-setup.ts"],
    // CI also writes a JSON summary, from which .ci/run prints the plain "N passed, N failed" line
    // (BULWARK_TEST_REPORT names the file, so `npm test` and `npm run test:full` keep one each).
    reporters: process.env.CI === "true" ? ["default", "json"] : ["default"],
    outputFile:
      process.env.CI === "true"
        ? { json: process.env.BULWARK_TEST_REPORT ?? "test-results.json" }
        : undefined,
    projects: [
      {
        extends: true,
        test: {
          name: "shared",
          include: ["test/**/*.test.ts"],
          exclude: ISOLATED_FILES,
          // A worker keeps its modules from one file to the next instead of a fresh process a
          // file: the import phase (server, gateway, store, Kysely, viem, ccxt) was a third of the
          // CPU. Files clean up what they start (servers, timers, spies), which this relies on.
          isolate: false,
        },
      },
      { extends: true, test: { name: "isolated", include: ISOLATED_FILES, isolate: true } },
    ],
  },
});
