import { appendFileSync, chmodSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { LOG_FILE, readSignerLog, type SignatureRecord, SignerState } from "../../src/signer/state.ts";
import { newIntentId, T0, tempDir } from "./helpers.ts";

const TEN_MIN = 10 * 60_000;
let cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups) cleanup();
  cleanups = [];
});

function stateDir(): string {
  const { dir, cleanup } = tempDir();
  cleanups.push(cleanup);
  return join(dir, "state");
}

function signature(amount: bigint, atMs: number, expiresAtMs = atMs + 60_000): SignatureRecord {
  return {
    type: "signature",
    intentId: newIntentId(),
    chain: "fakechain",
    asset: "BTC",
    kind: "withdrawal",
    to: "user-1",
    amount: amount.toString(),
    fee: "0",
    feeAsset: "BTC",
    charges: [{ asset: "BTC", amount: amount.toString() }],
    txId: "tx",
    digest: "00",
    expiresAtMs,
    atMs,
  };
}

describe("the signer's state", () => {
  it("keeps seen ids, window counters and halts across a reopen (a kill leaves only fsynced records)", () => {
    const dir = stateDir();
    const state = SignerState.open(dir, T0);
    const first = signature(300n, T0);
    state.append(first);
    state.append(signature(200n, T0 + 1_000));
    state.append({ type: "halt", chain: "fakechain", reason: "breaker", atMs: T0 + 2_000 });
    // No close(): the process is killed; the records were fsynced by append.
    const reopened = SignerState.open(dir, T0 + 3_000);
    expect(reopened.isSeen(first.intentId)).toBe(true);
    expect(reopened.windowUsed("BTC", TEN_MIN, T0 + 3_000)).toBe(500n);
    expect(reopened.isHalted("fakechain")).toBe(true);
    reopened.append({ type: "resume", chain: "fakechain", reason: "checked", atMs: T0 + 4_000 });
    reopened.close();
    state.close();
    const third = SignerState.open(dir, T0 + 5_000);
    expect(third.isHalted("fakechain")).toBe(false);
    expect(third.recordCount).toBe(4);
    expect(readSignerLog(dir).filter((r) => r.type === "signature")).toHaveLength(2);
    third.close();
  });

  it("creates its directory 0700 and file 0600, and refuses group- or world-readable ones", () => {
    const dir = stateDir();
    SignerState.open(dir, T0).close();
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, LOG_FILE)).mode & 0o777).toBe(0o600);
    chmodSync(join(dir, LOG_FILE), 0o644);
    expect(() => SignerState.open(dir, T0)).toThrow(/group or others/);
    chmodSync(join(dir, LOG_FILE), 0o600);
    chmodSync(dir, 0o750);
    expect(() => SignerState.open(dir, T0)).toThrow(/group or others/);
  });

  it("cuts a torn last record and keeps every whole one", () => {
    const dir = stateDir();
    const state = SignerState.open(dir, T0);
    const kept = signature(100n, T0);
    state.append(kept);
    state.close();
    const path = join(dir, LOG_FILE);
    const goodSize = statSync(path).size;
    for (const torn of [
      Buffer.from([0, 0]),
      Buffer.from([0, 0, 0, 50, 1, 2, 3, 4, 5, 6, 7, 8, 123]),
      Buffer.alloc(40),
    ]) {
      appendFileSync(path, torn);
      const reopened = SignerState.open(dir, T0 + 1);
      expect(reopened.recoveredTornTail).toBe(true);
      expect(reopened.isSeen(kept.intentId)).toBe(true);
      expect(reopened.windowUsed("BTC", TEN_MIN, T0 + 1)).toBe(100n);
      expect(statSync(path).size).toBe(goodSize);
      reopened.append(signature(1n, T0 + 2));
      reopened.close();
      expect(SignerState.open(dir, T0 + 3).windowUsed("BTC", TEN_MIN, T0 + 3)).toBe(101n);
      writeFileSync(path, readFileSync(path).subarray(0, goodSize));
    }
  });

  it("refuses to open a log corrupted before its end", () => {
    const dir = stateDir();
    const state = SignerState.open(dir, T0);
    state.append(signature(100n, T0));
    state.append(signature(100n, T0));
    state.close();
    const path = join(dir, LOG_FILE);
    const bytes = readFileSync(path);
    bytes[20] ^= 0xff;
    writeFileSync(path, bytes);
    expect(() => SignerState.open(dir, T0)).toThrow(/corrupt/);
  });

  it("forgets seen ids past expiry plus the margin, and window entries older than 24 h", () => {
    const dir = stateDir();
    const state = SignerState.open(dir, T0, { seenMarginMs: 60_000 });
    const record = signature(100n, T0, T0 + 30_000);
    state.append(record);
    state.prune(T0 + 90_000);
    expect(state.isSeen(record.intentId)).toBe(true);
    state.prune(T0 + 90_001);
    expect(state.isSeen(record.intentId)).toBe(false);
    expect(state.windowUsed("BTC", 24 * 3_600_000, T0 + 90_001)).toBe(100n);
    state.prune(T0 + 24 * 3_600_000);
    expect(state.windowUsed("BTC", 24 * 3_600_000, T0 + 24 * 3_600_000)).toBe(0n);
    state.close();
    // Reopening long after: the id is not kept in memory, and the log still holds it for reconciliation.
    const reopened = SignerState.open(dir, T0 + 25 * 3_600_000, { seenMarginMs: 60_000 });
    expect(reopened.seenCount()).toBe(0);
    expect(readSignerLog(dir)).toHaveLength(1);
    reopened.close();
  });
});
