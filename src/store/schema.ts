// The store's tables as Kysely sees them. One schema for SQLite and PostgreSQL (migrations.ts).
//
// Integers: every column that can pass 2^31 (ids that are command sequences, prices in ticks up
// to 2^32-1, lots, ledger units, milliseconds, nonces) is `bigint` in SQL. They are read back as
// JS numbers on both engines, deliberately: the core keeps every amount at or below 2^53-1
// (config.ts), so a number is exact; PostgreSQL's int8 parser is replaced with one that throws on
// an unsafe value instead of rounding (open-store.ts), and better-sqlite3 returns numbers.
// Money is never a float or real column.

import type { ColumnType, Generated, Selectable } from "kysely";
import type { WalletAccount } from "../core/commands.ts";

export interface UsersTable {
  /** The core's userId (1..2^31-1), assigned on insert: an identity column on PostgreSQL, the rowid on SQLite. */
  id: Generated<number>;
  /** Lower-cased and trimmed before it is stored, so uniqueness ignores case. */
  email: string;
  password_hash: string;
  status: UserStatus;
  created_ms: number;
}

export type UserStatus = "active" | "frozen";

export interface ApiKeysTable {
  /** The public key string a client sends in the `Key` header. */
  key_id: string;
  user_id: number;
  /** The HMAC secret, encrypted by the gateway; the store never sees it in clear. */
  secret_ciphertext: ColumnType<Buffer, Buffer, never>;
  /** JSON array of scope names, e.g. ["info","trade"]. */
  scopes_json: string;
  /** JSON array of IP addresses or CIDR blocks; [] allows any address. */
  ip_allow_list_json: string;
  created_ms: number;
  revoked_ms: number | null;
}

export interface ApiNoncesTable {
  key_id: string;
  last_nonce: number;
}

export type OrderStatus = "open" | "filled" | "cancelled" | "expired";

export interface OrdersTable {
  /** The sequence of the placeOrder command. */
  order_id: number;
  user_id: number;
  market_id: number;
  side: "buy" | "sell";
  order_type: "limit" | "market" | "marketTotal" | "stopMarket";
  price_ticks: number;
  quantity_lots: number;
  quote_amount_units: number;
  trigger_price_ticks: number;
  client_order_id: number;
  /** The client's id as text (placeOrder's clientOrderText), null when it had none. */
  client_order_text: string | null;
  time_in_force: "gtc" | "ioc" | "fok";
  /** 1 for a post-only order, else 0. */
  post_only: number;
  /** Hold taken at acceptance (quote units for buys, base units for sells). */
  held_units: number;
  status: OrderStatus;
  /** The core's DoneReason once the order is done, null while open. */
  done_reason: string | null;
  filled_lots: number;
  /** Sum of the notionals of its trades, for the average price. */
  filled_quote_units: number;
  /** Fees it paid, in the asset it received (base for buys, quote for sells). */
  fee_units: number;
  /** Open: lots still to fill; done: the lots left unfilled (0 for marketTotal). */
  remaining_lots: number;
  /** Hold given back when it was done. */
  released_units: number;
  triggered_ms: number | null;
  created_ms: number;
  updated_ms: number;
  updated_sequence: number;
}

export interface TradesTable {
  trade_id: number;
  sequence: number;
  market_id: number;
  price_ticks: number;
  quantity_lots: number;
  notional_units: number;
  taker_side: "buy" | "sell";
  maker_order_id: number;
  taker_order_id: number;
  maker_user_id: number;
  taker_user_id: number;
  buyer_fee_units: number;
  seller_fee_units: number;
  ts_ms: number;
}

/** One row per side of a trade: a user's own view of it (EXMO user_trades / order_trades). */
export interface FillsTable {
  trade_id: number;
  side: "buy" | "sell";
  role: "maker" | "taker";
  order_id: number;
  user_id: number;
  market_id: number;
  client_order_id: number;
  price_ticks: number;
  quantity_lots: number;
  notional_units: number;
  fee_units: number;
  fee_asset_id: number;
  fee_rate_ppm: number;
  ts_ms: number;
}

export interface BalancesTable {
  user_id: number;
  asset_id: number;
  available_units: number;
  held_units: number;
  updated_sequence: number;
  updated_ms: number;
}

export interface BalanceHistoryTable {
  user_id: number;
  asset_id: number;
  sequence: number;
  available_units: number;
  held_units: number;
  available_delta_units: number;
  held_delta_units: number;
  /** What the command was, inferred from its first event: placeOrder, cancel, adjustBalance, deposit, withdrawal. */
  cause: BalanceCause;
  ts_ms: number;
}

/** A text column: a new cause needs no migration. */
export type BalanceCause = "placeOrder" | "cancel" | "adjustBalance" | "deposit" | "withdrawal";

export interface AdjustmentsTable {
  sequence: number;
  user_id: number;
  asset_id: number;
  amount_units: number;
  reason: string;
  ts_ms: number;
}

export interface AssetsTable {
  asset_id: number;
  code: string;
  scale: number;
}

export interface MarketsTable {
  market_id: number;
  symbol: string;
  base_asset_id: number;
  quote_asset_id: number;
  status: "active" | "suspended";
  /** The whole MarketConfig as JSON (it never changes after addMarket). */
  config_json: string;
}

export interface AuditLogTable {
  /** 1, 2, 3, ... without gaps. */
  seq: number;
  ts_ms: number;
  actor: string;
  action: string;
  subject: string;
  /** Canonical JSON (sorted keys), stored as hashed so verification needs no re-serialisation. */
  details_json: string;
  prev_hash: string;
  hash: string;
}

export interface AuditHeadTable {
  id: number;
  seq: number;
  hash: string;
}

export interface ProjectorStateTable {
  name: string;
  last_sequence: number;
}

/** A credited deposit (core event depositCredited): one row per chain + transaction + output. */
export interface DepositsTable {
  /** The sequence of the creditDeposit command. */
  sequence: number;
  chain: string;
  tx_id: string;
  output_index: number;
  user_id: number;
  asset_id: number;
  amount_units: number;
  credited_ms: number;
}

/** held → settled (confirmed on chain) or released (failed or rejected), as the core's events say. */
export type WithdrawalStatus = "held" | "settled" | "released";

export interface WithdrawalsTable {
  /** Custody's id (holdWithdrawal). */
  withdrawal_id: number;
  user_id: number;
  asset_id: number;
  /** Everything the user pays, fee included. */
  amount_units: number;
  fee_units: number;
  status: WithdrawalStatus;
  /** The sequence and time of the holdWithdrawal command. */
  held_sequence: number;
  held_ms: number;
  /** The settle or release command, null while held. */
  done_sequence: number | null;
  done_ms: number | null;
  // Written by custody (setWithdrawalChainInfo), never by the projector: null until custody knows.
  destination: string | null;
  tx_id: string | null;
  confirmations: number | null;
  reason: string | null;
}

/** Every status a withdrawal passed through, with the command that set it. */
export interface WithdrawalStatusHistoryTable {
  withdrawal_id: number;
  sequence: number;
  status: WithdrawalStatus;
  ts_ms: number;
}

export interface WalletMovementsTable {
  /** The sequence of the recordWalletMovement command. */
  sequence: number;
  asset_id: number;
  from_account: WalletAccount;
  to_account: WalletAccount;
  amount_units: number;
  /** 0..128 printable ASCII; "" when the movement has no transaction. */
  tx_id: string;
  ts_ms: number;
}

/** Custody's deposit addresses, derived from a watch-only xpub: one per user per chain and derivation account. */
export interface DepositAddressesTable {
  user_id: number;
  /** Chain name as in the core's creditDeposit: 1..16 of a-z 0-9 -. */
  chain: string;
  /** The derivation account (BIP44 account'); a rotated xpub gets a new one, old ones stay watched. */
  account: number;
  /** The non-hardened child index under the account, dense from 0 per chain + account. */
  address_index: number;
  address: string;
  created_ms: number;
}

/** Custody's block scanner, per chain: how far it scanned, and recent hashes to notice a reorg. */
export interface ScannerStateTable {
  chain: string;
  height: number;
  /** JSON array of [height, hash], ascending, consecutive, ending at `height` (bounded window). */
  recent_hashes_json: string;
  updated_ms: number;
}

/** A person's browser session (src/store/sessions.ts): the id itself is never stored, only its SHA-256. */
export interface UserSessionsTable {
  /** base64url SHA-256 of the session id the cookie carries. */
  session_hash: string;
  user_id: number;
  created_ms: number;
  last_seen_ms: number;
  /** Absolute end, whatever the activity. */
  expires_ms: number;
  revoked_ms: number | null;
  client_ip: string;
  user_agent: string;
  /** 1 when the login proved a TOTP code. */
  second_factor: number;
}

/** A user's TOTP second factor: the secret sealed by the gateway (SecretBox, context totp:<userId>). */
export interface UserTotpTable {
  user_id: number;
  secret_sealed: string;
  /** pending between enable and the first confirmed code. */
  status: "pending" | "enabled";
  /** The last time step a code was accepted for: a step is used once (replay protection). */
  last_used_step: number | null;
  created_ms: number;
  enabled_ms: number | null;
}

export interface UserSecurityTable {
  user_id: number;
  /** Last 2FA enable / disable or password change: withdrawals wait 24 h after it. */
  security_changed_ms: number;
}

/** Withdrawal destinations a user has saved, each usable from active_from_ms on. */
export interface AddressBookTable {
  user_id: number;
  /** The asset code, e.g. "BTC". */
  currency: string;
  address: string;
  label: string;
  created_ms: number;
  active_from_ms: number;
  /** The operator who activated it early, null otherwise. */
  activated_by: string | null;
}

/** Custody's withdrawal pipeline (src/store/custody-withdrawals.ts): written by custody only. */
export interface CustodyWithdrawalsTable {
  withdrawal_id: number;
  user_id: number;
  chain: string;
  currency: string;
  asset_id: number;
  /** The user's debit in ledger units, the fee included. */
  amount_units: number;
  fee_units: number;
  /** What reaches the destination, in chain base units (decimal text: wei do not fit a number). */
  chain_amount: string;
  destination: string;
  /** How the user proved the request: apiKey, totp or operator. */
  via: string;
  step: string;
  approvals_needed: number;
  /** JSON array of approver names, in order. */
  approvals_json: string;
  /** Signing attempts made (the intent id is derived from the withdrawal id and this). */
  attempt: number;
  /** The persisted intent (wire form) and custody's signature over it, JSON. */
  intent_json: string | null;
  /** The signer's signed transaction, base64. */
  signed_tx: string | null;
  tx_id: string | null;
  /** The network fee the transaction pays, chain base units of the fee asset. */
  network_fee: string | null;
  confirmations: number;
  reason: string | null;
  requested_ms: number;
  updated_ms: number;
}

export interface CustodyWithdrawalStepsTable {
  withdrawal_id: number;
  step_index: number;
  step: string;
  at_ms: number;
}

/** Incidents (issue 8 §3, src/store/incidents.ts): one row per incident. */
export interface IncidentsTable {
  incident_id: Generated<number>;
  kind: string;
  /** The chain concerned, or null for an exchange-wide incident. */
  chain: string | null;
  title: string;
  status: string;
  /** "kind|chain" while open, null once resolved: the unique index keeps one open incident per pair. */
  open_key: string | null;
  opened_ms: number;
  resolved_ms: number | null;
  /** Timeline entries written so far (the next entry is entry_count + 1). */
  entry_count: number;
}

/** One timeline entry of an incident, numbered 1, 2, 3… within it. */
export interface IncidentEntriesTable {
  incident_id: number;
  entry: number;
  type: string;
  at_ms: number;
  actor: string;
  message: string;
  detail_json: string;
}

/** A person of the operator console (issue 9 §3); never deleted, only disabled. */
export interface OperatorAccountsTable {
  operator_id: Generated<number>;
  email: string;
  /** scrypt, as users' (src/accounts/passwords.ts). */
  password_hash: string;
  /** admin | support | security | auditor. */
  role: string;
  created_ms: number;
  disabled_ms: number | null;
  /** The TOTP secret sealed with the SecretBox (context `operator-totp:<operatorId>`); null without 2FA. */
  totp_secret_sealed: ColumnType<string | null, string | null | undefined, string | null>;
  /** pending between enable and the first confirmed code; null without 2FA. */
  totp_status: ColumnType<
    "pending" | "enabled" | null,
    "pending" | "enabled" | null | undefined,
    "pending" | "enabled" | null
  >;
  /** The last time step a code was accepted for: a step is used once (replay protection). */
  totp_last_used_step: ColumnType<number | null, number | null | undefined, number | null>;
}

/** A console login: base64url SHA-256 of the session id its cookie carries. */
export interface OperatorSessionsTable {
  session_hash: string;
  operator_id: number;
  created_ms: number;
  last_seen_ms: number;
  expires_ms: number;
  revoked_ms: number | null;
  client_ip: string;
  user_agent: string;
}

export interface StoreDatabase {
  operator_accounts: OperatorAccountsTable;
  operator_sessions: OperatorSessionsTable;
  user_sessions: UserSessionsTable;
  incidents: IncidentsTable;
  incident_entries: IncidentEntriesTable;
  custody_withdrawals: CustodyWithdrawalsTable;
  custody_withdrawal_steps: CustodyWithdrawalStepsTable;
  deposit_addresses: DepositAddressesTable;
  scanner_state: ScannerStateTable;
  user_totp: UserTotpTable;
  user_security: UserSecurityTable;
  address_book: AddressBookTable;
  deposits: DepositsTable;
  withdrawals: WithdrawalsTable;
  withdrawal_status_history: WithdrawalStatusHistoryTable;
  wallet_movements: WalletMovementsTable;
  users: UsersTable;
  api_keys: ApiKeysTable;
  api_nonces: ApiNoncesTable;
  orders: OrdersTable;
  trades: TradesTable;
  fills: FillsTable;
  balances: BalancesTable;
  balance_history: BalanceHistoryTable;
  adjustments: AdjustmentsTable;
  assets: AssetsTable;
  markets: MarketsTable;
  audit_log: AuditLogTable;
  audit_head: AuditHeadTable;
  projector_state: ProjectorStateTable;
}

export type OrderRow = Selectable<OrdersTable>;
export type TradeRow = Selectable<TradesTable>;
export type FillRow = Selectable<FillsTable>;
export type BalanceRow = Selectable<BalancesTable>;
export type BalanceHistoryRow = Selectable<BalanceHistoryTable>;
export type UserRow = Selectable<UsersTable>;
export type ApiKeyRow = Selectable<ApiKeysTable>;
export type AuditLogRow = Selectable<AuditLogTable>;
export type MarketRow = Selectable<MarketsTable>;
export type AssetRow = Selectable<AssetsTable>;
export type DepositRow = Selectable<DepositsTable>;
export type WithdrawalRow = Selectable<WithdrawalsTable>;
export type WalletMovementRow = Selectable<WalletMovementsTable>;
