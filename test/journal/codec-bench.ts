// Measures command encode/decode speed: `node --import tsx test/journal/codec-bench.ts`.
// Not part of `npm test` (timings are machine-dependent); prints ns per operation.

import type { Command } from "../../src/core/commands.ts";
import { CommandEncoder, decodeCommand, encodeCommand } from "../../src/journal/command-codec.ts";

const COMMAND_COUNT = 1_000_000;

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
  const start = process.hrtime.bigint();
  const checksum = run();
  const elapsedNs = Number(process.hrtime.bigint() - start);
  console.log(`${label}: ${(elapsedNs / count).toFixed(1)} ns/op (checksum ${checksum})`);
}

const commands = makeCommands(COMMAND_COUNT);
const encoder = new CommandEncoder();
measure("encode", COMMAND_COUNT, () => {
  let totalBytes = 0;
  for (const command of commands) totalBytes += encoder.encode(command).length;
  return totalBytes;
});
const encoded = commands.map((command) => encodeCommand(command));
const averageSizeBytes = encoded.reduce((sum, bytes) => sum + bytes.length, 0) / encoded.length;
console.log(`average encoded size: ${averageSizeBytes.toFixed(1)} bytes`);
measure("decode", COMMAND_COUNT, () => {
  let sequenceSum = 0;
  for (const bytes of encoded) sequenceSum += decodeCommand(bytes).sequence;
  return sequenceSum;
});
