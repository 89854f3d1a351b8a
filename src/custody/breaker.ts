// The breaker of each chain. Tripped (by reconciliation on an unmatched outflow or a
// reconciliation break, or by an operator), the chain's signer is halted (it refuses everything),
// the withdrawal pipeline stops before signing or broadcasting (funds stay held; a payment already
// broadcast may still confirm and settle), new withdrawals are refused, sweeps, gas top-ups, cold
// sweeps and cold refills stop. Deposits are still credited and trading goes on.
//
// Durable: the state of every chain is one small JSON file in custody's state directory, written
// atomically BEFORE anything else happens (the pause takes effect as soon as it is in memory; a
// restart reads it and stays tripped). At start, and on every tick while tripped, the halt is sent
// to the signer again until the signer has answered it (a signer restarted meanwhile, or one that
// was down when the breaker tripped, is halted too).
//
// Only an operator closes it, with a reason, and with two distinct approvers when production mode
// is on. Every trip and resume is appended to the audit log, and goes to the incident timeline
// (src/incidents/port.ts) when an incident service is attached.

import { join } from "node:path";
import { readFileIfExists, writeFileAtomic } from "../chains/devnet/persist.ts";
import type { IncidentPort } from "../incidents/port.ts";
import {
  type BreakerResumeRequest,
  type BreakerTripRequest,
  type BreakerView,
  CustodyError,
} from "./port.ts";

export const BREAKER_FILE = "breakers.json";
const FILE_VERSION = 1;
/**
 * Unmatched txids remembered per chain: those seen while tripped (acknowledged by the resume), and
 * the acknowledged ones (a rescan after a restart or reorg meets them again and must not re-trip).
 */
export const MAX_ACKNOWLEDGED_TXIDS = 1_000;
/** A reason: 3..500 printable ASCII characters (what the signer accepts for its halt and resume). */
const REASON = /^[\x20-\x7e]{3,500}$/;
/** An approver's or actor's name: 1..100 printable ASCII characters without spaces at the ends. */
const NAME = /^[\x21-\x7e](?:[\x20-\x7e]{0,98}[\x21-\x7e])?$/;
/** The actor of automatic trips. */
export const SYSTEM_ACTOR = "system:custody";

export type BreakerCause = NonNullable<BreakerView["cause"]>;

/** What the breaker needs of a chain's signer: halt and resume (signer-client.ts). */
export interface BreakerSigner {
  halt?(
    chain: string,
    reason: string,
  ): Promise<{ ok: true; halted: boolean } | { ok: false; code: string; detail: string }>;
  resume?(
    chain: string,
    reason: string,
  ): Promise<{ ok: true; halted: boolean } | { ok: false; code: string; detail: string }>;
}

export interface BreakersOptions {
  stateDir: string;
  chains: readonly string[];
  signerOf: (chain: string) => BreakerSigner | null;
  /** The hash-chained audit log (the boundary's `audit.append`). */
  audit: (entry: {
    actor: string;
    action: string;
    subject: string;
    details: Record<string, unknown>;
  }) => Promise<unknown>;
  incidents?: IncidentPort;
  /** Two distinct approvers to resume. */
  productionMode: boolean;
  clock: () => number;
  log: (message: string) => void;
}

interface BreakerRecord {
  chain: string;
  state: "closed" | "tripped";
  reason: string | null;
  trippedAtMs: number | null;
  trippedBy: string | null;
  incidentId: number | null;
  cause: BreakerCause | null;
}

interface BreakerFile {
  version: number;
  breakers: BreakerRecord[];
  /** chain → unmatched txids seen while tripped (absent in files written before). */
  unacknowledged?: Record<string, string[]>;
  /** chain → unmatched txids acknowledged by a resume. */
  acknowledged?: Record<string, string[]>;
}

const closed = (chain: string): BreakerRecord => ({
  chain,
  state: "closed",
  reason: null,
  trippedAtMs: null,
  trippedBy: null,
  incidentId: null,
  cause: null,
});

/** Checks a reason; throws CustodyError("invalidRequest") with what is wrong. */
export function checkBreakerReason(reason: unknown, what: string): string {
  const text = typeof reason === "string" ? reason.trim() : "";
  if (!REASON.test(text))
    throw new CustodyError("invalidRequest", `${what} needs a reason: 3 to 500 printable characters`);
  return text;
}

export class Breakers {
  private readonly path: string;
  private readonly records = new Map<string, BreakerRecord>();
  private readonly unacknowledged = new Map<string, string[]>();
  private readonly acknowledgedTxIds = new Map<string, Set<string>>();
  /** Chains whose signer has answered the current trip's halt (memory: re-sent after a restart). */
  private readonly signerHalted = new Set<string>();
  private haltsInFlight = new Map<string, Promise<boolean>>();
  /** Serialises trips and resumes (each a few awaits): one state change at a time. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: BreakersOptions) {
    this.path = join(options.stateDir, BREAKER_FILE);
    for (const chain of options.chains) this.records.set(chain, closed(chain));
    const bytes = readFileIfExists(this.path);
    if (bytes !== null) {
      // Written only by save() below.
      const file = JSON.parse(Buffer.from(bytes).toString("utf8")) as BreakerFile;
      for (const record of file.breakers)
        if (this.records.has(record.chain)) this.records.set(record.chain, record);
      for (const [chain, txids] of Object.entries(file.unacknowledged ?? {}))
        if (this.records.has(chain)) this.unacknowledged.set(chain, txids.slice(-MAX_ACKNOWLEDGED_TXIDS));
      for (const [chain, txids] of Object.entries(file.acknowledged ?? {}))
        if (this.records.has(chain))
          this.acknowledgedTxIds.set(chain, new Set(txids.slice(-MAX_ACKNOWLEDGED_TXIDS)));
    }
  }

  /** Unmatched txids operators acknowledged by resuming (reconciliation does not trip on them again). */
  acknowledged(chain: string): ReadonlySet<string> {
    return this.acknowledgedTxIds.get(chain) ?? new Set();
  }

  /** Remembers unmatched txids seen while the chain is tripped: the resume acknowledges them. */
  private noteUnmatched(chain: string, txids: readonly string[]): void {
    const known = this.unacknowledged.get(chain) ?? [];
    const fresh = txids.filter((txid) => !known.includes(txid));
    if (fresh.length === 0) return;
    this.unacknowledged.set(chain, [...known, ...fresh].slice(-MAX_ACKNOWLEDGED_TXIDS));
    this.save();
  }

  private save(): void {
    const file: BreakerFile = {
      version: FILE_VERSION,
      breakers: [...this.records.values()],
      unacknowledged: Object.fromEntries(this.unacknowledged),
      acknowledged: Object.fromEntries(
        [...this.acknowledgedTxIds].map(([chain, txids]) => [chain, [...txids]]),
      ),
    };
    writeFileAtomic(this.path, new TextEncoder().encode(JSON.stringify(file)));
  }

  private serial<T>(run: () => Promise<T>): Promise<T> {
    const next = this.queue.catch(() => undefined).then(run);
    this.queue = next;
    return next;
  }

  isTripped(chain: string): boolean {
    return this.records.get(chain)?.state === "tripped";
  }

  view(chain: string): BreakerView {
    const record = this.records.get(chain);
    if (record === undefined) throw this.unknownChain(chain);
    return { ...record };
  }

  views(): BreakerView[] {
    return [...this.records.values()].map((record) => ({ ...record }));
  }

  private unknownChain(chain: unknown): CustodyError {
    return new CustodyError(
      "notFound",
      `custody has no chain ${String(chain).slice(0, 40)}; its chains are ${[...this.records.keys()].join(", ")}`,
    );
  }

  /**
   * Sends the halt to the signer of every tripped chain whose signer has not answered it yet
   * (at start, and every tick while tripped). Returns when the attempts are done.
   */
  async reassertHalts(): Promise<void> {
    for (const record of this.records.values())
      if (record.state === "tripped" && !this.signerHalted.has(record.chain))
        await this.haltSigner(record.chain, record.reason ?? "breaker tripped");
  }

  /** One halt at a time per chain; true once the signer answered it. */
  private haltSigner(chain: string, reason: string): Promise<boolean> {
    const running = this.haltsInFlight.get(chain);
    if (running !== undefined) return running;
    const attempt = (async () => {
      const signer = this.options.signerOf(chain);
      if (signer?.halt === undefined) return false;
      try {
        const answer = await signer.halt(chain, `breaker: ${reason}`.slice(0, 500));
        if (!answer.ok) {
          this.options.log(`${chain}: the signer refused the halt: ${answer.code}: ${answer.detail}`);
          return false;
        }
        if (this.isTripped(chain)) this.signerHalted.add(chain);
        return true;
      } catch (error) {
        this.options.log(
          `${chain}: the signer did not answer the halt (retried): ${(error as Error).message}`,
        );
        return false;
      } finally {
        this.haltsInFlight.delete(chain);
      }
    })();
    this.haltsInFlight.set(chain, attempt);
    return attempt;
  }

  /**
   * An automatic trip (reconciliation): durable first, then the signer's halt, the audit entry
   * and the incident. A chain tripped already stays as it is (its incident has the first cause).
   */
  tripAutomatically(
    chain: string,
    cause: "unmatchedOutflow" | "reconciliationBreak",
    reason: string,
    detail: Record<string, unknown>,
    detectedAtMs: number,
  ): Promise<BreakerView> {
    return this.serial(async () => {
      if (!this.records.has(chain)) throw this.unknownChain(chain);
      const txids = Array.isArray(detail.txids)
        ? (detail.txids as unknown[]).filter((txid): txid is string => typeof txid === "string")
        : [];
      if (this.isTripped(chain)) {
        this.noteUnmatched(chain, txids);
        return this.view(chain);
      }
      const view = await this.trip(chain, {
        cause,
        actor: SYSTEM_ACTOR,
        reason: reason.slice(0, 500),
        detail,
        detectedAtMs,
      });
      this.noteUnmatched(chain, txids);
      return view;
    });
  }

  /** An operator's trip of one chain or of all; chains tripped already are left as they are. */
  tripByOperator(request: BreakerTripRequest): Promise<BreakerView[]> {
    const reason = checkBreakerReason(request?.reason, "tripping the breaker");
    const actor = typeof request.actor === "string" ? request.actor.trim() : "";
    if (!NAME.test(actor)) throw new CustodyError("invalidRequest", "tripping the breaker needs an actor");
    const chains = request.chain === "all" ? [...this.records.keys()] : [request.chain];
    for (const chain of chains) if (!this.records.has(chain)) throw this.unknownChain(chain);
    const incidentId = request.incidentId;
    if (incidentId !== undefined && (!Number.isSafeInteger(incidentId) || incidentId < 1))
      throw new CustodyError("invalidRequest", "an incident id is a whole number ≥ 1");
    return this.serial(async () => {
      if (incidentId !== undefined) {
        const incidents = this.options.incidents;
        const incident = incidents === undefined ? undefined : await incidents.get(incidentId);
        if (incident === undefined) throw new CustodyError("notFound", `no incident ${incidentId}`);
        if (incident.status !== "open")
          throw new CustodyError("wrongStep", `incident ${incidentId} is resolved; trip without --incident`);
      }
      const nowMs = this.options.clock();
      const views: BreakerView[] = [];
      for (const chain of chains)
        views.push(
          this.isTripped(chain)
            ? this.view(chain)
            : await this.trip(chain, {
                cause: "operator",
                actor,
                reason,
                detail: { requestedChain: request.chain },
                detectedAtMs: nowMs,
                ...(incidentId === undefined ? {} : { incidentId }),
              }),
        );
      return views;
    });
  }

  private async trip(
    chain: string,
    input: {
      cause: BreakerCause;
      actor: string;
      reason: string;
      detail: Record<string, unknown>;
      detectedAtMs: number;
      incidentId?: number;
    },
  ): Promise<BreakerView> {
    const nowMs = this.options.clock();
    const record: BreakerRecord = {
      chain,
      state: "tripped",
      reason: input.reason,
      trippedAtMs: nowMs,
      trippedBy: input.actor,
      incidentId: input.incidentId ?? null,
      cause: input.cause,
    };
    this.records.set(chain, record);
    this.signerHalted.delete(chain);
    this.save();
    this.options.log(`${chain}: BREAKER TRIPPED by ${input.actor} (${input.cause}): ${input.reason}`);
    const halted = this.haltSigner(chain, input.reason);
    await this.auditSafely(input.actor, "breaker.trip", chain, {
      cause: input.cause,
      reason: input.reason,
      ...input.detail,
    });
    const incidentId = await this.incidentOf(chain, input);
    if (incidentId !== null && record.incidentId !== incidentId) {
      record.incidentId = incidentId;
      this.save();
    }
    const signerAnswered = await halted;
    const incidents = this.options.incidents;
    if (incidents !== undefined && incidentId !== null)
      try {
        await incidents.record(incidentId, {
          type: "breakerTripped",
          actor: input.actor,
          message: `${chain} breaker tripped: ${input.reason}`,
          detail: { chain, cause: input.cause, trippedAtMs: nowMs },
        });
        if (signerAnswered)
          await incidents.record(incidentId, {
            type: "signerHalted",
            actor: SYSTEM_ACTOR,
            message: `${chain} signer halted: it refuses every request`,
            detail: { chain, atMs: this.options.clock() },
          });
        await incidents.notify(incidentId, {
          kind: "breaker",
          chain,
          message: `Withdrawals on ${chain} are paused while we investigate (${input.cause === "operator" ? "paused by an operator" : "an automatic safety stop"}). Deposits and trading continue.`,
          actor: input.actor,
        });
      } catch (error) {
        this.options.log(`${chain}: incident ${incidentId} not updated: ${(error as Error).message}`);
      }
    return this.view(chain);
  }

  /** The incident a trip belongs to: the one named, or one opened for it (null without incidents). */
  private async incidentOf(
    chain: string,
    input: {
      cause: BreakerCause;
      actor: string;
      reason: string;
      detail: Record<string, unknown>;
      detectedAtMs: number;
      incidentId?: number;
    },
  ): Promise<number | null> {
    if (input.incidentId !== undefined) return input.incidentId;
    const incidents = this.options.incidents;
    if (incidents === undefined) return null;
    const titles: Record<BreakerCause, string> = {
      unmatchedOutflow: `Unmatched outflow on ${chain}`,
      reconciliationBreak: `Reconciliation break on ${chain}`,
      operator: `${chain} paused by an operator`,
    };
    try {
      const incident = await incidents.open({
        kind: input.cause,
        chain,
        title: titles[input.cause],
        detail: { reason: input.reason, ...input.detail },
        detectedAtMs: input.detectedAtMs,
        actor: input.actor,
      });
      return incident.incidentId;
    } catch (error) {
      this.options.log(`${chain}: no incident opened: ${(error as Error).message}`);
      return null;
    }
  }

  /** Closes a tripped breaker: the signer resumes first (it must answer), then the state. */
  resume(request: BreakerResumeRequest): Promise<BreakerView> {
    const chain = request?.chain;
    if (typeof chain !== "string" || !this.records.has(chain)) throw this.unknownChain(chain);
    if (!this.isTripped(chain)) throw new CustodyError("wrongStep", `the ${chain} breaker is not tripped`);
    const reason = checkBreakerReason(request.reason, "resuming the breaker");
    const approvers = Array.isArray(request.approvers)
      ? request.approvers.map((name) => (typeof name === "string" ? name.trim() : ""))
      : [];
    if (approvers.length === 0 || approvers.length > 10 || !approvers.every((name) => NAME.test(name)))
      throw new CustodyError(
        "invalidRequest",
        "resuming the breaker needs an operator (1 to 10 approvers' names)",
      );
    const distinct = [...new Set(approvers)];
    if (this.options.productionMode && distinct.length < 2)
      throw new CustodyError(
        "approvalRefused",
        "production mode: resuming the breaker needs two distinct approvers",
      );
    return this.serial(async () => {
      if (!this.isTripped(chain)) throw new CustodyError("wrongStep", `the ${chain} breaker is not tripped`);
      const signer = this.options.signerOf(chain);
      if (signer?.resume !== undefined) {
        let answer: Awaited<ReturnType<NonNullable<BreakerSigner["resume"]>>>;
        try {
          answer = await signer.resume(chain, reason);
        } catch (error) {
          throw new CustodyError(
            "walletNotAvailable",
            `the ${chain} signer did not answer the resume (${(error as Error).message}); the breaker stays tripped`,
          );
        }
        if (!answer.ok)
          throw new CustodyError(
            "walletNotAvailable",
            `the ${chain} signer refused the resume (${answer.code}: ${answer.detail}); the breaker stays tripped`,
          );
      }
      const previous = this.view(chain);
      this.records.set(chain, closed(chain));
      this.signerHalted.delete(chain);
      // The unmatched outflows seen while tripped are acknowledged: a rescan does not trip on them again.
      const acknowledgedNow = this.unacknowledged.get(chain) ?? [];
      const acknowledged = [...(this.acknowledgedTxIds.get(chain) ?? []), ...acknowledgedNow];
      this.acknowledgedTxIds.set(chain, new Set(acknowledged.slice(-MAX_ACKNOWLEDGED_TXIDS)));
      this.unacknowledged.delete(chain);
      this.save();
      const actor = distinct.join(",");
      this.options.log(`${chain}: breaker resumed by ${actor}: ${reason}`);
      await this.auditSafely(actor, "breaker.resume", chain, {
        reason,
        approvers: distinct,
        productionMode: this.options.productionMode,
        trippedAtMs: previous.trippedAtMs,
        cause: previous.cause,
        incidentId: previous.incidentId,
        acknowledgedTxIds: acknowledgedNow,
      });
      const incidents = this.options.incidents;
      if (incidents !== undefined && previous.incidentId !== null)
        try {
          await incidents.record(previous.incidentId, {
            type: "breakerResumed",
            actor,
            message: `${chain} breaker resumed: ${reason}`,
            detail: { chain, approvers: distinct },
          });
          await incidents.notify(previous.incidentId, {
            kind: "breaker",
            chain,
            message: `Withdrawals on ${chain} are running again.`,
            actor,
          });
        } catch (error) {
          this.options.log(
            `${chain}: incident ${previous.incidentId} not updated: ${(error as Error).message}`,
          );
        }
      return this.view(chain);
    });
  }

  private async auditSafely(actor: string, action: string, chain: string, details: Record<string, unknown>) {
    try {
      await this.options.audit({ actor, action, subject: `chain:${chain}`, details });
    } catch (error) {
      this.options.log(`${chain}: audit of ${action} failed: ${(error as Error).message}`);
    }
  }
}
