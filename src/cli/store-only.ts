// An ExchangeBoundary over the store alone, for the offline commands that touch only users, API
// keys and the audit log (offline.ts): OperatorActions runs unchanged on it, with the same checks
// and audit entries, while the core, the projector and market data stay closed. Reaching for any
// of those is a programming error in the command table, reported as such.

import { Accounts } from "../accounts/accounts.ts";
import type { ExchangeBoundary } from "../exchange/boundary.ts";
import { bindIncidentStore } from "../store/incidents.ts";
import type { Store } from "../store/open-store.ts";
import { bindOperatorStore } from "../store/operators.ts";
import { StoreAuditTrail } from "../store/read-models.ts";

function closed(what: string): never {
  throw new Error(`${what} needs the exchange, which this command does not open (src/cli/commands.ts)`);
}

export function storeOnlyBoundary(store: Store): ExchangeBoundary {
  const accounts = new Accounts(store);
  const audit = new StoreAuditTrail(store.db);
  return {
    accounts,
    audit,
    incidents: bindIncidentStore(store.db),
    operators: bindOperatorStore(store.db),
    get reads(): never {
      return closed("reads");
    },
    get marketData(): never {
      return closed("marketData");
    },
    get custody(): never {
      return closed("custody");
    },
    submit: () => closed("submit"),
    whenProjected: () => closed("whenProjected"),
    attach: () => closed("attach"),
    status: () => closed("status"),
    market: () => closed("market"),
    marketBySymbol: () => closed("marketBySymbol"),
    markets: () => closed("markets"),
    asset: () => closed("asset"),
    assetByCode: () => closed("assetByCode"),
    assets: () => closed("assets"),
    balance: () => closed("balance"),
    walletBooks: () => closed("walletBooks"),
    customerLiabilities: () => closed("customerLiabilities"),
    incidentCovers: () => closed("incidentCovers"),
  };
}
