// The wallet read models' row types, derived from the boundary's ReadModels so the gateway names
// them without importing the store (scripts/check-imports.mjs).

import type { ReadModels } from "../../exchange/boundary.ts";

/** A deposit or withdrawal as the store projects it (store/wallet-queries.ts). */
export type WalletOperationRecord = NonNullable<Awaited<ReturnType<ReadModels["withdrawal"]>>>;
export type WalletOperationKind = WalletOperationRecord["kind"];
