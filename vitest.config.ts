import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: "forks",
    // One test file at a time. Two (measured 126 s → 85 s) raced on the shared PostgreSQL database:
    // Kysely's migrator introspects every schema while another file drops its own, and a catalog
    // query failed on a table that vanished under it (42703 in pg_get_serial_sequence).
    maxWorkers: 1,
    // CI also writes a JSON summary, from which .ci/run prints the plain "N passed, N failed" line
    // (BULWARK_TEST_REPORT names the file, so `npm test` and `npm run test:full` keep one each).
    reporters: process.env.CI === "true" ? ["default", "json"] : ["default"],
    outputFile:
      process.env.CI === "true"
        ? { json: process.env.BULWARK_TEST_REPORT ?? "test-results.json" }
        : undefined,
  },
});
