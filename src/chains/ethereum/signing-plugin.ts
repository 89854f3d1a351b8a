// The ethereum signing plugin: runs inside the signer process, reads the adapter's payloads
// (payload.ts) on its own and signs them with keys derived from the hot seed on
// m/44'/60'/account'/0/index (keys.ts).
//
// `sign` must be synchronous (ChainSigningPlugin), so the ECDSA signature is made with
// @noble/curves over keccak-256 of the unsigned transaction (RFC 6979, low S): byte for byte what
// viem's async `signTransaction` produces (the tests check it). Which key signs is found by
// deriving the hot wallet's addresses up to the configured bounds; the plugin remembers only
// addresses (public), never a key, and refuses a sender it cannot derive.

import { secp256k1 } from "@noble/curves/secp256k1.js";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { HDKey } from "@scure/bip32";
import { hexToBytes, keccak256, serializeTransaction } from "viem";
import type { ChainAsset } from "../adapter.ts";
import type {
  ChainSigningPlugin,
  ExportedPublicKey,
  HotKeys,
  PayloadDescription,
  SignedTransaction,
} from "../signing.ts";
import { addressOfPublicKey, checkChildIndex, exportAccountXpub, externalChainNode } from "./keys.ts";
import { decodeEthereumPayload, EthereumPayloadError, type PayloadContext } from "./payload.ts";

export interface EthereumSigningOptions {
  /** Chain name, as the adapter's (default "ethereum"). */
  chain?: string;
  chainId: number;
  /** Native coin symbol (default "ETH"). */
  nativeSymbol?: string;
  /** Tokens the hot wallet pays, by contract. */
  tokens?: readonly ChainAsset[];
  /** Accounts 0..accounts-1 are searched and exported (default 1). */
  accounts?: number;
  /** Address indexes 0..addressesPerAccount-1 are searched per account (default 1,000). */
  addressesPerAccount?: number;
}

/** What the plugin remembers of a seed: public addresses only (the derived nodes are wiped). */
interface SeedAddresses {
  /** address → [account, index] */
  found: Map<string, [number, number]>;
  /** Next index to derive, per account. */
  next: number[];
}

export class EthereumSigningPlugin implements ChainSigningPlugin {
  readonly chain: string;
  private readonly ctx: PayloadContext;
  private readonly accounts: number;
  private readonly addressesPerAccount: number;
  /** Addresses derived so far, per seed object (weakly held: dropped with the seed). */
  private readonly derived = new WeakMap<Uint8Array, SeedAddresses>();

  constructor(options: EthereumSigningOptions) {
    this.chain = options.chain ?? "ethereum";
    const tokens = new Map<string, string>();
    for (const t of options.tokens ?? []) {
      if (t.contract === undefined) throw new Error(`token ${t.symbol} has no contract`);
      tokens.set(t.contract.toLowerCase(), t.symbol);
    }
    this.ctx = { chainId: options.chainId, nativeSymbol: options.nativeSymbol ?? "ETH", tokens };
    this.accounts = options.accounts ?? 1;
    this.addressesPerAccount = options.addressesPerAccount ?? 1_000;
    checkChildIndex("accounts - 1", this.accounts - 1);
    checkChildIndex("addressesPerAccount - 1", this.addressesPerAccount - 1);
  }

  describe(payload: Uint8Array, keys: HotKeys): PayloadDescription {
    this.checkKeys(keys);
    const decoded = decodeEthereumPayload(payload, this.ctx);
    return { payments: [decoded.payment], fee: decoded.fee, feeAsset: decoded.feeAsset };
  }

  isOwnAddress(address: string, keys: HotKeys): boolean {
    this.checkKeys(keys);
    if (!/^0x[0-9a-fA-F]{40}$/.test(address)) return false;
    return this.locate(address.toLowerCase(), keys.seed) !== null;
  }

  sign(payload: Uint8Array, keys: HotKeys): SignedTransaction {
    this.checkKeys(keys);
    const decoded = decodeEthereumPayload(payload, this.ctx);
    const where = this.locate(decoded.from, keys.seed);
    if (where === null)
      throw new EthereumPayloadError(`${decoded.from} is not an address of this hot wallet`);
    const chainNode = externalChainNode(keys.seed, where[0]);
    const child = chainNode.deriveChild(where[1]);
    chainNode.wipePrivateData();
    const privateKey = child.privateKey;
    if (!privateKey) throw new Error("derivation gave no private key");
    try {
      if (addressOfPublicKey(secp256k1.getPublicKey(privateKey)) !== decoded.from)
        throw new Error("derived key does not control the sender");
      const unsigned = serializeTransaction(decoded.tx);
      const digest = keccak_256(hexToBytes(unsigned));
      const sig = secp256k1.Signature.fromBytes(
        secp256k1.sign(digest, privateKey, { prehash: false, format: "recovered" }),
        "recovered",
      );
      if (sig.recovery === undefined) throw new Error("signature without recovery bit");
      const signed = serializeTransaction(decoded.tx, {
        r: `0x${sig.r.toString(16).padStart(64, "0")}`,
        s: `0x${sig.s.toString(16).padStart(64, "0")}`,
        yParity: sig.recovery,
      });
      return { bytes: hexToBytes(signed), txId: keccak256(signed) };
    } finally {
      privateKey.fill(0);
      child.wipePrivateData();
    }
  }

  exportPublicKeys(keys: HotKeys): ExportedPublicKey[] {
    this.checkKeys(keys);
    const out: ExportedPublicKey[] = [];
    for (let account = 0; account < this.accounts; account++)
      out.push({ label: `${this.chain} m/44'/60'/${account}'`, key: exportAccountXpub(keys.seed, account) });
    return out;
  }

  private checkKeys(keys: HotKeys): void {
    if (keys.chain !== this.chain)
      throw new Error(`keys of ${keys.chain} handed to the ${this.chain} plugin`);
  }

  /** [account, index] of an address of this seed, deriving more (within the bounds) as needed. */
  private locate(address: string, seed: Uint8Array): [number, number] | null {
    let entry = this.derived.get(seed);
    if (entry === undefined) {
      entry = { found: new Map(), next: new Array<number>(this.accounts).fill(0) };
      this.derived.set(seed, entry);
    }
    const known = entry.found.get(address);
    if (known !== undefined) return known;
    if (entry.next.every((n) => n >= this.addressesPerAccount)) return null;
    // Public-only copies: the children derived while searching carry no private key.
    const nodes = Array.from({ length: this.accounts }, (_, a) => {
      const full = externalChainNode(seed, a);
      const neutered = HDKey.fromExtendedKey(full.publicExtendedKey);
      full.wipePrivateData();
      return neutered;
    });
    return this.search(address, entry, nodes);
  }

  private search(address: string, entry: SeedAddresses, nodes: HDKey[]): [number, number] | null {
    // Breadth first over accounts, so a low index of any account is found quickly.
    for (;;) {
      let progressed = false;
      for (let a = 0; a < this.accounts; a++) {
        const i = entry.next[a];
        if (i >= this.addressesPerAccount) continue;
        entry.next[a] = i + 1;
        progressed = true;
        const pub = nodes[a].deriveChild(i).publicKey;
        if (!pub) continue;
        const derived = addressOfPublicKey(pub);
        entry.found.set(derived, [a, i]);
        if (derived === address) return [a, i];
      }
      if (!progressed) return null;
    }
  }
}

/** The address at m/44'/60'/account'/0/index of a seed (tests, tools; not custody, which has no seed). */
export function addressOfSeed(seed: Uint8Array, account: number, index: number): string {
  checkChildIndex("index", index);
  const pub = externalChainNode(seed, account).deriveChild(index).publicKey;
  if (!pub) throw new Error("derivation gave no public key");
  return addressOfPublicKey(pub);
}
