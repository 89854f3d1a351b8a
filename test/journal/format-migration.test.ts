// Journal format migration: records written in command format version 1 (before the order type
// got its own byte) must replay exactly as before, next to version 2 records appended later.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Command, ORDER_TYPES } from "../../src/core/commands.ts";
import { Core } from "../../src/core/core.ts";
import type { CoreEvent } from "../../src/core/events.ts";
import { COMMAND_FORMAT_VERSION, CommandEncoder, encodeCommand } from "../../src/journal/command-codec.ts";
import { FileJournal } from "../../src/journal/file-journal.ts";
import { replayJournal } from "../../src/runtime/recovery.ts";
import { STREAM_CORE_LIMITS, stampedStream } from "../runtime/command-stream.ts";
import { limitBuy, stopSell, VERSION_1_HEX } from "./codec-fixtures.ts";

const KIND_PLACE_ORDER = 1;

/** Bytes taken by a codec number whose tag byte is `tag`. */
function numberSizeBytes(tag: number): number {
  if (tag <= 0xef) return 1;
  return [3, 5, 7, 9][tag - 0xf0];
}

/**
 * The version 1 encoder, kept here because the codec no longer writes version 1. Version 1
 * differs from version 2 only in placeOrder, whose order type sat in bits 1-2 of one flags byte
 * (bit 0 side, bits 3-4 time in force, bit 5 postOnly, bits 6-7 STP) instead of a byte of its
 * own, so it is the version 2 encoding with those two bytes folded back into one. Checked
 * against bytes the first release wrote, below.
 */
function encodeVersion1(command: Command): Uint8Array {
  const v2 = encodeCommand(command);
  expect(v2[0]).toBe(2);
  const v1 = Uint8Array.from(v2);
  v1[0] = 1;
  if (v2[1] !== KIND_PLACE_ORDER) return v1;
  const sequenceOffset = 2;
  const timestampOffset = sequenceOffset + numberSizeBytes(v2[sequenceOffset]);
  const orderTypeOffset = timestampOffset + numberSizeBytes(v2[timestampOffset]);
  const orderType = v2[orderTypeOffset];
  expect(orderType).toBeLessThan(4); // the 2-bit field of version 1
  const flags = v2[orderTypeOffset + 1];
  const side = flags & 1;
  const timeInForce = (flags >> 1) & 3;
  const postOnly = (flags >> 3) & 1;
  const stp = (flags >> 4) & 3;
  const folded = side | (orderType << 1) | (timeInForce << 3) | (postOnly << 5) | (stp << 6);
  return Uint8Array.of(...v1.subarray(0, orderTypeOffset), folded, ...v1.subarray(orderTypeOffset + 2));
}

const SEED = 20_240_611;
const OLD_COUNT = 1_500;
const TOTAL_COUNT = 2_200;
// Version 1 predates client order texts (version 4): the stream's orders go without them here.
const commands = stampedStream(SEED, 1, TOTAL_COUNT).map((command) => {
  if (command.kind !== "placeOrder" || command.clientOrderText === undefined) return command;
  const { clientOrderText: _text, ...withoutText } = command;
  return withoutText;
});

let dir: string;
const opened: FileJournal[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "bulwark-migration-"));
});

afterEach(async () => {
  for (const journal of opened.splice(0)) await journal.close().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

async function openJournal(name: string): Promise<FileJournal> {
  // Small segments, so the old records span several segment files.
  const journal = await FileJournal.open({ dir: join(dir, name), segmentSizeBytes: 16 * 1024 });
  opened.push(journal);
  return journal;
}

/** Replays the whole journal into a fresh core, as recovery does. */
function replayAll(journal: FileJournal): { core: Core; events: CoreEvent[] } {
  const core = new Core(STREAM_CORE_LIMITS);
  const events: CoreEvent[] = [];
  replayJournal(core, journal, 1024, (batchEvents) => events.push(...batchEvents));
  return { core, events };
}

/** The same commands applied straight to a core. */
function applied(count: number): { core: Core; events: CoreEvent[] } {
  const core = new Core(STREAM_CORE_LIMITS);
  const events: CoreEvent[] = [];
  for (let at = 0; at < count; at += 1024)
    core.applyBatch(commands.slice(at, Math.min(count, at + 1024)), events);
  return { core, events };
}

function payloadVersions(journal: FileJournal): number[] {
  return [...journal.replay(1)].map((record) => record.payload[0]);
}

describe("journal format migration (command format 1 → 2)", () => {
  it("the test's version 1 encoder writes what the first release wrote", () => {
    const hex = (command: Command) => Buffer.from(encodeVersion1(command)).toString("hex");
    expect(hex(limitBuy)).toBe(VERSION_1_HEX.limitBuy);
    expect(hex(stopSell)).toBe(VERSION_1_HEX.stopSell);
  });

  it("an old journal replays to the same events and state hash as the same commands in the new format, and appends after it are new", async () => {
    // The stream uses every order type there is (so far all of them fit version 1).
    const accepted = new Set(
      applied(OLD_COUNT)
        .events.filter((event) => event.type === "orderAccepted")
        .map((event) => event.orderType),
    );
    expect([...accepted].sort()).toEqual([...ORDER_TYPES].sort());

    const oldJournal = await openJournal("old");
    for (const command of commands.slice(0, OLD_COUNT))
      oldJournal.append(command.sequence, encodeVersion1(command));
    await oldJournal.close();
    const newJournal = await openJournal("new");
    const encoder = new CommandEncoder();
    for (const command of commands.slice(0, OLD_COUNT))
      newJournal.appendEncoded(command.sequence, command, encoder);
    await newJournal.close();

    const reopenedOld = await openJournal("old");
    const reopenedNew = await openJournal("new");
    expect(reopenedOld.segmentCount).toBeGreaterThan(1);
    expect(payloadVersions(reopenedOld)).toEqual(new Array(OLD_COUNT).fill(1));
    expect(payloadVersions(reopenedNew)).toEqual(new Array(OLD_COUNT).fill(COMMAND_FORMAT_VERSION));
    const fromOld = replayAll(reopenedOld);
    const fromNew = replayAll(reopenedNew);
    const direct = applied(OLD_COUNT);
    expect(fromOld.events).toEqual(fromNew.events);
    expect(fromOld.events).toEqual(direct.events);
    expect(fromOld.core.stateHash()).toBe(fromNew.core.stateHash());
    expect(fromOld.core.stateHash()).toBe(direct.core.stateHash());

    // The running exchange appends after the old records: only in the new format.
    for (const command of commands.slice(OLD_COUNT))
      reopenedOld.appendEncoded(command.sequence, command, encoder);
    await reopenedOld.close();
    const mixed = await openJournal("old");
    expect(payloadVersions(mixed)).toEqual([
      ...new Array(OLD_COUNT).fill(1),
      ...new Array(TOTAL_COUNT - OLD_COUNT).fill(COMMAND_FORMAT_VERSION),
    ]);
    const fromMixed = replayAll(mixed);
    const all = applied(TOTAL_COUNT);
    expect(fromMixed.events).toEqual(all.events);
    expect(fromMixed.core.stateHash()).toBe(all.core.stateHash());
  });
});
