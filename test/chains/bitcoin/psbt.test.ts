import { secp256k1 } from "@noble/curves/secp256k1.js";
import { hexToBytes } from "@noble/hashes/utils.js";
import { p2pkh, p2tr, p2wpkh, SigHash, Transaction } from "@scure/btc-signer";
import { describe, expect, it } from "vitest";
import { BitcoinTxError } from "../../../src/chains/bitcoin/errors.ts";
import {
  deriveAddress,
  exportAccount,
  masterNode,
  type WatchOnlyAccount,
  watchOnlyAccount,
} from "../../../src/chains/bitcoin/keys.ts";
import { type BitcoinNetworkName, bitcoinNetwork } from "../../../src/chains/bitcoin/network.ts";
import {
  type BuildPsbtRequest,
  buildPsbt,
  describePsbt,
  isValidAddress,
  MAX_PSBT_BYTES,
  MAX_TX_INPUTS,
  MAX_TX_OUTPUTS,
  type PaymentRequest,
  psbtFromBase64,
  psbtToBase64,
  type SpendableUtxo,
} from "../../../src/chains/bitcoin/psbt.ts";
import { seedFromMnemonic } from "../../../src/chains/bitcoin/seed.ts";
import { finalizePsbt, signPsbt } from "../../../src/chains/bitcoin/sign.ts";
import { dustThreshold } from "../../../src/chains/bitcoin/size.ts";

// BIP-0174, "Test Vectors", valid PSBTs: "Case: PSBT with one P2PKH input. Outputs are empty".
const BIP174_ONE_P2PKH_INPUT =
  "cHNidP8BAHUCAAAAASaBcTce3/KF6Tet7qSze3gADAVmy7OtZGQXE8pCFxv2AAAAAAD+////AtPf9QUAAAAAGXapFNDFmQPFusKGh2DpD9UhpGZap2UgiKwA4fUFAAAAABepFDVF5uM7gyxHBQ8k0+65PJwDlIvHh7MuEwAAAQD9pQEBAAAAAAECiaPHHqtNIOA3G7ukzGmPopXJRjr6Ljl/hTPMti+VZ+UBAAAAFxYAFL4Y0VKpsBIDna89p95PUzSe7LmF/////4b4qkOnHf8USIk6UwpyN+9rRgi7st0tAXHmOuxqSJC0AQAAABcWABT+Pp7xp0XpdNkCxDVZQ6vLNL1TU/////8CAMLrCwAAAAAZdqkUhc/xCX/Z4Ai7NK9wnGIZeziXikiIrHL++E4sAAAAF6kUM5cluiHv1irHU6m80GfWx6ajnQWHAkcwRAIgJxK+IuAnDzlPVoMR3HyppolwuAJf3TskAinwf4pfOiQCIAGLONfc0xTnNMkna9b7QPZzMlvEuqFEyADS8vAtsnZcASED0uFWdJQbrUqZY3LLh+GFbTZSYG2YVi/jnF6efkE/IQUCSDBFAiEA0SuFLYXc2WHS9fSrZgZU327tzHlMDDPOXMMJ/7X85Y0CIGczio4OFyXBl/saiK9Z9R5E5CVbIBZ8hoQDHAXR8lkqASECI7cr7vCWXRC+B3jv7NYfysb3mk6haTkzgHNEZPhPKrMAAAAAAAAA";

// BIP-0174, "Test Vectors", invalid PSBTs that every parser must reject (case names as in the BIP).
const BIP174_INVALID: readonly [string, string][] = [
  [
    "Network transaction, not PSBT format",
    "AgAAAAEmgXE3Ht/yhek3re6ks3t4AAwFZsuzrWRkFxPKQhcb9gAAAABqRzBEAiBwsiRRI+a/R01gxbUMBD1MaRpdJDXwmjSnZiqdwlF5CgIgATKcqdrPKAvfMHQOwDkEIkIsgctFg5RXrrdvwS7dlbMBIQJlfRGNM1e44PTCzUbbezn22cONmnCry5st5dyNv+TOMf7///8C09/1BQAAAAAZdqkU0MWZA8W6woaHYOkP1SGkZlqnZSCIrADh9QUAAAAAF6kUNUXm4zuDLEcFDyTT7rk8nAOUi8eHsy4TAA==",
  ],
  [
    "PSBT with invalid input witness utxo typed key",
    "cHNidP8BAFUCAAAAASeaIyOl37UfxF8iD6WLD8E+HjNCeSqF1+Ns1jM7XLw5AAAAAAD/////AaBa6gsAAAAAGXapFP/pwAYQl8w7Y28ssEYPpPxCfStFiKwAAAAAAAIBACCVXuoLAAAAABepFGNFIA9o0YnhrcDfHE0W6o8UwNvrhyICA7E0HMunaDtq9PEjjNbpfnFn1Wn6xH8eSNR1QYRDVb1GRjBDAiAEJLWO/6qmlOFVnqXJO7/UqJBkIkBVzfBwtncUaUQtBwIfXI6w/qZRbWC4rLM61k7eYOh4W/s6qUuZvfhhUduamgEBBCIAIHcf0YrUWWZt1J89Vk49vEL0yEd042CtoWgWqO1IjVaBAQVHUiEDsTQcy6doO2r08SOM1ul+cWfVafrEfx5I1HVBhENVvUYhA95V0eHayAXj+KWMH7+blMAvPbqv4Sf+/KSZXyb4IIO9Uq4iBgOxNBzLp2g7avTxI4zW6X5xZ9Vp+sR/HkjUdUGEQ1W9RhC0prpnAAAAgAAAAIAEAACAIgYD3lXR4drIBeP4pYwfv5uUwC89uq/hJ/78pJlfJvggg70QtKa6ZwAAAIAAAACABQAAgAAA",
  ],
  [
    "PSBT with invalid pubkey length for input partial signature typed key",
    "cHNidP8BAFUCAAAAASeaIyOl37UfxF8iD6WLD8E+HjNCeSqF1+Ns1jM7XLw5AAAAAAD/////AaBa6gsAAAAAGXapFP/pwAYQl8w7Y28ssEYPpPxCfStFiKwAAAAAAAEBIJVe6gsAAAAAF6kUY0UgD2jRieGtwN8cTRbqjxTA2+uHIQIDsTQcy6doO2r08SOM1ul+cWfVafrEfx5I1HVBhENVvUYwQwIgBCS1jv+qppThVZ6lyTu/1KiQZCJAVc3wcLZ3FGlELQcCH1yOsP6mUW1guKyzOtZO3mDoeFv7OqlLmb34YVHbmpoBAQQiACB3H9GK1FlmbdSfPVZOPbxC9MhHdONgraFoFqjtSI1WgQEFR1IhA7E0HMunaDtq9PEjjNbpfnFn1Wn6xH8eSNR1QYRDVb1GIQPeVdHh2sgF4/iljB+/m5TALz26r+En/vykmV8m+CCDvVKuIgYDsTQcy6doO2r08SOM1ul+cWfVafrEfx5I1HVBhENVvUYQtKa6ZwAAAIAAAACABAAAgCIGA95V0eHayAXj+KWMH7+blMAvPbqv4Sf+/KSZXyb4IIO9ELSmumcAAACAAAAAgAUAAIAAAA==",
  ],
  [
    "PSBT with invalid pubkey in input BIP 32 derivation paths typed key",
    "cHNidP8BAFUCAAAAASeaIyOl37UfxF8iD6WLD8E+HjNCeSqF1+Ns1jM7XLw5AAAAAAD/////AaBa6gsAAAAAGXapFP/pwAYQl8w7Y28ssEYPpPxCfStFiKwAAAAAAAEBIJVe6gsAAAAAF6kUY0UgD2jRieGtwN8cTRbqjxTA2+uHIgIDsTQcy6doO2r08SOM1ul+cWfVafrEfx5I1HVBhENVvUZGMEMCIAQktY7/qqaU4VWepck7v9SokGQiQFXN8HC2dxRpRC0HAh9cjrD+plFtYLisszrWTt5g6Hhb+zqpS5m9+GFR25qaAQEEIgAgdx/RitRZZm3Unz1WTj28QvTIR3TjYK2haBao7UiNVoEBBUdSIQOxNBzLp2g7avTxI4zW6X5xZ9Vp+sR/HkjUdUGEQ1W9RiED3lXR4drIBeP4pYwfv5uUwC89uq/hJ/78pJlfJvggg71SriEGA7E0HMunaDtq9PEjjNbpfnFn1Wn6xH8eSNR1QYRDVb0QtKa6ZwAAAIAAAACABAAAgCIGA95V0eHayAXj+KWMH7+blMAvPbqv4Sf+/KSZXyb4IIO9ELSmumcAAACAAAAAgAUAAIAAAA==",
  ],
];

// Our hot wallet: the BIP84 test mnemonic ("abandon ×11 about", BIP-0084 "Test vectors").
const HOT_SEED = seedFromMnemonic(
  "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
);
// Someone else's wallet: BIP39 Trezor vector "legal winner … yellow" with passphrase TREZOR.
const OTHER_SEED = seedFromMnemonic(
  "legal winner thank year wave sausage worth useful legal winner thank yellow",
  "TREZOR",
);

function watch(seed: Uint8Array, network: BitcoinNetworkName, account = 0): WatchOnlyAccount {
  return watchOnlyAccount(exportAccount(seed, network, account));
}

const TXIDS = ["11", "22", "33", "44"].map((byte) => byte.repeat(32));

function utxo(account: WatchOnlyAccount, n: number, value: bigint, chain: 0 | 1 = 0): SpendableUtxo {
  return { txid: TXIDS[n % TXIDS.length], vout: n, value, account, chain, index: n };
}

/** Addresses of a wallet that is not ours, of three output types. */
function outsideAddresses(network: BitcoinNetworkName): { wpkh: string; pkh: string; tr: string } {
  const node = masterNode(OTHER_SEED, network).derive("m/0/7");
  const params = bitcoinNetwork(network).params;
  return {
    wpkh: p2wpkh(node.publicKey!, params).address!,
    pkh: p2pkh(node.publicKey!, params).address!,
    tr: p2tr(node.publicKey!.subarray(1), undefined, params).address!,
  };
}

function request(
  network: BitcoinNetworkName,
  payments: PaymentRequest[],
  utxos?: SpendableUtxo[],
): BuildPsbtRequest {
  const account = watch(HOT_SEED, network);
  return {
    network,
    utxos: utxos ?? [utxo(account, 0, 150_000n), utxo(account, 1, 60_000n, 1)],
    payments,
    change: { account, index: 3 },
    feeRate: 5n,
  };
}

/** Checks each P2WPKH witness signature of a raw transaction against its BIP143 sighash. */
function verifyWitnessSignatures(rawHex: string, amounts: bigint[]): void {
  const tx = Transaction.fromRaw(hexToBytes(rawHex), { allowUnknownOutputs: true });
  for (let idx = 0; idx < tx.inputsLength; idx++) {
    const witness = tx.getInput(idx).finalScriptWitness!;
    expect(witness).toHaveLength(2);
    const [signature, publicKey] = witness;
    expect(signature.at(-1)).toBe(SigHash.ALL);
    const scriptCode = p2pkh(publicKey).script;
    const sighash = tx.preimageWitnessV0(idx, scriptCode, SigHash.ALL, amounts[idx]);
    const der = signature.subarray(0, -1);
    expect(secp256k1.verify(der, sighash, publicKey, { prehash: false, format: "der" })).toBe(true);
    const tampered = tx.preimageWitnessV0(idx, scriptCode, SigHash.ALL, amounts[idx] + 1n);
    expect(secp256k1.verify(der, tampered, publicKey, { prehash: false, format: "der" })).toBe(false);
  }
}

describe("BIP174 test vector", () => {
  it("the one-P2PKH-input PSBT parses, round-trips byte for byte, and describes its fee", () => {
    const bytes = psbtFromBase64(BIP174_ONE_P2PKH_INPUT);
    expect(psbtToBase64(Transaction.fromPSBT(bytes).toPSBT(0))).toBe(BIP174_ONE_P2PKH_INPUT);
    const described = describePsbt(bytes, "mainnet");
    expect(described.inputs).toHaveLength(1);
    expect(described.inputs[0].value).toBe(200_000_000n);
    expect(described.outputs.map((o) => o.amount)).toEqual([99_999_699n, 100_000_000n]);
    expect(described.outputs[0].address.startsWith("1")).toBe(true);
    expect(described.outputs[1].address.startsWith("3")).toBe(true);
    expect(described.fee).toBe(301n);
  });

  it.each(BIP174_INVALID)("rejects the invalid vector: %s", (_name, text) => {
    expect(() => psbtFromBase64(text)).toThrow(BitcoinTxError);
  });

  it("refuses text that is not base64, bytes that are not a PSBT, and oversized input", () => {
    const expectKind = (fn: () => unknown, kind: string) => {
      expect(fn).toThrow(BitcoinTxError);
      try {
        fn();
      } catch (error) {
        expect((error as BitcoinTxError).kind).toBe(kind);
      }
    };
    expectKind(() => psbtFromBase64("not base64!"), "malformedPsbt");
    expectKind(() => psbtFromBase64(Buffer.from("psbt\xff garbage").toString("base64")), "malformedPsbt");
    expectKind(() => psbtFromBase64("A".repeat(Math.ceil(MAX_PSBT_BYTES / 3) * 4 + 4)), "malformedPsbt");
    expectKind(() => describePsbt(new Uint8Array(MAX_PSBT_BYTES + 1), "mainnet"), "malformedPsbt");
  });
});

describe.each(["mainnet", "testnet", "regtest"] as const)("build, sign, finalize on %s", (network) => {
  const outside = outsideAddresses(network);
  const payments = [
    { address: outside.wpkh, amount: 100_000n },
    { address: outside.tr, amount: 20_000n },
    { address: outside.pkh, amount: 10_000n },
  ];

  it("pays the outputs, sends change to chain 1, and the fee covers the estimate at the rate asked", () => {
    const built = buildPsbt(request(network, payments));
    const described = describePsbt(built.psbt, network);
    expect(described.outputs.slice(0, 3).map(({ address, amount }) => ({ address, amount }))).toEqual(
      payments,
    );
    expect(built.changeOutput).toBe(3);
    const change = described.outputs[3];
    expect(change.address).toBe(deriveAddress(watch(HOT_SEED, network), 1, 3).address);
    expect(change.amount).toBe(built.change);
    expect(described.totalIn).toBe(210_000n);
    expect(described.fee).toBe(built.fee);
    expect(built.fee).toBe(BigInt(built.vsizeEstimate) * 5n);
    expect(described.inputs.map((input) => [input.txid, input.vout, input.value])).toEqual([
      [TXIDS[0], 0, 150_000n],
      [TXIDS[1], 1, 60_000n],
    ]);
  });

  it("signs every input, finalizes, and each witness signature verifies against its sighash", () => {
    const built = buildPsbt(request(network, payments));
    const exported = psbtFromBase64(psbtToBase64(built.psbt)); // the offline-signing round trip
    const signed = signPsbt(exported, HOT_SEED, network);
    expect(signed.signed).toEqual([0, 1]);
    expect(signed.skipped).toEqual([]);
    const final = finalizePsbt(signed.psbt);
    expect(final.txid).toBe(describePsbt(built.psbt, network).txid);
    expect(final.vsize).toBeLessThanOrEqual(built.vsizeEstimate);
    expect(built.vsizeEstimate - final.vsize).toBeLessThanOrEqual(2);
    verifyWitnessSignatures(final.hex, [150_000n, 60_000n]);
    const raw = Transaction.fromRaw(final.bytes, { allowUnknownOutputs: true });
    expect(raw.outputsLength).toBe(4);
    expect(raw.getOutput(0).amount).toBe(100_000n);
  });
});

describe("signing only what the seed owns", () => {
  it("leaves an input of another wallet unsigned, and finalizing then refuses", () => {
    const ours = watch(HOT_SEED, "regtest");
    const theirs = watch(OTHER_SEED, "regtest");
    const built = buildPsbt(
      request(
        "regtest",
        [{ address: outsideAddresses("regtest").wpkh, amount: 50_000n }],
        [utxo(ours, 0, 40_000n), utxo(theirs, 1, 40_000n)],
      ),
    );
    const signed = signPsbt(built.psbt, HOT_SEED, "regtest");
    expect(signed.signed).toEqual([0]);
    expect(signed.skipped).toEqual([1]);
    expect(() => finalizePsbt(signed.psbt)).toThrow(BitcoinTxError);
    // The other wallet signs its own input; together the transaction is complete.
    const both = signPsbt(signed.psbt, OTHER_SEED, "regtest");
    expect(both.signed).toEqual([1]);
    verifyWitnessSignatures(finalizePsbt(both.psbt).hex, [40_000n, 40_000n]);
  });

  it("does not sign with a mainnet key for a regtest PSBT (coin type differs)", () => {
    const built = buildPsbt(
      request("regtest", [{ address: outsideAddresses("regtest").wpkh, amount: 50_000n }]),
    );
    const signed = signPsbt(built.psbt, HOT_SEED, "mainnet");
    expect(signed.signed).toEqual([]);
  });
});

describe("refusals", () => {
  const kindOf = (fn: () => unknown): string => {
    try {
      fn();
    } catch (error) {
      if (error instanceof BitcoinTxError) return error.kind;
      throw error;
    }
    return "none";
  };

  it("refuses an address of another network", () => {
    const mainnetAddress = outsideAddresses("mainnet").wpkh;
    expect(isValidAddress(mainnetAddress, "mainnet")).toBe(true);
    expect(isValidAddress(mainnetAddress, "testnet")).toBe(false);
    expect(isValidAddress(outsideAddresses("testnet").wpkh, "regtest")).toBe(false);
    expect(kindOf(() => buildPsbt(request("testnet", [{ address: mainnetAddress, amount: 50_000n }])))).toBe(
      "badAddress",
    );
  });

  it("refuses a dust output, and drops dust change into the fee", () => {
    const address = outsideAddresses("regtest").wpkh;
    expect(dustThreshold(deriveAddress(watch(HOT_SEED, "regtest"), 0, 0).script)).toBe(294n);
    expect(kindOf(() => buildPsbt(request("regtest", [{ address, amount: 293n }])))).toBe("dust");
    expect(kindOf(() => buildPsbt(request("regtest", [{ address, amount: 294n }])))).toBe("none");
    // 1 input, 1 output at 5 sat/vB: 110 vB without change, 141 with; leave 100 sat over.
    const account = watch(HOT_SEED, "regtest");
    const built = buildPsbt(request("regtest", [{ address, amount: 50_000n }], [utxo(account, 0, 50_650n)]));
    expect(built.changeOutput).toBeNull();
    expect(built.change).toBe(0n);
    expect(built.fee).toBe(650n);
    expect(describePsbt(built.psbt, "regtest").outputs).toHaveLength(1);
  });

  it("refuses insufficient funds", () => {
    const address = outsideAddresses("regtest").wpkh;
    const account = watch(HOT_SEED, "regtest");
    expect(kindOf(() => buildPsbt(request("regtest", [{ address, amount: 210_000n }])))).toBe(
      "insufficientFunds",
    );
    expect(
      kindOf(() =>
        buildPsbt(request("regtest", [{ address, amount: 50_000n }], [utxo(account, 0, 50_549n)])),
      ),
    ).toBe("insufficientFunds");
    expect(kindOf(() => buildPsbt(request("regtest", [{ address, amount: 50_000n }], [])))).toBe(
      "insufficientFunds",
    );
  });

  it("refuses more outputs than the limit, and an imported PSBT over the input or output limit", () => {
    const account = watch(HOT_SEED, "regtest");
    const address = outsideAddresses("regtest").wpkh;
    const payments = Array.from({ length: MAX_TX_OUTPUTS }, () => ({ address, amount: 1_000n }));
    expect(kindOf(() => buildPsbt(request("regtest", payments, [utxo(account, 0, 10_000_000n)])))).toBe(
      "tooManyOutputs",
    );
    const wide = new Transaction();
    for (let n = 0; n <= MAX_TX_INPUTS; n++) wide.addInput({ txid: TXIDS[0], index: n });
    wide.addOutput({ script: deriveAddress(account, 0, 0).script, amount: 1_000n });
    expect(kindOf(() => describePsbt(wide.toPSBT(0), "regtest"))).toBe("tooManyInputs");
    const long = new Transaction();
    long.addInput({ txid: TXIDS[0], index: 0 });
    for (let n = 0; n <= MAX_TX_OUTPUTS; n++)
      long.addOutput({ script: deriveAddress(account, 0, 0).script, amount: 1_000n });
    expect(kindOf(() => signPsbt(long.toPSBT(0), HOT_SEED, "regtest"))).toBe("tooManyOutputs");
  });

  it("refuses more inputs than the limit, a repeated outpoint, and bad amounts and fee rates", () => {
    const address = outsideAddresses("regtest").wpkh;
    const account = watch(HOT_SEED, "regtest");
    const many = Array.from({ length: MAX_TX_INPUTS + 1 }, (_, n) => ({
      ...utxo(account, n, 10_000n),
      vout: n,
    }));
    expect(kindOf(() => buildPsbt(request("regtest", [{ address, amount: 50_000n }], many)))).toBe(
      "tooManyInputs",
    );
    const twice = [utxo(account, 0, 100_000n), utxo(account, 0, 100_000n)];
    expect(kindOf(() => buildPsbt(request("regtest", [{ address, amount: 50_000n }], twice)))).toBe(
      "badAmount",
    );
    expect(kindOf(() => buildPsbt(request("regtest", [{ address, amount: 0n }])))).toBe("badAmount");
    expect(
      kindOf(() => buildPsbt({ ...request("regtest", [{ address, amount: 50_000n }]), feeRate: 0n })),
    ).toBe("badFeeRate");
    expect(
      kindOf(() => buildPsbt({ ...request("regtest", [{ address, amount: 50_000n }]), feeRate: 100_000n })),
    ).toBe("badFeeRate");
  });
});
