// Binance's wallet endpoints (docs/API.md §17, Wallet): deposit address, withdraw/apply, the
// deposit and withdrawal histories and the trade fees, as a stock ccxt 4.5.84 binance calls them
// (fetchDepositAddress, withdraw, fetchDeposits, fetchWithdrawals, fetchTradingFee(s)).
//
// The writes run EXMO's pipeline (exmo/wallet-routes.ts requestCustodyWithdrawal, depositAddresses):
// the same checks in the same order, then custody's own (address book, limits, breaker, key and
// IP, balance). Their refusals are EXMO-table kinds, answered here through the one mapping
// (errors.ts binanceFailureOfExmo). withdraw/apply is a signed write, accepted once per signature
// (mount.ts replay guard): that replaces EXMO's journaled nonce, so nothing is journaled here.
// The histories read the store's projection of custody's core commands, as EXMO's wallet reads do,
// after the caller's own last write is projected; deposit/hisrec also lists the deposits custody's
// watchers have seen and not yet credited (Binance's status 0), which EXMO's wallet_operations does not.

import type { AssetConfig } from "../../core/config.ts";
import { MAX_PENDING_DEPOSITS_SHOWN, type PendingDepositView } from "../../custody/port.ts";
import { type ExchangeBoundary, STORE_LIMITS } from "../../exchange/boundary.ts";
import { formatUnits, parseDecimal } from "../../units/decimal.ts";
import { providerName, transportMatches } from "../exmo/providers.ts";
import { ExmoFailure } from "../exmo/route.ts";
import { depositAddresses, requestCustodyWithdrawal, WITHDRAWAL_ADDRESS } from "../exmo/wallet-routes.ts";
import type { WalletOperationKind, WalletOperationRecord } from "../exmo/wallet-types.ts";
import type { BinanceCaller } from "./auth.ts";
import { BinanceFailure, binanceFailureOfExmo } from "./errors.ts";
import { binanceSymbol } from "./format.ts";
import { type BinanceSignedContext, type BinanceSignedRoute, fixedDecimal } from "./signed-routes.ts";

const COIN_TEXT = /^[A-Z0-9]{1,16}$/;
const NETWORK_TEXT = /^[A-Za-z0-9_-]{1,32}$/;
const DECIMAL_TEXT_LENGTH = 40;
const TX_ID_TEXT_LENGTH = 128;
/** Binance's history pages: default and maximum 1,000 rows. */
const HISTORY_PAGE = 1_000;
/** Binance's histories cover at most 90 days per request (default: the last 90). */
const HISTORY_WINDOW_MS = 90 * 86_400_000;
/** Rows read from the store per step while scanning a history newest first. */
const SCAN_PAGE = 1_000;
/** withdraw/history's idList: at most 45 ids, as on Binance. */
const MAX_ID_LIST = 45;
const MAX_TIME_MS = 8_640_000_000_000_000;
/** Fees are integers of parts per million: Binance writes them as fractions (2000 ppm → "0.002"). */
const PPM_SCALE = 6;

/**
 * Binance's deposit statuses (capital/deposit/hisrec): a projected deposit is credited (1); one
 * custody's watcher has seen on chain, still short of its confirmations, is pending (0).
 */
const DEPOSIT_SUCCESS = 1;
const DEPOSIT_PENDING = 0;
/**
 * Binance's withdrawal statuses (capital/withdraw/history) for the store's three: held is
 * Processing (4), settled Completed (6), released (rejected or failed; the hold given back)
 * Cancelled (1), which ccxt reads as "canceled", as it does EXMO's "Canceled" for the same row.
 */
const WITHDRAWAL_STATUS = { held: 4, settled: 6, released: 1 } as const;

type Params = Readonly<Record<string, string>>;

function illegal(name: string, legalRange: string): BinanceFailure {
  return new BinanceFailure(
    "illegalChars",
    name,
    `Illegal characters found in parameter '${name}'; legal range is '${legalRange}'.`,
  );
}

/** A present, non-empty parameter matching `pattern` (its text in -1100's message). */
function required(params: Params, name: string, pattern: RegExp, legalRange: string): string {
  const value = params[name];
  if (value === undefined || value === "") throw new BinanceFailure("mandatoryParamMissing", name);
  if (!pattern.test(value)) throw illegal(name, legalRange);
  return value;
}

function optional(params: Params, name: string, pattern: RegExp, legalRange: string): string | undefined {
  const value = params[name];
  if (value === undefined || value === "") return undefined;
  if (!pattern.test(value)) throw illegal(name, legalRange);
  return value;
}

function optionalInt(params: Params, name: string, min: number, max: number): number | undefined {
  const value = params[name];
  if (value === undefined || value === "") return undefined;
  if (!/^[0-9]{1,16}$/.test(value)) throw illegal(name, "^[0-9]{1,16}$");
  const parsed = Number(value);
  if (parsed < min || parsed > max) throw illegal(name, `${min}..${max}`);
  return parsed;
}

/** Runs a shared (EXMO) pipeline step; its refusal becomes Binance's through the one mapping. */
async function asBinance<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof ExmoFailure) throw binanceFailureOfExmo(error.kind, error.detail);
    throw error;
  }
}

/** Binance's `applyTime`: "YYYY-MM-DD HH:MM:SS", UTC. */
function utcText(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace("T", " ");
}

interface HistoryQuery {
  assetId: number | undefined;
  fromMs: number;
  toMs: number;
  offset: number;
  limit: number;
}

/** coin, startTime/endTime (≤ 90 days apart; default the last 90 days), offset, limit. */
function historyQuery(exchange: ExchangeBoundary, params: Params, nowMs: number): HistoryQuery {
  const coin = optional(params, "coin", COIN_TEXT, "^[A-Z0-9]{1,16}$");
  const asset = coin === undefined ? undefined : exchange.assetByCode(coin);
  if (coin !== undefined && asset === undefined) throw new BinanceFailure("unknownCoin");
  const start = optionalInt(params, "startTime", 0, MAX_TIME_MS);
  const end = optionalInt(params, "endTime", 0, MAX_TIME_MS);
  const toMs = end ?? (start === undefined ? nowMs : Math.min(nowMs, start + HISTORY_WINDOW_MS));
  const fromMs = start ?? Math.max(0, toMs - HISTORY_WINDOW_MS);
  if (fromMs > toMs || toMs - fromMs > HISTORY_WINDOW_MS) throw new BinanceFailure("timeRangeTooLong");
  return {
    assetId: asset?.assetId,
    fromMs,
    toMs,
    offset: optionalInt(params, "offset", 0, STORE_LIMITS.maxOffset) ?? 0,
    limit: optionalInt(params, "limit", 1, HISTORY_PAGE) ?? HISTORY_PAGE,
  };
}

/**
 * The caller's operations of `kind` created in [fromMs, toMs] that `keep` accepts, newest first,
 * `offset` of them skipped, at most `limit`. The store lists them newest first by operation id
 * (creation order), so the scan skips the newer ones and stops at the first older one; it reads
 * at most STORE_LIMITS.maxOffset + SCAN_PAGE rows.
 */
async function scanHistory(
  exchange: ExchangeBoundary,
  userId: number,
  kind: WalletOperationKind,
  query: HistoryQuery,
  keep: (row: WalletOperationRecord) => boolean,
): Promise<WalletOperationRecord[]> {
  const found: WalletOperationRecord[] = [];
  let skipped = 0;
  for (let at = 0; at <= STORE_LIMITS.maxOffset; at += SCAN_PAGE) {
    const rows = await exchange.reads.walletOperationsOfUser(userId, {
      kind,
      ...(query.assetId === undefined ? {} : { assetId: query.assetId }),
      offset: at,
      limit: SCAN_PAGE,
    });
    for (const row of rows) {
      if (row.createdMs < query.fromMs) return found;
      if (row.createdMs > query.toMs || !keep(row)) continue;
      if (skipped < query.offset) {
        skipped += 1;
        continue;
      }
      found.push(row);
      if (found.length >= query.limit) return found;
    }
    if (rows.length < SCAN_PAGE) return found;
  }
  return found;
}

export function binanceWalletRoutes(context: BinanceSignedContext): BinanceSignedRoute[] {
  const { exchange, custody, watermarks, clock } = context;
  const assetOf = (row: WalletOperationRecord): AssetConfig => {
    const asset = exchange.asset(row.assetId);
    if (asset === undefined) throw new BinanceFailure("unknown", `unknown asset ${row.assetId}`);
    return asset;
  };
  const viewFor = async (caller: BinanceCaller) => {
    if (watermarks !== undefined) await exchange.whenProjected(watermarks.sequenceFor(caller.userId));
  };
  /** Deposits custody's watchers hold for the user (in memory, newest first), filtered as `query` asks. */
  const pendingOf = (userId: number, query: HistoryQuery, txId: string | undefined): PendingDepositView[] => {
    const code = query.assetId === undefined ? undefined : exchange.asset(query.assetId)?.code;
    return (custody?.pendingDeposits?.(userId, MAX_PENDING_DEPOSITS_SHOWN) ?? []).filter(
      (deposit) =>
        (code === undefined || deposit.currency === code) &&
        deposit.seenMs >= query.fromMs &&
        deposit.seenMs <= query.toMs &&
        (txId === undefined || deposit.txId === txId),
    );
  };
  /** The caller's deposit address per coin, looked up once per answer (it is stable per user). */
  const addressBook = (userId: number) => {
    const found = new Map<string, string>();
    return async (coin: string): Promise<string> => {
      const known = found.get(coin);
      if (known !== undefined || custody === null) return known ?? "";
      const address = await custody
        .depositAddress(userId, coin)
        .then((entry) => entry.address)
        .catch(() => "");
      found.set(coin, address);
      return address;
    };
  };
  return [
    {
      url: "/sapi/v1/capital/deposit/address",
      costPath: "binance:capital/deposit/address",
      scope: "info",
      handle: (params, caller) =>
        asBinance(async () => {
          const coin = required(params, "coin", COIN_TEXT, "^[A-Z0-9]{1,16}$");
          const network = optional(params, "network", NETWORK_TEXT, "^[A-Za-z0-9_-]{1,32}$");
          const asset = exchange.assetByCode(coin);
          if (asset === undefined) throw new ExmoFailure("unknownAsset", coin);
          if (custody === null) throw new ExmoFailure("walletNotAvailable");
          const terms = custody.terms().find((entry) => entry.currency === asset.code);
          if (terms !== undefined && network !== undefined && !transportMatches(custody, terms, network))
            throw new ExmoFailure("networkNotSupported", `${asset.code} is deposited on ${terms.network}`);
          const addresses = await depositAddresses(custody, caller.userId, asset);
          // No coin served here takes a memo (tag), and Bulwark links no block explorer (url).
          return { address: addresses[asset.code] ?? "", coin: asset.code, tag: "", url: "" };
        }),
    },
    {
      method: "POST",
      url: "/sapi/v1/capital/withdraw/apply",
      costPath: "binance:capital/withdraw/apply",
      scope: "withdraw",
      priority: "orderEntry",
      write: true,
      handle: async (params, caller) => {
        const coin = required(params, "coin", COIN_TEXT, "^[A-Z0-9]{1,16}$");
        const address = required(
          params,
          "address",
          WITHDRAWAL_ADDRESS,
          "printable ASCII, no spaces or commas",
        );
        const amount = required(params, "amount", /^.{1,40}$/, `at most ${DECIMAL_TEXT_LENGTH} characters`);
        const network = optional(params, "network", NETWORK_TEXT, "^[A-Za-z0-9_-]{1,32}$");
        // Bulwark keeps no client id for a withdrawal: refused rather than silently dropped, so a
        // client relying on it to deduplicate learns at once (the answer's `id` is the handle).
        if (params.withdrawOrderId !== undefined)
          throw new BinanceFailure("paramNotRequired", "withdrawOrderId");
        // One wallet (spot): walletType 1 (funding) does not exist; no internal transfers.
        if (params.walletType !== undefined && params.walletType !== "0")
          throw new BinanceFailure("invalidParamValue", "walletType");
        if (params.transactionFeeFlag !== undefined && params.transactionFeeFlag !== "false")
          throw new BinanceFailure("invalidParamValue", "transactionFeeFlag");
        const tag = params.addressTag;
        const view = await asBinance(() =>
          requestCustodyWithdrawal(context, caller, {
            currency: coin,
            amount,
            address,
            ...(network === undefined ? {} : { network }),
            ...(tag === undefined || tag === "" ? {} : { memo: tag }),
          }),
        );
        return { id: String(view.withdrawalId) };
      },
    },
    {
      url: "/sapi/v1/capital/deposit/hisrec",
      costPath: "binance:capital/deposit/hisrec",
      scope: "info",
      handle: async (params, caller) => {
        const query = historyQuery(exchange, params, clock());
        const status = optionalInt(params, "status", 0, 8);
        const txId = optional(params, "txId", new RegExp(`^.{1,${TX_ID_TEXT_LENGTH}}$`), "1..128 characters");
        await viewFor(caller);
        // Pending deposits first (they are the newest), then the credited ones; offset and limit
        // run over both. Statuses other than 0 and 1 list none.
        const pending =
          status === undefined || status === DEPOSIT_PENDING ? pendingOf(caller.userId, query, txId) : [];
        const shownPending = pending.slice(query.offset, query.offset + query.limit);
        const creditedQuery = {
          ...query,
          offset: Math.max(0, query.offset - pending.length),
          limit: query.limit - shownPending.length,
        };
        const rows =
          (status !== undefined && status !== DEPOSIT_SUCCESS) || creditedQuery.limit === 0
            ? []
            : await scanHistory(
                exchange,
                caller.userId,
                "deposit",
                creditedQuery,
                (row) => txId === undefined || row.txId === txId,
              );
        const addressOf = addressBook(caller.userId);
        const answer: Record<string, unknown>[] = [];
        for (const deposit of shownPending) {
          const asset = exchange.assetByCode(deposit.currency);
          const units = asset === undefined ? undefined : parseDecimal(deposit.amount, asset.scale);
          answer.push({
            // Not credited yet, so no operation id: the chain's output names it. Once credited it is
            // listed with its operation id (EXMO's order_id); txId is the same in both.
            id: `${deposit.txId}:${deposit.outputIndex}`,
            amount:
              asset !== undefined && units?.ok === true
                ? fixedDecimal(units.value, asset.scale)
                : deposit.amount,
            coin: deposit.currency,
            network: providerName(custody, deposit.currency),
            status: DEPOSIT_PENDING,
            address: await addressOf(deposit.currency),
            addressTag: "",
            txId: deposit.txId,
            insertTime: deposit.seenMs,
            transferType: 0,
            confirmTimes: `${deposit.confirmations}/${deposit.confirmationsNeeded}`,
            unlockConfirm: 0,
            walletType: 0,
          });
        }
        for (const row of rows) {
          const asset = assetOf(row);
          const confirmations =
            custody?.terms().find((entry) => entry.currency === asset.code)?.confirmations ?? 0;
          answer.push({
            id: String(row.operationId),
            amount: fixedDecimal(row.amountUnits, asset.scale),
            coin: asset.code,
            network: providerName(custody, asset.code),
            status: DEPOSIT_SUCCESS,
            address: await addressOf(asset.code),
            addressTag: "",
            txId: row.txId ?? "",
            insertTime: row.createdMs,
            completeTime: row.updatedMs,
            transferType: 0,
            confirmTimes: `${confirmations}/${confirmations}`,
            unlockConfirm: 0,
            walletType: 0,
          });
        }
        return answer;
      },
    },
    {
      url: "/sapi/v1/capital/withdraw/history",
      costPath: "binance:capital/withdraw/history",
      scope: "info",
      handle: async (params, caller) => {
        const query = historyQuery(exchange, params, clock());
        const status = optionalInt(params, "status", 0, 6);
        const idText = optional(
          params,
          "idList",
          /^[0-9]{1,16}(,[0-9]{1,16}){0,44}$/,
          `up to ${MAX_ID_LIST} ids, comma-separated`,
        );
        const ids = idText === undefined ? undefined : new Set(idText.split(","));
        await viewFor(caller);
        // withdraw/apply refuses withdrawOrderId, so no withdrawal has one.
        if (params.withdrawOrderId !== undefined && params.withdrawOrderId !== "") return [];
        const wanted = Object.entries(WITHDRAWAL_STATUS).find(([, code]) => code === status)?.[0];
        if (status !== undefined && wanted === undefined) return [];
        const rows = await scanHistory(
          exchange,
          caller.userId,
          "withdrawal",
          query,
          (row) =>
            (wanted === undefined || row.status === wanted) &&
            (ids === undefined || ids.has(String(row.withdrawalId ?? row.operationId))),
        );
        return rows.map((row) => {
          const asset = assetOf(row);
          const settled = row.status === "settled";
          return {
            id: String(row.withdrawalId ?? row.operationId),
            // What reaches the chain; the fee is part of what the user asked for (EXMO's amount too).
            amount: fixedDecimal(row.amountUnits - row.feeUnits, asset.scale),
            transactionFee: fixedDecimal(row.feeUnits, asset.scale),
            coin: asset.code,
            status: row.status === "credited" ? WITHDRAWAL_STATUS.settled : WITHDRAWAL_STATUS[row.status],
            address: row.destination ?? "",
            txId: row.txId ?? "",
            applyTime: utcText(row.createdMs),
            network: providerName(custody, asset.code),
            transferType: 0,
            info: row.reason ?? "",
            confirmNo: row.confirmations ?? 0,
            walletType: 0,
            ...(settled ? { completeTime: utcText(row.updatedMs) } : {}),
          };
        });
      },
    },
    {
      url: "/sapi/v1/asset/tradeFee",
      costPath: "binance:asset/tradeFee",
      scope: "info",
      handle: async (params) => {
        const symbol = optional(params, "symbol", /^[A-Z0-9-_.]{1,20}$/, "^[A-Z0-9-_.]{1,20}$");
        const markets = exchange
          .markets()
          .filter((market) => symbol === undefined || binanceSymbol(market) === symbol);
        if (symbol !== undefined && markets.length === 0) throw new BinanceFailure("invalidSymbol");
        // Each market's own rates, exact: the ppm integers written as fractions.
        return markets.map((market) => ({
          symbol: binanceSymbol(market),
          makerCommission: formatUnits(market.config.makerFeePpm, PPM_SCALE),
          takerCommission: formatUnits(market.config.takerFeePpm, PPM_SCALE),
        }));
      },
    },
  ];
}
