// EXMO v1.1 wallet endpoints (docs/API.md#wallet-endpoints). deposit_address and withdraw_crypt
// go to custody through its port (src/custody/port.ts); without custody (null) they validate, then
// answer 59014. The reads (wallet_history, wallet_operations, withdraw_get_txid) come from the
// store's projection of custody's core commands (creditDeposit, holdWithdrawal, settleWithdrawal,
// releaseWithdrawal), after the caller's own writes are projected, a withdrawal requested here
// included.

import { z } from "zod";
import type { AssetConfig } from "../../core/config.ts";
import { CustodyError, type CustodyPort, type WithdrawalView } from "../../custody/port.ts";
import { type ExchangeBoundary, STORE_LIMITS } from "../../exchange/boundary.ts";
import { parseDecimal } from "../../units/decimal.ts";
import { CUSTODY_ERRORS } from "./errors.ts";
import { formatWalletHistoryRow, formatWalletOperation, walletOrderId } from "./format.ts";
import { optionalInteger, parseInteger } from "./parse.ts";
import type { PrivateRouteContext } from "./private-routes.ts";
import { providerName, transportMatches } from "./providers.ts";
import { type CallerIdentity, ExmoFailure, type ExmoRoute, privateRoute, text } from "./route.ts";
import type { WalletOperationKind, WalletOperationRecord } from "./wallet-types.ts";
import type { WriteWatermarks } from "./write-watermarks.ts";

const ID_TEXT = 16;
const DECIMAL_TEXT = 40;
/** Withdrawal addresses: printable ASCII without spaces or commas (the memo separator). */
export const WITHDRAWAL_ADDRESS = /^[\x21-\x2b\x2d-\x7e]{1,128}$/;
/** wallet_operations pages: EXMO's default and maximum are both 100. */
const OPERATIONS_PAGE = 100;
const DAY_SECONDS = 86_400;
/** wallet_history's `date`: Unix seconds up to 2100-01-01 (later days are empty anyway). */
const MAX_HISTORY_DATE = 4_102_444_800;
/** Rows of one wallet_history day; beyond it the newest are shown (docs/API.md#wallet-endpoints). */
const HISTORY_DAY_LIMIT = 1_000;
/** Rows read per step when looking a deposit up by its order_id (newest first). */
const LOOKUP_PAGE = 1_000;

async function viewFor(context: PrivateRouteContext, userId: number): Promise<void> {
  await context.exchange.whenProjected(context.watermarks.sequenceFor(userId));
}

/** Runs a custody call; a CustodyError becomes its row of the errors table (CUSTODY_ERRORS). */
export async function custodyCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (!(error instanceof CustodyError)) throw error;
    const mapped = CUSTODY_ERRORS[error.code];
    throw new ExmoFailure(mapped.kind, mapped.detail ?? error.detail);
  }
}

/**
 * withdraw_crypt's amount, checked against the currency's decimals before custody sees it:
 * not a positive decimal → 59001, too many decimals → 50381, beyond any limit → 59025.
 */
function withdrawalAmount(text: string, asset: AssetConfig): void {
  const amount = parseDecimal(text, asset.scale);
  if (amount.ok && amount.value > 0) return;
  if (!amount.ok && amount.failure === "tooPrecise")
    throw new ExmoFailure("amountTooPrecise", `${asset.code} has ${asset.scale} decimals`);
  if (!amount.ok && amount.failure === "tooLarge") throw new ExmoFailure("aboveWithdrawalLimit");
  throw new ExmoFailure("invalidParameter", "amount");
}

/** The caller's deposit addresses: every currency whose wallet is ready, or just `currency`. */
export async function depositAddresses(
  custody: CustodyPort,
  userId: number,
  currency: AssetConfig | undefined,
): Promise<Record<string, string>> {
  const codes =
    currency !== undefined
      ? [currency.code]
      : [...new Set(custody.terms().flatMap((terms) => (terms.depositEnabled ? [terms.currency] : [])))];
  const result: Record<string, string> = {};
  for (const code of codes) {
    // No currency served here has a memo, so no ",<tag>" after the address.
    const found = await custodyCall(() => custody.depositAddress(userId, code));
    result[code] = found.address;
  }
  return result;
}

/** What a withdrawal request needs of its dialect's context (EXMO's PrivateRouteContext, Binance's). */
export interface WalletWriteContext {
  exchange: ExchangeBoundary;
  custody: CustodyPort | null;
  /** The caller's next read waits until the hold is projected (absent: reads do not wait). */
  watermarks?: WriteWatermarks;
}

/** A withdrawal as a dialect received it, its fields as sent (decimal text, network name, memo). */
export interface WithdrawalInput {
  currency: string;
  amount: string;
  address: string;
  /** The network the client names (EXMO's transport, Binance's network); absent: the currency's. */
  network?: string;
  /** A memo / tag (EXMO's invoice, Binance's addressTag): no currency served here takes one. */
  memo?: string;
}

/** The caller as custody's proof needs it (an API key from its address, or the session's TOTP). */
export type WithdrawalCaller = Pick<CallerIdentity, "userId" | "keyId" | "clientIp" | "withdrawalProof">;

/**
 * withdraw_crypt's pipeline, shared by every dialect (Binance's withdraw/apply too): currency,
 * amount against its decimals, custody connected, network, memo, then custody's own checks
 * (address book, limits, breaker, key and IP, balance) in requestWithdrawal. Every refusal is an
 * ExmoFailure of EXMO's table and changes nothing; a dialect maps it to its own codes.
 */
export async function requestCustodyWithdrawal(
  context: WalletWriteContext,
  caller: WithdrawalCaller,
  input: WithdrawalInput,
): Promise<WithdrawalView> {
  const { exchange, custody } = context;
  const asset = exchange.assetByCode(input.currency);
  if (asset === undefined) throw new ExmoFailure("unknownAsset", input.currency);
  withdrawalAmount(input.amount, asset);
  if (custody === null) throw new ExmoFailure("walletNotAvailable");
  const terms = custody.terms().find((entry) => entry.currency === asset.code);
  if (terms !== undefined && input.network !== undefined && !transportMatches(custody, terms, input.network))
    throw new ExmoFailure("networkNotSupported", `${asset.code} is withdrawn on ${terms.network}`);
  if (input.memo !== undefined) throw new ExmoFailure("memoNotSupported", asset.code);
  const view = await custodyCall(() =>
    custody.requestWithdrawal({
      userId: caller.userId,
      currency: asset.code,
      amount: input.amount,
      address: input.address,
      proof: caller.withdrawalProof ?? { kind: "apiKey", keyId: caller.keyId, clientIp: caller.clientIp },
    }),
  );
  // Custody submitted the hold itself; the caller's next read waits until it is projected.
  context.watermarks?.record(caller.userId, exchange.status().acknowledgedSequence);
  return view;
}

/**
 * The caller's deposit whose operation id is `operationId`: the list is newest first by operation
 * id, so the scan stops at the first older one (bounded by STORE_LIMITS.maxOffset).
 */
async function depositByOperationId(
  exchange: ExchangeBoundary,
  userId: number,
  operationId: number,
  assetId: number | undefined,
): Promise<WalletOperationRecord | undefined> {
  for (let offset = 0; offset <= STORE_LIMITS.maxOffset; offset += LOOKUP_PAGE) {
    const rows = await exchange.reads.walletOperationsOfUser(userId, {
      kind: "deposit",
      assetId,
      offset,
      limit: LOOKUP_PAGE,
    });
    for (const row of rows) {
      if (row.operationId === operationId) return row;
      if (row.operationId < operationId) return undefined;
    }
    if (rows.length < LOOKUP_PAGE) return undefined;
  }
  return undefined;
}

/** wallet_operations with `order_id`: at most one deposit and one withdrawal of the caller. */
async function operationsByOrderId(
  exchange: ExchangeBoundary,
  userId: number,
  orderId: number,
  kind: WalletOperationKind | undefined,
  assetId: number | undefined,
): Promise<WalletOperationRecord[]> {
  const found: WalletOperationRecord[] = [];
  if (kind !== "deposit") {
    const withdrawal = await exchange.reads.withdrawal(orderId);
    if (withdrawal !== undefined && withdrawal.userId === userId) found.push(withdrawal);
  }
  if (kind !== "withdrawal") {
    const deposit = await depositByOperationId(exchange, userId, orderId, assetId);
    if (deposit !== undefined) found.push(deposit);
  }
  return found
    .filter((operation) => assetId === undefined || operation.assetId === assetId)
    .filter((operation) => walletOrderId(operation) === orderId)
    .sort((a, b) => b.operationId - a.operationId);
}

export function walletRoutes(context: PrivateRouteContext): ExmoRoute[] {
  const { exchange, custody } = context;
  const reads = exchange.reads;
  const requireCurrency = (code: string): AssetConfig => {
    const asset = exchange.assetByCode(code);
    if (asset === undefined) throw new ExmoFailure("unknownAsset", code);
    return asset;
  };
  const knownCurrency = (code: string | undefined) =>
    code === undefined ? undefined : requireCurrency(code);
  const assetOf = (operation: WalletOperationRecord) => {
    const asset = exchange.asset(operation.assetId);
    if (asset === undefined) throw new ExmoFailure("internalError", `unknown asset ${operation.assetId}`);
    return asset;
  };
  const requireCustody = (): CustodyPort => {
    if (custody === null) throw new ExmoFailure("walletNotAvailable");
    return custody;
  };
  /** wallet_operations' `provider` filter: a provider name (the network) or, as before, a currency code. */
  const providerAsset = (provider: string | undefined) => {
    if (provider === undefined) return undefined;
    const byNetwork = exchange.assets().find((asset) => providerName(custody, asset.code) === provider);
    const asset = byNetwork ?? exchange.assetByCode(provider);
    if (asset === undefined) throw new ExmoFailure("invalidParameter", "provider");
    return asset;
  };
  return [
    privateRoute({
      path: "deposit_address",
      summary:
        "The caller's deposit address of every currency whose wallet is ready, keyed by currency " +
        "(optional currency: that one only)",
      scope: "info",
      priority: "privateRead",
      params: z.object({ currency: text(16).optional() }),
      handle: (params, caller) => {
        const currency = knownCurrency(params.currency);
        return depositAddresses(requireCustody(), caller.userId, currency);
      },
    }),
    privateRoute({
      path: "withdraw_crypt",
      summary:
        "Withdraw to an active address of the caller's address book (withdraw-scoped key from an " +
        "allowed IP); task_id is the withdrawal's id",
      scope: "withdraw",
      priority: "orderEntry",
      params: z.object({
        amount: text(DECIMAL_TEXT),
        currency: text(16),
        address: text(128).regex(WITHDRAWAL_ADDRESS),
        invoice: text(128).optional(),
        transport: text(32).optional(),
      }),
      handle: async (params, caller) => {
        const view = await requestCustodyWithdrawal(context, caller, {
          currency: params.currency,
          amount: params.amount,
          address: params.address,
          ...(params.transport === undefined ? {} : { network: params.transport }),
          ...(params.invoice === undefined ? {} : { memo: params.invoice }),
        });
        return { result: true, error: "", task_id: view.withdrawalId };
      },
    }),
    privateRoute({
      path: "withdraw_get_txid",
      summary: "Transaction id of one of the caller's withdrawals (task_id: withdraw_crypt's id)",
      scope: "withdraw",
      priority: "privateRead",
      params: z.object({ task_id: text(ID_TEXT) }),
      handle: async (params, caller) => {
        const taskId = parseInteger("task_id", params.task_id, 1, Number.MAX_SAFE_INTEGER);
        await viewFor(context, caller.userId);
        const withdrawal = await reads.withdrawal(taskId);
        if (withdrawal === undefined || withdrawal.userId !== caller.userId)
          throw new ExmoFailure("withdrawalNotFound", String(taskId));
        return { result: true, error: "", status: withdrawal.txId !== null, txid: withdrawal.txId ?? "" };
      },
    }),
    privateRoute({
      path: "wallet_history",
      summary: "The caller's deposits and withdrawals of one UTC day (date: Unix seconds, default today)",
      scope: "info",
      priority: "privateRead",
      params: z.object({ date: text(ID_TEXT).optional() }),
      handle: async (params, caller) => {
        const date = optionalInteger("date", params.date, Math.floor(Date.now() / 1000), 0, MAX_HISTORY_DATE);
        const begin = date - (date % DAY_SECONDS);
        const end = begin + DAY_SECONDS;
        await viewFor(context, caller.userId);
        const rows = await reads.walletHistoryOfUser(caller.userId, {
          fromMs: begin * 1000,
          toMs: end * 1000,
          limit: HISTORY_DAY_LIMIT,
        });
        return {
          result: true,
          error: "",
          begin: String(begin),
          end: String(end),
          history: rows.map((row) => {
            const asset = assetOf(row);
            return formatWalletHistoryRow(row, asset, providerName(custody, asset.code));
          }),
        };
      },
    }),
    privateRoute({
      path: "wallet_operations",
      summary: "The caller's deposits and withdrawals, newest first (filters: type, currency, order_id)",
      scope: "info",
      priority: "privateRead",
      params: z.object({
        type: z.enum(["deposit", "withdraw"]).optional(),
        currency: text(16).optional(),
        provider: text(32).optional(),
        order_id: text(ID_TEXT).optional(),
        limit: text(8).optional(),
        offset: text(8).optional(),
      }),
      handle: async (params, caller) => {
        const currency = knownCurrency(params.currency);
        const provider = providerAsset(params.provider);
        const limit = optionalInteger("limit", params.limit, OPERATIONS_PAGE, 1, OPERATIONS_PAGE);
        const offset = optionalInteger("offset", params.offset, 0, 0, STORE_LIMITS.maxOffset);
        const orderId =
          params.order_id === undefined
            ? undefined
            : parseInteger("order_id", params.order_id, 1, Number.MAX_SAFE_INTEGER);
        const kind: WalletOperationKind | undefined =
          params.type === undefined ? undefined : params.type === "deposit" ? "deposit" : "withdrawal";
        if (currency !== undefined && provider !== undefined && currency.assetId !== provider.assetId)
          return { items: [], count: 0 };
        const assetId = (currency ?? provider)?.assetId;
        await viewFor(context, caller.userId);
        const rows =
          orderId === undefined
            ? await reads.walletOperationsOfUser(caller.userId, { kind, assetId, offset, limit })
            : (await operationsByOrderId(exchange, caller.userId, orderId, kind, assetId)).slice(
                offset,
                offset + limit,
              );
        const items = rows.map((row) => {
          const asset = assetOf(row);
          return formatWalletOperation(row, asset, providerName(custody, asset.code));
        });
        return { items, count: items.length };
      },
    }),
  ];
}
