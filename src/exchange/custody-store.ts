// Custody's own persisted state bound to a store connection (boundary.ts CustodyStore): the one
// binding the embedded exchange and cluster mode's boundary both hand to custody.

import type { Kysely } from "kysely";
import {
  assignDepositAddress,
  depositAddressesOfChain,
  depositAddressOwners,
  getDepositAddress,
  getScannerState,
  saveScannerState,
} from "../store/custody.ts";
import {
  getPipelineWithdrawal,
  insertPipelineWithdrawal,
  listPipelineWithdrawals,
  updatePipelineWithdrawal,
  walletMovementExists,
  withdrawnUnitsSince,
} from "../store/custody-withdrawals.ts";
import type { StoreDatabase } from "../store/schema.ts";
import { setWithdrawalChainInfo } from "../store/wallet-queries.ts";
import type { CustodyStore } from "./boundary.ts";

export function bindCustodyStore(db: Kysely<StoreDatabase>): CustodyStore {
  return {
    getDepositAddress: (userId, chain, account) => getDepositAddress(db, userId, chain, account),
    assignDepositAddress: (input, derive) => assignDepositAddress(db, input, derive),
    depositAddressOwners: (chain, addresses) => depositAddressOwners(db, chain, addresses),
    depositAddressesOfChain: (chain, options) => depositAddressesOfChain(db, chain, options),
    getScannerState: (chain) => getScannerState(db, chain),
    saveScannerState: (state) => saveScannerState(db, state),
    insertWithdrawal: (input) => insertPipelineWithdrawal(db, input),
    updateWithdrawal: (id, expectedStep, patch) => updatePipelineWithdrawal(db, id, expectedStep, patch),
    getWithdrawal: (id) => getPipelineWithdrawal(db, id),
    listWithdrawals: (filter) => listPipelineWithdrawals(db, filter),
    withdrawnUnitsSince: (filter) => withdrawnUnitsSince(db, filter),
    walletMovementExists: (filter) => walletMovementExists(db, filter),
    setWithdrawalChainInfo: (id, info) => setWithdrawalChainInfo(db, id, info),
  };
}
