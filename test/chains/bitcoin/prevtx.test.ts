import { Transaction } from "@scure/btc-signer";
import { describe, expect, it } from "vitest";
import { BitcoinTxError } from "../../../src/chains/bitcoin/errors.ts";
import { deriveAddress, exportAccount, watchOnlyAccount } from "../../../src/chains/bitcoin/keys.ts";
import {
  type BuildPsbtRequest,
  buildPsbt,
  describePsbt,
  type SpendableUtxo,
} from "../../../src/chains/bitcoin/psbt.ts";
import { seedFromMnemonic } from "../../../src/chains/bitcoin/seed.ts";
import { finalizePsbt, signPsbt } from "../../../src/chains/bitcoin/sign.ts";

// The BIP84 test mnemonic (BIP-0084, "Test vectors") as our hot wallet.
const HOT_SEED = seedFromMnemonic(
  "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
);
const account = watchOnlyAccount(exportAccount(HOT_SEED, "regtest", 0));
const payee = deriveAddress(watchOnlyAccount(exportAccount(HOT_SEED, "regtest", 7)), 0, 0).address;

/** A previous transaction paying our receive address 0/index `value`; its raw bytes and txid. */
function previous(index: number, value: bigint): { raw: Uint8Array; txid: string } {
  const tx = new Transaction();
  tx.addInput({ txid: "ee".repeat(32), index: 0 });
  tx.addOutput({ script: deriveAddress(account, 0, index).script, amount: value });
  return { raw: tx.toBytes(true, false), txid: tx.id };
}

function request(utxo: SpendableUtxo): BuildPsbtRequest {
  return {
    network: "regtest",
    utxos: [utxo],
    payments: [{ address: payee, amount: 40_000n }],
    change: { account, index: 0 },
    feeRate: 3n,
  };
}

const kindOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    if (error instanceof BitcoinTxError) return error.kind;
    throw error;
  }
  return "none";
};

describe("values proven by the previous transaction (nonWitnessUtxo)", () => {
  it("a PSBT carrying its previous transactions describes, signs and finalizes under requirePrevTx", () => {
    const prev = previous(4, 100_000n);
    const utxo: SpendableUtxo = {
      txid: prev.txid,
      vout: 0,
      value: 100_000n,
      account,
      chain: 0,
      index: 4,
      prevTx: prev.raw,
    };
    const built = buildPsbt(request(utxo));
    const described = describePsbt(built.psbt, "regtest", { requirePrevTx: true });
    expect(described.inputs[0].value).toBe(100_000n);
    expect(described.fee).toBe(built.fee);
    const signed = signPsbt(built.psbt, HOT_SEED, "regtest", { requirePrevTx: true });
    expect(signed.signed).toEqual([0]);
    expect(finalizePsbt(signed.psbt).txid).toBe(described.txid);
  });

  it("refuses a PSBT without previous transactions when they are required", () => {
    const utxo: SpendableUtxo = {
      txid: "ab".repeat(32),
      vout: 0,
      value: 100_000n,
      account,
      chain: 0,
      index: 4,
    };
    const built = buildPsbt(request(utxo));
    expect(kindOf(() => describePsbt(built.psbt, "regtest", { requirePrevTx: true }))).toBe("malformedPsbt");
    expect(kindOf(() => signPsbt(built.psbt, HOT_SEED, "regtest", { requirePrevTx: true }))).toBe(
      "malformedPsbt",
    );
    expect(kindOf(() => describePsbt(built.psbt, "regtest"))).toBe("none");
  });

  it("refuses a claimed value that the previous transaction contradicts, and a previous transaction of another txid", () => {
    const prev = previous(4, 100_000n);
    const lying: SpendableUtxo = {
      txid: prev.txid,
      vout: 0,
      value: 1_000_000n,
      account,
      chain: 0,
      index: 4,
      prevTx: prev.raw,
    };
    expect(kindOf(() => buildPsbt(request(lying)))).toBe("badAmount");
    const other: SpendableUtxo = {
      txid: "cd".repeat(32),
      vout: 0,
      value: 100_000n,
      account,
      chain: 0,
      index: 4,
      prevTx: prev.raw,
    };
    expect(kindOf(() => buildPsbt(request(other)))).toBe("badAmount");
  });

  it("refuses a PSBT whose witnessUtxo value was edited after building (bytes patched, not via the builder)", () => {
    const prev = previous(4, 100_000n);
    const utxo: SpendableUtxo = {
      txid: prev.txid,
      vout: 0,
      value: 100_000n,
      account,
      chain: 0,
      index: 4,
      prevTx: prev.raw,
    };
    const honest = Buffer.from(buildPsbt(request(utxo)).psbt);
    const amount = (value: bigint) => {
      const bytes = Buffer.alloc(8);
      bytes.writeBigUInt64LE(value);
      return bytes;
    };
    // The witnessUtxo field: 8-byte value then the script length 0x16 and the P2WPKH script.
    const field = Buffer.concat([amount(100_000n), Buffer.from([0x16]), deriveAddress(account, 0, 4).script]);
    const at = honest.lastIndexOf(field);
    expect(at).toBeGreaterThan(0);
    const patched = Buffer.from(honest);
    amount(1_000_000n).copy(patched, at);
    expect(kindOf(() => describePsbt(new Uint8Array(patched), "regtest"))).toBe("malformedPsbt");
    expect(() => signPsbt(new Uint8Array(patched), HOT_SEED, "regtest", { requirePrevTx: true })).toThrow();
  });
});
