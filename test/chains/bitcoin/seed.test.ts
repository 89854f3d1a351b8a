import { hexToBytes } from "@noble/hashes/utils.js";
import { HDKey } from "@scure/bip32";
import { describe, expect, it } from "vitest";
import { isValidMnemonic, mnemonicFromEntropy, seedFromMnemonic } from "../../../src/chains/bitcoin/seed.ts";

// BIP39 English test vectors, passphrase "TREZOR": trezor/python-mnemonic, vectors.json
// (linked from BIP-0039, "Test vectors"). Entropy, mnemonic, seed, BIP32 root key.
const TREZOR_VECTORS: readonly [string, string, string, string][] = [
  [
    "00000000000000000000000000000000",
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
    "c55257c360c07c72029aebc1b53c05ed0362ada38ead3e3e9efa3708e53495531f09a6987599d18264c1e1c92f2cf141630c7a3c4ab7c81b2f001698e7463b04",
    "xprv9s21ZrQH143K3h3fDYiay8mocZ3afhfULfb5GX8kCBdno77K4HiA15Tg23wpbeF1pLfs1c5SPmYHrEpTuuRhxMwvKDwqdKiGJS9XFKzUsAF",
  ],
  [
    "7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f",
    "legal winner thank year wave sausage worth useful legal winner thank yellow",
    "2e8905819b8723fe2c1d161860e5ee1830318dbf49a83bd451cfb8440c28bd6fa457fe1296106559a3c80937a1c1069be3a3a5bd381ee6260e8d9739fce1f607",
    "xprv9s21ZrQH143K2gA81bYFHqU68xz1cX2APaSq5tt6MFSLeXnCKV1RVUJt9FWNTbrrryem4ZckN8k4Ls1H6nwdvDTvnV7zEXs2HgPezuVccsq",
  ],
  [
    "80808080808080808080808080808080",
    "letter advice cage absurd amount doctor acoustic avoid letter advice cage above",
    "d71de856f81a8acc65e6fc851a38d4d7ec216fd0796d0a6827a3ad6ed5511a30fa280f12eb2e47ed2ac03b5c462a0358d18d69fe4f985ec81778c1b370b652a8",
    "xprv9s21ZrQH143K2shfP28KM3nr5Ap1SXjz8gc2rAqqMEynmjt6o1qboCDpxckqXavCwdnYds6yBHZGKHv7ef2eTXy461PXUjBFQg6PrwY4Gzq",
  ],
  [
    "ffffffffffffffffffffffffffffffff",
    "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo wrong",
    "ac27495480225222079d7be181583751e86f571027b0497b5b5d11218e0a8a13332572917f0f8e5a589620c6f15b11c61dee327651a14c34e18231052e48c069",
    "xprv9s21ZrQH143K2V4oox4M8Zmhi2Fjx5XK4Lf7GKRvPSgydU3mjZuKGCTg7UPiBUD7ydVPvSLtg9hjp7MQTYsW67rZHAXeccqYqrsx8LcXnyd",
  ],
  [
    "0000000000000000000000000000000000000000000000000000000000000000",
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon art",
    "bda85446c68413707090a52022edd26a1c9462295029f2e60cd7c4f2bbd3097170af7a4d73245cafa9c3cca8d561a7c3de6f5d4a10be8ed2a5e608d68f92fcc8",
    "xprv9s21ZrQH143K32qBagUJAMU2LsHg3ka7jqMcV98Y7gVeVyNStwYS3U7yVVoDZ4btbRNf4h6ibWpY22iRmXq35qgLs79f312g2kj5539ebPM",
  ],
  [
    "9e885d952ad362caeb4efe34a8e91bd2",
    "ozone drill grab fiber curtain grace pudding thank cruise elder eight picnic",
    "274ddc525802f7c828d8ef7ddbcdc5304e87ac3535913611fbbfa986d0c9e5476c91689f9c8a54fd55bd38606aa6a8595ad213d4c9c9f9aca3fb217069a41028",
    "xprv9s21ZrQH143K2oZ9stBYpoaZ2ktHj7jLz7iMqpgg1En8kKFTXJHsjxry1JbKH19YrDTicVwKPehFKTbmaxgVEc5TpHdS1aYhB2s9aFJBeJH",
  ],
];

describe("BIP39 (Trezor English vectors, passphrase TREZOR)", () => {
  it.each(TREZOR_VECTORS)("entropy %s → mnemonic → seed → root key", (entropy, mnemonic, seed, xprv) => {
    expect(mnemonicFromEntropy(hexToBytes(entropy))).toBe(mnemonic);
    expect(isValidMnemonic(mnemonic)).toBe(true);
    const derived = seedFromMnemonic(mnemonic, "TREZOR");
    expect(Buffer.from(derived).toString("hex")).toBe(seed);
    expect(HDKey.fromMasterSeed(derived).privateExtendedKey).toBe(xprv);
  });
});

describe("BIP39 refusals", () => {
  it("refuses a mnemonic whose checksum fails", () => {
    // "abandon ×12" is 12 known words, but the last word carries a wrong checksum.
    const bad = Array(12).fill("abandon").join(" ");
    expect(isValidMnemonic(bad)).toBe(false);
    expect(() => seedFromMnemonic(bad)).toThrow(/checksum/);
  });

  it("refuses an unknown word, a wrong word count and oversized text", () => {
    expect(
      isValidMnemonic(
        "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abou",
      ),
    ).toBe(false);
    expect(isValidMnemonic("abandon abandon abandon about")).toBe(false);
    expect(isValidMnemonic(`${"abandon ".repeat(200)}about`)).toBe(false);
  });

  it("refuses entropy of a length BIP39 does not define", () => {
    expect(() => mnemonicFromEntropy(new Uint8Array(15))).toThrow(/16\.\.32/);
    expect(() => mnemonicFromEntropy(new Uint8Array(33))).toThrow(/16\.\.32/);
  });

  it("a different passphrase gives a different seed", () => {
    const mnemonic = TREZOR_VECTORS[0][1];
    expect(seedFromMnemonic(mnemonic, "")).not.toEqual(seedFromMnemonic(mnemonic, "TREZOR"));
  });
});
