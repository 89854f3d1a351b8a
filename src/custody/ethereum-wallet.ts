// An Ethereum chain's wallet as custody sees it (ChainWallet), from the account xpubs the signer's
// Ethereum plugin exported (`<chain> m/44'/60'/<account>'`, src/chains/ethereum/signing-plugin.ts):
// the hot address is m/44'/60'/0'/0/0, the users' deposit addresses m/44'/60'/1'/0/i. Both
// accounts are the signer's own hot seed, because the signer signs the deposit sweeps from the
// deposit addresses; the signer must search them (its config's `ethereum.accounts` ≥ 2, and
// `addressesPerAccount` above the highest deposit index handed out). No change address: an
// account chain pays from one address and keeps the rest there.
//
// And the on-chain balances custody reads (native and ERC-20 `balanceOf`) over viem, read
// `confirmations` deep: what a sweep moves has the same depth as what the watcher credited.

import { HARDENED_OFFSET, HDKey } from "@scure/bip32";
import { createPublicClient, type Hex, http, type PublicClient } from "viem";
import type { ChainAsset } from "../chains/adapter.ts";
import { addressAt, watchOnlyAccount } from "../chains/ethereum/keys.ts";
import type { ExportedPublicKey } from "../chains/signing.ts";
import type { ChainWallet } from "./custody-service.ts";

/** The BIP44 account of the hot address (index 0). */
export const ETHEREUM_HOT_ACCOUNT = 0;
/** The BIP44 account users' deposit addresses come from (by default; a rotation moves to 2, 3, …). */
export const ETHEREUM_DEPOSIT_ACCOUNT = 1;
const ACCOUNT_LABEL = /(?:^|\s)m\/44'\/60'\/([0-9]{1,10})'$/;

/** The account xpub of `account` among exported keys, checked to be that account's key. */
function accountXpub(publicKeys: readonly ExportedPublicKey[], account: number): string {
  const found = publicKeys.filter((entry) => ACCOUNT_LABEL.exec(entry.label)?.[1] === String(account));
  if (found.length !== 1)
    throw new Error(
      found.length === 0
        ? `no public key of m/44'/60'/${account}' among ${publicKeys.map((entry) => entry.label).join(", ") || "none"}`
        : `more than one public key of m/44'/60'/${account}'`,
    );
  const key = found[0].key;
  watchOnlyAccount(key); // a public account key (depth 3), or it throws
  // The key names its own child number: the label must not put another account's key there.
  if (HDKey.fromExtendedKey(key).index !== HARDENED_OFFSET + account)
    throw new Error(`the key labelled m/44'/60'/${account}' is not that account's key`);
  return key;
}

/**
 * The wallet of an Ethereum chain from its signer's exported public keys: hot m/44'/60'/0'/0/0,
 * deposits m/44'/60'/`depositAccount`'/0/i, no change address.
 */
export function ethereumChainWallet(
  publicKeys: readonly ExportedPublicKey[],
  options: { depositAccount?: number } = {},
): ChainWallet {
  const depositAccount = options.depositAccount ?? ETHEREUM_DEPOSIT_ACCOUNT;
  if (depositAccount === ETHEREUM_HOT_ACCOUNT) throw new Error("deposit addresses need their own account");
  const hot = watchOnlyAccount(accountXpub(publicKeys, ETHEREUM_HOT_ACCOUNT));
  const deposit = watchOnlyAccount(accountXpub(publicKeys, depositAccount));
  return {
    hotAddress: addressAt(hot, 0),
    changeAddress: null,
    deposit: { account: depositAccount, derive: (index) => addressAt(deposit, index) },
  };
}

const BALANCE_OF_ABI = [
  {
    type: "function",
    name: "balanceOf",
    inputs: [{ name: "owner", type: "address" }],
    outputs: [{ name: "", type: "uint256" }],
    stateMutability: "view",
  },
] as const;

/**
 * `ChainCustodyParts.balanceOf` over a node: the native balance, or an ERC-20's `balanceOf`, at
 * the block `confirmations` below the tip (1: the tip itself).
 */
export function ethereumBalanceReader(options: {
  /** The node's JSON-RPC URL; or `client`. */
  rpcUrl?: string;
  client?: PublicClient;
  /** The native coin's symbol (default ETH). */
  nativeSymbol?: string;
  tokens: readonly ChainAsset[];
  confirmations: number;
}): (address: string, asset: string) => Promise<bigint> {
  const client =
    options.client ??
    (options.rpcUrl === undefined
      ? undefined
      : createPublicClient({ transport: http(options.rpcUrl, { timeout: 10_000 }) }));
  if (client === undefined) throw new Error("an rpcUrl or a client is needed");
  const native = options.nativeSymbol ?? "ETH";
  const contracts = new Map<string, Hex>();
  for (const token of options.tokens) {
    if (token.contract === undefined) throw new Error(`token ${token.symbol} has no contract`);
    contracts.set(token.symbol, token.contract.toLowerCase() as Hex);
  }
  const depth = BigInt(Math.max(1, options.confirmations) - 1);
  return async (address, asset) => {
    const tip = await client.getBlockNumber({ cacheTime: 0 });
    const blockNumber = tip > depth ? tip - depth : 0n;
    if (asset === native) return client.getBalance({ address: address as Hex, blockNumber });
    const contract = contracts.get(asset);
    if (contract === undefined) throw new Error(`no token ${asset}`);
    return client.readContract({
      address: contract,
      abi: BALANCE_OF_ABI,
      functionName: "balanceOf",
      args: [address as Hex],
      blockNumber,
    });
  };
}
