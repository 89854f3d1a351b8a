import { p2wpkh, Transaction } from "@scure/btc-signer";
import { describe, expect, it } from "vitest";
import {
  deriveAddress,
  exportAccount,
  masterNode,
  watchOnlyAccount,
} from "../../../src/chains/bitcoin/keys.ts";
import { bitcoinNetwork } from "../../../src/chains/bitcoin/network.ts";
import { verifyOwnership } from "../../../src/chains/bitcoin/ownership.ts";
import { buildPsbt, describePsbt } from "../../../src/chains/bitcoin/psbt.ts";
import { seedFromMnemonic } from "../../../src/chains/bitcoin/seed.ts";

// The BIP84 test mnemonic (BIP-0084, "Test vectors") as our hot wallet.
const HOT_SEED = seedFromMnemonic(
  "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
);
const account0 = watchOnlyAccount(exportAccount(HOT_SEED, "regtest", 0));
const account1 = watchOnlyAccount(exportAccount(HOT_SEED, "regtest", 1));
const outside = p2wpkh(
  masterNode(new Uint8Array(32).fill(9), "regtest").derive("m/0").publicKey!,
  bitcoinNetwork("regtest").params,
).address!;

function built() {
  return buildPsbt({
    network: "regtest",
    utxos: [{ txid: "ab".repeat(32), vout: 0, value: 100_000n, account: account0, chain: 0, index: 4 }],
    payments: [{ address: outside, amount: 30_000n }],
    change: { account: account1, index: 2 },
    feeRate: 2n,
  });
}

describe("verifyOwnership: a PSBT's claimed derivations checked against our accounts", () => {
  it("proves the change output is ours (account 1, chain 1, index 2) and the payment is not", () => {
    const described = describePsbt(built().psbt, "regtest");
    const [payment, change] = described.outputs;
    expect(verifyOwnership(payment.address, payment.derivations, [account0, account1])).toBeNull();
    expect(verifyOwnership(change.address, change.derivations, [account0, account1])).toEqual({
      account: 1,
      chain: 1,
      index: 2,
    });
    // Only the accounts passed count: account 0 alone does not own account 1's change.
    expect(verifyOwnership(change.address, change.derivations, [account0])).toBeNull();
    const input = described.inputs[0];
    expect(verifyOwnership(input.address!, input.derivations, [account0])).toEqual({
      account: 0,
      chain: 0,
      index: 4,
    });
  });

  it("refuses a forged claim: our key and path attached to an outside address", () => {
    const tx = Transaction.fromPSBT(built().psbt);
    const ours = deriveAddress(account1, 1, 2);
    tx.updateOutput(0, {
      bip32Derivation: [[ours.publicKey, { fingerprint: account1.masterFingerprint, path: ours.path }]],
    });
    const forged = describePsbt(tx.toPSBT(0), "regtest").outputs[0];
    expect(forged.address).toBe(outside);
    expect(forged.derivations).toHaveLength(1);
    expect(verifyOwnership(forged.address, forged.derivations, [account0, account1])).toBeNull();
  });
});
