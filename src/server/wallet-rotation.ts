// `bulwark wallet rotate --chain C`, the composition root's part (issue 8 §5; docs/CUSTODY.md
// "Rotating a chain's wallet"):
//
//   1. a short-lived `signer rotate` child adds a wallet generation (a fresh seed; the next hot and
//      deposit derivation accounts) to the chain's keystore and prints its public keys; they are
//      published to <data-dir>/custody/<chain>.generations.json and <chain>.pub.json
//      (rotateWalletIsolated: no seed in this process);
//   2. running server: the chain's signer restarts to load the new seed (its keystore is read at
//      start only; signing requests in between wait and are retried), then custody switches to the
//      new generation (new deposit addresses from the next request, payments and sweeps to the new
//      hot wallet, the retired hot wallets emptied by rotateHot transfers);
//   3. offline: nothing runs; the next start reads the generations and does step 2.
//
// One rotation at a time per process.

import type { CustodyService } from "../custody/custody-service.ts";
import { hotAddressesOf } from "../custody/rotation.ts";
import { OperatorError } from "../operator/actions.ts";
import type { WalletRotationPort, WalletRotationResult } from "../operator/wallet-rotation.ts";
import { KeystoreError } from "../signer/keystore.ts";
import { chainWalletOf } from "./custody.ts";
import {
  isWalletInitialised,
  rotateWalletIsolated,
  SignerChildError,
  type SignerSupervisor,
  WALLET_CHAINS,
  WalletNotInitialisedError,
  type WalletRotation,
} from "./signers.ts";

/** How each rotatable chain derives addresses (the devnet flavours). */
const KIND_OF: Readonly<Record<(typeof WALLET_CHAINS)[number], "utxo" | "account">> = {
  "devnet-btc": "utxo",
  "devnet-eth": "account",
};

export interface WalletRotationOptions {
  dataDir: string;
  /** The keystores' passphrase (the supervisor's, or the operator's offline); undefined: none given. */
  passphrase: string | undefined;
  policyPublicKeyHex: string;
  /** Running server: custody and the signers to switch; null offline. */
  custody: CustodyService | null;
  signers: SignerSupervisor | null;
  clock?: () => number;
}

function kindOf(chain: string): "utxo" | "account" {
  const kind = (KIND_OF as Record<string, "utxo" | "account" | undefined>)[chain];
  if (kind === undefined)
    throw new OperatorError(
      "invalid",
      `--chain must be one of ${WALLET_CHAINS.join(", ")}, got "${chain.slice(0, 40)}"`,
    );
  return kind;
}

/** The WalletRotationPort of a running server (custody and signers given) or of the offline CLI. */
export class WalletRotationService implements WalletRotationPort {
  private running = false;

  constructor(private readonly options: WalletRotationOptions) {}

  async rotate(chain: string): Promise<WalletRotationResult> {
    const kind = kindOf(chain);
    const { dataDir } = this.options;
    if (!isWalletInitialised(dataDir, chain))
      throw new OperatorError(
        "notFound",
        `the ${chain} wallet is not initialised: run \`bulwark wallet init --chain ${chain}\` first`,
      );
    const passphrase = this.options.passphrase;
    if (passphrase === undefined || passphrase === "")
      throw new OperatorError(
        "invalid",
        "wallet rotate needs the keystore's passphrase (BULWARK_SIGNER_PASSPHRASE), and the server was started without it",
      );
    if (this.running) throw new OperatorError("conflict", "a wallet rotation is already running");
    this.running = true;
    try {
      let rotation: WalletRotation;
      try {
        rotation = await rotateWalletIsolated(
          dataDir,
          chain,
          passphrase,
          this.options.policyPublicKeyHex,
          this.options.clock,
        );
      } catch (error) {
        if (error instanceof WalletNotInitialisedError) throw new OperatorError("notFound", error.message);
        if (error instanceof KeystoreError) throw new OperatorError("invalid", error.message);
        if (error instanceof SignerChildError && /passphrase|keystore/i.test(error.stderr))
          throw new OperatorError(
            "invalid",
            error.stderr
              .trim()
              .replace(/^signer: /, "")
              .slice(0, 500),
          );
        throw error;
      }
      const wallet = chainWalletOf(dataDir, chain, kind);
      if (wallet === null) throw new Error(`${chain}: the rotated wallet's public keys cannot be read`);
      const { custody, signers } = this.options;
      const running = custody !== null;
      // The signer first: once it knows the new generation, what custody still sends for the old
      // one is refused or rebuilt (a payment into the retired wallet), never a transfer to the new
      // wallet refused as "not own" by a signer that has not loaded it yet.
      if (signers?.chains().includes(chain)) await signers.restart(chain);
      if (custody !== null) custody.rotateWallet(chain, wallet);
      return {
        chain,
        generation: rotation.generation,
        publicKeys: rotation.publicKeys,
        hotAddress: wallet.hotAddress,
        depositAccount: wallet.deposit.account,
        retiredHotAddresses: hotAddressesOf(
          { hotAddress: null, changeAddress: null },
          wallet.retiredHot ?? [],
        ),
        created: rotation.created,
        applied: running ? "running" : "nextStart",
      };
    } finally {
      this.running = false;
    }
  }
}
