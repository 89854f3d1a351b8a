// The sweep journal's persistence (src/custody/ethereum-sweeper.ts, `SweepJournal`): a job's JSON
// form (amounts as decimal strings, bytes as hex, checked field by field when read back), a journal
// in memory, and the file journal the sweeper runs on.
//
// File journal: one file per job, `job-<id>.json`, in a directory of its own (0700, files 0600).
// A save writes `job-<id>.json.tmp`, fsyncs it, renames it over the job's file and fsyncs the
// directory: after a crash at any point the job's file is its previous or its new version, whole,
// and a left-over temporary file (a write cut short) is deleted when the journal is opened. A job
// file that does not parse is refused, not skipped: a job in flight must never be forgotten (an
// operator looks). Bounded: at most `maxJobs` job files (saving a new job beyond is refused) of at
// most `maxFileBytes` each. One sweeper per directory: a lock file holds the owner's pid (O_EXCL);
// a lock whose process is gone (a crash, kill -9) is taken over.

import { closeSync, constants, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import {
  type LegStatus,
  MAX_SUPERSEDED_KEPT,
  type SweepJob,
  type SweepJournal,
  type SweepLeg,
  type SweepStep,
} from "./ethereum-sweeper.ts";

export const SWEEP_JOB_VERSION = 1;

const hexOf = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");

function legToJson(leg: SweepLeg) {
  return {
    kind: leg.kind,
    intent: {
      intentId: leg.intent.intentId,
      chain: leg.intent.chain,
      asset: leg.intent.asset,
      kind: leg.intent.kind,
      to: leg.intent.to,
      amount: leg.intent.amount.toString(),
      expiresAtMs: leg.intent.expiresAtMs,
      payload: hexOf(leg.intent.payload),
    },
    from: leg.from,
    nonce: leg.nonce,
    maxFeeBaseUnits: leg.maxFeeBaseUnits.toString(),
    status: leg.status,
    txId: leg.txId,
    signedTx: leg.signedTx === null ? null : hexOf(leg.signedTx),
    broadcastMs: leg.broadcastMs,
    confirmedHeight: leg.confirmedHeight,
    feeBaseUnits: leg.feeBaseUnits === null ? null : leg.feeBaseUnits.toString(),
    reverted: leg.reverted,
    reported: leg.reported,
  };
}

/** A job as plain JSON (amounts as decimal strings, bytes as hex). */
export function sweepJobToJson(job: SweepJob): Record<string, unknown> {
  return {
    version: SWEEP_JOB_VERSION,
    id: job.id,
    chain: job.chain,
    address: job.address,
    asset: job.asset,
    contract: job.contract,
    step: job.step,
    createdMs: job.createdMs,
    updatedMs: job.updatedMs,
    plannedBaseUnits: job.plannedBaseUnits.toString(),
    feeRate: job.feeRate === null ? null : job.feeRate.toString(),
    topUps: job.topUps.map(legToJson),
    sweep: job.sweep === null ? null : legToJson(job.sweep),
    superseded: job.superseded.map((s) => ({ ...s })),
    replans: job.replans,
    leftoverNativeBaseUnits:
      job.leftoverNativeBaseUnits === null ? null : job.leftoverNativeBaseUnits.toString(),
    failure: job.failure === null ? null : { ...job.failure },
  };
}

const STEPS: readonly SweepStep[] = [
  "planned",
  "gasTopUpSigned",
  "gasTopUpBroadcast",
  "gasTopUpConfirmed",
  "sweepSigned",
  "sweepBroadcast",
  "sweepConfirmed",
  "done",
  "failed",
  "cancelled",
];
const LEG_STATUSES: readonly LegStatus[] = ["intent", "signed", "broadcast", "confirmed"];
/** A job id (and an intent id): 16 bytes, lowercase hex. */
export const JOB_ID = /^[0-9a-f]{32}$/;
const ADDRESS = /^0x[0-9a-f]{40}$/;

/** Parses and checks a job's JSON form; throws with the field at fault. */
export function sweepJobFromJson(value: unknown): SweepJob {
  const fail = (why: string): never => {
    throw new Error(`bad sweep job: ${why}`);
  };
  const obj = (v: unknown, what: string): Record<string, unknown> =>
    typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : fail(what);
  const str = (v: unknown, what: string, re?: RegExp): string =>
    typeof v === "string" && (re === undefined || re.test(v)) ? v : fail(what);
  const int = (v: unknown, what: string): number =>
    Number.isSafeInteger(v) && (v as number) >= 0 ? (v as number) : fail(what);
  const big = (v: unknown, what: string): bigint =>
    typeof v === "string" && /^(0|[1-9][0-9]{0,77})$/.test(v) ? BigInt(v) : fail(what);
  const bytes = (v: unknown, what: string): Uint8Array =>
    typeof v === "string" && /^([0-9a-f]{2}){1,4096}$/.test(v)
      ? new Uint8Array(Buffer.from(v, "hex"))
      : fail(what);
  const nullable = <T>(v: unknown, read: (x: unknown) => T): T | null => (v === null ? null : read(v));
  const bool = (v: unknown, what: string): boolean => (typeof v === "boolean" ? v : fail(what));
  const leg = (v: unknown): SweepLeg => {
    const l = obj(v, "leg");
    const i = obj(l.intent, "leg.intent");
    const kind = l.kind === "gasTopUp" || l.kind === "sweep" ? l.kind : fail("leg.kind");
    const intentKind = i.kind === "depositSweep" || i.kind === "refillGas" ? i.kind : fail("leg.intent.kind");
    const status = LEG_STATUSES.includes(l.status as LegStatus)
      ? (l.status as LegStatus)
      : fail("leg.status");
    return {
      kind,
      intent: {
        intentId: str(i.intentId, "intent.intentId", JOB_ID),
        chain: str(i.chain, "intent.chain"),
        asset: str(i.asset, "intent.asset"),
        kind: intentKind,
        to: str(i.to, "intent.to", ADDRESS),
        amount: big(i.amount, "intent.amount"),
        expiresAtMs: int(i.expiresAtMs, "intent.expiresAtMs"),
        payload: bytes(i.payload, "intent.payload"),
      },
      from: str(l.from, "leg.from", ADDRESS),
      nonce: int(l.nonce, "leg.nonce"),
      maxFeeBaseUnits: big(l.maxFeeBaseUnits, "leg.maxFeeBaseUnits"),
      status,
      txId: nullable(l.txId, (x) => str(x, "leg.txId", /^0x[0-9a-f]{64}$/)),
      signedTx: nullable(l.signedTx, (x) => bytes(x, "leg.signedTx")),
      broadcastMs: nullable(l.broadcastMs, (x) => int(x, "leg.broadcastMs")),
      confirmedHeight: nullable(l.confirmedHeight, (x) => int(x, "leg.confirmedHeight")),
      feeBaseUnits: nullable(l.feeBaseUnits, (x) => big(x, "leg.feeBaseUnits")),
      reverted: bool(l.reverted, "leg.reverted"),
      reported: bool(l.reported, "leg.reported"),
    };
  };
  const j = obj(value, "not an object");
  if (j.version !== SWEEP_JOB_VERSION) fail(`version ${String(j.version)}`);
  if (!Array.isArray(j.topUps) || j.topUps.length > 16) fail("topUps");
  if (!Array.isArray(j.superseded) || j.superseded.length > MAX_SUPERSEDED_KEPT) fail("superseded");
  const step = STEPS.includes(j.step as SweepStep) ? (j.step as SweepStep) : fail("step");
  return {
    id: str(j.id, "id", JOB_ID),
    chain: str(j.chain, "chain"),
    address: str(j.address, "address", ADDRESS),
    asset: str(j.asset, "asset"),
    contract: nullable(j.contract, (x) => str(x, "contract", ADDRESS)),
    step,
    createdMs: int(j.createdMs, "createdMs"),
    updatedMs: int(j.updatedMs, "updatedMs"),
    plannedBaseUnits: big(j.plannedBaseUnits, "plannedBaseUnits"),
    feeRate: nullable(j.feeRate, (x) => big(x, "feeRate")),
    topUps: (j.topUps as unknown[]).map(leg),
    sweep: nullable(j.sweep, leg),
    superseded: (j.superseded as unknown[]).map((v) => {
      const s = obj(v, "superseded");
      return {
        kind: s.kind === "gasTopUp" || s.kind === "sweep" ? s.kind : fail("superseded.kind"),
        intentId: str(s.intentId, "superseded.intentId"),
        txId: nullable(s.txId, (x) => str(x, "superseded.txId")),
        reason: str(s.reason, "superseded.reason"),
        atMs: int(s.atMs, "superseded.atMs"),
      };
    }),
    replans: int(j.replans, "replans"),
    leftoverNativeBaseUnits: nullable(j.leftoverNativeBaseUnits, (x) => big(x, "leftoverNativeBaseUnits")),
    failure: nullable(j.failure, (x) => {
      const f = obj(x, "failure");
      return {
        code: str(f.code, "failure.code"),
        reason: str(f.reason, "failure.reason"),
        atMs: int(f.atMs, "failure.atMs"),
      };
    }),
  };
}

/** A journal in memory (tests, tools): each job is kept as its JSON text, like a file would. */
export class MemorySweepJournal implements SweepJournal {
  private readonly texts = new Map<string, string>();

  async load(): Promise<SweepJob[]> {
    return [...this.texts.values()].map((text) => sweepJobFromJson(JSON.parse(text)));
  }

  async save(job: SweepJob): Promise<void> {
    this.texts.set(job.id, JSON.stringify(sweepJobToJson(job)));
  }

  async remove(jobId: string): Promise<void> {
    this.texts.delete(jobId);
  }

  get size(): number {
    return this.texts.size;
  }
}

export interface FileSweepJournalOptions {
  /** Most job files (default 10,000). */
  maxJobs?: number;
  /** Largest job file read (default 256 KiB). */
  maxFileBytes?: number;
}

export const SWEEP_LOCK_FILE = "sweeper.lock";
const JOB_FILE = /^job-([0-9a-f]{32})\.json$/;
const TEMP_FILE = /^job-[0-9a-f]{32}\.json\.tmp$/;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Takes the directory's lock; returns its release. Throws when a live process holds it. */
function lockDir(dir: string): () => void {
  const path = join(dir, SWEEP_LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      try {
        writeSync(fd, String(process.pid));
      } finally {
        closeSync(fd);
      }
      return () => rmSync(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    let owner = Number.NaN;
    try {
      owner = Number.parseInt(readFileSync(path, "utf8").slice(0, 20), 10);
    } catch {
      // gone meanwhile: try again
    }
    if (Number.isSafeInteger(owner) && owner > 0 && owner !== process.pid && alive(owner))
      throw new Error(`another sweeper (pid ${owner}) holds ${dir}`);
    rmSync(path, { force: true });
  }
  throw new Error(`cannot take the lock ${path}`);
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export class FileSweepJournal implements SweepJournal {
  private readonly ids = new Set<string>();
  private released = false;

  private constructor(
    readonly dir: string,
    private readonly release: () => void,
    private readonly maxJobs: number,
    private readonly maxFileBytes: number,
  ) {}

  /** Opens (creating it 0700) the directory, takes its lock and deletes interrupted writes. */
  static async open(dir: string, options: FileSweepJournalOptions = {}): Promise<FileSweepJournal> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const release = lockDir(dir);
    try {
      for (const name of await readdir(dir))
        if (TEMP_FILE.test(name)) await rm(join(dir, name), { force: true });
      return new FileSweepJournal(
        dir,
        release,
        options.maxJobs ?? 10_000,
        options.maxFileBytes ?? 256 * 1024,
      );
    } catch (error) {
      release();
      throw error;
    }
  }

  async load(): Promise<SweepJob[]> {
    this.check();
    const names = (await readdir(this.dir)).filter((name) => JOB_FILE.test(name)).sort();
    if (names.length > this.maxJobs)
      throw new Error(`${this.dir} holds ${names.length} sweep jobs, more than ${this.maxJobs}`);
    const jobs: SweepJob[] = [];
    for (const name of names) {
      const path = join(this.dir, name);
      const size = (await stat(path)).size;
      if (size > this.maxFileBytes)
        throw new Error(`sweep job file ${path} is ${size} bytes, over ${this.maxFileBytes}`);
      let job: SweepJob;
      try {
        job = sweepJobFromJson(JSON.parse(await readFile(path, "utf8")));
      } catch (error) {
        throw new Error(
          `sweep job file ${path} is unreadable (${(error as Error).message}); an operator must look`,
        );
      }
      if (`job-${job.id}.json` !== name) throw new Error(`sweep job file ${path} holds job ${job.id}`);
      jobs.push(job);
      this.ids.add(job.id);
    }
    return jobs;
  }

  async save(job: SweepJob): Promise<void> {
    this.check();
    if (!JOB_ID.test(job.id)) throw new Error(`bad sweep job id ${job.id}`);
    if (!this.ids.has(job.id) && this.ids.size >= this.maxJobs)
      throw new Error(`the sweep journal is full (${this.maxJobs} jobs)`);
    const text = `${JSON.stringify(sweepJobToJson(job))}\n`;
    if (Buffer.byteLength(text) > this.maxFileBytes)
      throw new Error(`sweep job ${job.id} is too large to save`);
    const path = join(this.dir, `job-${job.id}.json`);
    const temporary = `${path}.tmp`;
    const handle = await open(temporary, "w", 0o600);
    try {
      await handle.writeFile(text, "utf8");
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
    await syncDir(this.dir);
    this.ids.add(job.id);
  }

  async remove(jobId: string): Promise<void> {
    this.check();
    if (!JOB_ID.test(jobId)) throw new Error(`bad sweep job id ${jobId}`);
    await rm(join(this.dir, `job-${jobId}.json`), { force: true });
    await syncDir(this.dir);
    this.ids.delete(jobId);
  }

  /** Releases the lock (a killed process leaves it: the next open takes it over). */
  close(): void {
    if (this.released) return;
    this.released = true;
    this.release();
  }

  private check(): void {
    if (this.released) throw new Error("the sweep journal is closed");
  }
}
