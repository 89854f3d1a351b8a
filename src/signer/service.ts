// The signer's operations over its policy, state, keys and chain plugin: sign(intent), status(),
// halt(chain), resume(chain, reason). Transport-free (server.ts puts it on a Unix socket), and
// synchronous: one operation completes, log fsync included, before the next starts.

import { sha256 } from "@noble/hashes/sha2.js";
import type { ChainSigningPlugin, HotKeys } from "../chains/signing.ts";
import {
  IntentError,
  intentDigestOf,
  parseSignedIntentWire,
  requireExactFields,
  type SignedIntent,
} from "./intent.ts";
import {
  capOf,
  checkIntent,
  type PolicyConfig,
  type RefusalCode,
  type SeenSignature,
  WINDOWS,
} from "./policy.ts";
import type { SignatureRecord, SignerState } from "./state.ts";

export type ErrorCode =
  | RefusalCode
  | IntentError["code"]
  | "bad-request"
  | "unknown-op"
  | "reason-required"
  | "signing-failed"
  /** A repeat signed to another transaction than the first time (a non-deterministic plugin). */
  | "repeat-mismatch"
  | "state-failed";

export type Response = { ok: true; [key: string]: unknown } | { ok: false; code: ErrorCode; detail: string };

const REASON = /^[\x20-\x7e]{3,500}$/;
/** Most transaction ids one `signed` request asks about. */
export const MAX_SIGNED_QUERY = 256;

export class SignerService {
  constructor(
    private readonly config: PolicyConfig,
    private readonly state: SignerState,
    private readonly plugin: ChainSigningPlugin,
    private readonly keys: HotKeys,
    private readonly clock: () => number = Date.now,
  ) {
    if (plugin.chain !== config.chain)
      throw new Error(`plugin for ${plugin.chain}, signer for ${config.chain}`);
  }

  /** Dispatches one decoded request (a JSON value); never throws on bad input. */
  handle(request: unknown): Response {
    try {
      if (typeof request !== "object" || request === null || Array.isArray(request))
        return { ok: false, code: "bad-request", detail: "a request is a JSON object" };
      const op = (request as { op?: unknown }).op;
      switch (op) {
        case "sign": {
          const body = requireExactFields(request, ["op", "intent", "signature"], "sign request");
          return this.sign(body.intent, body.signature);
        }
        case "status":
          requireExactFields(request, ["op"], "status request");
          return this.status();
        case "signed": {
          const body = requireExactFields(request, ["op", "txIds"], "signed request");
          return this.signed(body.txIds);
        }
        case "halt":
        case "resume": {
          const body = requireExactFields(request, ["op", "chain", "reason"], `${op} request`);
          if (typeof body.chain !== "string" || typeof body.reason !== "string")
            return { ok: false, code: "bad-request", detail: "chain and reason are strings" };
          return op === "halt" ? this.halt(body.chain, body.reason) : this.resume(body.chain, body.reason);
        }
        default:
          return { ok: false, code: "unknown-op", detail: "op is one of sign, status, signed, halt, resume" };
      }
    } catch (error) {
      if (error instanceof IntentError) return { ok: false, code: error.code, detail: error.message };
      return { ok: false, code: "state-failed", detail: (error as Error).message };
    }
  }

  sign(intentValue: unknown, signatureValue: unknown): Response {
    const signed = parseSignedIntentWire(intentValue, signatureValue);
    const nowMs = this.clock();
    this.state.prune(nowMs);
    const verdict = checkIntent({
      signed,
      config: this.config,
      view: this.state,
      nowMs,
      describe: (payload) => this.plugin.describe(payload, this.keys),
      isOwnAddress: (address) => this.plugin.isOwnAddress(address, this.keys),
      isRetiredHotAddress: (address) => this.plugin.isRetiredHotAddress?.(address, this.keys) ?? false,
    });
    if (!verdict.ok) return verdict;
    if (verdict.repeat) return this.signAgain(signed, verdict.previous);
    let signedTx: { bytes: Uint8Array; txId: string };
    try {
      signedTx = this.plugin.sign(signed.intent.payload, this.keys);
    } catch (error) {
      return { ok: false, code: "signing-failed", detail: (error as Error).message };
    }
    const intent = signed.intent;
    const record: SignatureRecord = {
      type: "signature",
      intentId: intent.intentId,
      chain: intent.chain,
      asset: intent.asset,
      kind: intent.kind,
      to: intent.to,
      amount: intent.amount.toString(),
      fee: verdict.description.fee.toString(),
      feeAsset: verdict.description.feeAsset,
      charges: verdict.charges.map((charge) => ({ asset: charge.asset, amount: charge.amount.toString() })),
      txId: signedTx.txId,
      digest: Buffer.from(sha256(signedTx.bytes)).toString("hex"),
      intentDigest: intentDigestOf(signed.bytes),
      expiresAtMs: intent.expiresAtMs,
      atMs: nowMs,
    };
    // Durable before the signature leaves: a crash from here on keeps the id seen and the amount counted.
    this.state.append(record);
    return {
      ok: true,
      intentId: intent.intentId,
      txId: record.txId,
      digest: record.digest,
      signedTx: Buffer.from(signedTx.bytes).toString("base64"),
    };
  }

  /**
   * The exact intent signed before, sent again: the same payload signed again, answered only when
   * it is the same transaction (same txId), with no charge and no record (the first one stands).
   */
  private signAgain(signed: SignedIntent, previous: SeenSignature): Response {
    let signedTx: { bytes: Uint8Array; txId: string };
    try {
      signedTx = this.plugin.sign(signed.intent.payload, this.keys);
    } catch (error) {
      return { ok: false, code: "signing-failed", detail: (error as Error).message };
    }
    if (signedTx.txId !== previous.txId)
      return {
        ok: false,
        code: "repeat-mismatch",
        detail: `signing intent ${signed.intent.intentId} again gave transaction ${signedTx.txId}, not ${previous.txId}`,
      };
    return {
      ok: true,
      intentId: signed.intent.intentId,
      txId: signedTx.txId,
      digest: Buffer.from(sha256(signedTx.bytes)).toString("hex"),
      signedTx: Buffer.from(signedTx.bytes).toString("base64"),
    };
  }

  status(): Response {
    const nowMs = this.clock();
    this.state.prune(nowMs);
    const budgets = [...this.config.caps].map(([asset, caps]) => ({
      asset,
      perTransaction: caps.perTransaction.toString(),
      windows: WINDOWS.map((window) => {
        const cap = capOf(caps, window.name);
        const used = this.state.windowUsed(asset, window.ms, nowMs);
        return {
          window: window.name,
          cap: cap.toString(),
          used: used.toString(),
          left: (used >= cap ? 0n : cap - used).toString(),
        };
      }),
    }));
    return {
      ok: true,
      chain: this.config.chain,
      nowMs,
      halted: this.state.haltedChains(),
      budgets,
      seenIntents: this.state.seenCount(),
      lastSignatures: this.state.recentSignatures(),
    };
  }

  /**
   * Which of the given transaction ids this signer signed (its log): reconciliation checks every
   * outgoing chain transaction against it. Answered while halted too (it signs nothing).
   */
  signed(txIdsValue: unknown): Response {
    if (
      !Array.isArray(txIdsValue) ||
      txIdsValue.length > MAX_SIGNED_QUERY ||
      !txIdsValue.every((txId) => typeof txId === "string" && /^[\x21-\x7e]{1,128}$/.test(txId))
    )
      return {
        ok: false,
        code: "bad-request",
        detail: `txIds: an array of at most ${MAX_SIGNED_QUERY} transaction ids (1 to 128 printable characters)`,
      };
    return { ok: true, signed: this.state.signedTxIds(txIdsValue as string[]) };
  }

  halt(chain: string, reason: string): Response {
    if (chain !== this.config.chain)
      return { ok: false, code: "wrong-chain", detail: `this signer signs for ${this.config.chain}` };
    const text = reason === "" ? "halted" : reason;
    if (!/^[\x20-\x7e]{1,500}$/.test(text))
      return { ok: false, code: "bad-request", detail: "reason: printable ASCII, at most 500 characters" };
    if (!this.state.isHalted(chain))
      this.state.append({ type: "halt", chain, reason: text, atMs: this.clock() });
    return { ok: true, halted: true };
  }

  resume(chain: string, reason: string): Response {
    if (chain !== this.config.chain)
      return { ok: false, code: "wrong-chain", detail: `this signer signs for ${this.config.chain}` };
    if (!REASON.test(reason.trim()))
      return {
        ok: false,
        code: "reason-required",
        detail: "resuming needs a reason (3 to 500 printable characters)",
      };
    if (this.state.isHalted(chain)) this.state.append({ type: "resume", chain, reason, atMs: this.clock() });
    return { ok: true, halted: false };
  }
}
