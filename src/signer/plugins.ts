// The chain signing plugins compiled into the signer (devnet, bitcoin, ethereum come with their
// chains). A signer process serves one chain and picks its plugin here by the config's `chain`:
//
//   devnet-btc, devnet-eth                          the embedded devnet chains (src/chains/devnet/signing.ts)
//   bitcoin-regtest, bitcoin-testnet, bitcoin-mainnet   BIP84 PSBTs (src/chains/bitcoin/signing-plugin.ts)

import { bitcoinSigningPlugin } from "../chains/bitcoin/signing-plugin.ts";
import { devnetAccountSigningPlugin, devnetUtxoSigningPlugin } from "../chains/devnet/signing.ts";
import type { ChainSigningPlugin } from "../chains/signing.ts";

export const BUILTIN_SIGNING_PLUGINS: readonly ChainSigningPlugin[] = [
  devnetUtxoSigningPlugin(),
  devnetAccountSigningPlugin(),
  bitcoinSigningPlugin({ network: "regtest" }),
  bitcoinSigningPlugin({ network: "testnet" }),
  bitcoinSigningPlugin({ network: "mainnet" }),
];
