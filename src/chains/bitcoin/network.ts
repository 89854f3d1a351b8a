// Bitcoin network parameters: address prefixes, BIP84 coin types and extended-key version bytes.
// One table, so every other module takes a `BitcoinNetworkName` and never a loose prefix.

import type { BTC_NETWORK } from "@scure/btc-signer/utils.js";

export type BitcoinNetworkName = "mainnet" | "testnet" | "regtest";

export const BITCOIN_NETWORK_NAMES: readonly BitcoinNetworkName[] = ["mainnet", "testnet", "regtest"];

/** BIP32 version bytes of one extended-key flavour (private and public). */
export interface KeyVersions {
  private: number;
  public: number;
}

export interface BitcoinNetwork {
  name: BitcoinNetworkName;
  /** Address parameters in the shape @scure/btc-signer wants (bech32 HRP, base58 versions). */
  params: BTC_NETWORK;
  /** BIP44 coin type: 0 on mainnet, 1 on every test network (SLIP-44). */
  coinType: number;
  /** Plain BIP32 versions: xpub/xprv on mainnet, tpub/tprv on test networks. */
  bip32: KeyVersions;
  /** SLIP-132 versions for BIP84 accounts: zpub/zprv on mainnet, vpub/vprv on test networks. */
  bip84: KeyVersions;
}

const MAINNET_PARAMS: BTC_NETWORK = { bech32: "bc", pubKeyHash: 0x00, scriptHash: 0x05, wif: 0x80 };
const TESTNET_PARAMS: BTC_NETWORK = { bech32: "tb", pubKeyHash: 0x6f, scriptHash: 0xc4, wif: 0xef };
const REGTEST_PARAMS: BTC_NETWORK = { bech32: "bcrt", pubKeyHash: 0x6f, scriptHash: 0xc4, wif: 0xef };

const MAINNET_BIP32: KeyVersions = { private: 0x0488ade4, public: 0x0488b21e };
const TESTNET_BIP32: KeyVersions = { private: 0x04358394, public: 0x043587cf };
const MAINNET_BIP84: KeyVersions = { private: 0x04b2430c, public: 0x04b24746 };
const TESTNET_BIP84: KeyVersions = { private: 0x045f18bc, public: 0x045f1cf6 };

const NETWORKS: Readonly<Record<BitcoinNetworkName, BitcoinNetwork>> = {
  mainnet: {
    name: "mainnet",
    params: MAINNET_PARAMS,
    coinType: 0,
    bip32: MAINNET_BIP32,
    bip84: MAINNET_BIP84,
  },
  testnet: {
    name: "testnet",
    params: TESTNET_PARAMS,
    coinType: 1,
    bip32: TESTNET_BIP32,
    bip84: TESTNET_BIP84,
  },
  regtest: {
    name: "regtest",
    params: REGTEST_PARAMS,
    coinType: 1,
    bip32: TESTNET_BIP32,
    bip84: TESTNET_BIP84,
  },
};

export function bitcoinNetwork(name: BitcoinNetworkName): BitcoinNetwork {
  const network = NETWORKS[name];
  if (network === undefined) throw new Error(`unknown bitcoin network ${String(name)}`);
  return network;
}
