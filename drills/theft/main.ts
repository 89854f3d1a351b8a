// `npm run drill:theft`: runs the theft drill (drill.ts) and prints its timeline and checks.
// Exit status 1 when any check failed.

import { runTheftDrill } from "./drill.ts";

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + " ".repeat(width - text.length);
}

const report = await runTheftDrill({ log: (line) => process.stderr.write(`  … ${line}\n`) });
const stepWidth = Math.max(...report.rows.map((row) => row.step.length));
console.log("\nTheft drill: EXMO, December 2020, replayed on the devnet\n");
console.log(`${pad("step", stepWidth)}  ${pad("t (ms from theft block)", 24)}  detail`);
for (const row of report.rows) {
  const time = row.sinceTheftBlockMs === null ? "-" : String(row.sinceTheftBlockMs);
  console.log(`${pad(row.step, stepWidth)}  ${pad(time, 24)}  ${row.detail}`);
}
console.log("\nchecks");
for (const check of report.checks)
  console.log(`  ${check.ok ? "ok  " : "FAIL"}  ${check.name}: ${check.detail}`);
const failed = report.checks.filter((check) => !check.ok).length;
console.log(`\n${report.checks.length - failed} of ${report.checks.length} checks passed`);
process.exitCode = failed === 0 ? 0 : 1;
