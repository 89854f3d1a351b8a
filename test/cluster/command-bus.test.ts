// The command bus against the real NATS server (127.0.0.1:4222): a gateway's command reaches the
// core's submit and its durable result comes back; anything malformed is answered with an error
// and never reaches submit; busy, unavailable, no responders and timeouts become typed errors.

import { randomUUID } from "node:crypto";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CommandBusClient,
  CommandRefusedError,
  CommandResultTooLargeError,
  type CommandServer,
  CoreBusyError,
  CoreUnavailableError,
  MAX_COMMAND_BYTES,
  serveCommands,
} from "../../src/cluster/command-bus.ts";
import { connectNats } from "../../src/cluster/nats-connection.ts";
import type { UnstampedCommand } from "../../src/core/commands.ts";
import type { CoreEvent } from "../../src/core/events.ts";
import { CommandEncodeError } from "../../src/journal/command-codec.ts";
import { SequencerQueueFullError } from "../../src/runtime/sequencer.ts";

const PLACE: UnstampedCommand = {
  kind: "placeOrder",
  userId: 7,
  marketId: 1,
  side: "buy",
  orderType: "limit",
  priceTicks: 100,
  quantityLots: 3,
  quoteAmountUnits: 0,
  triggerPriceTicks: 0,
  timeInForce: "gtc",
  postOnly: false,
  clientOrderId: 0,
  clientOrderText: "my-order-1",
  selfTradePrevention: null,
  nonce: { keyId: "k1", nonce: 9_007_199_254_740_991 },
};

const ACCEPTED: CoreEvent = {
  type: "orderAccepted",
  sequence: 42,
  timestampMs: 1_764_000_000_000,
  orderId: 42,
  userId: 7,
  marketId: 1,
  side: "buy",
  orderType: "limit",
  priceTicks: 100,
  quantityLots: 3,
  quoteAmountUnits: 0,
  triggerPriceTicks: 0,
  clientOrderId: 0,
  clientOrderText: null,
  timeInForce: "gtc",
  postOnly: false,
  heldUnits: 300,
};

let connection: NatsConnection;
const servers: CommandServer[] = [];
/** Settles the submits the tests leave hanging, so stop() can finish. */
const hanging: Array<() => void> = [];

beforeAll(async () => {
  connection = await connectNats(undefined, { name: "test command-bus", maxReconnectAttempts: 0 });
});

afterAll(async () => {
  for (const release of hanging) release();
  await Promise.all(servers.map((server) => server.stop()));
  await connection.drain();
});

/** A fresh subject, so files and tests running at once never share one. */
function subject(): string {
  return `test.commands.${randomUUID()}`;
}

/** Serves `submit` on a fresh subject; returns the subject and the commands submit saw. */
async function serve(
  submit: (command: UnstampedCommand) => Promise<{ sequence: number; events: CoreEvent[] }>,
  options: { maxInFlight?: number; maxReplyBytes?: number } = {},
): Promise<{ subject: string; seen: UnstampedCommand[]; server: CommandServer }> {
  const name = subject();
  const seen: UnstampedCommand[] = [];
  const server = serveCommands(connection, {
    subject: name,
    maxInFlight: options.maxInFlight ?? 16,
    maxReplyBytes: options.maxReplyBytes,
    submit: (command) => {
      seen.push(command);
      return submit(command);
    },
  });
  servers.push(server);
  await connection.flush(); // the subscription is registered with the server before any request
  return { subject: name, seen, server };
}

function client(name: string, options: { timeoutMs?: number; maxInFlight?: number } = {}): CommandBusClient {
  return new CommandBusClient(connection, {
    subject: name,
    timeoutMs: options.timeoutMs ?? 2_000,
    maxInFlight: options.maxInFlight ?? 16,
  });
}

/** A submit that never settles until the file ends. */
function hang(): Promise<never> {
  return new Promise((_, reject) => hanging.push(() => reject(new Error("test over"))));
}

/** The error reply to raw request bytes. */
async function rawReply(name: string, bytes: Uint8Array | string): Promise<Record<string, unknown>> {
  const response = await connection.request(name, bytes, { timeout: 2_000 });
  return response.json<Record<string, unknown>>();
}

describe("command bus", () => {
  it("carries a command to submit and its durable result back, exactly", async () => {
    const { subject: name, seen } = await serve(async () => ({ sequence: 42, events: [ACCEPTED] }));
    const result = await client(name).submit(PLACE);
    expect(result).toEqual({ sequence: 42, events: [ACCEPTED] });
    expect(seen).toEqual([PLACE]);
  });

  it("answers malformed, oversized, unknown-kind and wrong-version requests with an error, never calling submit", async () => {
    const { subject: name, seen, server } = await serve(async () => ({ sequence: 1, events: [] }));
    const bad: Array<Uint8Array | string> = [
      "not json",
      new Uint8Array([0xff, 0xfe, 0x7b]),
      JSON.stringify({ v: 1, command: { kind: "mintMoney", userId: 1 } }),
      JSON.stringify({ v: 1, command: { userId: 1 } }),
      JSON.stringify({ v: 2, command: { ...PLACE } }),
      JSON.stringify({ v: 1, command: { ...PLACE }, extra: true }),
      JSON.stringify({ v: 1, command: { ...PLACE, priceTicks: [1, 2] } }),
      JSON.stringify({ v: 1, command: { ...PLACE, nonce: { keyId: { deep: 1 } } } }),
      JSON.stringify({ v: 1, command: { ...PLACE, sequence: 5 } }),
      JSON.stringify({ v: 1, command: { ...PLACE, clientOrderText: "x".repeat(MAX_COMMAND_BYTES) } }),
      JSON.stringify([1, 2, 3]),
    ];
    for (const bytes of bad) {
      const reply = await rawReply(name, bytes);
      expect(reply).toMatchObject({ v: 1, ok: false, error: "malformed" });
    }
    expect(seen).toEqual([]);
    expect(server.stats.refusedMalformed).toBe(bad.length);
  });

  it("refuses on the client what JSON cannot carry exactly or what is too big, sending nothing", async () => {
    const { subject: name, seen } = await serve(async () => ({ sequence: 1, events: [] }));
    const bus = client(name);
    await expect(bus.submit({ ...PLACE, priceTicks: Number.NaN })).rejects.toBeInstanceOf(
      CommandRefusedError,
    );
    await expect(
      bus.submit({ ...PLACE, clientOrderText: "x".repeat(MAX_COMMAND_BYTES) }),
    ).rejects.toBeInstanceOf(CommandRefusedError);
    expect(seen).toEqual([]);
  });

  it("maps a full core queue to busy, an unencodable command to refused, other failures to unavailable", async () => {
    const failures: Error[] = [
      new SequencerQueueFullError(10),
      new CommandEncodeError("unknown side"),
      new Error("journal flush failed"),
    ];
    const { subject: name } = await serve(async () => {
      throw failures.shift();
    });
    const bus = client(name);
    const busy = await bus.submit(PLACE).catch((error: unknown) => error);
    // The gateway's existing `instanceof SequencerQueueFullError` → busy keeps working.
    expect(busy).toBeInstanceOf(CoreBusyError);
    expect(busy).toBeInstanceOf(SequencerQueueFullError);
    await expect(bus.submit(PLACE)).rejects.toMatchObject({ name: "CommandRefusedError", code: "invalid" });
    const unavailable = await bus.submit(PLACE).catch((error: unknown) => error);
    expect(unavailable).toBeInstanceOf(CoreUnavailableError);
    expect(unavailable).toMatchObject({ reason: "unavailable", outcomeUnknown: true });
  });

  it("answers busy past the server's in-flight bound without calling submit, and the client's bound refuses locally", async () => {
    const { subject: name, seen } = await serve(hang, { maxInFlight: 1 });
    const bus = client(name, { timeoutMs: 4_000, maxInFlight: 2 });
    void bus.submit(PLACE).catch(() => {}); // holds the server's one slot
    await expect(bus.submit(PLACE)).rejects.toBeInstanceOf(CoreBusyError);
    expect(seen).toHaveLength(1);

    const local = client(name, { maxInFlight: 1, timeoutMs: 4_000 });
    void local.submit(PLACE).catch(() => {}); // gets a busy reply soon, but is outstanding now
    await expect(local.submit(PLACE)).rejects.toThrow(/already waiting for the core/);
  });

  it("fails fast with CoreUnavailableError when no core serves the subject (nothing applied)", async () => {
    const started = performance.now();
    const error = await client(subject(), { timeoutMs: 5_000 })
      .submit(PLACE)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CoreUnavailableError);
    expect(error).toMatchObject({ reason: "noResponders", outcomeUnknown: false });
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it("turns a slow core into a timeout whose outcome is unknown", async () => {
    const { subject: name } = await serve(hang);
    const started = performance.now();
    const error = await client(name, { timeoutMs: 200 })
      .submit(PLACE)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CoreUnavailableError);
    expect(error).toMatchObject({ reason: "timeout", outcomeUnknown: true });
    expect(performance.now() - started).toBeLessThan(1_500);
  });

  it("says a result too large for one reply was applied, with its sequence", async () => {
    const events = Array.from({ length: 50 }, () => ACCEPTED);
    const { subject: name } = await serve(async () => ({ sequence: 42, events }), { maxReplyBytes: 4_096 });
    const error = await client(name)
      .submit(PLACE)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandResultTooLargeError);
    expect(error).toMatchObject({ sequence: 42 });
  });

  it("hands each request to one core of the queue group", async () => {
    const name = subject();
    let calls = 0;
    for (let i = 0; i < 2; i++) {
      servers.push(
        serveCommands(connection, {
          subject: name,
          maxInFlight: 16,
          submit: async () => ({ sequence: ++calls, events: [] }),
        }),
      );
    }
    await connection.flush();
    const bus = client(name, { maxInFlight: 20 });
    const results = await Promise.all(Array.from({ length: 20 }, () => bus.submit(PLACE)));
    expect(calls).toBe(20);
    expect(new Set(results.map((result) => result.sequence)).size).toBe(20);
  });

  it("stop() answers the requests already taken, then stops taking more", async () => {
    let release: () => void = () => {};
    const { subject: name, server } = await serve(
      () => new Promise((resolve) => (release = () => resolve({ sequence: 5, events: [] }))),
    );
    const bus = client(name);
    const pending = bus.submit(PLACE);
    await expect.poll(() => server.stats.inFlight).toBe(1);
    const stopped = server.stop();
    release();
    await expect(pending).resolves.toEqual({ sequence: 5, events: [] });
    await stopped;
    await expect(bus.submit(PLACE)).rejects.toMatchObject({ reason: "noResponders" });
  });
});
