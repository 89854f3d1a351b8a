// The store's migrations, in code so they ship with the program and run the same on SQLite and
// PostgreSQL. Only two column kinds differ by engine and are chosen here: the auto-assigned user
// id (SQLite rowid with AUTOINCREMENT, so ids are never reused; PostgreSQL identity) and binary
// data (blob / bytea). Everything else is the same SQL type on both.
//
// Append new migrations to the list; never edit one that has shipped.

import type { ColumnDefinitionBuilder, Kysely, Migration, MigrationProvider } from "kysely";

export type StoreEngine = "sqlite" | "postgres";

function userIdColumn(engine: StoreEngine) {
  return (column: ColumnDefinitionBuilder) =>
    engine === "sqlite"
      ? column.primaryKey().autoIncrement()
      : column.generatedByDefaultAsIdentity().primaryKey();
}

function binaryType(engine: StoreEngine): "blob" | "bytea" {
  return engine === "sqlite" ? "blob" : "bytea";
}

async function createAccountTables(db: Kysely<unknown>, engine: StoreEngine): Promise<void> {
  await db.schema
    .createTable("users")
    .addColumn("id", "integer", userIdColumn(engine))
    .addColumn("email", "text", (c) => c.notNull().unique())
    .addColumn("password_hash", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("created_ms", "bigint", (c) => c.notNull())
    .execute();
  await db.schema
    .createTable("api_keys")
    .addColumn("key_id", "text", (c) => c.primaryKey())
    .addColumn("user_id", "integer", (c) => c.notNull().references("users.id"))
    .addColumn("secret_ciphertext", binaryType(engine), (c) => c.notNull())
    .addColumn("scopes_json", "text", (c) => c.notNull())
    .addColumn("ip_allow_list_json", "text", (c) => c.notNull())
    .addColumn("created_ms", "bigint", (c) => c.notNull())
    .addColumn("revoked_ms", "bigint")
    .execute();
  await db.schema.createIndex("api_keys_by_user").on("api_keys").columns(["user_id", "created_ms"]).execute();
  // No foreign key to api_keys: a nonce row must never block deleting or rotating a key.
  await db.schema
    .createTable("api_nonces")
    .addColumn("key_id", "text", (c) => c.primaryKey())
    .addColumn("last_nonce", "bigint", (c) => c.notNull())
    .execute();
}

// Projected tables carry no foreign keys to users: the core knows users only by id, and an
// operator may credit an id before (or without) an account row; projection must never fail on that.
async function createOrderTables(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("orders")
    .addColumn("order_id", "bigint", (c) => c.primaryKey())
    .addColumn("user_id", "integer", (c) => c.notNull())
    .addColumn("market_id", "integer", (c) => c.notNull())
    .addColumn("side", "text", (c) => c.notNull())
    .addColumn("order_type", "text", (c) => c.notNull())
    .addColumn("price_ticks", "bigint", (c) => c.notNull())
    .addColumn("quantity_lots", "bigint", (c) => c.notNull())
    .addColumn("quote_amount_units", "bigint", (c) => c.notNull())
    .addColumn("trigger_price_ticks", "bigint", (c) => c.notNull())
    .addColumn("client_order_id", "bigint", (c) => c.notNull())
    .addColumn("held_units", "bigint", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("done_reason", "text")
    .addColumn("filled_lots", "bigint", (c) => c.notNull())
    .addColumn("filled_quote_units", "bigint", (c) => c.notNull())
    .addColumn("fee_units", "bigint", (c) => c.notNull())
    .addColumn("remaining_lots", "bigint", (c) => c.notNull())
    .addColumn("released_units", "bigint", (c) => c.notNull())
    .addColumn("triggered_ms", "bigint")
    .addColumn("created_ms", "bigint", (c) => c.notNull())
    .addColumn("updated_ms", "bigint", (c) => c.notNull())
    .addColumn("updated_sequence", "bigint", (c) => c.notNull())
    .execute();
  // Serves open orders of a user (status = 'open') and cancelled orders newest first.
  await db.schema
    .createIndex("orders_by_user_status")
    .on("orders")
    .columns(["user_id", "status", "order_id"])
    .execute();
}

async function createTradeTables(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("trades")
    .addColumn("trade_id", "bigint", (c) => c.primaryKey())
    .addColumn("sequence", "bigint", (c) => c.notNull())
    .addColumn("market_id", "integer", (c) => c.notNull())
    .addColumn("price_ticks", "bigint", (c) => c.notNull())
    .addColumn("quantity_lots", "bigint", (c) => c.notNull())
    .addColumn("notional_units", "bigint", (c) => c.notNull())
    .addColumn("taker_side", "text", (c) => c.notNull())
    .addColumn("maker_order_id", "bigint", (c) => c.notNull())
    .addColumn("taker_order_id", "bigint", (c) => c.notNull())
    .addColumn("maker_user_id", "integer", (c) => c.notNull())
    .addColumn("taker_user_id", "integer", (c) => c.notNull())
    .addColumn("buyer_fee_units", "bigint", (c) => c.notNull())
    .addColumn("seller_fee_units", "bigint", (c) => c.notNull())
    .addColumn("ts_ms", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("trades_by_market").on("trades").columns(["market_id", "trade_id"]).execute();
  await db.schema
    .createTable("fills")
    .addColumn("trade_id", "bigint", (c) => c.notNull())
    .addColumn("side", "text", (c) => c.notNull())
    .addColumn("role", "text", (c) => c.notNull())
    .addColumn("order_id", "bigint", (c) => c.notNull())
    .addColumn("user_id", "integer", (c) => c.notNull())
    .addColumn("market_id", "integer", (c) => c.notNull())
    .addColumn("client_order_id", "bigint", (c) => c.notNull())
    .addColumn("price_ticks", "bigint", (c) => c.notNull())
    .addColumn("quantity_lots", "bigint", (c) => c.notNull())
    .addColumn("notional_units", "bigint", (c) => c.notNull())
    .addColumn("fee_units", "bigint", (c) => c.notNull())
    .addColumn("fee_asset_id", "integer", (c) => c.notNull())
    .addColumn("fee_rate_ppm", "integer", (c) => c.notNull())
    .addColumn("ts_ms", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("fills_pk", ["trade_id", "side"])
    .execute();
  await db.schema
    .createIndex("fills_by_user_market")
    .on("fills")
    .columns(["user_id", "market_id", "trade_id"])
    .execute();
  await db.schema.createIndex("fills_by_order").on("fills").columns(["order_id", "trade_id"]).execute();
}

async function createBalanceTables(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("balances")
    .addColumn("user_id", "integer", (c) => c.notNull())
    .addColumn("asset_id", "integer", (c) => c.notNull())
    .addColumn("available_units", "bigint", (c) => c.notNull())
    .addColumn("held_units", "bigint", (c) => c.notNull())
    .addColumn("updated_sequence", "bigint", (c) => c.notNull())
    .addColumn("updated_ms", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("balances_pk", ["user_id", "asset_id"])
    .execute();
  await db.schema
    .createTable("balance_history")
    .addColumn("user_id", "integer", (c) => c.notNull())
    .addColumn("asset_id", "integer", (c) => c.notNull())
    .addColumn("sequence", "bigint", (c) => c.notNull())
    .addColumn("available_units", "bigint", (c) => c.notNull())
    .addColumn("held_units", "bigint", (c) => c.notNull())
    .addColumn("available_delta_units", "bigint", (c) => c.notNull())
    .addColumn("held_delta_units", "bigint", (c) => c.notNull())
    .addColumn("cause", "text", (c) => c.notNull())
    .addColumn("ts_ms", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("balance_history_pk", ["user_id", "asset_id", "sequence"])
    .execute();
  await db.schema
    .createIndex("balance_history_by_user")
    .on("balance_history")
    .columns(["user_id", "sequence"])
    .execute();
  await db.schema
    .createTable("adjustments")
    .addColumn("sequence", "bigint", (c) => c.primaryKey())
    .addColumn("user_id", "integer", (c) => c.notNull())
    .addColumn("asset_id", "integer", (c) => c.notNull())
    .addColumn("amount_units", "bigint", (c) => c.notNull())
    .addColumn("reason", "text", (c) => c.notNull())
    .addColumn("ts_ms", "bigint", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("adjustments_by_user")
    .on("adjustments")
    .columns(["user_id", "sequence"])
    .execute();
}

async function createReferenceTables(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("assets")
    .addColumn("asset_id", "integer", (c) => c.primaryKey())
    .addColumn("code", "text", (c) => c.notNull().unique())
    .addColumn("scale", "integer", (c) => c.notNull())
    .execute();
  await db.schema
    .createTable("markets")
    .addColumn("market_id", "integer", (c) => c.primaryKey())
    .addColumn("symbol", "text", (c) => c.notNull().unique())
    .addColumn("base_asset_id", "integer", (c) => c.notNull())
    .addColumn("quote_asset_id", "integer", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("config_json", "text", (c) => c.notNull())
    .execute();
  await db.schema
    .createTable("audit_log")
    .addColumn("seq", "bigint", (c) => c.primaryKey())
    .addColumn("ts_ms", "bigint", (c) => c.notNull())
    .addColumn("actor", "text", (c) => c.notNull())
    .addColumn("action", "text", (c) => c.notNull())
    .addColumn("subject", "text", (c) => c.notNull())
    .addColumn("details_json", "text", (c) => c.notNull())
    .addColumn("prev_hash", "text", (c) => c.notNull())
    .addColumn("hash", "text", (c) => c.notNull())
    .execute();
  // One row (id 1): the chain's last seq and hash. Appenders lock it, so they take turns instead of
  // racing for the next seq, and the verifier compares it with the last row to notice a cut tail.
  await db.schema
    .createTable("audit_head")
    .addColumn("id", "integer", (c) => c.primaryKey())
    .addColumn("seq", "bigint", (c) => c.notNull())
    .addColumn("hash", "text", (c) => c.notNull())
    .execute();
  await db.schema
    .createTable("projector_state")
    .addColumn("name", "text", (c) => c.primaryKey())
    .addColumn("last_sequence", "bigint", (c) => c.notNull())
    .execute();
}

function initialMigration(engine: StoreEngine): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await createAccountTables(db, engine);
      await createOrderTables(db);
      await createTradeTables(db);
      await createBalanceTables(db);
      await createReferenceTables(db);
    },
  };
}

// Custody's projected tables (issue 7): deposits, withdrawals and wallet movements as the core's
// events say. Like the other projected tables, no foreign keys.
async function createWalletTables(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("deposits")
    .addColumn("sequence", "bigint", (c) => c.primaryKey())
    .addColumn("chain", "text", (c) => c.notNull())
    .addColumn("tx_id", "text", (c) => c.notNull())
    .addColumn("output_index", "bigint", (c) => c.notNull())
    .addColumn("user_id", "integer", (c) => c.notNull())
    .addColumn("asset_id", "integer", (c) => c.notNull())
    .addColumn("amount_units", "bigint", (c) => c.notNull())
    .addColumn("credited_ms", "bigint", (c) => c.notNull())
    .addUniqueConstraint("deposits_chain_tx_output", ["chain", "tx_id", "output_index"])
    .execute();
  await db.schema.createIndex("deposits_by_user").on("deposits").columns(["user_id", "sequence"]).execute();
  await db.schema
    .createTable("withdrawals")
    .addColumn("withdrawal_id", "bigint", (c) => c.primaryKey())
    .addColumn("user_id", "integer", (c) => c.notNull())
    .addColumn("asset_id", "integer", (c) => c.notNull())
    .addColumn("amount_units", "bigint", (c) => c.notNull())
    .addColumn("fee_units", "bigint", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("held_sequence", "bigint", (c) => c.notNull())
    .addColumn("held_ms", "bigint", (c) => c.notNull())
    .addColumn("done_sequence", "bigint")
    .addColumn("done_ms", "bigint")
    .addColumn("destination", "text")
    .addColumn("tx_id", "text")
    .addColumn("confirmations", "bigint")
    .addColumn("reason", "text")
    .execute();
  await db.schema
    .createIndex("withdrawals_by_user")
    .on("withdrawals")
    .columns(["user_id", "held_sequence"])
    .execute();
  await db.schema
    .createTable("withdrawal_status_history")
    .addColumn("withdrawal_id", "bigint", (c) => c.notNull())
    .addColumn("sequence", "bigint", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("ts_ms", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("withdrawal_status_history_pk", ["withdrawal_id", "sequence"])
    .execute();
  await db.schema
    .createTable("wallet_movements")
    .addColumn("sequence", "bigint", (c) => c.primaryKey())
    .addColumn("asset_id", "integer", (c) => c.notNull())
    .addColumn("from_account", "text", (c) => c.notNull())
    .addColumn("to_account", "text", (c) => c.notNull())
    .addColumn("amount_units", "bigint", (c) => c.notNull())
    .addColumn("tx_id", "text", (c) => c.notNull())
    .addColumn("ts_ms", "bigint", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("wallet_movements_by_asset")
    .on("wallet_movements")
    .columns(["asset_id", "sequence"])
    .execute();
}

// Written by custody (deposit addresses, scanner) and by the accounts service (2FA, address book,
// security changes), not by the projector.
async function createCustodyAndSecurityTables(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("deposit_addresses")
    .addColumn("user_id", "integer", (c) => c.notNull())
    .addColumn("chain", "text", (c) => c.notNull())
    .addColumn("account", "integer", (c) => c.notNull())
    .addColumn("address_index", "bigint", (c) => c.notNull())
    .addColumn("address", "text", (c) => c.notNull().unique())
    .addColumn("created_ms", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("deposit_addresses_pk", ["chain", "account", "address_index"])
    .addUniqueConstraint("deposit_addresses_user", ["user_id", "chain", "account"])
    .execute();
  await db.schema
    .createTable("scanner_state")
    .addColumn("chain", "text", (c) => c.primaryKey())
    .addColumn("height", "bigint", (c) => c.notNull())
    .addColumn("recent_hashes_json", "text", (c) => c.notNull())
    .addColumn("updated_ms", "bigint", (c) => c.notNull())
    .execute();
  await db.schema
    .createTable("user_totp")
    .addColumn("user_id", "integer", (c) => c.primaryKey().references("users.id"))
    .addColumn("secret_sealed", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("last_used_step", "bigint")
    .addColumn("created_ms", "bigint", (c) => c.notNull())
    .addColumn("enabled_ms", "bigint")
    .execute();
  await db.schema
    .createTable("user_security")
    .addColumn("user_id", "integer", (c) => c.primaryKey().references("users.id"))
    .addColumn("security_changed_ms", "bigint", (c) => c.notNull())
    .execute();
  await db.schema
    .createTable("address_book")
    .addColumn("user_id", "integer", (c) => c.notNull().references("users.id"))
    .addColumn("currency", "text", (c) => c.notNull())
    .addColumn("address", "text", (c) => c.notNull())
    .addColumn("label", "text", (c) => c.notNull())
    .addColumn("created_ms", "bigint", (c) => c.notNull())
    .addColumn("active_from_ms", "bigint", (c) => c.notNull())
    .addColumn("activated_by", "text")
    .addPrimaryKeyConstraint("address_book_pk", ["user_id", "currency", "address"])
    .execute();
}

// Custody's withdrawal pipeline (issue 7 §5), written by custody: one row per withdrawal with its
// current step and what custody must remember to resume it (the persisted intent, the signed
// transaction, the txid), and one row per step reached (the visible history, with times).
async function createWithdrawalPipelineTables(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("custody_withdrawals")
    .addColumn("withdrawal_id", "bigint", (c) => c.primaryKey())
    .addColumn("user_id", "integer", (c) => c.notNull())
    .addColumn("chain", "text", (c) => c.notNull())
    .addColumn("currency", "text", (c) => c.notNull())
    .addColumn("asset_id", "integer", (c) => c.notNull())
    .addColumn("amount_units", "bigint", (c) => c.notNull())
    .addColumn("fee_units", "bigint", (c) => c.notNull())
    .addColumn("chain_amount", "text", (c) => c.notNull())
    .addColumn("destination", "text", (c) => c.notNull())
    .addColumn("via", "text", (c) => c.notNull())
    .addColumn("step", "text", (c) => c.notNull())
    .addColumn("approvals_needed", "integer", (c) => c.notNull())
    .addColumn("approvals_json", "text", (c) => c.notNull())
    .addColumn("attempt", "integer", (c) => c.notNull())
    .addColumn("intent_json", "text")
    .addColumn("signed_tx", "text")
    .addColumn("tx_id", "text")
    .addColumn("network_fee", "text")
    .addColumn("confirmations", "integer", (c) => c.notNull())
    .addColumn("reason", "text")
    .addColumn("requested_ms", "bigint", (c) => c.notNull())
    .addColumn("updated_ms", "bigint", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("custody_withdrawals_by_user")
    .on("custody_withdrawals")
    .columns(["user_id", "withdrawal_id"])
    .execute();
  await db.schema
    .createIndex("custody_withdrawals_by_step")
    .on("custody_withdrawals")
    .columns(["step", "withdrawal_id"])
    .execute();
  await db.schema
    .createTable("custody_withdrawal_steps")
    .addColumn("withdrawal_id", "bigint", (c) => c.notNull())
    .addColumn("step_index", "integer", (c) => c.notNull())
    .addColumn("step", "text", (c) => c.notNull())
    .addColumn("at_ms", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("custody_withdrawal_steps_pk", ["withdrawal_id", "step_index"])
    .execute();
}

// Incidents and their timelines (issue 8 §3): written by the incident service, every entry also
// in the audit log. The audit log gets an index by subject, so `incident export` reads an
// incident's rows ("incident:N") without walking the whole chain.
function incidentMigration(engine: StoreEngine): Migration {
  return {
    up: async (db) => {
      await db.schema
        .createTable("incidents")
        .addColumn("incident_id", "integer", userIdColumn(engine))
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("chain", "text")
        .addColumn("title", "text", (c) => c.notNull())
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("open_key", "text", (c) => c.unique())
        .addColumn("opened_ms", "bigint", (c) => c.notNull())
        .addColumn("resolved_ms", "bigint")
        .addColumn("entry_count", "integer", (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("incidents_by_status")
        .on("incidents")
        .columns(["status", "incident_id"])
        .execute();
      await db.schema
        .createTable("incident_entries")
        .addColumn("incident_id", "integer", (c) => c.notNull())
        .addColumn("entry", "integer", (c) => c.notNull())
        .addColumn("type", "text", (c) => c.notNull())
        .addColumn("at_ms", "bigint", (c) => c.notNull())
        .addColumn("actor", "text", (c) => c.notNull())
        .addColumn("message", "text", (c) => c.notNull())
        .addColumn("detail_json", "text", (c) => c.notNull())
        .addPrimaryKeyConstraint("incident_entries_pk", ["incident_id", "entry"])
        .execute();
      await db.schema
        .createIndex("audit_log_by_subject")
        .on("audit_log")
        .columns(["subject", "seq"])
        .execute();
    },
  };
}

// People's browser sessions (issue 9 §1): only a SHA-256 of each session id is stored, so a read of
// this table cannot be replayed as a cookie. Sessions end at expires_ms (absolute), after an idle
// gap (checked against last_seen_ms by the caller), or when revoked.
async function createSessionTables(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("user_sessions")
    .addColumn("session_hash", "text", (c) => c.primaryKey())
    .addColumn("user_id", "integer", (c) => c.notNull().references("users.id"))
    .addColumn("created_ms", "bigint", (c) => c.notNull())
    .addColumn("last_seen_ms", "bigint", (c) => c.notNull())
    .addColumn("expires_ms", "bigint", (c) => c.notNull())
    .addColumn("revoked_ms", "bigint")
    .addColumn("client_ip", "text", (c) => c.notNull())
    .addColumn("user_agent", "text", (c) => c.notNull())
    .addColumn("second_factor", "integer", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("user_sessions_by_user")
    .on("user_sessions")
    .columns(["user_id", "created_ms"])
    .execute();
}

// Operator console accounts and their sessions (issue 9 §3): people who operate the exchange,
// apart from its users (another table, another cookie, a role each). Like user_sessions, only a
// SHA-256 of each console session id is stored. An operator is never deleted, only disabled, so
// the audit log's "console:<email>" actors keep naming someone.
function operatorMigration(engine: StoreEngine): Migration {
  return {
    up: async (db) => {
      await db.schema
        .createTable("operator_accounts")
        .addColumn("operator_id", "integer", userIdColumn(engine))
        .addColumn("email", "text", (c) => c.notNull().unique())
        .addColumn("password_hash", "text", (c) => c.notNull())
        .addColumn("role", "text", (c) => c.notNull())
        .addColumn("created_ms", "bigint", (c) => c.notNull())
        .addColumn("disabled_ms", "bigint")
        .execute();
      await db.schema
        .createTable("operator_sessions")
        .addColumn("session_hash", "text", (c) => c.primaryKey())
        .addColumn("operator_id", "integer", (c) => c.notNull().references("operator_accounts.operator_id"))
        .addColumn("created_ms", "bigint", (c) => c.notNull())
        .addColumn("last_seen_ms", "bigint", (c) => c.notNull())
        .addColumn("expires_ms", "bigint", (c) => c.notNull())
        .addColumn("revoked_ms", "bigint")
        .addColumn("client_ip", "text", (c) => c.notNull())
        .addColumn("user_agent", "text", (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("operator_sessions_by_operator")
        .on("operator_sessions")
        .columns(["operator_id", "created_ms"])
        .execute();
    },
  };
}

// A second factor for console operators (TOTP, like users'): the secret sealed with the server's
// SecretBox, pending until a first code confirms it, and the last time step a code was accepted
// for, so each code works once. Columns of operator_accounts (one secret per operator); SQLite
// adds one column per ALTER, so three statements on both engines.
async function addOperatorTotpColumns(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("operator_accounts").addColumn("totp_secret_sealed", "text").execute();
  await db.schema.alterTable("operator_accounts").addColumn("totp_status", "text").execute();
  await db.schema.alterTable("operator_accounts").addColumn("totp_last_used_step", "bigint").execute();
}

// What an order was asked to do besides its numbers, for the Binance dialect (issue 11): the
// client's text id, its time in force, post-only. Orders placed before carry the defaults (EXMO
// orders: GTC unless IOC/FOK, which never rest, so the old rows' default is right for open ones).
async function addOrderRequestColumns(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("orders").addColumn("client_order_text", "text").execute();
  await db.schema
    .alterTable("orders")
    .addColumn("time_in_force", "text", (c) => c.notNull().defaultTo("gtc"))
    .execute();
  await db.schema
    .alterTable("orders")
    .addColumn("post_only", "integer", (c) => c.notNull().defaultTo(0))
    .execute();
  // The Binance dialect's reads: allOrders (a user's orders in one market by id) and an order by
  // its client id.
  await db.schema
    .createIndex("orders_by_user_market")
    .on("orders")
    .columns(["user_id", "market_id", "order_id"])
    .execute();
  await db.schema
    .createIndex("orders_by_user_client_id")
    .on("orders")
    .columns(["user_id", "client_order_id"])
    .execute();
}

/** Migrations by name; the Migrator runs them in name order. */
export function storeMigrations(engine: StoreEngine): Record<string, Migration> {
  return {
    "0001_initial": initialMigration(engine),
    "0002_wallet_projection": { up: createWalletTables },
    "0003_custody_and_security": { up: createCustodyAndSecurityTables },
    "0004_withdrawal_pipeline": { up: createWithdrawalPipelineTables },
    "0005_incidents": incidentMigration(engine),
    "0006_sessions": { up: createSessionTables },
    "0007_operators": operatorMigration(engine),
    "0008_operator_totp": { up: addOperatorTotpColumns },
    "0009_order_request_columns": { up: addOrderRequestColumns },
  };
}

export function storeMigrationProvider(engine: StoreEngine): MigrationProvider {
  return { getMigrations: async () => storeMigrations(engine) };
}
