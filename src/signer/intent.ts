// Intents: the only thing custody can ask the signer to sign. An intent names one transfer (chain,
// asset, kind, destination, amount, expiry), carries the chain-specific unsigned transaction, and
// is signed by custody's Ed25519 policy key over a canonical byte encoding:
//
//   "BWI" | version u8 (1) | intentId 16 bytes | chain u8 len + ascii | asset u8 len + ascii |
//   kind u8 | to u8 len + ascii | amount u8 len + big-endian magnitude (minimal, no leading zero) |
//   expiresAtMs u64 BE | payload u32 len + bytes
//
// Deterministic (one encoding per intent), length-prefixed, versioned, and every field bounded.
// On the wire (JSON) the amount is a decimal string and the payload base64. Parsing is strict: an
// unknown or missing field, a wrong type, a value out of range is refused with its reason.

import { ed25519 } from "@noble/curves/ed25519.js";
import { sha256 } from "@noble/hashes/sha2.js";
import type { IntentWire } from "../chains/signer-protocol.ts";

/** APPEND ONLY: a kind is encoded by its index. rotateHot moves an old generation's hot coins to the newest hot wallet. */
export const INTENT_KINDS = ["withdrawal", "sweepToCold", "depositSweep", "refillGas", "rotateHot"] as const;
export type IntentKind = (typeof INTENT_KINDS)[number];

export interface Intent {
  /** 16 random bytes, lowercase hex. */
  intentId: string;
  chain: string;
  asset: string;
  kind: IntentKind;
  to: string;
  /** Base units, > 0. */
  amount: bigint;
  expiresAtMs: number;
  /** The chain-specific unsigned transaction. */
  payload: Uint8Array;
}

export const INTENT_VERSION = 1;
const MAGIC = [0x42, 0x57, 0x49]; // "BWI"
export const LIMITS = {
  chain: 32,
  asset: 16,
  to: 128,
  /** Amounts up to 2^256 - 1 (uint256, the largest any supported chain uses). */
  amountBytes: 32,
  payloadBytes: 32 * 1024,
  signatureBytes: 64,
} as const;
const MAX_AMOUNT = (1n << 256n) - 1n;

const CHAIN = /^[a-z][a-z0-9-]{0,31}$/;
const ASSET = /^[A-Z][A-Z0-9]{0,15}$/;
/** Printable ASCII without spaces: every address format in use (bech32, hex, base58, test names). */
const ADDRESS = /^[\x21-\x7e]{1,128}$/;
const INTENT_ID = /^[0-9a-f]{32}$/;
const DECIMAL = /^(0|[1-9][0-9]{0,77})$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const HEX = /^[0-9a-f]*$/;

/** Why an intent (or a request around it) was refused. */
export class IntentError extends Error {
  constructor(
    readonly code: "malformed-intent" | "unknown-field" | "missing-field" | "out-of-range",
    message: string,
  ) {
    super(message);
    this.name = "IntentError";
  }
}

function ascii(text: string): number[] {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) bytes.push(text.charCodeAt(i));
  return bytes;
}

function amountBytes(amount: bigint): number[] {
  const bytes: number[] = [];
  for (let rest = amount; rest > 0n; rest >>= 8n) bytes.unshift(Number(rest & 0xffn));
  return bytes;
}

/** Checks every field's range; throws IntentError. Used on both encode and decode. */
export function validateIntent(intent: Intent): void {
  const bad = (message: string): never => {
    throw new IntentError("out-of-range", message);
  };
  if (!INTENT_ID.test(intent.intentId)) bad("intentId must be 32 lowercase hex digits");
  if (!CHAIN.test(intent.chain)) bad("chain must match [a-z][a-z0-9-]{0,31}");
  if (!ASSET.test(intent.asset)) bad("asset must match [A-Z][A-Z0-9]{0,15}");
  if (!INTENT_KINDS.includes(intent.kind)) bad(`kind must be one of ${INTENT_KINDS.join(", ")}`);
  if (!ADDRESS.test(intent.to)) bad("to must be 1 to 128 printable ASCII characters");
  if (typeof intent.amount !== "bigint" || intent.amount <= 0n || intent.amount > MAX_AMOUNT)
    bad("amount must be between 1 and 2^256 - 1 base units");
  if (!Number.isSafeInteger(intent.expiresAtMs) || intent.expiresAtMs <= 0)
    bad("expiresAtMs must be a positive safe integer");
  if (!(intent.payload instanceof Uint8Array) || intent.payload.length === 0)
    bad("payload must be a non-empty byte string");
  if (intent.payload.length > LIMITS.payloadBytes) bad(`payload is over ${LIMITS.payloadBytes} bytes`);
}

/** The canonical bytes custody signs and the signer verifies. */
export function encodeIntent(intent: Intent): Uint8Array {
  validateIntent(intent);
  const head: number[] = [...MAGIC, INTENT_VERSION];
  for (let i = 0; i < 32; i += 2) head.push(Number.parseInt(intent.intentId.slice(i, i + 2), 16));
  for (const text of [intent.chain, intent.asset]) head.push(text.length, ...ascii(text));
  head.push(INTENT_KINDS.indexOf(intent.kind));
  head.push(intent.to.length, ...ascii(intent.to));
  const amount = amountBytes(intent.amount);
  head.push(amount.length, ...amount);
  const out = new Uint8Array(head.length + 8 + 4 + intent.payload.length);
  out.set(head, 0);
  const view = new DataView(out.buffer);
  view.setBigUint64(head.length, BigInt(intent.expiresAtMs));
  view.setUint32(head.length + 8, intent.payload.length);
  out.set(intent.payload, head.length + 12);
  return out;
}

/** The inverse of encodeIntent, strict: trailing bytes, non-minimal amounts, bad lengths are refused. */
export function decodeIntent(bytes: Uint8Array): Intent {
  let at = 0;
  const fail = (message: string): never => {
    throw new IntentError("malformed-intent", message);
  };
  const take = (n: number): Uint8Array => {
    if (at + n > bytes.length) fail("truncated intent");
    const part = bytes.subarray(at, at + n);
    at += n;
    return part;
  };
  const text = (): string => String.fromCharCode(...take(take(1)[0]));
  const magic = take(3);
  if (magic[0] !== MAGIC[0] || magic[1] !== MAGIC[1] || magic[2] !== MAGIC[2]) fail("not an intent");
  const version = take(1)[0];
  if (version !== INTENT_VERSION) fail(`unsupported intent version ${version}`);
  const intentId = Buffer.from(take(16)).toString("hex");
  const chain = text();
  const asset = text();
  const kind = INTENT_KINDS[take(1)[0]] ?? fail("unknown kind");
  const to = text();
  const amountLength = take(1)[0];
  if (amountLength > LIMITS.amountBytes) fail("amount too long");
  const magnitude = take(amountLength);
  if (magnitude.length > 0 && magnitude[0] === 0) fail("amount not minimally encoded");
  let amount = 0n;
  for (const byte of magnitude) amount = (amount << 8n) | BigInt(byte);
  const fixed = new DataView(bytes.buffer, bytes.byteOffset + at, Math.min(12, bytes.length - at));
  if (fixed.byteLength < 12) fail("truncated intent");
  const expires = fixed.getBigUint64(0);
  const payloadLength = fixed.getUint32(8);
  at += 12;
  if (payloadLength > LIMITS.payloadBytes) fail("payload too long");
  const payload = take(payloadLength).slice();
  if (at !== bytes.length) fail("trailing bytes after intent");
  if (expires > BigInt(Number.MAX_SAFE_INTEGER)) fail("expiresAtMs out of range");
  const intent: Intent = { intentId, chain, asset, kind, to, amount, expiresAtMs: Number(expires), payload };
  validateIntent(intent);
  return intent;
}

/** An intent and custody's signature over its canonical bytes, as received. */
export interface SignedIntent {
  intent: Intent;
  /** The canonical encoding (what the signature covers). */
  bytes: Uint8Array;
  signature: Uint8Array;
}

/** The wire form, shared with custody's client (chains/signer-protocol.ts). */
export type { IntentWire };

const WIRE_FIELDS = ["intentId", "chain", "asset", "kind", "to", "amount", "expiresAtMs", "payload"];

export function intentToWire(intent: Intent): IntentWire {
  return {
    intentId: intent.intentId,
    chain: intent.chain,
    asset: intent.asset,
    kind: intent.kind,
    to: intent.to,
    amount: intent.amount.toString(),
    expiresAtMs: intent.expiresAtMs,
    payload: Buffer.from(intent.payload).toString("base64"),
  };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Requires exactly `fields` (all present, nothing else) on a plain object. */
export function requireExactFields(
  value: unknown,
  fields: readonly string[],
  what: string,
): Record<string, unknown> {
  if (!isPlainObject(value)) throw new IntentError("malformed-intent", `${what} must be an object`);
  for (const key of Object.keys(value))
    if (!fields.includes(key)) throw new IntentError("unknown-field", `${what} has an unknown field ${key}`);
  for (const key of fields)
    if (!(key in value)) throw new IntentError("missing-field", `${what} lacks the field ${key}`);
  return value;
}

/** Parses an intent from its wire (JSON) form; throws IntentError with the reason. */
export function parseIntentWire(value: unknown): Intent {
  const wire = requireExactFields(value, WIRE_FIELDS, "intent");
  for (const key of ["intentId", "chain", "asset", "kind", "to", "amount", "payload"])
    if (typeof wire[key] !== "string")
      throw new IntentError("malformed-intent", `intent.${key} must be a string`);
  if (typeof wire.expiresAtMs !== "number")
    throw new IntentError("malformed-intent", "intent.expiresAtMs must be a number");
  const amountText = wire.amount as string;
  if (!DECIMAL.test(amountText))
    throw new IntentError(
      "out-of-range",
      "intent.amount must be a decimal integer string (at most 78 digits)",
    );
  const payloadText = wire.payload as string;
  if (payloadText.length > Math.ceil(LIMITS.payloadBytes / 3) * 4 || !BASE64.test(payloadText))
    throw new IntentError("out-of-range", "intent.payload must be base64 of at most 32 KiB");
  const payload = new Uint8Array(Buffer.from(payloadText, "base64"));
  if (Buffer.from(payload).toString("base64") !== payloadText)
    throw new IntentError("malformed-intent", "intent.payload is not canonical base64");
  const intent: Intent = {
    intentId: wire.intentId as string,
    chain: wire.chain as string,
    asset: wire.asset as string,
    kind: wire.kind as IntentKind,
    to: wire.to as string,
    amount: BigInt(amountText),
    expiresAtMs: wire.expiresAtMs,
    payload,
  };
  validateIntent(intent);
  return intent;
}

/** Parses `{ intent, signature }` (signature: 128 hex digits) into a SignedIntent. */
export function parseSignedIntentWire(intentValue: unknown, signatureValue: unknown): SignedIntent {
  const intent = parseIntentWire(intentValue);
  if (typeof signatureValue !== "string" || signatureValue.length !== 128 || !HEX.test(signatureValue))
    throw new IntentError("malformed-intent", "signature must be 128 lowercase hex digits");
  return {
    intent,
    bytes: encodeIntent(intent),
    signature: new Uint8Array(Buffer.from(signatureValue, "hex")),
  };
}

/** Custody's side (and tests'): signs an intent with the policy key. */
export function signIntent(
  intent: Intent,
  policySecretKey: Uint8Array,
): { bytes: Uint8Array; signature: Uint8Array } {
  const bytes = encodeIntent(intent);
  return { bytes, signature: ed25519.sign(bytes, policySecretKey) };
}

/** sha256 of an intent's canonical bytes, hex: what the log records to recognise the same intent sent again. */
export function intentDigestOf(bytes: Uint8Array): string {
  return Buffer.from(sha256(bytes)).toString("hex");
}

export function verifyIntentSignature(signed: SignedIntent, policyPublicKey: Uint8Array): boolean {
  if (signed.signature.length !== LIMITS.signatureBytes) return false;
  try {
    return ed25519.verify(signed.signature, signed.bytes, policyPublicKey);
  } catch {
    return false;
  }
}
