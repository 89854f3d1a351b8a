import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: "forks",
    // CI also writes a JSON summary, from which .ci/run prints the plain "N passed, N failed" line.
    reporters: process.env.CI === "true" ? ["default", "json"] : ["default"],
    outputFile: process.env.CI === "true" ? { json: "test-results.json" } : undefined,
  },
});
