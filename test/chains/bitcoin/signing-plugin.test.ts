// The bitcoin signing plugin over the PSBT layer: a regtest PSBT built by custody from watch-only
// keys is described, signed, finalized, and every witness signature verifies against its sighash.
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { p2pkh, SigHash, Transaction } from "@scure/btc-signer";
import { describe, expect, it } from "vitest";
import { deriveAddress, exportAccount, watchOnlyAccount } from "../../../src/chains/bitcoin/keys.ts";
import { buildPsbt, type SpendableUtxo } from "../../../src/chains/bitcoin/psbt.ts";
import { seedFromMnemonic } from "../../../src/chains/bitcoin/seed.ts";
import { bitcoinSigningPlugin } from "../../../src/chains/bitcoin/signing-plugin.ts";

const HOT = {
  chain: "bitcoin-regtest",
  seed: seedFromMnemonic(
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
  ),
};
const OTHER_SEED = seedFromMnemonic(
  "legal winner thank year wave sausage worth useful legal winner thank yellow",
);
const TXIDS = ["11", "22", "33"].map((byte) => byte.repeat(32));

/** Custody's view: the watch-only account parsed from what the plugin exports. */
function custodyAccount(seed: Uint8Array) {
  return watchOnlyAccount(exportAccount(seed, "regtest", 0));
}

function utxo(account: ReturnType<typeof custodyAccount>, n: number, value: bigint): SpendableUtxo {
  return { txid: TXIDS[n], vout: n, value, account, chain: 0, index: n };
}

const outside = deriveAddress(custodyAccount(OTHER_SEED), 0, 9).address;

describe("the bitcoin signing plugin (regtest)", () => {
  const plugin = bitcoinSigningPlugin({ network: "regtest", lookahead: 10 });

  it("exports the account xpub, zpub and master fingerprint custody parses", () => {
    const exported = plugin.exportPublicKeys(HOT);
    expect(exported.map((key) => key.label)).toEqual([
      "account-0",
      "account-0-zpub",
      "account-0-fingerprint",
    ]);
    expect(exported[0].key.startsWith("tpub")).toBe(true);
    expect(exported[1].key.startsWith("vpub")).toBe(true);
    for (const key of exported) expect(key.key).not.toMatch(/prv/);
  });

  it("describes, signs and finalizes a PSBT built by buildPsbt; every witness signature verifies", () => {
    const account = custodyAccount(HOT.seed);
    const utxos = [utxo(account, 0, 150_000n), utxo(account, 1, 60_000n)];
    const built = buildPsbt({
      network: "regtest",
      utxos,
      payments: [{ address: outside, amount: 120_000n }],
      change: { account, index: 57 },
      feeRate: 5n,
    });
    const change = deriveAddress(account, 1, 57).address;
    // Change index 57 is beyond the lookahead: known as own only once a payload proves it.
    expect(plugin.isOwnAddress(change, HOT)).toBe(false);
    const description = plugin.describe(built.psbt, HOT);
    expect(description).toEqual({
      payments: [
        { to: outside, asset: "BTC", amount: 120_000n },
        { to: change, asset: "BTC", amount: built.change },
      ],
      fee: built.fee,
      feeAsset: "BTC",
    });
    expect(plugin.isOwnAddress(change, HOT)).toBe(true);
    expect(plugin.isOwnAddress(outside, HOT)).toBe(false);
    expect(plugin.isOwnAddress(deriveAddress(account, 0, 3).address, HOT)).toBe(true);

    const signed = plugin.sign(built.psbt, HOT);
    const tx = Transaction.fromRaw(signed.bytes);
    expect(tx.id).toBe(signed.txId);
    for (let idx = 0; idx < tx.inputsLength; idx++) {
      const [signature, publicKey] = tx.getInput(idx).finalScriptWitness ?? [];
      expect(signature.at(-1)).toBe(SigHash.ALL);
      const sighash = tx.preimageWitnessV0(idx, p2pkh(publicKey).script, SigHash.ALL, utxos[idx].value);
      const der = signature.subarray(0, -1);
      expect(secp256k1.verify(der, sighash, publicKey, { prehash: false, format: "der" })).toBe(true);
    }
  });

  it("refuses a PSBT spending an input the seed does not own, and signs nothing of it", () => {
    const ours = custodyAccount(HOT.seed);
    const theirs = custodyAccount(OTHER_SEED);
    const built = buildPsbt({
      network: "regtest",
      utxos: [utxo(ours, 0, 100_000n), utxo(theirs, 1, 100_000n)],
      payments: [{ address: outside, amount: 150_000n }],
      change: { account: ours, index: 0 },
      feeRate: 2n,
    });
    expect(() => plugin.describe(built.psbt, HOT)).toThrow(
      /input 1 does not spend from a key of this wallet/,
    );
    expect(() => plugin.sign(built.psbt, HOT)).toThrow(/inputs 1 are not this wallet's/);
  });

  it("on mainnet requires every input's previous transaction by default", () => {
    const mainnet = bitcoinSigningPlugin({ network: "mainnet" });
    expect(mainnet.chain).toBe("bitcoin-mainnet");
    const account = watchOnlyAccount(exportAccount(HOT.seed, "mainnet", 0));
    const built = buildPsbt({
      network: "mainnet",
      utxos: [{ txid: TXIDS[0], vout: 0, value: 100_000n, account, chain: 0, index: 0 }],
      payments: [
        {
          address: deriveAddress(watchOnlyAccount(exportAccount(OTHER_SEED, "mainnet", 0)), 0, 0).address,
          amount: 50_000n,
        },
      ],
      change: { account, index: 0 },
      feeRate: 2n,
    }).psbt;
    expect(() => mainnet.describe(built, HOT)).toThrow(/previous transaction/);
  });
});
