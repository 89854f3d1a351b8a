// Measures the durable pipeline (sequencer + file journal + snapshots + core) end to end:
// `node --import tsx bench/sequencer.bench.ts [commandCount]`. Not part of `npm test`.
// Prints acknowledged commands per second and commands per fdatasync.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEmbeddedCore } from "../src/runtime/embedded.ts";
import { STREAM_CORE_LIMITS, STREAM_TIMESTAMP_MS, streamCommand } from "../test/runtime/command-stream.ts";

const COMMAND_COUNT = Number(process.argv[2] ?? 500_000);
const IN_FLIGHT_COMMANDS = 10_000;
const SEED = 3;

const dataDir = mkdtempSync(join(tmpdir(), "bulwark-sequencer-bench-"));
const embedded = await startEmbeddedCore({
  dataDir,
  limits: STREAM_CORE_LIMITS,
  clock: () => STREAM_TIMESTAMP_MS,
  snapshotPolicy: { everyCommands: 100_000, everyMs: 60_000 },
  maxQueuedCommands: IN_FLIGHT_COMMANDS,
});

const startMs = performance.now();
let next = 1;
await new Promise<void>((resolve) => {
  let acked = 0;
  const pump = (): void => {
    while (next <= COMMAND_COUNT && embedded.sequencer.queuedCount < IN_FLIGHT_COMMANDS) {
      embedded.sequencer.submit(streamCommand(SEED, next++)).then(() => {
        if (++acked === COMMAND_COUNT) resolve();
        else if (embedded.sequencer.queuedCount < IN_FLIGHT_COMMANDS / 2) pump();
      });
    }
  };
  pump();
});
const seconds = (performance.now() - startMs) / 1000;
const stats = embedded.journal.stats;
console.log(
  `${COMMAND_COUNT} commands acknowledged in ${seconds.toFixed(2)} s = ${Math.round(COMMAND_COUNT / seconds)} commands/s; ` +
    `${stats.dataSyncCount} fdatasyncs (${Math.round(COMMAND_COUNT / stats.dataSyncCount)} commands per sync); ` +
    `${embedded.snapshotter.writtenCount} snapshots, ${embedded.snapshotter.hotPathMs.toFixed(1)} ms in core.snapshot()`,
);
await embedded.close();
rmSync(dataDir, { recursive: true, force: true });
