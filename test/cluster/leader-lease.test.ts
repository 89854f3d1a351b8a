// The leader lease against the real NATS server's JetStream KV (127.0.0.1:4222): one holder at a
// time, takeover after expiry with the next term, the deposed holder told on its next renew, and
// exactly one winner when many try at once. Each test has its own bucket, destroyed after.

import { randomUUID } from "node:crypto";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  LeaderLease,
  type LeaderLeaseOptions,
  type LeaseLostReason,
  type LeaseState,
} from "../../src/cluster/leader-lease.ts";
import { connectNats } from "../../src/cluster/nats-connection.ts";

let connection: NatsConnection;
let bucket = "";
let leases: LeaderLease[] = [];

beforeAll(async () => {
  connection = await connectNats(undefined, { name: "test leader-lease", maxReconnectAttempts: 0 });
});

afterEach(async () => {
  for (const lease of leases) lease.close();
  leases = [];
  if (bucket !== "") await (await new Kvm(connection).open(bucket)).destroy();
  bucket = "";
});

afterAll(async () => {
  await connection.drain();
});

/** A fake clock the tests move by hand. */
function fakeClock(startMs = 1_764_000_000_000): { now: () => number; advance: (ms: number) => void } {
  let nowMs = startMs;
  return {
    now: () => nowMs,
    advance: (ms) => {
      nowMs += ms;
    },
  };
}

async function open(holderId: string, options: Partial<LeaderLeaseOptions> = {}): Promise<LeaderLease> {
  if (bucket === "") bucket = `test_lease_${randomUUID().replaceAll("-", "")}`;
  const lease = await LeaderLease.open(connection, {
    bucket,
    key: "core-primary",
    holderId,
    ttlMs: 60_000,
    ...options,
  });
  leases.push(lease);
  return lease;
}

describe("leader lease", () => {
  it("lets one process acquire and keeps the other out while it is unexpired", async () => {
    const clock = fakeClock();
    const a = await open("core-a", { clock: clock.now });
    const b = await open("core-b", { clock: clock.now });
    expect(await a.tryAcquire()).toBe(true);
    expect(await b.tryAcquire()).toBe(false);
    clock.advance(59_000);
    expect(await b.tryAcquire()).toBe(false);
    expect(a.isHeld()).toBe(true);
    expect(b.isHeld()).toBe(false);
    expect((await b.current()).record).toEqual({
      holderId: "core-a",
      expiresAtMs: 1_764_000_060_000,
      term: 1,
    });
  });

  it("after expiry another takes over with term + 1, and the old holder's renew fails and calls onLost", async () => {
    const clock = fakeClock();
    const lost: LeaseLostReason[] = [];
    const a = await open("core-a", { clock: clock.now, onLost: (reason) => lost.push(reason) });
    const b = await open("core-b", { clock: clock.now });
    expect(await a.tryAcquire()).toBe(true);
    expect(await a.renew()).toBe(true); // renewals keep the term
    expect(a.term).toBe(1);

    clock.advance(60_001); // core-a "paused" past its expiry
    expect(await b.tryAcquire()).toBe(true);
    expect(b.term).toBe(2);
    expect((await b.current()).record).toMatchObject({ holderId: "core-b", term: 2 });

    // core-a wakes up still believing in its lease: its first renew is refused by the revision check.
    expect(await a.renew()).toBe(false);
    expect(lost).toEqual(["takenOver"]);
    expect(a.isHeld()).toBe(false);
    expect(await a.renew()).toBe(false);
    expect(lost).toHaveLength(1);
    expect((await a.current()).record).toMatchObject({ holderId: "core-b", term: 2 });
  });

  it("with a real short ttl the renew loop keeps the lease, and a crashed holder's lease passes on", async () => {
    const a = await open("core-a", { ttlMs: 300 });
    const b = await open("core-b", { ttlMs: 300 });
    expect(await a.tryAcquire()).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 450)); // past one ttl: the loop renewed
    expect(await b.tryAcquire()).toBe(false);
    expect(a.isHeld()).toBe(true);

    a.close(); // a crash: no more renewals, no release
    await expect.poll(() => b.tryAcquire(), { interval: 50, timeout: 2_000 }).toBe(true);
    expect(b.term).toBe(2);
  });

  it("concurrent tryAcquire from many processes: exactly one wins, on an empty key and on an expired one", async () => {
    const clock = fakeClock();
    const contenders = await Promise.all(
      Array.from({ length: 8 }, (_, i) => open(`core-${i}`, { clock: clock.now })),
    );
    const first = await Promise.all(contenders.map((lease) => lease.tryAcquire()));
    expect(first.filter(Boolean)).toHaveLength(1);

    clock.advance(60_001);
    const second = await Promise.all(contenders.map((lease) => lease.tryAcquire()));
    // The old holder renews (its revision still matches) or a newcomer takes over: one write wins.
    expect(second.filter(Boolean)).toHaveLength(1);
    const winner = contenders[second.indexOf(true)];
    expect((await winner.current()).record?.holderId).toBe(`core-${second.indexOf(true)}`);
  });

  it("release lets a standby take over at once with the next term, and watch shows it every change", async () => {
    const a = await open("core-a");
    const b = await open("core-b");
    const seen: LeaseState[] = [];
    const stop = await b.watch((state) => seen.push(state));
    expect(await a.tryAcquire()).toBe(true);
    await a.release();
    expect(a.isHeld()).toBe(false);
    expect(await b.tryAcquire()).toBe(true);
    expect(b.term).toBe(2);
    await expect
      .poll(() => seen.map((state) => [state.record?.holderId, state.record?.term]))
      .toEqual([
        ["core-a", 1],
        ["core-a", 1],
        ["core-b", 2],
      ]);
    expect(seen[1].record?.expiresAtMs).toBe(0); // the release
    stop();
  });
});
