// Deposit addresses: one per user per chain and derivation account, derived by custody from the
// watch-only deposit xpub the signer exported (public keys only; custody never holds a private
// key) and persisted through the exchange boundary. Rotating the deposit xpub (a new derivation
// account) gives users new addresses; the old ones stay in the store and stay watched, so
// deposits to them are still credited.

import { HARDENED_OFFSET } from "@scure/bip32";
import { DEFAULT_UTXO_PREFIX } from "../chains/devnet/index.ts";
import {
  type DevnetKind,
  devnetAddressFromXpub,
  devnetWatchOnlyNode,
  RECEIVE_CHAIN,
} from "../chains/devnet/signing.ts";
import type { CustodyStore, DepositAddressRecord } from "../exchange/boundary.ts";

/** How a chain's current deposit addresses are made: the derivation account and index → address. */
export interface DepositDeriver {
  /** The BIP32 account (unhardened number) of the current deposit xpub. */
  account: number;
  /** The canonical address at receive index `index` of that account. */
  derive(index: number): string;
}

/** A deriver over a devnet chain's exported deposit xpub (m/44'/coin'/account'). */
export function devnetDepositDeriver(
  kind: DevnetKind,
  xpub: string,
  prefix: string = DEFAULT_UTXO_PREFIX,
): DepositDeriver {
  const node = devnetWatchOnlyNode(xpub);
  if (node.index < HARDENED_OFFSET) throw new Error("deposit xpub must be at a hardened account");
  return {
    account: node.index - HARDENED_OFFSET,
    derive: (index) => devnetAddressFromXpub(kind, node, RECEIVE_CHAIN, index, prefix),
  };
}

export class DepositAddresses {
  private readonly derivers = new Map<string, DepositDeriver>();
  /** Per chain, the tail of the assignments in flight: one at a time, so indices never collide. */
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly listeners = new Set<(record: DepositAddressRecord) => void>();

  constructor(
    private readonly store: CustodyStore,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Sets (or rotates) the chain's deriver: new addresses come from its account from now on. */
  setDeriver(chain: string, deriver: DepositDeriver): void {
    this.derivers.set(chain, deriver);
  }

  /** Called with every address handed out (watchers add it to their watched set). */
  onAssigned(listener: (record: DepositAddressRecord) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The user's deposit address on the chain under the current account: stored, or derived and stored. */
  async depositAddress(userId: number, chain: string): Promise<DepositAddressRecord> {
    const deriver = this.derivers.get(chain);
    if (deriver === undefined) throw new Error(`no deposit xpub for chain ${chain}`);
    const previous = this.queues.get(chain) ?? Promise.resolve();
    const next = previous
      .catch(() => undefined)
      .then(() =>
        this.store.assignDepositAddress(
          { userId, chain, account: deriver.account, createdMs: this.clock() },
          deriver.derive,
        ),
      );
    this.queues.set(chain, next);
    try {
      const record = await next;
      for (const listener of this.listeners) listener(record);
      return record;
    } finally {
      if (this.queues.get(chain) === next) this.queues.delete(chain);
    }
  }
}
