// The chain signing plugins compiled into the signer (devnet, bitcoin, ethereum come with their
// chains). A signer process serves one chain and picks its plugin here by the config's `chain`:
//
//   devnet-btc, devnet-eth                          the embedded devnet chains (src/chains/devnet/signing.ts)
//   bitcoin-regtest, bitcoin-testnet, bitcoin-mainnet   BIP84 PSBTs (src/chains/bitcoin/signing-plugin.ts)
//   ethereum, ethereum-<network>, anvil, anvil-<name>   EIP-1559 payments (src/chains/ethereum/signing-plugin.ts),
//                                                   built from the config's `ethereum` section
//                                                   (chain id, token contracts, derivation bounds)

import { bitcoinSigningPlugin } from "../chains/bitcoin/signing-plugin.ts";
import { devnetAccountSigningPlugin, devnetUtxoSigningPlugin } from "../chains/devnet/signing.ts";
import { EthereumSigningPlugin } from "../chains/ethereum/signing-plugin.ts";
import type { ChainSigningPlugin } from "../chains/signing.ts";
import type { EthereumSignerConfig, SignerConfig } from "./config.ts";

/** The plugins that need no configuration of their own. */
export const BUILTIN_SIGNING_PLUGINS: readonly ChainSigningPlugin[] = [
  devnetUtxoSigningPlugin(),
  devnetAccountSigningPlugin(),
  bitcoinSigningPlugin({ network: "regtest" }),
  bitcoinSigningPlugin({ network: "testnet" }),
  bitcoinSigningPlugin({ network: "mainnet" }),
];

/** The Ethereum plugin of a chain from its config section (the signer's `ethereum`). */
export function ethereumSigningPlugin(chain: string, config: EthereumSignerConfig): EthereumSigningPlugin {
  return new EthereumSigningPlugin({
    chain,
    chainId: config.chainId,
    nativeSymbol: config.nativeSymbol,
    // The plugin reads a token's symbol and contract only (amounts stay in base units).
    tokens: [...config.tokens].map(([symbol, contract]) => ({ symbol, decimals: 0, contract })),
    accounts: config.accounts,
    addressesPerAccount: config.addressesPerAccount,
  });
}

/**
 * The plugin a signer config asks for: the Ethereum plugin built from its `ethereum` section, or
 * the one of `plugins` serving its chain; null when there is none.
 */
export function signingPluginFor(
  config: Pick<SignerConfig, "chain" | "ethereum">,
  plugins: readonly ChainSigningPlugin[] = BUILTIN_SIGNING_PLUGINS,
): ChainSigningPlugin | null {
  if (config.ethereum !== undefined) return ethereumSigningPlugin(config.chain, config.ethereum);
  return plugins.find((candidate) => candidate.chain === config.chain) ?? null;
}
