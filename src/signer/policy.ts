// The signer's own policy, checked independently of custody (custody has its own, stricter ones;
// this is what still holds when custody is compromised). Pure: the time, the state's view and the
// chain plugin's reading of the payload are passed in; nothing here writes or reads anything.
//
// What consumes the budget: everything that can leave the exchange's control. A withdrawal's
// amount, and every transaction's network fee (a compromised custody could burn funds as fees).
// A sweep to a configured cold address, a deposit sweep and a gas refill to the hot wallet's own
// addresses move coins between the exchange's own wallets, so their amounts are not counted; their
// fees are. The per-transaction cap applies to withdrawals.
//
// An id signed before is a repeat when the intent's canonical bytes hash to the recorded digest
// (custody re-sending after a crash): approved without a charge, even past its expiry, since the
// transaction is the same one. Any other intent under that id is refused.

import type { PayloadDescription } from "../chains/signing.ts";
import { intentDigestOf, type SignedIntent, verifyIntentSignature } from "./intent.ts";

export const WINDOWS = [
  { name: "10m", ms: 10 * 60_000 },
  { name: "1h", ms: 60 * 60_000 },
  { name: "24h", ms: 24 * 60 * 60_000 },
] as const;
export type WindowName = (typeof WINDOWS)[number]["name"];

export interface AssetCaps {
  perTransaction: bigint;
  per10m: bigint;
  per1h: bigint;
  per24h: bigint;
}

export function capOf(caps: AssetCaps, window: WindowName): bigint {
  return window === "10m" ? caps.per10m : window === "1h" ? caps.per1h : caps.per24h;
}

export interface PolicyConfig {
  chain: string;
  /** Custody's Ed25519 policy public key (32 bytes). */
  policyPublicKey: Uint8Array;
  /** Per asset; an asset without caps is refused. */
  caps: ReadonlyMap<string, AssetCaps>;
  coldAddresses: ReadonlySet<string>;
  /** An intent expiring further ahead than this is refused (custody signs short-lived intents). */
  maxFutureMs: number;
}

/** What the state remembers of a signature made for an intent id (until its expiry plus a margin). */
export interface SeenSignature {
  /** sha256 of the signed intent's canonical bytes, hex; absent in records older than the field. */
  intentDigest?: string;
  txId: string;
}

/** What the policy needs from the signer's state. */
export interface PolicyView {
  /** The signature already made under this intent id, while the state remembers it. */
  seenSignature(intentId: string): SeenSignature | undefined;
  isHalted(chain: string): boolean;
  /** Sum counted for `asset` in the window (now - windowMs, now]. */
  windowUsed(asset: string, windowMs: number, nowMs: number): bigint;
}

export type RefusalCode =
  | "bad-signature"
  | "wrong-chain"
  | "halted"
  | "expired"
  | "expiry-too-far"
  | "reused-id"
  | "unknown-asset"
  | "cold-destination-not-allowed"
  | "destination-not-own"
  | "destination-is-own"
  | "destination-retired"
  | "payload-unreadable"
  | "payload-mismatch"
  | "per-transaction-cap"
  | "window-cap-10m"
  | "window-cap-1h"
  | "window-cap-24h";

export interface Refusal {
  ok: false;
  code: RefusalCode;
  detail: string;
}

/** An amount the signature consumes from an asset's windows. */
export interface Charge {
  asset: string;
  amount: bigint;
}

export interface Approval {
  ok: true;
  repeat: false;
  description: PayloadDescription;
  charges: Charge[];
}

/**
 * The exact intent already signed, sent again (custody crashed before storing the answer): sign
 * the same payload again, charge nothing, log nothing. The transaction is the same one, so it
 * cannot pay twice.
 */
export interface Repeat {
  ok: true;
  repeat: true;
  previous: SeenSignature;
}

export interface PolicyInput {
  signed: SignedIntent;
  config: PolicyConfig;
  view: PolicyView;
  nowMs: number;
  /** The chain plugin's reading of the payload (called once, after the cheap checks). */
  describe: (payload: Uint8Array) => PayloadDescription;
  isOwnAddress: (address: string) => boolean;
  /** An older wallet generation's hot or change address (its keys presumed stolen); absent: none. */
  isRetiredHotAddress?: (address: string) => boolean;
}

function refuse(code: RefusalCode, detail: string): Refusal {
  return { ok: false, code, detail };
}

function addCharge(charges: Charge[], asset: string, amount: bigint): void {
  if (amount === 0n) return;
  const existing = charges.find((charge) => charge.asset === asset);
  if (existing) existing.amount += amount;
  else charges.push({ asset, amount });
}

/** Checks one signed intent; the first failing rule is the answer. */
export function checkIntent(input: PolicyInput): Approval | Repeat | Refusal {
  const { signed, config, view, nowMs } = input;
  const intent = signed.intent;
  // Authentication first: an unsigned request learns nothing about the signer's state.
  if (!verifyIntentSignature(signed, config.policyPublicKey))
    return refuse("bad-signature", "the intent's signature does not verify against custody's policy key");
  if (intent.chain !== config.chain)
    return refuse("wrong-chain", `this signer signs for ${config.chain}, not ${intent.chain}`);
  if (view.isHalted(intent.chain)) return refuse("halted", `signing on ${intent.chain} is halted`);
  // Before the expiry: a repeat of an intent signed in time may arrive after it expired.
  const previous = view.seenSignature(intent.intentId);
  if (previous !== undefined) {
    if (previous.intentDigest === intentDigestOf(signed.bytes)) return { ok: true, repeat: true, previous };
    return refuse(
      "reused-id",
      previous.intentDigest === undefined
        ? `intent ${intent.intentId} was already signed (before intent digests were logged, so a repeat cannot be recognised)`
        : `intent ${intent.intentId} was already signed, for a different intent`,
    );
  }
  if (intent.expiresAtMs <= nowMs) return refuse("expired", `the intent expired at ${intent.expiresAtMs}`);
  if (intent.expiresAtMs > nowMs + config.maxFutureMs)
    return refuse("expiry-too-far", `the intent expires more than ${config.maxFutureMs} ms ahead`);
  const caps = config.caps.get(intent.asset);
  if (!caps) return refuse("unknown-asset", `no caps are configured for ${intent.asset}`);

  const own = input.isOwnAddress;
  switch (intent.kind) {
    case "sweepToCold":
      if (!config.coldAddresses.has(intent.to))
        return refuse("cold-destination-not-allowed", `${intent.to} is not a configured cold address`);
      break;
    case "depositSweep":
    case "refillGas":
    case "rotateHot":
      if (!own(intent.to)) return refuse("destination-not-own", `${intent.to} is not a hot wallet address`);
      break;
    case "withdrawal":
      if (own(intent.to)) return refuse("destination-is-own", "a withdrawal pays an outside address");
      break;
  }

  let description: PayloadDescription;
  try {
    description = input.describe(intent.payload);
  } catch (error) {
    return refuse(
      "payload-unreadable",
      `the chain plugin cannot read the payload: ${(error as Error).message}`,
    );
  }
  // Exactly one payment to `to` of `amount` in `asset`; every other payment is change to the hot wallet.
  // Nothing is paid into a rotated-out hot wallet: whoever stole its keys would take it.
  const retired = input.isRetiredHotAddress ?? (() => false);
  let matched = 0;
  for (const payment of description.payments) {
    if (retired(payment.to))
      return refuse(
        "destination-retired",
        `${payment.to} is a hot address of a rotated-out wallet generation; nothing is paid into it`,
      );
    if (payment.to === intent.to) {
      if (payment.asset !== intent.asset || payment.amount !== intent.amount || ++matched > 1)
        return refuse(
          "payload-mismatch",
          `the payload pays ${payment.amount} ${payment.asset} to ${payment.to}, the intent says ${intent.amount} ${intent.asset}`,
        );
    } else if (!own(payment.to)) {
      return refuse("payload-mismatch", `the payload also pays ${payment.to}, which is not the hot wallet's`);
    }
  }
  if (matched !== 1) return refuse("payload-mismatch", `the payload does not pay ${intent.to}`);
  if (description.fee < 0n) return refuse("payload-unreadable", "negative fee");

  const charges: Charge[] = [];
  if (intent.kind === "withdrawal") {
    if (intent.amount > caps.perTransaction)
      return refuse(
        "per-transaction-cap",
        `${intent.amount} is over the per-transaction cap ${caps.perTransaction}`,
      );
    addCharge(charges, intent.asset, intent.amount);
  }
  addCharge(charges, description.feeAsset, description.fee);
  for (const charge of charges) {
    const chargeCaps = config.caps.get(charge.asset);
    if (!chargeCaps)
      return refuse("unknown-asset", `no caps are configured for ${charge.asset} (the fee asset)`);
    for (const window of WINDOWS) {
      const cap = capOf(chargeCaps, window.name);
      const used = view.windowUsed(charge.asset, window.ms, nowMs);
      if (used + charge.amount > cap)
        return refuse(
          `window-cap-${window.name}`,
          `${charge.asset}: ${used} signed in the last ${window.name} + ${charge.amount} is over the cap ${cap}`,
        );
    }
  }
  return { ok: true, repeat: false, description, charges };
}
