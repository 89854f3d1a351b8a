// The devnet signing plugins on their own: custody's xpub-derived addresses are the signer's, the
// lookahead is a hard bound, exports are public only, and a signature is what the chain accepts.
import { HDKey } from "@scure/bip32";
import { describe, expect, it } from "vitest";
import { addressOfKey, privateKeyFromSeed, UtxoDevnet } from "../../../src/chains/devnet/index.ts";
import {
  DEPOSIT_LABEL,
  DEVNET_KEY_VERSIONS,
  devnetAccountPath,
  devnetAccountSigningPlugin,
  devnetAddressFromXpub,
  devnetUtxoSigningPlugin,
  devnetWatchOnlyNode,
  HOT_LABEL,
} from "../../../src/chains/devnet/signing.ts";

const KEYS = { chain: "devnet-btc", seed: new Uint8Array(32).fill(5) };

describe("devnet signing plugins", () => {
  it("knows hot and deposit addresses within the lookahead and nothing beyond it", () => {
    const plugin = devnetUtxoSigningPlugin({ hotLookahead: 4, depositLookahead: 8 });
    const [hot, deposit] = plugin.exportPublicKeys(KEYS);
    expect([hot.label, deposit.label]).toEqual([HOT_LABEL, DEPOSIT_LABEL]);
    expect(() => devnetWatchOnlyNode(hot.key)).not.toThrow();
    expect(plugin.isOwnAddress(devnetAddressFromXpub("utxo", hot.key, 0, 3), KEYS)).toBe(true);
    expect(plugin.isOwnAddress(devnetAddressFromXpub("utxo", hot.key, 1, 3), KEYS)).toBe(true);
    expect(plugin.isOwnAddress(devnetAddressFromXpub("utxo", hot.key, 0, 4), KEYS)).toBe(false);
    expect(plugin.isOwnAddress(devnetAddressFromXpub("utxo", deposit.key, 0, 7), KEYS)).toBe(true);
    expect(plugin.isOwnAddress(devnetAddressFromXpub("utxo", deposit.key, 0, 8), KEYS)).toBe(false);
    expect(plugin.isOwnAddress("not an address", KEYS)).toBe(false);
    // Another seed's addresses are not ours; the account chain's keys differ from the UTXO chain's.
    const other = devnetUtxoSigningPlugin().exportPublicKeys({
      chain: "devnet-btc",
      seed: new Uint8Array(32).fill(6),
    });
    expect(plugin.isOwnAddress(devnetAddressFromXpub("utxo", other[0].key, 0, 0), KEYS)).toBe(false);
    const account = devnetAccountSigningPlugin().exportPublicKeys({ ...KEYS, chain: "devnet-eth" });
    expect(account[0].key).not.toBe(hot.key);
  });

  it("refuses a private extended key where custody expects a public one", () => {
    const xprv = HDKey.fromMasterSeed(KEYS.seed, DEVNET_KEY_VERSIONS).derive(
      devnetAccountPath("utxo", 0),
    ).privateExtendedKey;
    expect(() => devnetWatchOnlyNode(xprv)).toThrow(/private/);
  });

  it("signs a deposit sweep the devnet chain accepts; an address past the lookahead cannot be signed for", async () => {
    const plugin = devnetUtxoSigningPlugin({ hotLookahead: 2, depositLookahead: 4 });
    const [hot, deposit] = plugin.exportPublicKeys(KEYS);
    const chain = new UtxoDevnet();
    const hotAddress = devnetAddressFromXpub("utxo", hot.key, 0, 0);
    const inside = devnetAddressFromXpub("utxo", deposit.key, 0, 3);
    const beyond = devnetAddressFromXpub("utxo", deposit.key, 0, 4);
    chain.faucet(inside, "BTC", 100_000n);
    chain.faucet(beyond, "BTC", 100_000n);
    chain.mine();
    const sweep = await chain.buildPayment({
      sources: [inside],
      to: hotAddress,
      asset: "BTC",
      amount: 90_000n,
    });
    expect(plugin.describe(sweep.payload, KEYS).payments.map((p) => p.to)).toContain(hotAddress);
    const signed = plugin.sign(sweep.payload, KEYS);
    expect(await chain.broadcast(signed.bytes)).toBe(signed.txId);
    const stuck = await chain.buildPayment({
      sources: [beyond],
      to: hotAddress,
      asset: "BTC",
      amount: 90_000n,
    });
    expect(() => plugin.describe(stuck.payload, KEYS)).toThrow(/not this wallet's/);
    expect(() => plugin.sign(stuck.payload, KEYS)).toThrow(/not an address of this wallet/);
    const user = addressOfKey(chain, privateKeyFromSeed("user"));
    expect(plugin.isOwnAddress(user, KEYS)).toBe(false);
  });
});
