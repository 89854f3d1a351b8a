// The chain signing plugins compiled into the signer (devnet, bitcoin, ethereum come with their
// chains). A signer process serves one chain and picks its plugin here by the config's `chain`.

import type { ChainSigningPlugin } from "../chains/signing.ts";

export const BUILTIN_SIGNING_PLUGINS: readonly ChainSigningPlugin[] = [];
