// A tiny chain for the signer's tests: the "unsigned transaction" is JSON listing its payments and
// fee; addresses starting with "hot-" are the hot wallet's own. Signing is sha256 over a key
// derived from the seed and the payload (not a real signature scheme, but key-dependent).

import { sha256 } from "@noble/hashes/sha2.js";
import type { ChainSigningPlugin, HotKeys, PayloadDescription } from "../../src/chains/signing.ts";

export const FAKE_CHAIN = "fakechain";

export interface FakeTx {
  payments: { to: string; asset: string; amount: string }[];
  fee: string;
  feeAsset: string;
}

export function fakePayload(tx: FakeTx): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(tx));
}

function derivedKey(keys: HotKeys): Uint8Array {
  return sha256(new Uint8Array([...new TextEncoder().encode(`fake:${keys.chain}:`), ...keys.seed]));
}

export const fakePlugin: ChainSigningPlugin = {
  chain: FAKE_CHAIN,
  describe(payload: Uint8Array): PayloadDescription {
    const tx = JSON.parse(new TextDecoder().decode(payload)) as FakeTx;
    if (!Array.isArray(tx.payments) || typeof tx.fee !== "string") throw new Error("not a fake transaction");
    return {
      payments: tx.payments.map((p) => ({ to: p.to, asset: p.asset, amount: BigInt(p.amount) })),
      fee: BigInt(tx.fee),
      feeAsset: tx.feeAsset,
    };
  },
  isOwnAddress: (address: string) => address.startsWith("hot-"),
  sign(payload: Uint8Array, keys: HotKeys) {
    const signature = sha256(new Uint8Array([...derivedKey(keys), ...payload]));
    const bytes = new Uint8Array([...signature, ...payload]);
    return { bytes, txId: Buffer.from(sha256(bytes)).toString("hex") };
  },
  exportPublicKeys: (keys: HotKeys) => [
    { label: "hot", key: Buffer.from(sha256(derivedKey(keys))).toString("hex") },
  ],
};
