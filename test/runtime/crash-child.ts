// Child process of the crash test: `node --import tsx test/runtime/crash-child.ts <dataDir> <seed>`.
// Recovers from <dataDir>, then feeds the deterministic command stream through the real
// sequencer, file journal and snapshots until it is killed. Protocol on stdout (a pipe, so each
// synchronous write is in the kernel before the next line of code runs):
//   "ready <lastSequence>"  after recovery
//   "ack <sequence>"        only after the submit() promise of that command resolved
//                           (acks are in order; one line covers every sequence up to it)

import { writeSync } from "node:fs";
import { startEmbeddedCore } from "../../src/runtime/embedded.ts";
import type { SubmitResult } from "../../src/runtime/sequencer.ts";
import { STREAM_CORE_LIMITS, STREAM_TIMESTAMP_MS, streamCommand } from "./command-stream.ts";

const IN_FLIGHT_COMMANDS = 2_000;
/** Stops submitting after this many commands per run, so a missed kill cannot run forever. */
const MAX_COMMANDS_PER_RUN = 2_000_000;

const [dataDir, seedText] = process.argv.slice(2);
if (dataDir === undefined || seedText === undefined) {
  throw new Error("usage: crash-child.ts <dataDir> <seed>");
}
const seed = Number(seedText);

const embedded = await startEmbeddedCore({
  dataDir,
  limits: STREAM_CORE_LIMITS,
  clock: () => STREAM_TIMESTAMP_MS,
  snapshotPolicy: { everyCommands: 5_000, everyMs: 50 },
  keepSnapshotCount: 2,
  segmentSizeBytes: 256 * 1024,
  maxPendingSizeBytes: 2 * 1024 * 1024,
  maxQueuedCommands: IN_FLIGHT_COMMANDS,
  onSnapshotError: (error) => {
    console.error("snapshot failed", error);
    process.exit(3);
  },
});
const { sequencer } = embedded;
const firstSequence = embedded.core.lastSequence + 1;
writeSync(1, `ready ${embedded.core.lastSequence}\n`);

let nextSequence = firstSequence;
let inFlight = 0;
let ackedThrough = 0;
let ackWriteScheduled = false;

function writeAck(): void {
  ackWriteScheduled = false;
  writeSync(1, `ack ${ackedThrough}\n`);
}

function onAck(expectedSequence: number, result: SubmitResult): void {
  if (result.sequence !== expectedSequence) {
    console.error(`stream out of step: expected ${expectedSequence}, got ${result.sequence}`);
    process.exit(2);
  }
  inFlight--;
  ackedThrough = result.sequence;
  // One line per burst of acks: the microtask runs after the other resolutions queued with it.
  if (!ackWriteScheduled) {
    ackWriteScheduled = true;
    queueMicrotask(writeAck);
  }
  pump();
}

function pump(): void {
  while (inFlight < IN_FLIGHT_COMMANDS && nextSequence < firstSequence + MAX_COMMANDS_PER_RUN) {
    const sequence = nextSequence++;
    inFlight++;
    sequencer.submit(streamCommand(seed, sequence)).then(
      (result) => onAck(sequence, result),
      (error: unknown) => {
        console.error("submit failed", error);
        process.exit(4);
      },
    );
  }
}

pump();
