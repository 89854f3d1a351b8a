import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Two test files at a time on this project's 2-core machines: vitest's default (cores − 1) ran
    // one, and most files wait on fsync, sockets and child processes rather than the CPU
    // (measured: 126 s → 85 s for the whole suite, the timing-sensitive tests green in both runs).
    maxWorkers: 2,
    // CI also writes a JSON summary, from which .ci/run prints the plain "N passed, N failed" line
    // (BULWARK_TEST_REPORT names the file, so `npm test` and `npm run test:full` keep one each).
    reporters: process.env.CI === "true" ? ["default", "json"] : ["default"],
    outputFile:
      process.env.CI === "true"
        ? { json: process.env.BULWARK_TEST_REPORT ?? "test-results.json" }
        : undefined,
  },
});
