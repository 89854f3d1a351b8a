// The npm package `nodejs-order-book` (v10) driven with the same op stream, through its
// fastest public path: limit() / market() / cancel() with pre-built option objects.
// Self-trade prevention is set to EXPIRE_MAKER with the user as accountId, which is exactly
// Bulwark's default `cancelResting`, so both engines match the same way and cancel the same ids.

import {
  type LimitOrderOptions,
  type MarketOrderOptions,
  OrderBook,
  SelfTradePreventionMode,
  Side,
} from "nodejs-order-book";
import { applyLiveChanges, LiveSet } from "./live-set.ts";
import { fullGc, type MemorySample, memoryDelta, sampleMemory } from "./stats.ts";
import {
  emptyCounters,
  OP_CANCEL,
  OP_LIMIT,
  OP_MARKET,
  type OpStream,
  SIDE_BUY,
  type WorkCounters,
} from "./workload.ts";

export const PEER_NAME = "nodejs-order-book";

type PeerOp = LimitOrderOptions | MarketOrderOptions | null;

export interface PeerPrepared {
  stream: OpStream;
  /** Per stream entry: limit or market options (null for cancels). */
  options: PeerOp[];
  /** Per stream entry: for cancels, the id string chosen in the resolve pass. */
  cancelIds: string[];
}

function accountIds(users: number): string[] {
  const ids: string[] = [""];
  for (let u = 1; u <= users; u++) ids.push(`u${u}`);
  return ids;
}

function limitOptions(stream: OpStream, i: number, accounts: readonly string[]): LimitOrderOptions {
  return {
    id: String(stream.firstSequence + i),
    side: stream.side[i] === SIDE_BUY ? Side.BUY : Side.SELL,
    size: stream.quantityLots[i],
    price: stream.priceTicks[i],
    accountId: accounts[stream.userId[i]],
    stpMode: SelfTradePreventionMode.EXPIRE_MAKER,
  };
}

export function preparePeer(stream: OpStream): PeerPrepared {
  const accounts = accountIds(stream.params.users);
  const options: PeerOp[] = new Array(stream.count);
  const cancelIds: string[] = new Array(stream.count);
  for (let i = 0; i < stream.count; i++) {
    const k = stream.kind[i];
    cancelIds[i] = "";
    if (k === OP_LIMIT) options[i] = limitOptions(stream, i, accounts);
    else if (k === OP_MARKET)
      options[i] = {
        side: stream.side[i] === SIDE_BUY ? Side.BUY : Side.SELL,
        size: stream.quantityLots[i],
        accountId: accounts[stream.userId[i]],
        stpMode: SelfTradePreventionMode.EXPIRE_MAKER,
      };
    else options[i] = null;
  }
  return { stream, options, cancelIds };
}

function prefill(book: OrderBook, prepared: PeerPrepared): void {
  const { stream, options } = prepared;
  for (let i = 0; i < stream.prefillCount; i++) {
    const result = book.limit(options[i] as LimitOrderOptions);
    if (result.err !== null) throw new Error(`peer prefill rejected: ${result.err.message}`);
  }
}

/**
 * Untimed pass (it doubles as the warm-up): runs the stream with liveness tracking from the
 * engine's own results, fixes each cancel's target id, and counts the work done.
 */
export function resolvePeer(prepared: PeerPrepared): { counters: WorkCounters; cancelTargets: Float64Array } {
  const { stream, options, cancelIds } = prepared;
  const book = new OrderBook();
  const live = new LiveSet(stream.firstSequence, stream.count);
  const counters = emptyCounters();
  const cancelTargets = new Float64Array(stream.count);
  const removed: number[] = [];
  prefill(book, prepared);
  for (let i = 0; i < stream.prefillCount; i++) live.add(stream.firstSequence + i);

  for (let i = stream.prefillCount; i < stream.count; i++) {
    const kind = stream.kind[i];
    if (kind === OP_CANCEL) {
      const target = live.pick(stream.draw[i]);
      cancelTargets[i] = target;
      cancelIds[i] = String(target);
      if (target === 0) counters.cancelsEmpty += 1;
      if (book.cancel(cancelIds[i]) !== undefined) {
        counters.cancelsDone += 1;
        removed.push(target);
      }
      applyLiveChanges(live, removed, 0);
      continue;
    }
    const takerId = kind === OP_LIMIT ? (options[i] as LimitOrderOptions).id : "";
    const size = stream.quantityLots[i];
    const result =
      kind === OP_LIMIT
        ? book.limit(options[i] as LimitOrderOptions)
        : book.market(options[i] as MarketOrderOptions);
    if (result.err !== null) continue;
    for (const done of result.done) {
      if (done.id === takerId) continue;
      counters.trades += 1;
      removed.push(Number(done.id));
    }
    if (result.partial !== null && result.partial.id !== takerId) counters.trades += 1;
    if (result.stpExpired !== undefined) {
      for (const expired of result.stpExpired) {
        counters.selfTradeCancels += 1;
        removed.push(Number(expired.id));
      }
    }
    const traded = size - result.quantityLeft;
    counters.volumeLots += traded;
    if (kind === OP_LIMIT && traded > 0) counters.marketableLimits += 1;
    const resting = kind === OP_LIMIT && result.quantityLeft > 0 ? stream.firstSequence + i : 0;
    applyLiveChanges(live, removed, resting);
  }
  counters.restingAtEnd = live.size;
  return { counters, cancelTargets };
}

function runOps(book: OrderBook, prepared: PeerPrepared): void {
  const { stream, options, cancelIds } = prepared;
  const kinds = stream.kind;
  for (let i = stream.prefillCount; i < stream.count; i++) {
    const kind = kinds[i];
    if (kind === OP_LIMIT) book.limit(options[i] as LimitOrderOptions);
    else if (kind === OP_MARKET) book.market(options[i] as MarketOrderOptions);
    else book.cancel(cancelIds[i]);
  }
}

/** One timed run on a fresh book: prefill untimed, then the ops; returns seconds. */
export function timedPeerRun(prepared: PeerPrepared): number {
  const book = new OrderBook();
  prefill(book, prepared);
  fullGc();
  const t0 = process.hrtime.bigint();
  runOps(book, prepared);
  const t1 = process.hrtime.bigint();
  return Number(t1 - t0) / 1e9;
}

/** Per-op latency (ns, timer overhead subtracted) on a fresh book. */
export function latencyPeer(prepared: PeerPrepared, timerOverheadNs: number): Float64Array {
  const { stream, options, cancelIds } = prepared;
  const book = new OrderBook();
  prefill(book, prepared);
  fullGc();
  const samples = new Float64Array(stream.count - stream.prefillCount);
  let n = 0;
  for (let i = stream.prefillCount; i < stream.count; i++) {
    const kind = stream.kind[i];
    const t0 = process.hrtime.bigint();
    if (kind === OP_LIMIT) book.limit(options[i] as LimitOrderOptions);
    else if (kind === OP_MARKET) book.market(options[i] as MarketOrderOptions);
    else book.cancel(cancelIds[i]);
    const t1 = process.hrtime.bigint();
    samples[n++] = Math.max(0, Number(t1 - t0) - timerOverheadNs);
  }
  return samples;
}

/**
 * Memory of the prefilled book: baseline is the empty book; options are built on the fly so the
 * id strings and objects the book keeps are counted.
 */
export function memoryPeer(stream: OpStream): { delta: MemorySample; resting: number } {
  const accounts = accountIds(stream.params.users);
  let book: OrderBook | null = new OrderBook();
  const before = sampleMemory();
  for (let i = 0; i < stream.prefillCount; i++) book.limit(limitOptions(stream, i, accounts));
  const after = sampleMemory();
  const resting = stream.prefillCount;
  // Keep the book alive until after the sample.
  if (book.order(String(stream.firstSequence)) === undefined)
    throw new Error("peer book lost its first order");
  book = null;
  fullGc();
  return { delta: memoryDelta(before, after), resting };
}
