// The proof-of-reserves verifier the browser runs: the very module `bulwark reserves verify` runs
// (src/reserves/proof.ts, pure: @noble/curves and @noble/hashes), imported from the source tree,
// not a copy. The Reserves page loads this file lazily, so the trade page's first load never pays
// for the curve code (test/web/reserves-verifier.test.ts checks the functions are the CLI's).

export {
  MAX_PROOF_TEXT_BYTES,
  PROOF_FORMAT,
  type ReservesProof,
  type ReservesPublication,
  type VerifyResult,
  verifyPublication,
  verifyReservesProof,
} from "../../../src/reserves/proof.ts";
