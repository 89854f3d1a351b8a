// Child of nonce-ledger.test.ts: advances one key's nonce forever and prints each nonce once its
// advance() resolved (committed); the parent kills it with SIGKILL and checks the store.

import { openStore } from "../../src/store/open-store.ts";

const store = await openStore({ dataDir: process.argv[2] });
for (let nonce = 1; ; nonce++) {
  const refusal = await store.nonces.advance("K-crash", nonce);
  if (refusal !== null) throw new Error(`nonce ${nonce} refused: ${refusal}`);
  process.stdout.write(`${nonce}\n`);
}
