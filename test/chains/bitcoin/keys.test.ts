import { hexToBytes } from "@noble/hashes/utils.js";
import { HDKey } from "@scure/bip32";
import { WIF } from "@scure/btc-signer";
import { describe, expect, it } from "vitest";
import {
  type AccountExport,
  deriveAddress,
  exportAccount,
  formatPath,
  masterNode,
  signingNode,
  watchOnlyAccount,
  watchOnlyFromExtendedKey,
} from "../../../src/chains/bitcoin/keys.ts";
import { bitcoinNetwork } from "../../../src/chains/bitcoin/network.ts";
import { seedFromMnemonic } from "../../../src/chains/bitcoin/seed.ts";

// BIP-0032, "Test Vectors", test vector 1 and test vector 2: chain → [xpub, xprv].
const BIP32_VECTOR_1_SEED = "000102030405060708090a0b0c0d0e0f";
const BIP32_VECTOR_1: readonly [string, string, string][] = [
  [
    "m",
    "xpub661MyMwAqRbcFtXgS5sYJABqqG9YLmC4Q1Rdap9gSE8NqtwybGhePY2gZ29ESFjqJoCu1Rupje8YtGqsefD265TMg7usUDFdp6W1EGMcet8",
    "xprv9s21ZrQH143K3QTDL4LXw2F7HEK3wJUD2nW2nRk4stbPy6cq3jPPqjiChkVvvNKmPGJxWUtg6LnF5kejMRNNU3TGtRBeJgk33yuGBxrMPHi",
  ],
  [
    "m/0'",
    "xpub68Gmy5EdvgibQVfPdqkBBCHxA5htiqg55crXYuXoQRKfDBFA1WEjWgP6LHhwBZeNK1VTsfTFUHCdrfp1bgwQ9xv5ski8PX9rL2dZXvgGDnw",
    "xprv9uHRZZhk6KAJC1avXpDAp4MDc3sQKNxDiPvvkX8Br5ngLNv1TxvUxt4cV1rGL5hj6KCesnDYUhd7oWgT11eZG7XnxHrnYeSvkzY7d2bhkJ7",
  ],
  [
    "m/0'/1",
    "xpub6ASuArnXKPbfEwhqN6e3mwBcDTgzisQN1wXN9BJcM47sSikHjJf3UFHKkNAWbWMiGj7Wf5uMash7SyYq527Hqck2AxYysAA7xmALppuCkwQ",
    "xprv9wTYmMFdV23N2TdNG573QoEsfRrWKQgWeibmLntzniatZvR9BmLnvSxqu53Kw1UmYPxLgboyZQaXwTCg8MSY3H2EU4pWcQDnRnrVA1xe8fs",
  ],
  [
    "m/0'/1/2'",
    "xpub6D4BDPcP2GT577Vvch3R8wDkScZWzQzMMUm3PWbmWvVJrZwQY4VUNgqFJPMM3No2dFDFGTsxxpG5uJh7n7epu4trkrX7x7DogT5Uv6fcLW5",
    "xprv9z4pot5VBttmtdRTWfWQmoH1taj2axGVzFqSb8C9xaxKymcFzXBDptWmT7FwuEzG3ryjH4ktypQSAewRiNMjANTtpgP4mLTj34bhnZX7UiM",
  ],
  [
    "m/0'/1/2'/2",
    "xpub6FHa3pjLCk84BayeJxFW2SP4XRrFd1JYnxeLeU8EqN3vDfZmbqBqaGJAyiLjTAwm6ZLRQUMv1ZACTj37sR62cfN7fe5JnJ7dh8zL4fiyLHV",
    "xprvA2JDeKCSNNZky6uBCviVfJSKyQ1mDYahRjijr5idH2WwLsEd4Hsb2Tyh8RfQMuPh7f7RtyzTtdrbdqqsunu5Mm3wDvUAKRHSC34sJ7in334",
  ],
  [
    "m/0'/1/2'/2/1000000000",
    "xpub6H1LXWLaKsWFhvm6RVpEL9P4KfRZSW7abD2ttkWP3SSQvnyA8FSVqNTEcYFgJS2UaFcxupHiYkro49S8yGasTvXEYBVPamhGW6cFJodrTHy",
    "xprvA41z7zogVVwxVSgdKUHDy1SKmdb533PjDz7J6N6mV6uS3ze1ai8FHa8kmHScGpWmj4WggLyQjgPie1rFSruoUihUZREPSL39UNdE3BBDu76",
  ],
];
const BIP32_VECTOR_2_SEED =
  "fffcf9f6f3f0edeae7e4e1dedbd8d5d2cfccc9c6c3c0bdbab7b4b1aeaba8a5a29f9c999693908d8a8784817e7b7875726f6c696663605d5a5754514e4b484542";
const BIP32_VECTOR_2: readonly [string, string, string][] = [
  [
    "m",
    "xpub661MyMwAqRbcFW31YEwpkMuc5THy2PSt5bDMsktWQcFF8syAmRUapSCGu8ED9W6oDMSgv6Zz8idoc4a6mr8BDzTJY47LJhkJ8UB7WEGuduB",
    "xprv9s21ZrQH143K31xYSDQpPDxsXRTUcvj2iNHm5NUtrGiGG5e2DtALGdso3pGz6ssrdK4PFmM8NSpSBHNqPqm55Qn3LqFtT2emdEXVYsCzC2U",
  ],
  [
    "m/0",
    "xpub69H7F5d8KSRgmmdJg2KhpAK8SR3DjMwAdkxj3ZuxV27CprR9LgpeyGmXUbC6wb7ERfvrnKZjXoUmmDznezpbZb7ap6r1D3tgFxHmwMkQTPH",
    "xprv9vHkqa6EV4sPZHYqZznhT2NPtPCjKuDKGY38FBWLvgaDx45zo9WQRUT3dKYnjwih2yJD9mkrocEZXo1ex8G81dwSM1fwqWpWkeS3v86pgKt",
  ],
  [
    "m/0/2147483647'",
    "xpub6ASAVgeehLbnwdqV6UKMHVzgqAG8Gr6riv3Fxxpj8ksbH9ebxaEyBLZ85ySDhKiLDBrQSARLq1uNRts8RuJiHjaDMBU4Zn9h8LZNnBC5y4a",
    "xprv9wSp6B7kry3Vj9m1zSnLvN3xH8RdsPP1Mh7fAaR7aRLcQMKTR2vidYEeEg2mUCTAwCd6vnxVrcjfy2kRgVsFawNzmjuHc2YmYRmagcEPdU9",
  ],
  [
    "m/0/2147483647'/1",
    "xpub6DF8uhdarytz3FWdA8TvFSvvAh8dP3283MY7p2V4SeE2wyWmG5mg5EwVvmdMVCQcoNJxGoWaU9DCWh89LojfZ537wTfunKau47EL2dhHKon",
    "xprv9zFnWC6h2cLgpmSA46vutJzBcfJ8yaJGg8cX1e5StJh45BBciYTRXSd25UEPVuesF9yog62tGAQtHjXajPPdbRCHuWS6T8XA2ECKADdw4Ef",
  ],
  [
    "m/0/2147483647'/1/2147483646'",
    "xpub6ERApfZwUNrhLCkDtcHTcxd75RbzS1ed54G1LkBUHQVHQKqhMkhgbmJbZRkrgZw4koxb5JaHWkY4ALHY2grBGRjaDMzQLcgJvLJuZZvRcEL",
    "xprvA1RpRA33e1JQ7ifknakTFpgNXPmW2YvmhqLQYMmrj4xJXXWYpDPS3xz7iAxn8L39njGVyuoseXzU6rcxFLJ8HFsTjSyQbLYnMpCqE2VbFWc",
  ],
  [
    "m/0/2147483647'/1/2147483646'/2",
    "xpub6FnCn6nSzZAw5Tw7cgR9bi15UV96gLZhjDstkXXxvCLsUXBGXPdSnLFbdpq8p9HmGsApME5hQTZ3emM2rnY5agb9rXpVGyy3bdW6EEgAtqt",
    "xprvA2nrNbFZABcdryreWet9Ea4LvTJcGsqrMzxHx98MMrotbir7yrKCEXw7nadnHM8Dq38EGfSh6dqA9QWTyefMLEcBYJUuekgW4BYPJcr9E7j",
  ],
];

describe("BIP32 test vectors 1 and 2 (mainnet master node)", () => {
  it.each([
    ["vector 1", BIP32_VECTOR_1_SEED, BIP32_VECTOR_1],
    ["vector 2", BIP32_VECTOR_2_SEED, BIP32_VECTOR_2],
  ] as const)("%s: every path gives the published xpub and xprv", (_name, seed, chain) => {
    const master = masterNode(hexToBytes(seed), "mainnet");
    for (const [path, xpub, xprv] of chain) {
      const node = master.derive(path);
      expect(node.publicExtendedKey, path).toBe(xpub);
      expect(node.privateExtendedKey, path).toBe(xprv);
    }
  });

  it("vector 1: public derivation of a non-hardened step from the parent xpub alone", () => {
    const parent = HDKey.fromExtendedKey(BIP32_VECTOR_1[3][1]);
    expect(parent.deriveChild(2).publicExtendedKey).toBe(BIP32_VECTOR_1[4][1]);
  });
});

// BIP-0084, "Test vectors": mnemonic "abandon ×11 about", no passphrase.
const BIP84_MNEMONIC =
  "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
const BIP84_ROOT_ZPRV =
  "zprvAWgYBBk7JR8Gjrh4UJQ2uJdG1r3WNRRfURiABBE3RvMXYSrRJL62XuezvGdPvG6GFBZduosCc1YP5wixPox7zhZLfiUm8aunE96BBa4Kei5";
const BIP84_ROOT_ZPUB =
  "zpub6jftahH18ngZxLmXaKw3GSZzZsszmt9WqedkyZdezFtWRFBZqsQH5hyUmb4pCEeZGmVfQuP5bedXTB8is6fTv19U1GQRyQUKQGUTzyHACMF";
const BIP84_ACCOUNT_0_ZPRV =
  "zprvAdG4iTXWBoARxkkzNpNh8r6Qag3irQB8PzEMkAFeTRXxHpbF9z4QgEvBRmfvqWvGp42t42nvgGpNgYSJA9iefm1yYNZKEm7z6qUWCroSQnE";
const BIP84_ACCOUNT_0_ZPUB =
  "zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs";
const BIP84_ADDRESSES: readonly [string, 0 | 1, number, string, string, string][] = [
  [
    "first receive m/84'/0'/0'/0/0",
    0,
    0,
    "KyZpNDKnfs94vbrwhJneDi77V6jF64PWPF8x5cdJb8ifgg2DUc9d",
    "0330d54fd0dd420a6e5f8d3624f5f3482cae350f79d5f0753bf5beef9c2d91af3c",
    "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu",
  ],
  [
    "second receive m/84'/0'/0'/0/1",
    0,
    1,
    "Kxpf5b8p3qX56DKEe5NqWbNUP9MnqoRFzZwHRtsFqhzuvUJsYZCy",
    "03e775fd51f0dfb8cd865d9ff1cca2a158cf651fe997fdc9fee9c1d3b5e995ea77",
    "bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g",
  ],
  [
    "first change m/84'/0'/0'/1/0",
    1,
    0,
    "KxuoxufJL5csa1Wieb2kp29VNdn92Us8CoaUG3aGtPtcF3AzeXvF",
    "03025324888e429ab8e3dbaf1f7802648b9cd01e9b418485c5fa4c1b9b5700e1a6",
    "bc1q8c6fshw2dlwun7ekn9qwf37cu2rn755upcp6el",
  ],
];

const bip84Seed = seedFromMnemonic(BIP84_MNEMONIC);
const mainnet = bitcoinNetwork("mainnet");

describe("BIP84 test vectors", () => {
  it("root and account 0 keys in SLIP-132 (zprv/zpub) form", () => {
    const root = HDKey.fromMasterSeed(bip84Seed, mainnet.bip84);
    expect(root.privateExtendedKey).toBe(BIP84_ROOT_ZPRV);
    expect(root.publicExtendedKey).toBe(BIP84_ROOT_ZPUB);
    expect(root.derive("m/84'/0'/0'").privateExtendedKey).toBe(BIP84_ACCOUNT_0_ZPRV);
  });

  it("the signer exports account 0 as the published zpub, and no private key", () => {
    const exported = exportAccount(bip84Seed, "mainnet", 0);
    expect(exported.zpub).toBe(BIP84_ACCOUNT_0_ZPUB);
    expect(exported.xpub.startsWith("xpub")).toBe(true);
    expect(exported.masterFingerprint).toBe(masterNode(bip84Seed, "mainnet").fingerprint);
    expect(JSON.stringify(exported)).not.toMatch(/prv/);
  });

  it.each(BIP84_ADDRESSES)(
    "%s: watch-only address and public key, signer's private key",
    (path, chain, index, wif, pub, address) => {
      const watch = watchOnlyAccount(exportAccount(bip84Seed, "mainnet", 0));
      const derived = deriveAddress(watch, chain, index);
      expect(derived.address).toBe(address);
      expect(Buffer.from(derived.publicKey).toString("hex")).toBe(pub);
      expect(formatPath(derived.path)).toBe(path.split(" ").at(-1));
      const node = signingNode(masterNode(bip84Seed, "mainnet"), mainnet, derived.path);
      expect(WIF().encode(node.privateKey!)).toBe(wif);
    },
  );

  it("the zpub and the xpub forms of the account derive the same addresses", () => {
    const exported = exportAccount(bip84Seed, "mainnet", 0);
    const fromZpub = watchOnlyFromExtendedKey(BIP84_ACCOUNT_0_ZPUB, "mainnet", exported.masterFingerprint);
    const fromXpub = watchOnlyFromExtendedKey(exported.xpub, "mainnet", exported.masterFingerprint);
    expect(deriveAddress(fromZpub, 0, 0).address).toBe(BIP84_ADDRESSES[0][5]);
    expect(deriveAddress(fromXpub, 1, 0).address).toBe(BIP84_ADDRESSES[2][5]);
  });
});

describe("BIP84 accounts and networks", () => {
  it("account 1 is a different tree, and its export names its account", () => {
    const account1 = exportAccount(bip84Seed, "mainnet", 1);
    expect(account1.account).toBe(1);
    const address = deriveAddress(watchOnlyAccount(account1), 0, 0).address;
    expect(address).not.toBe(BIP84_ADDRESSES[0][5]);
    expect(formatPath(deriveAddress(watchOnlyAccount(account1), 0, 0).path)).toBe("m/84'/0'/1'/0/0");
  });

  it("testnet and regtest use coin type 1, tpub/vpub and their own HRPs", () => {
    const testnet = exportAccount(bip84Seed, "testnet", 0);
    const regtest = exportAccount(bip84Seed, "regtest", 0);
    expect(testnet.xpub.startsWith("tpub")).toBe(true);
    expect(testnet.zpub.startsWith("vpub")).toBe(true);
    expect(regtest.xpub).toBe(testnet.xpub);
    const tb = deriveAddress(watchOnlyAccount(testnet), 0, 0);
    const bcrt = deriveAddress(watchOnlyAccount(regtest), 0, 0);
    expect(formatPath(tb.path)).toBe("m/84'/1'/0'/0/0");
    expect(tb.address.startsWith("tb1q")).toBe(true);
    expect(bcrt.address.startsWith("bcrt1q")).toBe(true);
    // Same key, same witness program; only the human-readable prefix differs.
    expect(bcrt.script).toEqual(tb.script);
  });

  it("refuses an extended private key, a key of another network, and a key not at account depth", () => {
    const exported = exportAccount(bip84Seed, "mainnet", 0);
    const fp = exported.masterFingerprint;
    expect(() => watchOnlyFromExtendedKey(BIP84_ACCOUNT_0_ZPRV, "mainnet", fp)).toThrow(/private/);
    expect(() => watchOnlyFromExtendedKey(BIP84_ACCOUNT_0_ZPUB, "testnet", fp)).toThrow(/testnet/);
    expect(() => watchOnlyFromExtendedKey(BIP84_ROOT_ZPUB, "mainnet", fp)).toThrow(/depth/);
    const mislabelled: AccountExport = { ...exported, account: 2 };
    expect(() => watchOnlyAccount(mislabelled)).toThrow(/account 0/);
  });

  it("refuses chains other than 0/1, hardened or negative indexes, and non-BIP84 signing paths", () => {
    const watch = watchOnlyAccount(exportAccount(bip84Seed, "mainnet", 0));
    expect(() => deriveAddress(watch, 2 as 0, 0)).toThrow(/chain/);
    expect(() => deriveAddress(watch, 0, 2 ** 31)).toThrow(/index/);
    expect(() => deriveAddress(watch, 0, -1)).toThrow(/index/);
    const master = masterNode(bip84Seed, "mainnet");
    const h = 2 ** 31;
    expect(() => signingNode(master, mainnet, [44 + h, h, h, 0, 0])).toThrow(/BIP84/);
    expect(() => signingNode(master, mainnet, [84 + h, 1 + h, h, 0, 0])).toThrow(/BIP84/);
  });
});
