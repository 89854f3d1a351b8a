// Transaction size and dust arithmetic for P2WPKH spends, in integers (weight units and satoshi).
//
// Weight = 4 × non-witness bytes + witness bytes; vsize = ceil(weight / 4) (BIP141). A P2WPKH
// input is 41 non-witness bytes (outpoint 36, empty scriptSig 1, sequence 4) and at most 108
// witness bytes (item count 1, signature push 1 + 72 for a low-S DER signature with its sighash
// byte, public key push 1 + 33): 272 WU, 68 vB. The estimate is an upper bound: the signed
// transaction is never larger, so the fee rate paid is never below the one asked for.

/** Largest serialized P2WPKH witness: count, <sig ≤ 72 bytes with sighash>, <33-byte pubkey>. */
const P2WPKH_WITNESS_BYTES = 1 + 1 + 72 + 1 + 33;
const INPUT_BASE_BYTES = 32 + 4 + 1 + 4;
/** Version, locktime. */
const TX_FIXED_BYTES = 4 + 4;
/** Segwit marker and flag, counted as witness data. */
const SEGWIT_MARKER_WEIGHT = 2;

/** Bitcoin Core's dust relay fee (DUST_RELAY_TX_FEE), in sat/vB. */
const DUST_RELAY_FEE_RATE = 3n;

export function compactSizeLength(n: number): number {
  if (n < 0xfd) return 1;
  if (n <= 0xffff) return 3;
  if (n <= 0xffffffff) return 5;
  return 9;
}

/** Serialized size of one output paying `scriptLength` bytes of script. */
export function outputBytes(scriptLength: number): number {
  return 8 + compactSizeLength(scriptLength) + scriptLength;
}

/** Upper bound on the weight of a transaction spending `inputCount` P2WPKH inputs. */
export function p2wpkhTxWeight(inputCount: number, outputScriptLengths: readonly number[]): number {
  const base =
    TX_FIXED_BYTES +
    compactSizeLength(inputCount) +
    compactSizeLength(outputScriptLengths.length) +
    inputCount * INPUT_BASE_BYTES +
    outputScriptLengths.reduce((sum, length) => sum + outputBytes(length), 0);
  return base * 4 + SEGWIT_MARKER_WEIGHT + inputCount * P2WPKH_WITNESS_BYTES;
}

export function vsizeOfWeight(weight: number): number {
  return Math.ceil(weight / 4);
}

/** Fee for `vsize` virtual bytes at `feeRate` sat/vB. */
export function feeFor(vsize: number, feeRate: bigint): bigint {
  return BigInt(vsize) * feeRate;
}

/**
 * Bitcoin Core's dust threshold (GetDustThreshold, policy.cpp): an output is dust when spending it
 * would cost more than it holds at the dust relay fee. A witness program costs 67 bytes to spend
 * (32+4+1+107/4+4), anything else 148. P2WPKH: 294, P2TR and P2WSH: 330, P2PKH: 546, P2SH: 540.
 */
export function dustThreshold(script: Uint8Array): bigint {
  const spendBytes = isWitnessProgram(script) ? 67 : 148;
  return BigInt(outputBytes(script.length) + spendBytes) * DUST_RELAY_FEE_RATE;
}

/** BIP141: a version opcode (OP_0, OP_1..OP_16) then one push of 2..40 bytes. */
export function isWitnessProgram(script: Uint8Array): boolean {
  if (script.length < 4 || script.length > 42) return false;
  const version = script[0];
  if (version !== 0x00 && (version < 0x51 || version > 0x60)) return false;
  return script[1] + 2 === script.length;
}
