// The withdrawal pipeline of one chain: a persisted state machine (steps in src/custody/port.ts).
// Every step is written to the store before the action of the next one, so a restart at any point
// resumes where it stopped; nothing is ever paid twice:
//
//   requested ──holdWithdrawal──▶ held ──▶ awaitingApproval ──two approvers──▶ approved
//   approved ──build payment, sign intent, persist──▶ signing ──signer──▶ signed (tx persisted)
//   signed ──broadcast──▶ broadcast ──confirmations──▶ confirmed ──settle + fee──▶ settled
//   refusals: requested → rejected (nothing held); held/approved/awaitingApproval → failed (released)
//
// Why it cannot pay twice:
//   - the core holds once per withdrawal id (a repeated hold answers withdrawalExists);
//   - the intent id is derived from (withdrawal id, attempt), and the attempt moves on only when
//     the signer refused the previous intent as expired, which it does only for an intent it never
//     signed; the signer re-signs an identical intent idempotently (same transaction), and refuses
//     a different intent with a used id — which sends the withdrawal to `stuck` for an operator;
//   - once signed, the same signed bytes are (re)broadcast; nothing is ever built again;
//   - the settle is submitted once: a second answers withdrawalNotFound (the hold is gone, and only
//     this pipeline releases it, before anything was signed); the network fee is recorded as a
//     wallet movement after checking the projected movements for it.

import { ed25519 } from "@noble/curves/ed25519.js";
import { sha256 } from "@noble/hashes/sha2.js";
import type { ChainAdapter } from "../chains/adapter.ts";
import type { AssetConfig } from "../core/config.ts";
import type { CoreEvent, RejectReason } from "../core/events.ts";
import type { ExchangeBoundary, PipelineWithdrawal } from "../exchange/boundary.ts";
import { encodeIntent, type Intent, type IntentWire, intentToWire } from "../signer/intent.ts";
import type { ChainCustodyConfig } from "./config.ts";
import type { WithdrawalStep } from "./port.ts";
import { recordMovementOnce } from "./wallet-movements.ts";

/** What the pipeline needs of the chain's signer (src/custody/signer-client.ts implements it). */
export interface SignerPort {
  /** Throws when the signer cannot be reached (the step is retried); resolves with its answer. */
  sign(
    intent: IntentWire,
    signatureHex: string,
  ): Promise<{ ok: true; txId: string; signedTx: string } | { ok: false; code: string; detail: string }>;
}

/** Steps the pipeline still moves forward (the rest are final or wait for an operator). */
export const ACTIVE_STEPS: readonly WithdrawalStep[] = [
  "requested",
  "held",
  "approved",
  "signing",
  "signed",
  "broadcast",
  "confirmed",
];
/** Steps in which the funds are held and nothing has been signed: an operator may still reject. */
export const REJECTABLE_STEPS: readonly WithdrawalStep[] = ["held", "awaitingApproval", "approved"];
/** Withdrawals one pass looks at (the rest wait for the next pass). */
export const MAX_WITHDRAWALS_PER_PASS = 100;
/** Steps one withdrawal may take in one pass (a full run is 8). */
const MAX_STEPS_PER_WITHDRAWAL = 12;
/**
 * Signer refusals that are final for this withdrawal: its own policy says no to this destination,
 * amount or transaction, so nothing was signed and the hold is released. Anything else (a halt, a
 * budget window, the signer's own failure) waits and is tried again.
 */
const FINAL_REFUSALS = new Set([
  "unknown-asset",
  "cold-destination-not-allowed",
  "destination-not-own",
  "destination-is-own",
  "payload-unreadable",
  "payload-mismatch",
  "per-transaction-cap",
  "expiry-too-far",
]);

export interface WithdrawalPipelineOptions {
  exchange: Pick<ExchangeBoundary, "submit" | "custody" | "whenProjected" | "status" | "assetByCode">;
  adapter: ChainAdapter;
  config: ChainCustodyConfig;
  /** The hot wallet's address(es) withdrawals are paid from, and where change goes. */
  hotAddress: () => string;
  changeAddress?: () => string;
  policySecretKey: Uint8Array;
  signer: SignerPort | null;
  assets: ReadonlyMap<string, AssetConfig>;
  /** Chain decimals per currency. */
  chainDecimals: ReadonlyMap<string, number>;
  feeAsset: string;
  clock?: () => number;
  log?: (message: string) => void;
  /**
   * Whether another payment from the hot wallet is built but not yet on the chain (a withdrawal
   * in signing or signed, a transfer from hot not yet broadcast). While one is, no new payment is
   * built: two built together take the same account nonce (or the same coins), so they would be
   * one transaction or conflict. Default: never.
   */
  hotPaymentPending?: (exceptWithdrawalId: number) => Promise<boolean>;
  /** Called after every persisted step (metrics, notices, tests that kill at a step). */
  onStep?: (withdrawalId: number, step: WithdrawalStep) => void | Promise<void>;
  /**
   * The chain's breaker is tripped: nothing is built, signed or broadcast (funds stay held); a
   * payment already broadcast still follows its confirmations and settles. Default: never.
   */
  paused?: () => boolean;
}

/** Steps that would sign or send a payment: they wait while the breaker is tripped. */
const PAUSABLE_STEPS: ReadonlySet<string> = new Set(["approved", "signing", "signed"]);

/** The intent id of a withdrawal's attempt: 16 bytes of sha256, so it is the same after any crash. */
export function withdrawalIntentId(chain: string, withdrawalId: number, attempt: number): string {
  const digest = sha256(new TextEncoder().encode(`bulwark-withdrawal:${chain}:${withdrawalId}:${attempt}`));
  return Buffer.from(digest.subarray(0, 16)).toString("hex");
}

interface PersistedIntent {
  intent: IntentWire;
  signature: string;
}

function rejection(events: readonly CoreEvent[]): RejectReason | null {
  for (const event of events) if (event.type === "rejected") return event.reason;
  return null;
}

export class WithdrawalPipeline {
  private readonly clock: () => number;
  private readonly log: (message: string) => void;
  private running: Promise<void> | null = null;

  constructor(private readonly options: WithdrawalPipelineOptions) {
    this.clock = options.clock ?? Date.now;
    this.log = options.log ?? (() => {});
  }

  /** One pass over the chain's unfinished withdrawals; concurrent calls share the running pass. */
  advanceAll(): Promise<void> {
    if (this.running === null)
      this.running = this.pass().finally(() => {
        this.running = null;
      });
    return this.running;
  }

  private async pass(): Promise<void> {
    const pending = await this.options.exchange.custody.listWithdrawals({
      chain: this.options.config.chain,
      steps: ACTIVE_STEPS,
      limit: MAX_WITHDRAWALS_PER_PASS,
    });
    // Oldest first: a withdrawal never waits behind newer ones.
    for (const withdrawal of pending.reverse()) await this.advance(withdrawal.withdrawalId);
  }

  /**
   * Moves one withdrawal forward until it has to wait, or (with `stopAfter`) once it has reached
   * one of those steps: a request answers once the funds are held, and the rest runs on the tick.
   */
  async advance(withdrawalId: number, stopAfter?: ReadonlySet<string>): Promise<void> {
    for (let stepCount = 0; stepCount < MAX_STEPS_PER_WITHDRAWAL; stepCount++) {
      const withdrawal = await this.options.exchange.custody.getWithdrawal(withdrawalId);
      if (withdrawal === undefined) return;
      if (stopAfter?.has(withdrawal.step)) return;
      let moved: boolean;
      try {
        moved = await this.step(withdrawal);
      } catch (error) {
        this.log(`withdrawal ${withdrawalId} at ${withdrawal.step}: ${(error as Error).message}`);
        return;
      }
      if (!moved) return;
    }
  }

  /** Persists a step change (guarded by the expected current step); false when someone else moved it. */
  private async move(
    withdrawal: PipelineWithdrawal,
    step: WithdrawalStep,
    patch: Omit<Parameters<ExchangeBoundary["custody"]["updateWithdrawal"]>[2], "step" | "atMs"> = {},
  ): Promise<boolean> {
    const moved = await this.options.exchange.custody.updateWithdrawal(
      withdrawal.withdrawalId,
      withdrawal.step,
      {
        step,
        atMs: this.clock(),
        ...patch,
      },
    );
    if (moved && step !== withdrawal.step) await this.options.onStep?.(withdrawal.withdrawalId, step);
    return moved && step !== withdrawal.step;
  }

  /** Notes why a withdrawal waits, without changing its step. */
  private async note(withdrawal: PipelineWithdrawal, reason: string): Promise<false> {
    if (withdrawal.reason !== reason)
      await this.options.exchange.custody.updateWithdrawal(withdrawal.withdrawalId, withdrawal.step, {
        step: withdrawal.step,
        atMs: this.clock(),
        reason,
      });
    return false;
  }

  private step(withdrawal: PipelineWithdrawal): Promise<boolean> {
    if (PAUSABLE_STEPS.has(withdrawal.step) && this.options.paused?.() === true)
      return this.note(withdrawal, "paused: the chain's breaker is tripped (funds stay held)");
    switch (withdrawal.step as WithdrawalStep) {
      case "requested":
        return this.hold(withdrawal);
      case "held":
        return this.move(
          withdrawal,
          withdrawal.approvals.length >= withdrawal.approvalsNeeded ? "approved" : "awaitingApproval",
        );
      case "approved":
        return this.prepareIntent(withdrawal);
      case "signing":
        return this.sign(withdrawal);
      case "signed":
        return this.broadcast(withdrawal);
      case "broadcast":
        return this.followConfirmations(withdrawal);
      case "confirmed":
        return this.settle(withdrawal);
      default:
        return Promise.resolve(false);
    }
  }

  private async hold(withdrawal: PipelineWithdrawal): Promise<boolean> {
    const result = await this.options.exchange.submit({
      kind: "holdWithdrawal",
      withdrawalId: withdrawal.withdrawalId,
      userId: withdrawal.userId,
      assetId: withdrawal.assetId,
      amountUnits: withdrawal.amountUnits,
      feeUnits: withdrawal.feeUnits,
    });
    const refused = rejection(result.events);
    // A hold journaled before a crash answers withdrawalExists on the retry: it is held.
    if (refused !== null && refused !== "withdrawalExists")
      return this.move(withdrawal, "rejected", { reason: `refused by the core: ${refused}` });
    await this.options.exchange.whenProjected(result.sequence);
    await this.options.exchange.custody.setWithdrawalChainInfo(withdrawal.withdrawalId, {
      destination: withdrawal.destination,
    });
    return this.move(withdrawal, "held", { reason: null });
  }

  /** Releases the hold and ends the withdrawal as failed with `reason` (only before signing). */
  async release(withdrawal: PipelineWithdrawal, reason: string): Promise<boolean> {
    const result = await this.options.exchange.submit({
      kind: "releaseWithdrawal",
      withdrawalId: withdrawal.withdrawalId,
    });
    const refused = rejection(result.events);
    if (refused !== null && refused !== "withdrawalNotFound")
      throw new Error(`release of withdrawal ${withdrawal.withdrawalId} refused: ${refused}`);
    await this.options.exchange.whenProjected(result.sequence);
    await this.options.exchange.custody.setWithdrawalChainInfo(withdrawal.withdrawalId, { reason });
    return this.move(withdrawal, withdrawal.step === "requested" ? "rejected" : "failed", { reason });
  }

  private async prepareIntent(withdrawal: PipelineWithdrawal): Promise<boolean> {
    const { adapter, config } = this.options;
    if (await this.options.hotPaymentPending?.(withdrawal.withdrawalId))
      return this.note(withdrawal, "waiting: another payment from the hot wallet is being signed");
    let unsigned: Awaited<ReturnType<ChainAdapter["buildPayment"]>>;
    try {
      unsigned = await adapter.buildPayment({
        // The hot wallet's change comes back to the change address: both are spendable hot coins.
        sources:
          this.options.changeAddress === undefined
            ? [this.options.hotAddress()]
            : [this.options.hotAddress(), this.options.changeAddress()],
        to: withdrawal.destination,
        asset: withdrawal.currency,
        amount: withdrawal.chainAmount,
        ...(this.options.changeAddress === undefined ? {} : { changeAddress: this.options.changeAddress() }),
      });
    } catch (error) {
      // Most often the hot wallet is short (waiting for a sweep or a refill): wait, funds stay held.
      return this.note(withdrawal, `waiting: ${(error as Error).message}`.slice(0, 500));
    }
    const intent: Intent = {
      intentId: withdrawalIntentId(config.chain, withdrawal.withdrawalId, withdrawal.attempt),
      chain: config.chain,
      asset: withdrawal.currency,
      kind: "withdrawal",
      to: withdrawal.destination,
      amount: withdrawal.chainAmount,
      expiresAtMs: this.clock() + config.intentLifetimeMs,
      payload: unsigned.payload,
    };
    const signature = ed25519.sign(encodeIntent(intent), this.options.policySecretKey);
    const persisted: PersistedIntent = {
      intent: intentToWire(intent),
      signature: Buffer.from(signature).toString("hex"),
    };
    return this.move(withdrawal, "signing", {
      intentJson: JSON.stringify(persisted),
      networkFee: unsigned.fee,
      reason: null,
    });
  }

  private async sign(withdrawal: PipelineWithdrawal): Promise<boolean> {
    const signer = this.options.signer;
    if (signer === null) return this.note(withdrawal, "waiting: the chain's signer is not running");
    // Written by prepareIntent from a checked intent.
    const persisted = JSON.parse(withdrawal.intentJson ?? "null") as PersistedIntent | null;
    if (persisted === null)
      return this.move(withdrawal, "stuck", { reason: "signing without a persisted intent" });
    let answer: Awaited<ReturnType<SignerPort["sign"]>>;
    try {
      answer = await signer.sign(persisted.intent, persisted.signature);
    } catch (error) {
      return this.note(withdrawal, `waiting: signer unavailable (${(error as Error).message})`.slice(0, 500));
    }
    if (answer.ok)
      return this.move(withdrawal, "signed", { signedTx: answer.signedTx, txId: answer.txId, reason: null });
    if (answer.code === "expired" || answer.code === "destination-retired")
      // Never signed (the signer re-signs a signed intent even after expiry): a new attempt is safe.
      // destination-retired: built before `wallet rotate` with change to the old hot wallet; the new
      // attempt is built from the new one.
      return this.move(withdrawal, "approved", {
        attempt: withdrawal.attempt + 1,
        intentJson: null,
        reason:
          answer.code === "expired"
            ? "intent expired before signing; building a new one"
            : "built for a rotated-out hot wallet; building a new one",
      });
    if (answer.code === "reused-id" || answer.code === "repeat-mismatch")
      return this.move(withdrawal, "stuck", {
        reason:
          `the signer holds another intent under this id: check its log before anything else (${answer.detail})`.slice(
            0,
            500,
          ),
      });
    if (!FINAL_REFUSALS.has(answer.code))
      return this.note(
        withdrawal,
        `waiting: signer refused (${answer.code}: ${answer.detail})`.slice(0, 500),
      );
    // The signer's own policy refused for good (destination, payload): nothing was signed.
    return this.release(withdrawal, `refused by the signer: ${answer.code}: ${answer.detail}`.slice(0, 500));
  }

  private async broadcast(withdrawal: PipelineWithdrawal): Promise<boolean> {
    const txId = withdrawal.txId ?? "";
    // One transaction pays one withdrawal: a second row with the same txid means two were built as
    // one payment (they must never both settle on it).
    const others = await this.options.exchange.custody.listWithdrawals({
      chain: this.options.config.chain,
      steps: ["signed", "broadcast", "confirmed", "settled"],
      limit: 1_000,
    });
    if (others.some((other) => other.withdrawalId !== withdrawal.withdrawalId && other.txId === txId))
      return this.move(withdrawal, "stuck", {
        reason: `transaction ${txId} already pays another withdrawal: an operator must check before anything moves`,
      });
    const known = await this.options.adapter.lookup(txId);
    if (known.status !== "pending" && known.status !== "confirmed") {
      try {
        await this.options.adapter.broadcast(
          new Uint8Array(Buffer.from(withdrawal.signedTx ?? "", "base64")),
        );
      } catch (error) {
        return this.note(withdrawal, `broadcast failed, retrying: ${(error as Error).message}`.slice(0, 500));
      }
    }
    await this.options.exchange.custody.setWithdrawalChainInfo(withdrawal.withdrawalId, { txId });
    return this.move(withdrawal, "broadcast", { reason: null });
  }

  private async followConfirmations(withdrawal: PipelineWithdrawal): Promise<boolean> {
    const txId = withdrawal.txId ?? "";
    const status = await this.options.adapter.lookup(txId);
    if (status.status === "confirmed") {
      if (status.confirmations !== withdrawal.confirmations)
        await this.options.exchange.custody.setWithdrawalChainInfo(withdrawal.withdrawalId, {
          confirmations: status.confirmations,
        });
      if (status.confirmations >= this.options.config.confirmations)
        return this.move(withdrawal, "confirmed", { confirmations: status.confirmations });
      if (status.confirmations !== withdrawal.confirmations)
        await this.options.exchange.custody.updateWithdrawal(withdrawal.withdrawalId, "broadcast", {
          step: "broadcast",
          atMs: this.clock(),
          confirmations: status.confirmations,
        });
      return false;
    }
    if (status.status === "pending") return this.note(withdrawal, status.reason ?? "in the mempool");
    // Dropped or unknown (a reorg, an evicted transaction): broadcast the same signed bytes again.
    try {
      await this.options.adapter.broadcast(new Uint8Array(Buffer.from(withdrawal.signedTx ?? "", "base64")));
      return this.note(withdrawal, `re-broadcast after ${status.status}`);
    } catch (error) {
      return this.move(withdrawal, "stuck", {
        reason: `transaction ${status.status} and cannot be re-broadcast: ${(error as Error).message}`.slice(
          0,
          500,
        ),
      });
    }
  }

  private async settle(withdrawal: PipelineWithdrawal): Promise<boolean> {
    const exchange = this.options.exchange;
    const result = await exchange.submit({ kind: "settleWithdrawal", withdrawalId: withdrawal.withdrawalId });
    const refused = rejection(result.events);
    // withdrawalNotFound: settled before a crash (only this pipeline ends a hold, and it releases only before signing).
    if (refused !== null && refused !== "withdrawalNotFound")
      return this.note(withdrawal, `settle refused by the core: ${refused}`);
    await this.recordNetworkFee(withdrawal);
    return this.move(withdrawal, "settled", { reason: null });
  }

  /** The network fee paid from the hot wallet: walletHot → networkFees, once per transaction. */
  private recordNetworkFee(withdrawal: PipelineWithdrawal): Promise<void> {
    return recordMovementOnce(
      this.options.exchange,
      this.options.chainDecimals,
      {
        asset: this.options.feeAsset,
        from: "walletHot",
        to: "networkFees",
        baseUnits: withdrawal.networkFee ?? 0n,
        txId: withdrawal.txId ?? "",
        roundUp: true,
      },
      this.log,
    );
  }
}
