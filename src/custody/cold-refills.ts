// Cold → hot refills of one chain. The cold wallet is watch-only here: custody knows its address
// (`<data-dir>/custody/<chain>.cold.json`), never a key. A refill moves coins from the cold
// address to the hot wallet's address after M distinct operators approved it (never the
// requester) and a time lock passed; the transaction is exported unsigned, signed on an offline
// machine (`bulwark cold sign`), imported back, checked to be exactly the exported payload signed
// by its signers, broadcast, and recorded on the books once confirmed (cold → hot, and the
// network fee cold → network fees), once each, by txid.
//
//   requested ──M approvals──▶ approved ──time lock──▶ exported ──signed bytes──▶ imported
//       ──▶ broadcast ──confirmations──▶ confirmed ──▶ recorded          (cancelled: before broadcast)
//
// Custody also asks on its own: when an asset's hot books fall below the floor (config.ts,
// hotBounds) and no refill of that asset is open, it requests one by "system:custody" for
// target − hot (at most what the cold wallet holds on the books). It still needs the approvals.
//
// Every change is persisted before it is answered, in `<dir>/refills.json` (atomic rewrite: temp
// file, fsync, rename, fsync of the directory), so a restart resumes every refill where it was.
// The journal holds at most MAX_OPEN_REFILLS open refills and the last MAX_FINISHED_REFILLS
// finished (recorded or cancelled) ones. Refill ids are unique across chains: the service hands
// them out above every chain journal's `nextId`.
//
// Signed transactions are checked for the devnet chains (the envelope's payload bytes must equal
// the exported payload, one valid witness per signer); other chains are refused at request time.

import { type Dirent, readdirSync } from "node:fs";
import { join } from "node:path";
import { sha256 } from "@noble/hashes/sha2.js";
import { keccak_256 } from "@noble/hashes/sha3.js";
import type { ChainAdapter } from "../chains/adapter.ts";
import { AccountDevnet } from "../chains/devnet/account.ts";
import { DevnetFormatError, equalBytes, toHex } from "../chains/devnet/codec.ts";
import { decodeEnvelope, PUBLIC_KEY_BYTES, verifyWitness } from "../chains/devnet/keys.ts";
import { readFileIfExists, writeFileAtomic } from "../chains/devnet/persist.ts";
import { UtxoDevnet } from "../chains/devnet/utxo.ts";
import type { WalletAccount } from "../core/commands.ts";
import type { ExchangeBoundary } from "../exchange/boundary.ts";
import { ledgerToChain } from "../units/chain-units.ts";
import { formatUnits, parseDecimalBig } from "../units/decimal.ts";
import { type CurrencyCustodyConfig, hotBounds } from "./config.ts";
import {
  COLD_REFILL_SYSTEM_REQUESTER,
  ColdRefillError,
  type ColdRefillExport,
  type ColdRefillStep,
  type ColdRefillView,
  CustodyError,
} from "./port.ts";
import { recordMovementOnce } from "./wallet-movements.ts";

export const MAX_OPEN_REFILLS = 32;
export const MAX_FINISHED_REFILLS = 200;
const JOURNAL_VERSION = 1;
const JOURNAL_FILE = "refills.json";
/** The refill policy file in custody's state dir (`<data-dir>/custody/cold-refills.json`). */
export const COLD_REFILL_POLICY_FILE = "cold-refills.json";
const HOUR_MS = 3_600_000;
/** After an operator cancels custody's own request, custody does not ask again for this long. */
export const SYSTEM_REQUEST_BACKOFF_MS = 6 * HOUR_MS;
const MAX_APPROVERS = 32;
const MAX_NAME_LENGTH = 128;
const MAX_REASON_LENGTH = 500;
const MAX_TIME_LOCK_MS = 7 * 24 * HOUR_MS;
/** Largest signed transaction taken (far above a devnet payment from a few hundred coins). */
export const MAX_SIGNED_REFILL_BYTES = 96 * 1024;

/** M of N: who may approve (empty: any named operator), how many, and the time lock after the M-th. */
export interface ColdRefillPolicy {
  approvers: readonly string[];
  approvalsRequired: number;
  timeLockMs: number;
}

export const DEFAULT_COLD_REFILL_POLICY: ColdRefillPolicy = {
  approvers: [],
  approvalsRequired: 2,
  timeLockMs: HOUR_MS,
};

/**
 * The policy of `<stateDir>/cold-refills.json` ({"approvers": [...], "approvalsRequired": M,
 * "timeLockMs": T}, each optional), or the defaults (2 approvals, 1 h) when the file is absent.
 * A malformed file throws: refills must not run under a policy nobody wrote.
 */
export function readColdRefillPolicy(stateDir: string): ColdRefillPolicy {
  const path = join(stateDir, COLD_REFILL_POLICY_FILE);
  const bytes = readFileIfExists(path);
  if (bytes === null) return DEFAULT_COLD_REFILL_POLICY;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch {
    throw new Error(`${path} is not JSON`);
  }
  return checkColdRefillPolicy(parsed as Partial<ColdRefillPolicy>, path);
}

export function checkColdRefillPolicy(
  input: Partial<ColdRefillPolicy>,
  where = "cold refill policy",
): ColdRefillPolicy {
  const approvers = input.approvers ?? DEFAULT_COLD_REFILL_POLICY.approvers;
  const approvalsRequired = input.approvalsRequired ?? DEFAULT_COLD_REFILL_POLICY.approvalsRequired;
  const timeLockMs = input.timeLockMs ?? DEFAULT_COLD_REFILL_POLICY.timeLockMs;
  if (
    !Array.isArray(approvers) ||
    approvers.length > MAX_APPROVERS ||
    !approvers.every((name) => typeof name === "string" && checkName(name) === name) ||
    new Set(approvers).size !== approvers.length
  )
    throw new Error(`${where}: approvers must be at most ${MAX_APPROVERS} distinct operator names`);
  if (approvers.includes(COLD_REFILL_SYSTEM_REQUESTER))
    throw new Error(`${where}: ${COLD_REFILL_SYSTEM_REQUESTER} cannot approve`);
  if (
    !Number.isSafeInteger(approvalsRequired) ||
    approvalsRequired < 1 ||
    (approvers.length > 0 && approvalsRequired > approvers.length)
  )
    throw new Error(`${where}: approvalsRequired must be 1..the number of approvers`);
  if (!Number.isSafeInteger(timeLockMs) || timeLockMs < 0 || timeLockMs > MAX_TIME_LOCK_MS)
    throw new Error(`${where}: timeLockMs must be 0..${MAX_TIME_LOCK_MS}`);
  return { approvers: [...approvers], approvalsRequired, timeLockMs };
}

/** A name as given, or null: 1..128 printable characters, no spaces at either end. */
function checkName(name: string): string | null {
  if (typeof name !== "string" || name.length === 0 || name.length > MAX_NAME_LENGTH) return null;
  if (name.trim() !== name || !/^[\x20-\x7e]+$/.test(name)) return null;
  return name;
}

/** The largest `nextId` of the refill journals under custody's state dir (one per chain dir). */
export function highestRefillId(stateDir: string): number {
  let highest = 0;
  let entries: Dirent[];
  try {
    entries = readdirSync(stateDir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    const bytes = readFileIfExists(join(stateDir, entry.name, JOURNAL_FILE));
    if (bytes === null) continue;
    const file = JSON.parse(Buffer.from(bytes).toString("utf8")) as JournalFile;
    highest = Math.max(highest, file.nextId - 1);
  }
  return highest;
}

interface RefillRecord {
  refillId: number;
  chain: string;
  asset: string;
  /** Base units arriving at the hot address; decimal text. */
  amount: string;
  from: string;
  to: string;
  requestedBy: string;
  reason: string;
  requestedMs: number;
  approvalsNeeded: number;
  approvals: { approver: string; atMs: number }[];
  approvedMs: number | null;
  /** The time lock in force when it was requested. */
  timeLockMs: number;
  step: ColdRefillStep;
  unsigned: { payload: string; signers: string[]; fee: string; feeAsset: string } | null;
  signedTx: string | null;
  txId: string | null;
  confirmations: number;
  cancelledBy: string | null;
  cancelReason: string | null;
  history: { step: ColdRefillStep; atMs: number; by: string }[];
  updatedMs: number;
}

interface JournalFile {
  version: number;
  /** The next id this chain would hand out; ids are unique across chains (see highestRefillId). */
  nextId: number;
  refills: RefillRecord[];
}

const FINISHED: ReadonlySet<ColdRefillStep> = new Set(["recorded", "cancelled"]);
const CANCELLABLE: ReadonlySet<ColdRefillStep> = new Set(["requested", "approved", "exported", "imported"]);

export interface ColdRefillsOptions {
  dir: string;
  chain: string;
  adapter: ChainAdapter;
  exchange: Pick<
    ExchangeBoundary,
    "submit" | "custody" | "whenProjected" | "status" | "assetByCode" | "walletBooks"
  >;
  currencies: readonly CurrencyCustodyConfig[];
  /** The configured cold address (null: refills refused) and the hot wallet's (null: not initialised). */
  coldAddress: string | null;
  hotAddress: string | null;
  chainDecimals: ReadonlyMap<string, number>;
  feeAsset: string;
  confirmations: number;
  policy: ColdRefillPolicy;
  /** The next refill id (unique across chains); the caller persists nothing, this journal does. */
  allocateId: () => number;
  clock?: () => number;
  log?: (message: string) => void;
  /** The chain's breaker is tripped: no refill is requested on its own (operators' broadcasts are refused by the service). */
  paused?: () => boolean;
}

export class ColdRefills {
  private readonly path: string;
  private readonly clock: () => number;
  private readonly log: (message: string) => void;
  private nextId: number;
  private refills: RefillRecord[];
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: ColdRefillsOptions) {
    this.path = join(options.dir, JOURNAL_FILE);
    this.clock = options.clock ?? Date.now;
    this.log = options.log ?? (() => {});
    const bytes = readFileIfExists(this.path);
    // Written only by save() below.
    const file =
      bytes === null
        ? { version: JOURNAL_VERSION, nextId: 1, refills: [] }
        : (JSON.parse(Buffer.from(bytes).toString("utf8")) as JournalFile);
    this.nextId = file.nextId;
    this.refills = file.refills;
  }

  get chain(): string {
    return this.options.chain;
  }

  /** The next id this journal has seen handed out (for the service's id allocation). */
  get highestId(): number {
    return this.nextId - 1;
  }

  has(refillId: number): boolean {
    return this.refills.some((refill) => refill.refillId === refillId);
  }

  /** Newest first. */
  views(): ColdRefillView[] {
    return [...this.refills].reverse().map((refill) => this.view(refill));
  }

  viewOf(refillId: number): ColdRefillView {
    return this.view(this.require(refillId));
  }

  private open(): RefillRecord[] {
    return this.refills.filter((refill) => !FINISHED.has(refill.step));
  }

  private save(): void {
    const finished = this.refills.filter((refill) => FINISHED.has(refill.step));
    const drop = new Set(finished.slice(0, Math.max(0, finished.length - MAX_FINISHED_REFILLS)));
    this.refills = this.refills.filter((refill) => !drop.has(refill));
    const file: JournalFile = { version: JOURNAL_VERSION, nextId: this.nextId, refills: this.refills };
    writeFileAtomic(this.path, new TextEncoder().encode(JSON.stringify(file)));
  }

  /** Runs `work` after every earlier call of this chain's refills: one change at a time. */
  private exclusive<T>(work: () => Promise<T> | T): Promise<T> {
    const run = this.queue.catch(() => undefined).then(work);
    this.queue = run;
    return run;
  }

  private require(refillId: number): RefillRecord {
    const refill = this.refills.find((entry) => entry.refillId === refillId);
    if (refill === undefined) throw new CustodyError("notFound", `no cold refill ${refillId}`);
    return refill;
  }

  private move(
    refill: RefillRecord,
    step: ColdRefillStep,
    by: string,
    patch: Partial<RefillRecord> = {},
  ): void {
    const atMs = this.clock();
    Object.assign(refill, patch, { step, updatedMs: atMs });
    refill.history.push({ step, atMs, by });
    this.save();
  }

  private currency(asset: string): CurrencyCustodyConfig {
    const found = this.options.currencies.find((currency) => currency.currency === asset);
    if (found === undefined)
      throw new CustodyError(
        "unknownCurrency",
        `${this.chain} carries ${this.options.currencies.map((c) => c.currency).join(", ")}, not ${String(asset).slice(0, 16)}`,
      );
    return found;
  }

  private decimals(asset: string): number {
    const decimals = this.options.chainDecimals.get(asset);
    if (decimals === undefined) throw new Error(`${this.chain}: no decimals for ${asset}`);
    return decimals;
  }

  private assetConfig(asset: string) {
    const config = this.options.exchange.assetByCode(asset);
    if (config === undefined) throw new Error(`custody: the exchange has no asset ${asset}`);
    return config;
  }

  /** The cold and hot addresses, or a refusal saying what is missing. */
  private addresses(): { from: string; to: string } {
    const { coldAddress, hotAddress, adapter } = this.options;
    if (!(adapter instanceof UtxoDevnet || adapter instanceof AccountDevnet))
      throw new ColdRefillError(
        "coldWalletNotConfigured",
        `cold refills are checked for the devnet chains only; ${this.chain} is not one`,
      );
    if (hotAddress === null)
      throw new ColdRefillError(
        "coldWalletNotConfigured",
        `the ${this.chain} hot wallet is not set up (bulwark wallet init --chain ${this.chain})`,
      );
    if (coldAddress === null)
      throw new ColdRefillError(
        "coldWalletNotConfigured",
        `no cold address for ${this.chain} (bulwark cold set-address --chain ${this.chain} --address A, then restart)`,
      );
    return { from: coldAddress, to: hotAddress };
  }

  // ---- the operator's steps ---------------------------------------------------------------------

  request(input: {
    asset: string;
    amount: string;
    requestedBy: string;
    reason: string;
  }): Promise<ColdRefillView> {
    return this.exclusive(() => {
      const currency = this.currency(input.asset);
      const scale = this.assetConfig(currency.currency).scale;
      const parsed = parseDecimalBig(input.amount, scale);
      if (!parsed.ok || parsed.value <= 0n)
        throw new CustodyError(
          "badAmount",
          parsed.ok || parsed.failure !== "tooPrecise"
            ? "amount must be a positive decimal number"
            : `amount has more than ${scale} decimals`,
        );
      const units = Number(parsed.value);
      if (!Number.isSafeInteger(units)) throw new CustodyError("badAmount", "amount too large");
      const baseUnits = ledgerToChain(units, this.decimals(currency.currency), scale).baseUnits;
      return this.view(this.create(currency.currency, baseUnits, input.requestedBy, input.reason));
    });
  }

  private create(asset: string, baseUnits: bigint, requestedBy: string, reason: string): RefillRecord {
    const { from, to } = this.addresses();
    const by = checkName(requestedBy);
    if (by === null) throw new CustodyError("approvalRefused", "the requester needs a name");
    const why = typeof reason === "string" ? reason.trim() : "";
    if (why.length === 0 || why.length > MAX_REASON_LENGTH)
      throw new CustodyError("badAmount", `a refill's reason is 1..${MAX_REASON_LENGTH} characters`);
    if (this.open().length >= MAX_OPEN_REFILLS)
      throw new CustodyError(
        "wrongStep",
        `${MAX_OPEN_REFILLS} refills of ${this.chain} are open already; finish or cancel some first`,
      );
    const refillId = this.options.allocateId();
    const nowMs = this.clock();
    const refill: RefillRecord = {
      refillId,
      chain: this.chain,
      asset,
      amount: baseUnits.toString(),
      from,
      to,
      requestedBy: by,
      reason: why,
      requestedMs: nowMs,
      approvalsNeeded: this.options.policy.approvalsRequired,
      approvals: [],
      approvedMs: null,
      timeLockMs: this.options.policy.timeLockMs,
      step: "requested",
      unsigned: null,
      signedTx: null,
      txId: null,
      confirmations: 0,
      cancelledBy: null,
      cancelReason: null,
      history: [{ step: "requested", atMs: nowMs, by }],
      updatedMs: nowMs,
    };
    this.nextId = Math.max(this.nextId, refillId + 1);
    this.refills.push(refill);
    this.save();
    return refill;
  }

  approve(refillId: number, approver: string): Promise<ColdRefillView> {
    return this.exclusive(() => {
      const refill = this.require(refillId);
      if (refill.step !== "requested")
        throw new CustodyError(
          "wrongStep",
          `cold refill ${refillId} is ${refill.step}, not awaiting approval`,
        );
      const name = checkName(approver);
      if (name === null || name.startsWith("system:"))
        throw new CustodyError("approvalRefused", "an approval needs an operator's name");
      const { approvers } = this.options.policy;
      if (approvers.length > 0 && !approvers.includes(name))
        throw new CustodyError(
          "approvalRefused",
          `${name} is not a cold-refill approver (the approvers are ${approvers.join(", ")})`,
        );
      if (name === refill.requestedBy)
        throw new CustodyError("approvalRefused", `${name} requested this refill and cannot approve it`);
      if (refill.approvals.some((entry) => entry.approver === name))
        throw new CustodyError("approvalRefused", `${name} approved this refill already`);
      const atMs = this.clock();
      refill.approvals.push({ approver: name, atMs });
      if (refill.approvals.length >= refill.approvalsNeeded)
        this.move(refill, "approved", name, { approvedMs: atMs });
      else {
        refill.updatedMs = atMs;
        this.save();
      }
      return this.view(refill);
    });
  }

  /** The unsigned payload: built once (approved → exported) and the same one after that. */
  export(refillId: number, actor: string): Promise<{ refill: ColdRefillView; export: ColdRefillExport }> {
    return this.exclusive(async () => {
      const refill = this.require(refillId);
      if (refill.step === "approved") {
        const unlocksMs = (refill.approvedMs ?? 0) + refill.timeLockMs;
        if (this.clock() < unlocksMs)
          throw new ColdRefillError(
            "timeLocked",
            `cold refill ${refillId} can be exported from ${new Date(unlocksMs).toISOString()} (time lock after the last approval)`,
          );
        let unsigned: Awaited<ReturnType<ChainAdapter["buildPayment"]>>;
        try {
          unsigned = await this.options.adapter.buildPayment({
            sources: [refill.from],
            to: refill.to,
            asset: refill.asset,
            amount: BigInt(refill.amount),
          });
        } catch (error) {
          throw new ColdRefillError(
            "chainRefused",
            `the payment from the cold wallet cannot be built: ${(error as Error).message}`,
          );
        }
        this.move(refill, "exported", actor, {
          unsigned: {
            payload: Buffer.from(unsigned.payload).toString("base64"),
            signers: unsigned.signers,
            fee: unsigned.fee.toString(),
            feeAsset: unsigned.feeAsset,
          },
        });
      } else if (refill.step === "requested")
        throw new CustodyError(
          "wrongStep",
          `cold refill ${refillId} has ${refill.approvals.length} of ${refill.approvalsNeeded} approvals; it cannot be exported yet`,
        );
      else if (refill.unsigned === null || refill.step === "cancelled")
        throw new CustodyError("wrongStep", `cold refill ${refillId} is ${refill.step}`);
      return { refill: this.view(refill), export: this.exportOf(refill) };
    });
  }

  private exportOf(refill: RefillRecord): ColdRefillExport {
    const unsigned = refill.unsigned;
    if (unsigned === null) throw new Error(`cold refill ${refill.refillId} has no payload`);
    return {
      format: "bulwark-cold-refill/v1",
      refillId: refill.refillId,
      chain: refill.chain,
      currency: refill.asset,
      amount: formatUnits(BigInt(refill.amount), this.decimals(refill.asset)),
      amountBaseUnits: refill.amount,
      from: refill.from,
      to: refill.to,
      feeBaseUnits: unsigned.fee,
      feeAsset: unsigned.feeAsset,
      signers: [...unsigned.signers],
      payloadBase64: unsigned.payload,
    };
  }

  /** The offline-signed transaction: exactly the exported payload, one valid signature per signer. */
  import(refillId: number, signedTxBase64: string, actor: string): Promise<ColdRefillView> {
    return this.exclusive(() => {
      const refill = this.require(refillId);
      const signed = decodeBase64(signedTxBase64);
      if (refill.step === "imported" && refill.signedTx === Buffer.from(signed).toString("base64"))
        return this.view(refill);
      if (refill.step !== "exported")
        throw new CustodyError(
          "wrongStep",
          refill.step === "requested" || refill.step === "approved"
            ? `cold refill ${refillId} was not exported yet`
            : `cold refill ${refillId} is ${refill.step}; a signed transaction is imported once, after export`,
        );
      const unsigned = refill.unsigned;
      if (unsigned === null) throw new Error(`cold refill ${refillId} has no payload`);
      const txId = checkSignedDevnet(
        this.options.adapter,
        new Uint8Array(Buffer.from(unsigned.payload, "base64")),
        unsigned.signers,
        signed,
      );
      this.move(refill, "imported", actor, { signedTx: Buffer.from(signed).toString("base64"), txId });
      return this.view(refill);
    });
  }

  broadcast(refillId: number, actor: string): Promise<ColdRefillView> {
    return this.exclusive(async () => {
      const refill = this.require(refillId);
      if (refill.step === "broadcast" || refill.step === "confirmed" || refill.step === "recorded")
        return this.view(refill);
      if (refill.step !== "imported")
        throw new CustodyError(
          "wrongStep",
          `cold refill ${refillId} is ${refill.step}; import its signed transaction first`,
        );
      await this.send(refill);
      this.move(refill, "broadcast", actor);
      return this.view(refill);
    });
  }

  /** Onto the chain unless the chain has it already (a crash after sending, before saving). */
  private async send(refill: RefillRecord): Promise<void> {
    const { adapter } = this.options;
    const known = await adapter.lookup(refill.txId ?? "");
    if (known.status === "pending" || known.status === "confirmed") return;
    try {
      await adapter.broadcast(new Uint8Array(Buffer.from(refill.signedTx ?? "", "base64")));
    } catch (error) {
      throw new ColdRefillError(
        "chainRefused",
        `${this.chain} refused the transaction: ${(error as Error).message}`,
      );
    }
  }

  cancel(refillId: number, actor: string, reason: string): Promise<ColdRefillView> {
    return this.exclusive(() => {
      const refill = this.require(refillId);
      if (!CANCELLABLE.has(refill.step))
        throw new CustodyError(
          "wrongStep",
          `cold refill ${refillId} is ${refill.step}: ${refill.step === "cancelled" ? "cancelled already" : "its transaction was broadcast"}`,
        );
      const why = typeof reason === "string" ? reason.trim().slice(0, MAX_REASON_LENGTH) : "";
      this.move(refill, "cancelled", actor, { cancelledBy: actor, cancelReason: why });
      return this.view(refill);
    });
  }

  // ---- custody's own steps (every tick) ------------------------------------------------------------

  /** Broadcast → confirmed → recorded, re-broadcasting a dropped transaction; then the floor check. */
  advance(): Promise<void> {
    return this.exclusive(async () => {
      for (const refill of this.open()) {
        try {
          await this.step(refill);
        } catch (error) {
          this.log(`cold refill ${refill.refillId} at ${refill.step}: ${(error as Error).message}`);
        }
      }
      if (this.options.paused?.() === true) return;
      try {
        this.requestBelowFloor();
      } catch (error) {
        this.log(`${this.chain}: refill request not made: ${(error as Error).message}`);
      }
    });
  }

  private async step(refill: RefillRecord): Promise<void> {
    const { adapter, confirmations } = this.options;
    if (refill.step === "broadcast") {
      const status = await adapter.lookup(refill.txId ?? "");
      if (status.status === "confirmed") {
        if (status.confirmations !== refill.confirmations) {
          refill.confirmations = status.confirmations;
          refill.updatedMs = this.clock();
          this.save();
        }
        if (status.confirmations < confirmations) return;
        this.move(refill, "confirmed", "system:custody");
      } else {
        if (status.status === "dropped" || status.status === "not-found") await this.send(refill);
        return;
      }
    }
    if (refill.step === "confirmed") {
      await this.record(refill);
      this.move(refill, "recorded", "system:custody");
    }
  }

  /** Cold → hot (the amount) and cold → network fees (the fee), once each by txid. */
  private async record(refill: RefillRecord): Promise<void> {
    const txId = refill.txId ?? "";
    await this.movement(refill.asset, "walletCold", "walletHot", BigInt(refill.amount), txId, false);
    const unsigned = refill.unsigned;
    if (unsigned !== null)
      await this.movement(unsigned.feeAsset, "walletCold", "networkFees", BigInt(unsigned.fee), txId, true);
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

  /**
   * An asset's hot books below its floor, no refill of it open, and coins in cold on the books:
   * custody requests a refill up to the target (it still waits for the approvals). Not again for
   * SYSTEM_REQUEST_BACKOFF_MS after an operator cancelled custody's last request of the asset.
   */
  private requestBelowFloor(): void {
    const { coldAddress, hotAddress, exchange, adapter } = this.options;
    if (coldAddress === null || hotAddress === null) return;
    // A chain refills do not serve yet would refuse the request on every tick.
    if (!(adapter instanceof UtxoDevnet || adapter instanceof AccountDevnet)) return;
    const nowMs = this.clock();
    for (const currency of this.options.currencies) {
      if (this.refills.some((refill) => refill.asset === currency.currency && !FINISHED.has(refill.step)))
        continue;
      const cancelled = this.refills.some(
        (refill) =>
          refill.asset === currency.currency &&
          refill.step === "cancelled" &&
          refill.requestedBy === COLD_REFILL_SYSTEM_REQUESTER &&
          refill.cancelledBy !== COLD_REFILL_SYSTEM_REQUESTER &&
          nowMs - refill.updatedMs < SYSTEM_REQUEST_BACKOFF_MS,
      );
      if (cancelled) continue;
      const asset = exchange.assetByCode(currency.currency);
      const decimals = this.options.chainDecimals.get(currency.currency);
      if (asset === undefined || decimals === undefined) continue;
      const books = exchange.walletBooks(asset.assetId);
      const hotUnits = -books.systemUnits.walletHot;
      const coldUnits = -books.systemUnits.walletCold;
      const bounds = hotBounds(currency, books.customerLiabilitiesUnits);
      if (hotUnits >= bounds.floorUnits) continue;
      const units = Math.min(bounds.targetUnits - hotUnits, coldUnits);
      if (units <= 0) continue;
      const format = (value: number) => formatUnits(value, asset.scale);
      const refill = this.create(
        currency.currency,
        ledgerToChain(units, decimals, asset.scale).baseUnits,
        COLD_REFILL_SYSTEM_REQUESTER,
        `hot wallet below its floor: ${format(hotUnits)} < ${format(bounds.floorUnits)} ${currency.currency}; refill to the target ${format(bounds.targetUnits)}`,
      );
      this.log(
        `${this.chain}: cold refill ${refill.refillId} of ${format(units)} ${currency.currency} requested (hot below its floor)`,
      );
    }
  }

  // ---- views ------------------------------------------------------------------------------------

  private view(refill: RefillRecord): ColdRefillView {
    const decimals = this.decimals(refill.asset);
    const feeAsset = refill.unsigned?.feeAsset ?? this.options.feeAsset;
    const feeDecimals = this.options.chainDecimals.get(feeAsset);
    return {
      refillId: refill.refillId,
      chain: refill.chain,
      currency: refill.asset,
      amount: formatUnits(BigInt(refill.amount), decimals),
      fee:
        refill.unsigned === null || feeDecimals === undefined
          ? null
          : formatUnits(BigInt(refill.unsigned.fee), feeDecimals),
      feeAsset,
      from: refill.from,
      to: refill.to,
      step: refill.step,
      requestedBy: refill.requestedBy,
      reason: refill.reason,
      requestedMs: refill.requestedMs,
      approvals: refill.approvals.map((entry) => ({ ...entry })),
      approvalsNeeded: refill.approvalsNeeded,
      exportableFromMs: refill.approvedMs === null ? null : refill.approvedMs + refill.timeLockMs,
      txId: refill.txId,
      confirmations: refill.confirmations,
      cancelledBy: refill.cancelledBy,
      cancelReason: refill.cancelReason,
      history: refill.history.map((entry) => ({ ...entry })),
    };
  }
}

/** Strict base64 of 1..MAX_SIGNED_REFILL_BYTES bytes. */
function decodeBase64(text: string): Uint8Array {
  if (
    typeof text !== "string" ||
    text.length === 0 ||
    text.length % 4 !== 0 ||
    text.length > Math.ceil(MAX_SIGNED_REFILL_BYTES / 3) * 4 ||
    !/^[A-Za-z0-9+/]+={0,2}$/.test(text)
  )
    throw new ColdRefillError(
      "badSignedTransaction",
      `the signed transaction must be base64 of 1..${MAX_SIGNED_REFILL_BYTES} bytes`,
    );
  return new Uint8Array(Buffer.from(text, "base64"));
}

/**
 * A devnet signed transaction is an envelope around the payload (src/chains/devnet/keys.ts): it
 * must carry exactly the exported payload's bytes, and one valid witness per signer, in order,
 * by a key whose address is that signer. Returns the txid (it covers the payload only).
 */
function checkSignedDevnet(
  adapter: ChainAdapter,
  payload: Uint8Array,
  signers: readonly string[],
  signed: Uint8Array,
): string {
  if (!(adapter instanceof UtxoDevnet || adapter instanceof AccountDevnet))
    throw new ColdRefillError(
      "coldWalletNotConfigured",
      `cannot check signed transactions of ${adapter.chain}`,
    );
  let envelope: ReturnType<typeof decodeEnvelope>;
  try {
    envelope = decodeEnvelope(signed);
  } catch (error) {
    if (error instanceof DevnetFormatError)
      throw new ColdRefillError(
        "badSignedTransaction",
        `not a signed ${adapter.chain} transaction: ${error.message}`,
      );
    throw error;
  }
  if (!equalBytes(envelope.payload, payload))
    throw new ColdRefillError(
      "badSignedTransaction",
      "the signed transaction is not the exported payload (a different or altered transaction)",
    );
  if (envelope.witnesses.length !== signers.length)
    throw new ColdRefillError(
      "badSignedTransaction",
      `${envelope.witnesses.length} signature(s), ${signers.length} needed (${signers.join(", ")})`,
    );
  signers.forEach((address, i) => {
    const witness = envelope.witnesses[i];
    let owner: string | null;
    try {
      owner = adapter.addressOf(witness.subarray(0, PUBLIC_KEY_BYTES));
    } catch {
      owner = null;
    }
    if (owner !== address)
      throw new ColdRefillError("badSignedTransaction", `signature ${i + 1} is not by the key of ${address}`);
    if (!verifyWitness(payload, witness))
      throw new ColdRefillError("badSignedTransaction", `signature ${i + 1} (${address}) does not verify`);
  });
  return adapter instanceof UtxoDevnet ? toHex(sha256(sha256(payload))) : toHex(keccak_256(payload));
}
