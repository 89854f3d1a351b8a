// Whether an output (or input) of a PSBT really belongs to one of our accounts. A PSBT *claims*
// derivations (BIP32 fingerprint and path per key); this checks a claim by deriving the address
// at that path from the account's public key and comparing, so a PSBT cannot pass an outside
// address off as our change. Needs public keys only: custody and the signer can both use it.

import { equalBytes } from "@noble/curves/utils.js";
import { accountPath, CHANGE_CHAIN, deriveAddress, RECEIVE_CHAIN, type WatchOnlyAccount } from "./keys.ts";
import type { ClaimedDerivation } from "./psbt.ts";

export interface OwnedPath {
  account: number;
  chain: 0 | 1;
  index: number;
}

function samePrefix(path: readonly number[], prefix: readonly number[]): boolean {
  return prefix.every((step, i) => path[i] === step);
}

/** The claim checked against one account: the path under it, or null. */
function claimUnder(claim: ClaimedDerivation, address: string, account: WatchOnlyAccount): OwnedPath | null {
  if (claim.fingerprint >>> 0 !== account.masterFingerprint || claim.path.length !== 5) return null;
  if (!samePrefix(claim.path, accountPath(account.network, account.account))) return null;
  const [, , , chain, index] = claim.path;
  if (chain !== RECEIVE_CHAIN && chain !== CHANGE_CHAIN) return null;
  const derived = deriveAddress(account, chain, index);
  if (derived.address !== address || !equalBytes(derived.publicKey, claim.publicKey)) return null;
  return { account: account.account, chain, index };
}

/**
 * Where `address` sits in one of `accounts`, proven by one of the PSBT's claimed derivations,
 * or null when no claim holds (an outside address, or a claim that does not derive to it).
 */
export function verifyOwnership(
  address: string,
  claims: readonly ClaimedDerivation[],
  accounts: readonly WatchOnlyAccount[],
): OwnedPath | null {
  for (const claim of claims) {
    for (const account of accounts) {
      const owned = claimUnder(claim, address, account);
      if (owned !== null) return owned;
    }
  }
  return null;
}
