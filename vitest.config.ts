import { defineConfig } from "vitest/config";

/**
 * Test files that use the shared PostgreSQL database. They run one at a time: Kysely's migrator
 * introspects every schema while another file drops its own, and a catalog query failed on a table
 * that vanished under it (42703 in pg_get_serial_sequence). Every other file runs two at a time
 * beside them (the suite waits on I/O and child processes more than on the CPU).
 */
const POSTGRES_FILES = [
  "test/store/**/*.test.ts",
  "test/exchange/exchange.test.ts",
  "test/accounts/totp.test.ts",
  "test/gateway/rest/ccxt-postgres.test.ts",
];

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: "forks",
    maxWorkers: 2,
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
        test: { name: "postgres", include: POSTGRES_FILES, fileParallelism: false },
      },
      {
        extends: true,
        test: { name: "embedded", include: ["test/**/*.test.ts"], exclude: POSTGRES_FILES },
      },
    ],
  },
});
