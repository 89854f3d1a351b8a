// Bulwark's own simulated chains (the embedded default): a UTXO chain (BTC) and an account chain
// (ETH and the USDT token), both implementing the chain adapter, plus the signing helpers the
// signer calls on their payloads.

import type { ChainAdapter, UnsignedTransaction } from "../adapter.ts";
import type { AccountDevnet } from "./account.ts";
import { DevnetRejectError } from "./chain.ts";
import { accountAddress, publicKeyOf, signPayload, utxoAddress } from "./keys.ts";
import { UtxoDevnet } from "./utxo.ts";

export {
  AccountDevnet,
  DEVNET_USDT_CONTRACT,
  describeAccountPayload,
  ETH_ASSET,
  USDT_ASSET,
} from "./account.ts";
export { DevnetChain, type DevnetOptions, DevnetRejectError, type ReorgOptions } from "./chain.ts";
export { DevnetFormatError } from "./codec.ts";
export {
  decodeEnvelope,
  encodeEnvelope,
  newPrivateKey,
  privateKeyFromSeed,
  publicKeyOf,
  sign,
  signingDigest,
  signPayload,
} from "./keys.ts";
export { DEFAULT_UTXO_PREFIX, describeUtxoPayload, UTXO_ASSET, UtxoDevnet } from "./utxo.ts";

/** The devnet address a private key controls on `chain`. */
export function addressOfKey(chain: UtxoDevnet | AccountDevnet, privateKey: Uint8Array): string {
  const pub = publicKeyOf(privateKey);
  return chain instanceof UtxoDevnet ? utxoAddress(pub, chain.prefix) : accountAddress(pub);
}

/**
 * Signs an unsigned devnet transaction with the keys of its `signers`, in their order: what a
 * signer process does after its policy checks. `keys` maps an address to its private key.
 */
export function signTransaction(
  chain: UtxoDevnet | AccountDevnet,
  unsigned: UnsignedTransaction,
  keys: ReadonlyMap<string, Uint8Array>,
): Uint8Array {
  return signPayload(
    unsigned.payload,
    unsigned.signers.map((address) => {
      const key = keys.get(address);
      if (key === undefined) throw new DevnetRejectError(`no key for signer ${address}`);
      if (addressOfKey(chain, key) !== address)
        throw new DevnetRejectError(`key does not control ${address}`);
      return key;
    }),
  );
}

/**
 * Pays from addresses whose keys the caller holds, without asking anyone: a wallet's plain
 * spend, and the "steal" drill (a thief holding the hot key spends behind custody's back).
 */
export async function spend(
  chain: UtxoDevnet | AccountDevnet,
  privateKeys: readonly Uint8Array[],
  to: string,
  asset: string,
  amount: bigint,
): Promise<string> {
  const keys = new Map(privateKeys.map((k) => [addressOfKey(chain, k), k]));
  const adapter: ChainAdapter = chain;
  const unsigned = await adapter.buildPayment({ sources: [...keys.keys()], to, asset, amount });
  return adapter.broadcast(signTransaction(chain, unsigned, keys));
}
