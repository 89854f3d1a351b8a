// The signer's plugins for the devnet chains (src/chains/signing.ts): one for the UTXO chain, one
// for the account chain. Keys come from the keystore's seed by BIP32 (secp256k1, as the devnet
// chains use), on this layout:
//
//   seed                                        signer keystore only
//   └─ m / 44' / coin' / account'               coin 9001 UTXO chain, 9060 account chain
//      ├─ account 0' (hot)      exported "hot"      → custody, public only (tpub)
//      │   ├─ /0/i  hot wallet addresses (0/0 is the hot wallet's address on the account chain)
//      │   └─ /1/i  change
//      └─ account 1' (deposit)  exported "deposit"  → custody derives /0/i, one per user
//
// Generations (`bulwark wallet rotate`): generation g has a seed of its own (the keystore's g-th
// file) and uses accounts 2g' (hot) and 2g+1' (deposit) of it. A new seed, because the rotation
// answers a stolen keystore and passphrase: the thief can derive every account of the old seed, so
// a new account of it would be no safer. The account numbers still advance, so custody's deposit
// address table (one address per user, chain and account) hands every user a new address. The
// signer keeps every older seed to sign the sweeps out of old deposit addresses and the move of the
// old hot wallet's coins, and refuses to pay into an old generation's hot or change addresses.
//
// The coin types are private to the devnet so a devnet key never coincides with a key of a real
// chain, even from the same seed. Custody derives every address from the exported xpubs
// (`devnetAddressFromXpub`) and never holds a private key.
//
// Which addresses the signer knows: the devnet payloads carry addresses, not derivation paths, so
// the plugin looks them up in a bounded lookahead: hot /0/0..hotLookahead-1 and /1/0..hotLookahead-1
// (default 100 each) and deposit /0/0..depositLookahead-1 (default 1,000). Addresses are derived
// lazily in index order and remembered (public data only: address → path), so a lookup costs at
// most the bound once and a map lookup after that; nothing beyond the bound is ever searched. A
// deposit index beyond the lookahead cannot be swept until the signer's bound is raised.
//
// Private keys are derived from the seed for each signature and wiped after it; the plugin keeps
// only public nodes and addresses.

import { sha256 } from "@noble/hashes/sha2.js";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { HARDENED_OFFSET, HDKey } from "@scure/bip32";
import type { ChainSigningPlugin, ExportedPublicKey, HotKeys, PayloadDescription } from "../signing.ts";
import { describeAccountPayload } from "./account.ts";
import { toHex } from "./codec.ts";
import {
  accountAddress,
  normalizeAccountAddress,
  normalizeUtxoAddress,
  publicKeyOf,
  signPayload,
  utxoAddress,
} from "./keys.ts";
import { DEFAULT_UTXO_PREFIX, describeUtxoPayload } from "./utxo.ts";

export type DevnetKind = "utxo" | "account";

export const DEVNET_PURPOSE = 44;
export const DEVNET_COIN_TYPES: Readonly<Record<DevnetKind, number>> = { utxo: 9001, account: 9060 };
export const HOT_ACCOUNT = 0;
export const DEPOSIT_ACCOUNT = 1;
export const RECEIVE_CHAIN = 0;
export const CHANGE_CHAIN = 1;
/** Generations a keystore may hold (each a rotation after a suspected theft): a bound, not a policy. */
export const MAX_GENERATIONS = 16;

/** The hot account of wallet generation `generation` (0 for the first). */
export function hotAccountOf(generation: number): number {
  checkGeneration(generation);
  return 2 * generation + HOT_ACCOUNT;
}

/** The deposit account of wallet generation `generation` (1 for the first). */
export function depositAccountOf(generation: number): number {
  checkGeneration(generation);
  return 2 * generation + DEPOSIT_ACCOUNT;
}

function checkGeneration(generation: number): void {
  if (!Number.isSafeInteger(generation) || generation < 0 || generation >= MAX_GENERATIONS)
    throw new Error(`wallet generation must be an integer in 0..${MAX_GENERATIONS - 1}, got ${generation}`);
}
/** BIP32 test-network versions (tprv/tpub): devnet keys never look like mainnet keys. */
export const DEVNET_KEY_VERSIONS = { private: 0x04358394, public: 0x043587cf } as const;
export const DEFAULT_HOT_LOOKAHEAD = 100;
export const DEFAULT_DEPOSIT_LOOKAHEAD = 1_000;
/** Upper bound for either lookahead (each address is one EC derivation, about half a millisecond). */
export const MAX_LOOKAHEAD = 100_000;
/** Labels of `exportPublicKeys`. */
export const HOT_LABEL = "hot";
export const DEPOSIT_LABEL = "deposit";

export interface DevnetKeyPath {
  /** Which seed: the keystore's generation. */
  generation: number;
  /** hotAccountOf(generation) or depositAccountOf(generation). */
  account: number;
  chain: typeof RECEIVE_CHAIN | typeof CHANGE_CHAIN;
  index: number;
}

/** m/44'/coin'/account' of a devnet chain kind. */
export function devnetAccountPath(kind: DevnetKind, account: number): string {
  if (!Number.isInteger(account) || account < 0 || account >= HARDENED_OFFSET)
    throw new Error(`bad account number ${account}`);
  return `m/${DEVNET_PURPOSE}'/${DEVNET_COIN_TYPES[kind]}'/${account}'`;
}

function devnetKeyPathText(kind: DevnetKind, path: DevnetKeyPath): string {
  return `${devnetAccountPath(kind, path.account)}/${path.chain}/${path.index}`;
}

function addressOfPublicKey(kind: DevnetKind, publicKey: Uint8Array, prefix: string): string {
  return kind === "utxo" ? utxoAddress(publicKey, prefix) : accountAddress(publicKey);
}

/** Signer side: the extended public key of one account (tpub). No private material leaves. */
export function devnetAccountXpub(seed: Uint8Array, kind: DevnetKind, account: number): string {
  const master = HDKey.fromMasterSeed(seed, DEVNET_KEY_VERSIONS);
  const node = master.derive(devnetAccountPath(kind, account));
  const xpub = node.publicExtendedKey;
  node.wipePrivateData();
  master.wipePrivateData();
  return xpub;
}

/** Parses an exported account xpub; refuses private keys and keys not at account depth. */
export function devnetWatchOnlyNode(xpub: string): HDKey {
  if (typeof xpub !== "string" || xpub.length > 120)
    throw new Error("extended public key missing or too long");
  const node = HDKey.fromExtendedKey(xpub, DEVNET_KEY_VERSIONS);
  if (node.privateKey !== null)
    throw new Error("an extended private key was given where a public one belongs");
  if (node.depth !== 3) throw new Error(`account key must be at depth 3, got ${node.depth}`);
  return node;
}

/**
 * Custody side: the devnet address at chain/index under an exported account xpub (public keys
 * only). `prefix` is the UTXO chain's address prefix.
 */
export function devnetAddressFromXpub(
  kind: DevnetKind,
  xpub: string | HDKey,
  chain: 0 | 1,
  index: number,
  prefix = DEFAULT_UTXO_PREFIX,
): string {
  const node = typeof xpub === "string" ? devnetWatchOnlyNode(xpub) : xpub;
  if (chain !== RECEIVE_CHAIN && chain !== CHANGE_CHAIN)
    throw new Error(`chain must be 0 or 1, got ${chain}`);
  if (!Number.isInteger(index) || index < 0 || index >= HARDENED_OFFSET)
    throw new Error(`bad index ${index}`);
  const publicKey = node.deriveChild(chain).deriveChild(index).publicKey;
  if (publicKey === null) throw new Error("derivation produced no public key");
  return addressOfPublicKey(kind, publicKey, prefix);
}

export interface DevnetSigningOptions {
  /** Chain name the plugin serves (default devnet-btc / devnet-eth). */
  chain?: string;
  /** UTXO chain address prefix (default dvbtc). */
  prefix?: string;
  hotLookahead?: number;
  depositLookahead?: number;
}

/** Public data remembered per seed: account nodes (public only) and address → path. */
interface WalletIndex {
  check: string;
  generation: number;
  /** Public chain nodes: hot receive, hot change, deposit receive. */
  hotReceive: HDKey;
  hotChange: HDKey;
  depositReceive: HDKey;
  paths: Map<string, DevnetKeyPath>;
  hotDerived: number;
  depositDerived: number;
}

function checkLookahead(value: number | undefined, fallback: number, name: string): number {
  const n = value ?? fallback;
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_LOOKAHEAD)
    throw new Error(`${name} must be an integer in 1..${MAX_LOOKAHEAD}`);
  return n;
}

/** The common part of both plugins: key derivation, the bounded address index, signing keys. */
class DevnetWallet {
  private readonly indexes = new WeakMap<Uint8Array, WalletIndex>();
  readonly hotLookahead: number;
  readonly depositLookahead: number;

  constructor(
    readonly kind: DevnetKind,
    readonly prefix: string,
    options: DevnetSigningOptions,
  ) {
    this.hotLookahead = checkLookahead(options.hotLookahead, DEFAULT_HOT_LOOKAHEAD, "hotLookahead");
    this.depositLookahead = checkLookahead(
      options.depositLookahead,
      DEFAULT_DEPOSIT_LOOKAHEAD,
      "depositLookahead",
    );
  }

  /** A digest telling whether the seed bytes changed since the index was built (e.g. wiped). */
  private seedCheck(seed: Uint8Array): string {
    const tagged = new Uint8Array(seed.length + 24);
    tagged.set(new TextEncoder().encode("bulwark-devnet-index:v1:"));
    tagged.set(seed, 24);
    return toHex(sha256(tagged));
  }

  /** Every generation's seed, oldest first (one when the keystore was never rotated). */
  seedsOf(keys: HotKeys): readonly Uint8Array[] {
    const seeds = keys.seeds ?? [keys.seed];
    if (seeds.length < 1 || seeds.length > MAX_GENERATIONS || seeds[seeds.length - 1] !== keys.seed)
      throw new Error(`the keys hold ${seeds.length} generations, the newest not last`);
    return seeds;
  }

  private index(seed: Uint8Array, generation: number): WalletIndex {
    const check = this.seedCheck(seed);
    const known = this.indexes.get(seed);
    if (known !== undefined && known.check === check && known.generation === generation) return known;
    const master = HDKey.fromMasterSeed(seed, DEVNET_KEY_VERSIONS);
    const hot = master.derive(devnetAccountPath(this.kind, hotAccountOf(generation)));
    const deposit = master.derive(devnetAccountPath(this.kind, depositAccountOf(generation)));
    const hotPublic = devnetWatchOnlyNode(hot.publicExtendedKey);
    const depositPublic = devnetWatchOnlyNode(deposit.publicExtendedKey);
    for (const node of [hot, deposit, master]) node.wipePrivateData();
    const index: WalletIndex = {
      check,
      generation,
      hotReceive: hotPublic.deriveChild(RECEIVE_CHAIN),
      hotChange: hotPublic.deriveChild(CHANGE_CHAIN),
      depositReceive: depositPublic.deriveChild(RECEIVE_CHAIN),
      paths: new Map(),
      hotDerived: 0,
      depositDerived: 0,
    };
    this.indexes.set(seed, index);
    return index;
  }

  private addressAt(node: HDKey, index: number): string {
    const publicKey = node.deriveChild(index).publicKey;
    if (publicKey === null) throw new Error("derivation produced no public key");
    return addressOfPublicKey(this.kind, publicKey, this.prefix);
  }

  /** Canonical form of an address of this chain kind, or null. */
  normalize(address: string): string | null {
    return this.kind === "utxo"
      ? normalizeUtxoAddress(address, this.prefix)
      : normalizeAccountAddress(address);
  }

  /** Where `address` sits in the wallet (any generation, newest first), within the lookahead; else null. */
  pathOf(address: string, keys: HotKeys): DevnetKeyPath | null {
    const canonical = this.normalize(address);
    if (canonical === null) return null;
    const seeds = this.seedsOf(keys);
    for (let generation = seeds.length - 1; generation >= 0; generation--) {
      const found = this.pathIn(canonical, this.index(seeds[generation], generation));
      if (found !== null) return found;
    }
    return null;
  }

  /** Whether `address` is a hot or change address of a generation older than the newest. */
  isRetiredHot(address: string, keys: HotKeys): boolean {
    const path = this.pathOf(address, keys);
    return (
      path !== null &&
      path.generation < this.seedsOf(keys).length - 1 &&
      path.account === hotAccountOf(path.generation)
    );
  }

  private pathIn(canonical: string, index: WalletIndex): DevnetKeyPath | null {
    const generation = index.generation;
    const hotAccount = hotAccountOf(generation);
    const depositAccount = depositAccountOf(generation);
    const known = index.paths.get(canonical);
    if (known !== undefined) return known;
    // Hot addresses first (few, and most lookups), then deposits; each in index order, remembered.
    while (index.hotDerived < this.hotLookahead) {
      const i = index.hotDerived++;
      const receive = this.addressAt(index.hotReceive, i);
      const change = this.addressAt(index.hotChange, i);
      index.paths.set(receive, { generation, account: hotAccount, chain: RECEIVE_CHAIN, index: i });
      index.paths.set(change, { generation, account: hotAccount, chain: CHANGE_CHAIN, index: i });
      if (receive === canonical || change === canonical) return index.paths.get(canonical) ?? null;
    }
    while (index.depositDerived < this.depositLookahead) {
      const i = index.depositDerived++;
      const deposit = this.addressAt(index.depositReceive, i);
      index.paths.set(deposit, { generation, account: depositAccount, chain: RECEIVE_CHAIN, index: i });
      if (deposit === canonical) return index.paths.get(canonical) ?? null;
    }
    return null;
  }

  /** The private keys for `addresses` (in order), each checked to control its address. */
  privateKeysFor(addresses: readonly string[], keys: HotKeys): Uint8Array[] {
    const paths = addresses.map((address) => {
      const path = this.pathOf(address, keys);
      if (path === null)
        throw new Error(`${address} is not an address of this wallet (within the signer's lookahead)`);
      return path;
    });
    const seeds = this.seedsOf(keys);
    const masters = new Map<number, HDKey>();
    const masterOf = (generation: number): HDKey => {
      let master = masters.get(generation);
      if (master === undefined) {
        master = HDKey.fromMasterSeed(seeds[generation], DEVNET_KEY_VERSIONS);
        masters.set(generation, master);
      }
      return master;
    };
    try {
      return paths.map((path, i) => {
        const node = masterOf(path.generation).derive(devnetKeyPathText(this.kind, path));
        const privateKey = node.privateKey;
        if (privateKey === null) throw new Error("derivation produced no private key");
        const key = new Uint8Array(privateKey);
        node.wipePrivateData();
        if (addressOfPublicKey(this.kind, publicKeyOf(key), this.prefix) !== this.normalize(addresses[i]))
          throw new Error(`the derived key does not control ${addresses[i]}`);
        return key;
      });
    } finally {
      for (const master of masters.values()) master.wipePrivateData();
    }
  }

  /** The newest generation's public keys (what custody pays into and hands out from now on). */
  exportPublicKeys(keys: HotKeys): ExportedPublicKey[] {
    const generation = this.seedsOf(keys).length - 1;
    return [
      { label: HOT_LABEL, key: devnetAccountXpub(keys.seed, this.kind, hotAccountOf(generation)) },
      { label: DEPOSIT_LABEL, key: devnetAccountXpub(keys.seed, this.kind, depositAccountOf(generation)) },
    ];
  }
}

function signWith(payload: Uint8Array, privateKeys: Uint8Array[]): Uint8Array {
  try {
    return signPayload(payload, privateKeys);
  } finally {
    for (const key of privateKeys) key.fill(0);
  }
}

/** The signing plugin of the devnet UTXO chain (BTC). */
export function devnetUtxoSigningPlugin(options: DevnetSigningOptions = {}): ChainSigningPlugin {
  const prefix = options.prefix ?? DEFAULT_UTXO_PREFIX;
  const wallet = new DevnetWallet("utxo", prefix, options);
  /** Distinct input addresses in order of first appearance: the witnesses' order. */
  const signersOf = (payload: Uint8Array): { signers: string[]; description: PayloadDescription } => {
    const read = describeUtxoPayload(payload, prefix);
    const signers = [...new Set(read.inputs.map((input) => input.address))];
    return {
      signers,
      description: { payments: read.payments, fee: read.fee, feeAsset: read.feeAsset },
    };
  };
  return {
    chain: options.chain ?? "devnet-btc",
    describe(payload, keys) {
      const { signers, description } = signersOf(payload);
      // A transaction this wallet cannot sign completely is not one to approve.
      for (const address of signers)
        if (wallet.pathOf(address, keys) === null)
          throw new Error(`the payload spends from ${address}, which is not this wallet's`);
      return description;
    },
    isOwnAddress: (address, keys) => wallet.pathOf(address, keys) !== null,
    isRetiredHotAddress: (address, keys) => wallet.isRetiredHot(address, keys),
    sign(payload, keys) {
      const { signers } = signersOf(payload);
      const bytes = signWith(payload, wallet.privateKeysFor(signers, keys));
      return { bytes, txId: toHex(sha256(sha256(payload))) };
    },
    exportPublicKeys: (keys) => wallet.exportPublicKeys(keys),
  };
}

/** The signing plugin of the devnet account chain (ETH and its tokens). */
export function devnetAccountSigningPlugin(options: DevnetSigningOptions = {}): ChainSigningPlugin {
  const wallet = new DevnetWallet("account", DEFAULT_UTXO_PREFIX, options);
  return {
    chain: options.chain ?? "devnet-eth",
    describe(payload, keys) {
      const read = describeAccountPayload(payload);
      if (wallet.pathOf(read.from, keys) === null)
        throw new Error(`the payload sends from ${read.from}, which is not this wallet's`);
      return { payments: read.payments, fee: read.fee, feeAsset: read.feeAsset };
    },
    isOwnAddress: (address, keys) => wallet.pathOf(address, keys) !== null,
    isRetiredHotAddress: (address, keys) => wallet.isRetiredHot(address, keys),
    sign(payload, keys) {
      const { from } = describeAccountPayload(payload);
      const bytes = signWith(payload, wallet.privateKeysFor([from], keys));
      return { bytes, txId: toHex(keccak_256(payload)) };
    },
    exportPublicKeys: (keys) => wallet.exportPublicKeys(keys),
  };
}
