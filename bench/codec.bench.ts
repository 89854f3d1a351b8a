// Measures command encode/decode speed: `node --import tsx bench/codec.bench.ts`.
// Not part of `npm test` (timings are machine-dependent); prints ns per operation.

import type { Command } from "../src/core/commands.ts";
import { CommandDecoder, CommandEncoder, encodeCommand } from "../src/journal/command-codec.ts";

const COMMAND_COUNT = 1_000_000;
/** Timed passes per measurement; the fastest is printed (a shared machine only ever adds time). */
const PASSES = 5;

function makeCommands(count: number): Command[] {
  const commands: Command[] = [];
  for (let i = 1; i <= count; i++) {
    const timestampMs = 1_700_000_000_000 + i;
    if (i % 10 === 0) {
      commands.push({ kind: "cancelOrder", sequence: i, timestampMs, userId: i % 5000, orderId: i - 7 });
    } else {
      commands.push({
        kind: "placeOrder",
        sequence: i,
        timestampMs,
        userId: 1 + (i % 5000),
        marketId: 1 + (i % 3),
        side: i % 2 === 0 ? "buy" : "sell",
        orderType: "limit",
        priceTicks: 100_000 + (i % 500),
        quantityLots: 1 + (i % 100),
        quoteAmountUnits: 0,
        triggerPriceTicks: 0,
        timeInForce: "gtc",
        postOnly: false,
        clientOrderId: i,
        selfTradePrevention: null,
      });
    }
  }
  return commands;
}

function measure(label: string, count: number, run: () => number): void {
  run(); // warm-up pass so the JIT has compiled the hot path
  let bestNs = Number.POSITIVE_INFINITY;
  let checksum = 0;
  for (let pass = 0; pass < PASSES; pass++) {
    const start = process.hrtime.bigint();
    checksum = run();
    bestNs = Math.min(bestNs, Number(process.hrtime.bigint() - start));
  }
  console.log(`${label}: ${(bestNs / count).toFixed(1)} ns/op, fastest of ${PASSES} (checksum ${checksum})`);
}

const commands = makeCommands(COMMAND_COUNT);
const encoder = new CommandEncoder();
measure("encode (scratch buffer)", COMMAND_COUNT, () => {
  let totalBytes = 0;
  for (const command of commands) totalBytes += encoder.encode(command).length;
  return totalBytes;
});
// In place, as the journal's appendEncoded() does it: consecutive payloads in one buffer.
const target = new Uint8Array(64 * 1024 * 1024);
const targetView = new DataView(target.buffer);
measure("encodeInto (in place)", COMMAND_COUNT, () => {
  let at = 0;
  for (const command of commands) at = encoder.encodeInto(command, target, targetView, at, target.length);
  return at;
});
const encoded = commands.map((command) => encodeCommand(command));
const averageSizeBytes = encoded.reduce((sum, bytes) => sum + bytes.length, 0) / encoded.length;
console.log(`average encoded size: ${averageSizeBytes.toFixed(1)} bytes`);
// In place, as replay does it: every payload a range of one buffer (a journal segment).
const ends = new Uint32Array(COMMAND_COUNT);
let end = 0;
for (let i = 0; i < COMMAND_COUNT; i++) {
  target.set(encoded[i], end);
  end += encoded[i].length;
  ends[i] = end;
}
const decoder = new CommandDecoder();
measure("decode (in place)", COMMAND_COUNT, () => {
  let sequenceSum = 0;
  let start = 0;
  for (let i = 0; i < COMMAND_COUNT; i++) {
    sequenceSum += decoder.decode(target, start, ends[i]).sequence;
    start = ends[i];
  }
  return sequenceSum;
});
