// Transfers between the exchange's own wallets on one chain: deposit addresses → hot (deposit
// sweeps), hot → cold (above the hot cap), a rotated-out hot wallet → the new one (rotateHot,
// src/custody/rotation.ts). Each is a job persisted in a small journal file before
// every action (built with its intent → signed → broadcast → confirmed → recorded), so a restart
// resumes it and the books record each transfer once: the wallet movement is submitted only after
// checking the projected movements for the same transaction.
//
// The journal (`<dir>/transfers.json`) is rewritten atomically (temp file, fsync, rename, fsync of
// the directory) and holds at most MAX_JOBS unfinished plus the last MAX_FINISHED finished jobs.

import { randomBytes } from "node:crypto";
import { ed25519 } from "@noble/curves/ed25519.js";
import type { ChainAdapter, UnsignedTransaction } from "../chains/adapter.ts";
import { readFileIfExists, writeFileAtomic } from "../chains/devnet/persist.ts";
import type { WalletAccount } from "../core/commands.ts";
import type { ExchangeBoundary } from "../exchange/boundary.ts";
import {
  encodeIntent,
  type Intent,
  type IntentKind,
  type IntentWire,
  intentToWire,
} from "../signer/intent.ts";
import { recordMovementOnce } from "./wallet-movements.ts";
import type { SignerPort } from "./withdrawal-pipeline.ts";

export const MAX_JOBS = 64;
const MAX_FINISHED = 200;
const JOURNAL_VERSION = 1;

export type TransferStep = "signing" | "signed" | "broadcast" | "confirmed" | "recorded" | "failed";

export interface TransferJob {
  jobId: string;
  kind: Extract<IntentKind, "depositSweep" | "sweepToCold" | "refillGas" | "rotateHot">;
  /** The deposit address a sweep or a gas top-up is about (one job per address at a time). */
  sourceAddress?: string;
  asset: string;
  from: WalletAccount;
  to: WalletAccount;
  /** Base units arriving at the destination; decimal text. */
  amount: string;
  /** Network fee, base units of the fee asset; decimal text. */
  fee: string;
  step: TransferStep;
  intent: IntentWire;
  signature: string;
  txId: string | null;
  signedTx: string | null;
  reason: string | null;
  createdMs: number;
  updatedMs: number;
}

interface JournalFile {
  version: number;
  jobs: TransferJob[];
}

export interface InternalTransfersOptions {
  dir: string;
  chain: string;
  exchange: Pick<ExchangeBoundary, "submit" | "custody" | "whenProjected" | "status" | "assetByCode">;
  adapter: ChainAdapter;
  signer: SignerPort | null;
  policySecretKey: Uint8Array;
  chainDecimals: ReadonlyMap<string, number>;
  feeAsset: string;
  confirmations: number;
  intentLifetimeMs: number;
  clock?: () => number;
  log?: (message: string) => void;
  /** The chain's breaker is tripped: jobs not yet broadcast wait (broadcast ones still finish). */
  paused?: () => boolean;
}

export class InternalTransfers {
  private jobs: TransferJob[];
  private readonly path: string;
  private readonly clock: () => number;
  private readonly log: (message: string) => void;
  private running: Promise<void> | null = null;

  constructor(private readonly options: InternalTransfersOptions) {
    this.path = `${options.dir}/transfers.json`;
    this.clock = options.clock ?? Date.now;
    this.log = options.log ?? (() => {});
    const bytes = readFileIfExists(this.path);
    // Written only by save() below.
    this.jobs = bytes === null ? [] : (JSON.parse(Buffer.from(bytes).toString("utf8")) as JournalFile).jobs;
  }

  /** Unfinished jobs (signing to confirmed). */
  active(): readonly TransferJob[] {
    return this.jobs.filter((job) => job.step !== "recorded" && job.step !== "failed");
  }

  /** Whether `txid` is one of these transfers (kept for the last MAX_FINISHED finished ones too). */
  hasTransaction(txid: string): boolean {
    return this.jobs.some((job) => job.txId === txid);
  }

  all(): readonly TransferJob[] {
    return this.jobs;
  }

  /** Coins in flight out of `from` for an asset: what a planner must not count twice. */
  inFlightBaseUnits(asset: string, from: WalletAccount): bigint {
    let total = 0n;
    for (const job of this.active())
      if (job.asset === asset && job.from === from) total += BigInt(job.amount);
    return total;
  }

  private save(): void {
    const finished = this.jobs.filter((job) => job.step === "recorded" || job.step === "failed");
    const keep = [...this.active(), ...finished.slice(-MAX_FINISHED)];
    this.jobs = keep;
    const file: JournalFile = { version: JOURNAL_VERSION, jobs: keep };
    writeFileAtomic(this.path, new TextEncoder().encode(JSON.stringify(file)));
  }

  /** Plans a transfer of an unsigned transaction built by the caller; persisted before it is signed. */
  plan(input: {
    kind: TransferJob["kind"];
    asset: string;
    from: WalletAccount;
    to: WalletAccount;
    toAddress: string;
    sourceAddress?: string;
    amount: bigint;
    unsigned: UnsignedTransaction;
  }): TransferJob | null {
    if (this.active().length >= MAX_JOBS) return null;
    const nowMs = this.clock();
    const intent: Intent = {
      intentId: randomBytes(16).toString("hex"),
      chain: this.options.chain,
      asset: input.asset,
      kind: input.kind,
      to: input.toAddress,
      amount: input.amount,
      expiresAtMs: nowMs + this.options.intentLifetimeMs,
      payload: input.unsigned.payload,
    };
    const signature = ed25519.sign(encodeIntent(intent), this.options.policySecretKey);
    const job: TransferJob = {
      jobId: intent.intentId,
      kind: input.kind,
      ...(input.sourceAddress === undefined ? {} : { sourceAddress: input.sourceAddress }),
      asset: input.asset,
      from: input.from,
      to: input.to,
      amount: input.amount.toString(),
      fee: input.unsigned.fee.toString(),
      step: "signing",
      intent: intentToWire(intent),
      signature: Buffer.from(signature).toString("hex"),
      txId: null,
      signedTx: null,
      reason: null,
      createdMs: nowMs,
      updatedMs: nowMs,
    };
    this.jobs.push(job);
    this.save();
    return job;
  }

  /** One pass over the unfinished jobs; concurrent calls share it. */
  advanceAll(): Promise<void> {
    if (this.running === null)
      this.running = this.pass().finally(() => {
        this.running = null;
      });
    return this.running;
  }

  private async pass(): Promise<void> {
    for (const job of this.active()) {
      for (let steps = 0; steps < 6; steps++) {
        const before = job.step;
        if ((job.step === "signing" || job.step === "signed") && this.options.paused?.() === true) break;
        try {
          await this.step(job);
        } catch (error) {
          this.log(`transfer ${job.jobId} at ${job.step}: ${(error as Error).message}`);
          break;
        }
        if (job.step === before) break;
      }
    }
  }

  private set(job: TransferJob, patch: Partial<TransferJob>): void {
    Object.assign(job, patch, { updatedMs: this.clock() });
    this.save();
  }

  private async step(job: TransferJob): Promise<void> {
    const { adapter } = this.options;
    switch (job.step) {
      case "signing": {
        if (this.options.signer === null) return;
        const answer = await this.options.signer.sign(job.intent, job.signature);
        if (answer.ok) return this.set(job, { step: "signed", txId: answer.txId, signedTx: answer.signedTx });
        // Never signed (expired, refused): nothing left the wallet; the planner may plan again.
        if (answer.code !== "halted" && !answer.code.startsWith("window-cap"))
          return this.set(job, { step: "failed", reason: `${answer.code}: ${answer.detail}`.slice(0, 500) });
        return;
      }
      case "signed": {
        const known = await adapter.lookup(job.txId ?? "");
        if (known.status !== "pending" && known.status !== "confirmed")
          try {
            await adapter.broadcast(new Uint8Array(Buffer.from(job.signedTx ?? "", "base64")));
          } catch (error) {
            // Refused by the chain and not on it (a conflicting nonce or spent coins): nothing moved.
            return this.set(job, {
              step: "failed",
              reason: `broadcast refused: ${(error as Error).message}`.slice(0, 500),
            });
          }
        return this.set(job, { step: "broadcast" });
      }
      case "broadcast": {
        const status = await adapter.lookup(job.txId ?? "");
        if (status.status === "confirmed" && status.confirmations >= this.options.confirmations)
          return this.set(job, { step: "confirmed" });
        if (status.status === "dropped" || status.status === "not-found")
          await adapter.broadcast(new Uint8Array(Buffer.from(job.signedTx ?? "", "base64")));
        return;
      }
      case "confirmed":
        await this.record(job);
        return this.set(job, { step: "recorded" });
      default:
        return;
    }
  }

  /** The movement on the books (amount) and the network fee (fee asset), once each. */
  private async record(job: TransferJob): Promise<void> {
    const txId = job.txId ?? "";
    // rotateHot: hot to hot on the books (one account over every generation's addresses); the fee only.
    if (job.from !== job.to)
      await this.movement(job.asset, job.from, job.to, BigInt(job.amount), txId, false);
    // On a UTXO chain the fee came out of the moved coins; on an account chain out of the sender's
    // native balance. Rounded up from hot (the books never claim more than it has); down from deposit
    // addresses, whose books were credited rounded down (the residue is dust, below one ledger unit).
    await this.movement(
      this.options.feeAsset,
      job.from,
      "networkFees",
      BigInt(job.fee),
      txId,
      job.from === "walletHot",
    );
  }

  private movement(
    asset: string,
    from: WalletAccount,
    to: WalletAccount,
    baseUnits: bigint,
    txId: string,
    roundUp: boolean,
  ): Promise<void> {
    return recordMovementOnce(
      this.options.exchange,
      this.options.chainDecimals,
      { asset, from, to, baseUnits, txId, roundUp },
      this.log,
    );
  }
}
