// Wallet rotation (`bulwark wallet rotate --chain C`, issue 8 §5), custody's side. The signer has a
// new wallet generation (a fresh seed, the next derivation accounts; src/chains/devnet/signing.ts)
// and custody switched to its public keys (CustodyService.rotateWallet):
//
// - deposit addresses: the next request of every user derives from the new deposit account (the
//   store keeps one address per user, chain and account, so a user who had one gets a new one);
//   the old addresses stay in the table, watched, credited, and swept into the NEW hot wallet;
// - the hot wallet: payments leave from the new hot (and change) address;
// - what is left on a retired generation's hot and change addresses moves to the new hot wallet,
//   here: one policy-signed "rotateHot" transfer at a time, journaled by InternalTransfers like a
//   deposit sweep (a crash mid-move resumes the same job: the same transaction, never a second),
//   signed by the signer, which alone still holds the old seed. The signer refuses to pay anything
//   into a retired address, so nothing flows back to keys presumed stolen.
//
// The planner is stateless: every tick it looks at the retired addresses' balances, so coins
// arriving there later (a payment signed before the rotation, a stray transfer) move too.

import type { ChainAdapter, UnsignedTransaction } from "../chains/adapter.ts";
import type { AssetConfig } from "../core/config.ts";
import type { CurrencyCustodyConfig } from "./config.ts";
import type { InternalTransfers, TransferJob } from "./internal-transfers.ts";

/** A rotated-out generation's hot wallet (its keys presumed stolen): watched until empty. */
export interface RetiredHotWallet {
  generation: number;
  hotAddress: string;
  /** The UTXO wallet's change address; null on account chains. */
  changeAddress: string | null;
}

/** What the planner reads and uses of one chain's custody. */
export interface HotRotationParts {
  chain: string;
  kind: "utxo" | "account";
  adapter: ChainAdapter;
  currencies: readonly CurrencyCustodyConfig[];
  feeAsset: string;
  chainDecimals: ReadonlyMap<string, number>;
  assetOf(code: string): AssetConfig;
  /** Confirmed on-chain balance, base units. */
  balanceOf(address: string, asset: string): Promise<bigint>;
  transfers: InternalTransfers;
  /** The active generation's hot address and (UTXO) change address. */
  hotAddress: string;
  changeAddress: string | null;
  retired: readonly RetiredHotWallet[];
  /** A hot payment built and not yet on the chain: coins or a nonce may be taken. */
  hotPaymentPending(): Promise<boolean>;
  log(message: string): void;
}

/**
 * Plans at most one rotateHot transfer (none while one is unfinished or a hot payment is being
 * signed): the oldest retired generation first; on an account chain its tokens before its native
 * coin, which pays their fees. Returns the planned job, or null when there is nothing to move.
 */
export async function planHotRotation(parts: HotRotationParts): Promise<TransferJob | null> {
  if (parts.retired.length === 0) return null;
  if (parts.transfers.active().some((job) => job.kind === "rotateHot")) return null;
  if (await parts.hotPaymentPending()) return null;
  for (const wallet of parts.retired) {
    const job =
      parts.kind === "utxo" ? await planUtxoMove(parts, wallet) : await planAccountMove(parts, wallet);
    if (job !== null) return job;
  }
  return null;
}

function roundDownToLedger(parts: HotRotationParts, asset: string, baseUnits: bigint): bigint {
  const decimals = parts.chainDecimals.get(asset) ?? 0;
  const scale = parts.assetOf(asset).scale;
  if (decimals <= scale) return baseUnits;
  const step = 10n ** BigInt(decimals - scale);
  return (baseUnits / step) * step;
}

function plan(
  parts: HotRotationParts,
  wallet: RetiredHotWallet,
  asset: string,
  amount: bigint,
  unsigned: UnsignedTransaction,
): TransferJob | null {
  const job = parts.transfers.plan({
    kind: "rotateHot",
    asset,
    // Both ends are the hot wallet on the books: only the network fee is recorded.
    from: "walletHot",
    to: "walletHot",
    toAddress: parts.hotAddress,
    sourceAddress: wallet.hotAddress,
    amount,
    unsigned,
  });
  if (job !== null)
    parts.log(
      `${parts.chain}: moving ${amount} ${asset} base units from the retired generation ${wallet.generation} hot wallet ${wallet.hotAddress} to ${parts.hotAddress}`,
    );
  return job;
}

/** The whole balance of the retired hot and change addresses, less the fee, in one transaction. */
async function planUtxoMove(parts: HotRotationParts, wallet: RetiredHotWallet): Promise<TransferJob | null> {
  const sources =
    wallet.changeAddress === null ? [wallet.hotAddress] : [wallet.hotAddress, wallet.changeAddress];
  for (const currency of parts.currencies) {
    const asset = currency.currency;
    let total = 0n;
    for (const source of sources) total += await parts.balanceOf(source, asset);
    if (total <= 0n) continue;
    const request = {
      sources,
      to: parts.hotAddress,
      asset,
      // Any change goes to the new generation: nothing is paid back into a retired address.
      ...(parts.changeAddress === null ? {} : { changeAddress: parts.changeAddress }),
    };
    try {
      // Built once to learn the fee, then for the balance minus that fee (no change left behind).
      const probe = await parts.adapter.buildPayment({
        ...request,
        amount: total / 2n > 0n ? total / 2n : 1n,
      });
      const amount = roundDownToLedger(parts, asset, total - probe.fee);
      if (amount <= 0n) continue;
      const unsigned = await parts.adapter.buildPayment({ ...request, amount });
      return plan(parts, wallet, asset, amount, unsigned);
    } catch (error) {
      parts.log(`${parts.chain}: hot rotation move not built: ${(error as Error).message}`);
    }
  }
  return null;
}

/** Tokens first (the native coin pays their fees), then the native coin less the fee. */
async function planAccountMove(
  parts: HotRotationParts,
  wallet: RetiredHotWallet,
): Promise<TransferJob | null> {
  const from = wallet.hotAddress;
  let tokensLeft = false;
  for (const currency of parts.currencies) {
    const asset = currency.currency;
    if (asset === parts.feeAsset) continue;
    const amount = roundDownToLedger(parts, asset, await parts.balanceOf(from, asset));
    if (amount <= 0n) continue;
    try {
      const unsigned = await parts.adapter.buildPayment({
        sources: [from],
        to: parts.hotAddress,
        asset,
        amount,
      });
      return plan(parts, wallet, asset, amount, unsigned);
    } catch (error) {
      // Kept: the native coin stays until the tokens are out, or they could never pay their fee.
      tokensLeft = true;
      parts.log(`${parts.chain}: hot rotation move of ${asset} not built: ${(error as Error).message}`);
    }
  }
  if (tokensLeft) return null;
  const asset = parts.feeAsset;
  const balance = await parts.balanceOf(from, asset);
  if (balance <= 0n) return null;
  try {
    // One fee rate for both builds (as the deposit sweeps): value + gas × rate must fit the balance.
    const feeRate = (await parts.adapter.estimateFee(asset)).feeRate;
    const request = { sources: [from], to: parts.hotAddress, asset, feeRate };
    const probe = await parts.adapter.buildPayment({
      ...request,
      amount: balance / 2n > 0n ? balance / 2n : 1n,
    });
    const amount = roundDownToLedger(parts, asset, balance - probe.fee);
    if (amount <= 0n) return null;
    const unsigned = await parts.adapter.buildPayment({ ...request, amount });
    return plan(parts, wallet, asset, amount, unsigned);
  } catch (error) {
    parts.log(`${parts.chain}: hot rotation move not built: ${(error as Error).message}`);
    return null;
  }
}

/** Every hot address of a chain, active and retired: what reconciliation counts as the hot wallet's coins. */
export function hotAddressesOf(
  active: { hotAddress: string | null; changeAddress: string | null },
  retired: readonly RetiredHotWallet[],
): string[] {
  const addresses: string[] = [];
  for (const address of [
    active.hotAddress,
    active.changeAddress,
    ...retired.flatMap((wallet) => [wallet.hotAddress, wallet.changeAddress]),
  ])
    if (address !== null && !addresses.includes(address)) addresses.push(address);
  return addresses;
}
