// The SQLite projector in a worker thread, behind the same BatchProjector interface the
// ProjectorQueue drives, so the queue (bound, merging, ordering, retry) stays on the main thread
// and only the SQL moves off it. See projector-thread.ts for why. PostgreSQL does not use this:
// its driver is asynchronous already, and a worker would only add a copy of every batch.
//
// One batch at a time: the queue awaits each applyBatch before the next, and this class refuses
// a second one while the first is in flight, so no unbounded set of pending batches can build up.
// A worker that dies (uncaught error, out of memory) fails the batch in flight; the next
// applyBatch (the queue's retry) starts a fresh worker, which resumes at the stored cursor, so
// the retried batch is written once (the projector is idempotent by sequence).

import { Worker } from "node:worker_threads";
import type { ProjectorBatch } from "./projection.ts";
import type { ApplyResult, BatchProjector } from "./projector.ts";

export interface ProjectorThreadData {
  sqliteFile: string;
}

export type ToProjectorThread = { type: "apply"; id: number; batch: ProjectorBatch } | { type: "close" };

/** An error as plain data: a SqliteError's class does not survive the copy between threads. */
export interface ThreadError {
  name: string;
  message: string;
  stack?: string;
  code?: string;
}

export type FromProjectorThread =
  | { type: "ready"; lastSequence: number }
  | { type: "applied"; id: number; result: ApplyResult }
  | { type: "failed"; id: number; error: ThreadError };

export function describeError(error: unknown): ThreadError {
  if (!(error instanceof Error)) return { name: "Error", message: String(error) };
  const code = (error as { code?: unknown }).code;
  return {
    name: error.name,
    message: error.message,
    ...(error.stack === undefined ? {} : { stack: error.stack }),
    ...(typeof code === "string" ? { code } : {}),
  };
}

export class ProjectorThreadError extends Error {
  readonly code: string | undefined;
  constructor(error: ThreadError) {
    super(`projector worker: ${error.name}: ${error.message}`);
    this.name = "ProjectorThreadError";
    this.code = error.code;
    if (error.stack !== undefined) this.stack = error.stack;
  }
}

export interface ProjectorWorkerOptions {
  /** How long opening waits for the worker to open its connection and read the cursor. */
  openTimeoutMs?: number;
  /** How long close() waits for the worker to finish its transaction and exit before terminating it. */
  closeTimeoutMs?: number;
}

const DEFAULT_OPEN_TIMEOUT_MS = 30_000;
const DEFAULT_CLOSE_TIMEOUT_MS = 30_000;
const THREAD_URL = new URL("./projector-thread-loader.mjs", import.meta.url);

interface InFlight {
  id: number;
  resolve: (result: ApplyResult) => void;
  reject: (error: Error) => void;
}

export class WorkerProjector implements BatchProjector {
  private worker: Worker | null = null;
  private lastSequenceValue = 0;
  private inFlight: InFlight | null = null;
  private nextId = 1;
  private closing: Promise<void> | null = null;
  private readonly openTimeoutMs: number;
  private readonly closeTimeoutMs: number;

  private constructor(
    private readonly sqliteFile: string,
    options: ProjectorWorkerOptions,
  ) {
    this.openTimeoutMs = options.openTimeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS;
    this.closeTimeoutMs = options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
    for (const ms of [this.openTimeoutMs, this.closeTimeoutMs])
      if (!Number.isSafeInteger(ms) || ms < 1) throw new RangeError("projector worker: timeout out of range");
  }

  /** Starts the worker on a migrated SQLite store and waits until it has read the cursor. */
  static async open(sqliteFile: string, options: ProjectorWorkerOptions = {}): Promise<WorkerProjector> {
    const projector = new WorkerProjector(sqliteFile, options);
    await projector.start();
    return projector;
  }

  get lastSequence(): number {
    return this.lastSequenceValue;
  }

  /** Whether a worker thread is up (false after close(), or after a crash until the next batch). */
  get running(): boolean {
    return this.worker !== null;
  }

  async applyBatch(batch: ProjectorBatch): Promise<ApplyResult> {
    if (this.closing !== null) throw new Error("projector worker: closed");
    if (this.inFlight !== null) throw new Error("projector worker: a batch is already in flight");
    if (this.worker === null) await this.start();
    const worker = this.worker!;
    const id = this.nextId++;
    const result = new Promise<ApplyResult>((resolve, reject) => {
      this.inFlight = { id, resolve, reject };
    });
    // Referenced only while a batch is in flight: an exchange left open does not keep the process
    // alive, but a write under way is never cut off by the process exiting.
    worker.ref();
    worker.postMessage({ type: "apply", id, batch } satisfies ToProjectorThread);
    try {
      const applied = await result;
      this.lastSequenceValue = applied.lastSequence;
      return applied;
    } finally {
      this.worker?.unref();
    }
  }

  /** Lets the worker finish what it was sent, then stops it. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.stop();
    return this.closing;
  }

  private async stop(): Promise<void> {
    const worker = this.worker;
    if (worker === null) return;
    worker.ref();
    const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
    worker.postMessage({ type: "close" } satisfies ToProjectorThread);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), this.closeTimeoutMs);
    });
    try {
      if ((await Promise.race([exited, timedOut])) === "timeout") {
        await worker.terminate();
        throw new Error(`projector worker: did not stop within ${this.closeTimeoutMs} ms; terminated`);
      }
    } finally {
      clearTimeout(timer);
    }
  }

  private start(): Promise<void> {
    const worker = new Worker(THREAD_URL, {
      workerData: { sqliteFile: this.sqliteFile } satisfies ProjectorThreadData,
    });
    this.worker = worker;
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      const timer = setTimeout(() => {
        void worker.terminate();
        reject(new Error(`projector worker: not ready within ${this.openTimeoutMs} ms`));
      }, this.openTimeoutMs);
      worker.on("message", (message: FromProjectorThread) => {
        if (message.type === "ready") {
          ready = true;
          clearTimeout(timer);
          this.lastSequenceValue = message.lastSequence;
          worker.unref();
          resolve();
          return;
        }
        const inFlight = this.inFlight;
        if (inFlight === null || inFlight.id !== message.id) return;
        this.inFlight = null;
        if (message.type === "applied") inFlight.resolve(message.result);
        else inFlight.reject(new ProjectorThreadError(message.error));
      });
      worker.on("error", (error) => this.failWorker(worker, error));
      worker.on("exit", (code) => {
        clearTimeout(timer);
        const error = new Error(`projector worker exited with code ${code}`);
        if (!ready) reject(error);
        this.failWorker(worker, error);
      });
      worker.once("error", (error) => {
        if (!ready) {
          clearTimeout(timer);
          reject(error);
        }
      });
    });
  }

  /** The worker is gone: fail the batch in flight (the queue retries it on a fresh worker). */
  private failWorker(worker: Worker, error: Error): void {
    if (this.worker !== worker) return;
    this.worker = null;
    const inFlight = this.inFlight;
    this.inFlight = null;
    inFlight?.reject(error);
  }
}
