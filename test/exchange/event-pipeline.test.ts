import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { UnstampedCommand } from "../../src/core/commands.ts";
import type { CoreEvent } from "../../src/core/events.ts";
import {
  type DurableBatch,
  EventPipeline,
  type EventPipelineStage,
} from "../../src/exchange/event-pipeline.ts";
import { Exchange } from "../../src/exchange/exchange.ts";
import { SequencerQueueFullError } from "../../src/runtime/sequencer.ts";
import { DEFAULT_ASSETS } from "../../src/server/default-markets.ts";
import type { BatchProjector } from "../../src/store/projector.ts";
import { balancesOfUser, projectedSequence } from "../../src/store/queries.ts";

const directories: string[] = [];
afterEach(() => {
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

function dataDir(): string {
  const directory = mkdtempSync(join(tmpdir(), "bulwark-pipeline-"));
  directories.push(directory);
  return directory;
}

function batchOf(sequence: number): DurableBatch {
  const event: CoreEvent = {
    type: "assetAdded",
    sequence,
    asset: { assetId: sequence, code: `A${sequence}`, scale: 2 },
  };
  return { events: [event], commands: [{ sequence, timestampMs: 0 }] };
}

describe("EventPipeline", () => {
  it("delivers in the declared stage order, whatever the order handlers attached in", () => {
    const pipeline = new EventPipeline(() => {});
    const seen: string[] = [];
    const stages: EventPipelineStage[] = ["custody", "privateFeed", "projector", "marketData"];
    for (const stage of stages) pipeline.attach(stage, () => void seen.push(stage));
    expect(pipeline.deliver(batchOf(1))).toBeUndefined();
    expect(seen).toEqual(["marketData", "projector", "privateFeed", "custody"]);
  });

  it("holds later stages until a waiting stage resolves, and counts the stall", async () => {
    let now = 0;
    const pipeline = new EventPipeline(
      () => {},
      () => now,
    );
    const seen: string[] = [];
    let release: () => void = () => {};
    pipeline.attach("marketData", () => void seen.push("marketData"));
    pipeline.attach("projector", () => {
      seen.push("projector");
      return new Promise<void>((resolve) => {
        release = resolve;
      });
    });
    pipeline.attach("privateFeed", () => void seen.push("privateFeed"));
    const waiting = pipeline.deliver(batchOf(1));
    expect(waiting).toBeInstanceOf(Promise);
    expect(seen).toEqual(["marketData", "projector"]);
    expect(pipeline.stats.stalled).toBe(true);
    now = 250;
    release();
    await waiting;
    expect(seen).toEqual(["marketData", "projector", "privateFeed"]);
    expect(pipeline.stats).toEqual({ stalledBatches: 1, stalledMs: 250, stalled: false });
  });

  it("reports a throwing handler and still runs the others; bounds handlers per stage", () => {
    const failures: string[] = [];
    const pipeline = new EventPipeline((stage) => failures.push(stage));
    const seen: string[] = [];
    pipeline.attach("marketData", () => {
      throw new Error("boom");
    });
    pipeline.attach("privateFeed", () => void seen.push("privateFeed"));
    pipeline.deliver(batchOf(1));
    expect(failures).toEqual(["marketData"]);
    expect(seen).toEqual(["privateFeed"]);
    for (let index = 1; index < 8; index++) pipeline.attach("privateFeed", () => {});
    expect(() => pipeline.attach("privateFeed", () => {})).toThrow(RangeError);
  });
});

/** A projector that writes only while its gate is open, like a store that stopped answering. */
class GatedProjector implements BatchProjector {
  private gate: Promise<void> | null = null;
  private openGate: () => void = () => {};
  applied = 0;

  constructor(private readonly inner: BatchProjector) {}

  get lastSequence(): number {
    return this.inner.lastSequence;
  }

  close(): void {
    this.gate = new Promise((resolve) => {
      this.openGate = resolve;
    });
  }

  open(): void {
    this.gate = null;
    this.openGate();
  }

  async applyBatch(
    batch: Parameters<BatchProjector["applyBatch"]>[0],
  ): ReturnType<BatchProjector["applyBatch"]> {
    while (this.gate !== null) await this.gate;
    this.applied += 1;
    return this.inner.applyBatch(batch);
  }
}

describe("Exchange event pipeline back-pressure", () => {
  it("a full projector queue stops the sequencer: bounded lag, busy refusals, nothing lost once the store is back", async () => {
    const wrapped: { projector: GatedProjector | null } = { projector: null };
    const maxQueuedEvents = 200;
    const maxQueuedCommands = 500;
    const exchange = await Exchange.open({
      dataDir: dataDir(),
      projectorQueue: { maxQueuedEvents },
      maxQueuedCommands,
      candleSaveIntervalMs: 0,
      wrapProjector: (projector) => {
        wrapped.projector = new GatedProjector(projector);
        return wrapped.projector;
      },
    });
    try {
      await exchange.submit({ kind: "addAsset", asset: DEFAULT_ASSETS[0] });
      await exchange.whenProjected(exchange.status().lastSequence);
      const store = wrapped.projector!;
      store.close();

      // Each credit makes two events (balanceAdjusted, balance): far more than the queue holds.
      const credits = 10_000;
      const accepted: Promise<number>[] = [];
      let refused = 0;
      for (let index = 0; index < credits; index++) {
        const command: UnstampedCommand = {
          kind: "adjustBalance",
          userId: 1 + (index % 10),
          assetId: DEFAULT_ASSETS[0].assetId,
          amountUnits: 1,
          reason: `credit ${index}`,
        };
        accepted.push(
          exchange.submit(command).then(
            (result) => result.sequence,
            (error: unknown) => {
              if (!(error instanceof SequencerQueueFullError)) throw error;
              refused += 1;
              return 0;
            },
          ),
        );
        // Let the sequencer run between bursts, as request handlers would.
        if (index % 100 === 99) await new Promise((resolve) => setImmediate(resolve));
      }
      await new Promise((resolve) => setTimeout(resolve, 200));

      const stalled = exchange.status();
      expect(stalled.pipeline.stalled).toBe(true);
      expect(exchange.internals.sequencer.backPressured).toBe(true);
      // The core stopped: what it applied beyond the store is bounded by the pipeline (a batch the
      // projector holds, one the queue took whole, the stalled delivery, and the batches applied
      // while the journal synced them: 2,400 commands seen at most), not by what was submitted.
      // Without back-pressure nearly all 10,000 would be applied.
      const projected = store.lastSequence;
      expect(stalled.lastSequence - projected).toBeLessThan(credits / 2);
      expect(stalled.lastSequence).toBeLessThan(1 + credits);
      expect(stalled.projectorQueuedEvents).toBeLessThanOrEqual(maxQueuedEvents + 2 * 1_024);
      // The sequencer's own queue filled up and refused the rest as busy.
      expect(refused).toBeGreaterThan(0);
      expect(stalled.queuedCommands).toBeLessThanOrEqual(maxQueuedCommands);

      store.open();
      const sequences = (await Promise.all(accepted)).filter((sequence) => sequence > 0);
      expect(sequences.length + refused).toBe(credits);
      await exchange.whenProjected(exchange.status().lastSequence);
      const after = exchange.status();
      expect(after.pipeline.stalled).toBe(false);
      expect(after.pipeline.stalledBatches).toBeGreaterThan(0);
      expect(after.projectorQueuedEvents).toBe(0);

      // Every accepted credit is in the store, in the same totals as the core.
      const db = exchange.internals.store.db;
      expect(await projectedSequence(db)).toBe(after.lastSequence);
      let storedTotal = 0;
      for (let userId = 1; userId <= 10; userId++) {
        const rows = await balancesOfUser(db, userId);
        const stored = rows.find((row) => row.assetId === DEFAULT_ASSETS[0].assetId)?.availableUnits ?? 0;
        expect(stored).toBe(exchange.balance(userId, DEFAULT_ASSETS[0].assetId).availableUnits);
        storedTotal += stored;
      }
      expect(storedTotal).toBe(sequences.length);
    } finally {
      wrapped.projector?.open();
      await exchange.close();
    }
  });
});
