import { defineConfig } from "vitest/config";

// One project, three workers on this 2-core machine: the suite waits on child processes, sockets,
// browsers and fsyncs much of the time (measured 2026-11-29: 2 workers 208 s, 3 workers 181 s,
// 4 workers 200 s). Files that use PostgreSQL run in parallel like the others: every worker has a
// database of its own (test/support/postgres-database.ts), so no file's migrations see another
// file's schemas.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: "forks",
    maxWorkers: 3,
    // A worker keeps its modules from one file to the next instead of a fresh process a file: the
    // import phase (the server, the gateway, the store, Kysely, viem, ccxt) was a third of the CPU.
    // Files clean up what they start (servers, timers, spies), which this relies on.
    isolate: false,
    globalSetup: ["test/support/global-setup.ts"],
    setupFiles: ["test/support/worker-setup.ts"],
    // CI also writes a JSON summary, from which .ci/run prints the plain "N passed, N failed" line
    // (BULWARK_TEST_REPORT names the file, so `npm test` and `npm run test:full` keep one each).
    reporters: process.env.CI === "true" ? ["default", "json"] : ["default"],
    outputFile:
      process.env.CI === "true"
        ? { json: process.env.BULWARK_TEST_REPORT ?? "test-results.json" }
        : undefined,
  },
});
