// Shared fixtures of the signer's tests: a custody policy key pair, intents paying what their
// fake payload pays, a policy config with small caps, and private temporary directories.

import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ed25519 } from "@noble/curves/ed25519.js";
import { type Intent, type IntentWire, intentToWire, signIntent } from "../../src/signer/intent.ts";
import type { AssetCaps, PolicyConfig } from "../../src/signer/policy.ts";
import { FAKE_CHAIN, fakePayload } from "./fake-plugin.ts";

export const POLICY_SECRET = ed25519.utils.randomSecretKey();
export const POLICY_PUBLIC = ed25519.getPublicKey(POLICY_SECRET);
export const T0 = 1_700_000_000_000;
export const COLD = "cold-1";
export const SMALL_SCRYPT = { N: 2 ** 10, r: 8, p: 1 };

export const BTC_CAPS: AssetCaps = { perTransaction: 1_000n, per10m: 2_500n, per1h: 5_000n, per24h: 10_000n };

export function policyConfig(overrides: Partial<PolicyConfig> = {}): PolicyConfig {
  return {
    chain: FAKE_CHAIN,
    policyPublicKey: POLICY_PUBLIC,
    caps: new Map([["BTC", BTC_CAPS]]),
    coldAddresses: new Set([COLD]),
    maxFutureMs: 60 * 60_000,
    ...overrides,
  };
}

export function newIntentId(): string {
  return randomBytes(16).toString("hex");
}

/** An intent whose payload pays exactly `to` `amount` (plus fee 0 unless given). */
export function makeIntent(overrides: Partial<Intent> & { fee?: bigint } = {}): Intent {
  const { fee = 0n, ...rest } = overrides;
  const base = {
    intentId: newIntentId(),
    chain: FAKE_CHAIN,
    asset: "BTC",
    kind: "withdrawal" as const,
    to: "user-address-1",
    amount: 100n,
    expiresAtMs: T0 + 5 * 60_000,
    ...rest,
  };
  const payload =
    rest.payload ??
    fakePayload({
      payments: [{ to: base.to, asset: base.asset, amount: base.amount.toString() }],
      fee: fee.toString(),
      feeAsset: "BTC",
    });
  return { ...base, payload };
}

/** The `sign` request body: wire intent + custody's signature (by `secret`, custody's key by default). */
export function signRequest(intent: Intent, secret: Uint8Array = POLICY_SECRET) {
  const { signature } = signIntent(intent, secret);
  return {
    op: "sign",
    intent: intentToWire(intent) as IntentWire,
    signature: Buffer.from(signature).toString("hex"),
  };
}

export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "bulwark-signer-"));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
