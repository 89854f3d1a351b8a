// BIP39 mnemonics and seeds, for the signer's keystore. Generation takes its entropy from the
// caller (the keystore passes crypto.randomBytes; tests pass fixed bytes), so nothing in here
// reads a random source and every function is deterministic.

import { entropyToMnemonic, mnemonicToSeedSync, validateMnemonic } from "@scure/bip39";
import { wordlist as english } from "@scure/bip39/wordlists/english.js";

/** BIP39 allows 128..256 bits of entropy in steps of 32. */
const ENTROPY_BYTE_LENGTHS: readonly number[] = [16, 20, 24, 28, 32];
/** Longest mnemonic text accepted (24 words of at most 8 letters plus spaces, with room to spare). */
export const MAX_MNEMONIC_TEXT_LENGTH = 512;
/** Longest BIP39 passphrase accepted. */
export const MAX_PASSPHRASE_LENGTH = 1024;

/** The English mnemonic for `entropy` (16, 20, 24, 28 or 32 bytes; 32 for a new hot wallet). */
export function mnemonicFromEntropy(entropy: Uint8Array): string {
  if (!ENTROPY_BYTE_LENGTHS.includes(entropy.length))
    throw new Error(`BIP39 entropy must be 16..32 bytes in steps of 4, got ${entropy.length}`);
  return entropyToMnemonic(entropy, english);
}

/** Words, count and checksum are all valid English BIP39. Never throws. */
export function isValidMnemonic(mnemonic: string): boolean {
  if (mnemonic.length > MAX_MNEMONIC_TEXT_LENGTH) return false;
  return validateMnemonic(mnemonic, english);
}

/** The 64-byte BIP39 seed (PBKDF2-HMAC-SHA512, 2048 rounds); refuses a mnemonic whose checksum fails. */
export function seedFromMnemonic(mnemonic: string, passphrase = ""): Uint8Array {
  if (!isValidMnemonic(mnemonic))
    throw new Error("invalid BIP39 mnemonic (unknown word, length or checksum)");
  if (passphrase.length > MAX_PASSPHRASE_LENGTH) throw new Error("BIP39 passphrase too long");
  return mnemonicToSeedSync(mnemonic, passphrase);
}
