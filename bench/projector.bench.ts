// Projector throughput on both engines: `npx tsx bench/projector.bench.ts [commands]`.
// Two modes: one transaction per core batch (the projector keeping up live), and the queue merging
// batches into large transactions (the projector catching up after falling behind).

import { Projector } from "../src/store/projector.ts";
import { ProjectorQueue } from "../src/store/projector-queue.ts";
import { runCoreStream } from "../test/store/core-stream.ts";
import { ENGINES, openTestStore } from "../test/store/engines.ts";

const commandCount = Number(process.argv[2] ?? 50_000);
const run = runCoreStream(5, commandCount, 64, Number.MAX_SAFE_INTEGER);
const eventCount = run.events.length;
console.log(`${commandCount} commands, ${run.batches.length} batches, ${eventCount} events`);

async function measure(engine: (typeof ENGINES)[number], mode: "per-batch" | "queued"): Promise<number> {
  const test = await openTestStore(engine);
  try {
    const projector = await Projector.open(test.store.db);
    const startMs = performance.now();
    if (mode === "per-batch") {
      for (const batch of run.batches) await projector.applyBatch(batch);
    } else {
      const queue = new ProjectorQueue(projector, { maxQueuedEvents: 1_000_000 });
      for (const batch of run.batches) await queue.push(batch);
      await queue.flush();
      await queue.close();
    }
    const elapsedMs = performance.now() - startMs;
    if (projector.lastSequence !== run.core.lastSequence) throw new Error("projector did not finish");
    return Math.round((eventCount / elapsedMs) * 1_000);
  } finally {
    await test.dispose();
  }
}

for (const engine of ENGINES)
  for (const mode of ["per-batch", "queued"] as const)
    console.log(
      `${engine.padEnd(9)} ${mode.padEnd(10)} ${(await measure(engine, mode)).toLocaleString("en")} events/s`,
    );
