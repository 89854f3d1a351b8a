// What the wallet page reads and writes: the public terms of every currency (fees, limits,
// confirmations: docs/API.md §9), the private EXMO wallet methods through the session door (§10-11)
// and the session API's address book. Amounts stay decimal strings throughout.
import { ApiError, privateCall, sessionGet, sessionPost } from "../session.ts";

/** Most wallet operations the page lists (wallet_operations' own page size is 100). */
export const OPERATIONS_SHOWN = 50;
/** Longest public answer read (the providers list is a few KB). */
const MAX_PUBLIC_ANSWER_CHARS = 512 * 1024;

/** One provider of payments/providers/crypto/list (docs/API.md §9). */
export interface Provider {
  type: "deposit" | "withdraw";
  name: string;
  currency_name: string;
  min: string;
  max: string;
  enabled: boolean;
  comment: string;
  commission_desc: string;
  currency_confirmations: number;
}

/** A currency's terms as the page uses them: deposit and withdrawal sides, the fee as a decimal. */
export interface CurrencyTerms {
  currency: string;
  network: string;
  depositEnabled: boolean;
  depositMin: string;
  withdrawEnabled: boolean;
  withdrawMin: string;
  withdrawMax: string;
  /** The flat withdrawal fee in whole coins, part of the amount; null when unknown ("-"). */
  withdrawFee: string | null;
  confirmations: number;
  depositComment: string;
  withdrawComment: string;
}

/** "0.0005 BTC" → "0.0005"; "-" or anything else → null. */
export function feeOf(commissionDesc: string): string | null {
  const match = /^(\d{1,40}(?:\.\d{1,40})?) [A-Z0-9]{1,16}$/.exec(commissionDesc);
  return match === null ? null : match[1];
}

export async function fetchCurrencyTerms(): Promise<CurrencyTerms[]> {
  const response = await fetch("/v1.1/payments/providers/crypto/list", {
    headers: { accept: "application/json" },
  });
  const text = await response.text();
  if (!response.ok || text.length > MAX_PUBLIC_ANSWER_CHARS)
    throw new ApiError(
      response.status,
      "http_error",
      `the currency list could not be read (HTTP ${response.status})`,
    );
  let body: Record<string, Provider[]>;
  try {
    body = JSON.parse(text) as Record<string, Provider[]>;
  } catch {
    throw new ApiError(response.status, "bad_answer", "the currency list could not be read");
  }
  const terms: CurrencyTerms[] = [];
  for (const [currency, providers] of Object.entries(body)) {
    if (!Array.isArray(providers)) continue;
    const deposit = providers.find((provider) => provider.type === "deposit");
    const withdraw = providers.find((provider) => provider.type === "withdraw");
    if (deposit === undefined || withdraw === undefined) continue;
    terms.push({
      currency,
      network: withdraw.name,
      depositEnabled: deposit.enabled,
      depositMin: deposit.min,
      withdrawEnabled: withdraw.enabled,
      withdrawMin: withdraw.min,
      withdrawMax: withdraw.max,
      withdrawFee: feeOf(withdraw.commission_desc),
      confirmations: withdraw.currency_confirmations,
      depositComment: deposit.comment,
      withdrawComment: withdraw.comment,
    });
  }
  return terms.sort((a, b) => a.currency.localeCompare(b.currency));
}

export interface UserInfo {
  balances: Record<string, string>;
  reserved: Record<string, string>;
}

export const fetchUserInfo = () => privateCall<UserInfo>("user_info");

export async function fetchDepositAddress(currency: string): Promise<string> {
  const answer = await privateCall<Record<string, string>>("deposit_address", { currency });
  const address = answer[currency];
  if (typeof address !== "string" || address === "")
    throw new ApiError(200, "bad_answer", `no ${currency} deposit address in the answer`);
  return address;
}

/** A wallet_operations item (docs/API.md §11); `amount` is net of `commission` for withdrawals. */
export interface WalletOperation {
  operation_id: number;
  created: number;
  updated: number;
  type: "deposit" | "withdraw";
  currency: string;
  status: "Paid" | "Processing" | "Canceled";
  amount: string;
  commission: string;
  crypto_address: string;
  order_id: number;
  extra: { txid: string; confirmations: number | null };
  error: string;
}

export async function fetchOperations(): Promise<WalletOperation[]> {
  const answer = await privateCall<{ items: WalletOperation[] }>("wallet_operations", {
    limit: String(OPERATIONS_SHOWN),
  });
  return Array.isArray(answer.items) ? answer.items.slice(0, OPERATIONS_SHOWN) : [];
}

export function withdraw(params: {
  currency: string;
  address: string;
  amount: string;
  totp: string;
}): Promise<{ task_id: number }> {
  return privateCall<{ task_id: number }>("withdraw_crypt", params);
}

/** An address-book entry (session API: GET /addresses). */
export interface AddressEntry {
  currency: string;
  address: string;
  label: string;
  createdMs: number;
  activeFromMs: number;
  active: boolean;
}

export async function fetchAddresses(): Promise<AddressEntry[]> {
  const answer = await sessionGet<{ addresses: AddressEntry[] }>("/addresses");
  return Array.isArray(answer.addresses) ? answer.addresses : [];
}

export function addAddress(entry: { currency: string; address: string; label: string; totp?: string }) {
  return sessionPost<unknown>("/addresses/add", entry);
}

export function removeAddress(entry: { currency: string; address: string }) {
  return sessionPost<unknown>("/addresses/remove", entry);
}

/** A message for the person from anything thrown. */
export function errorText(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error) return error.message;
  return "something went wrong";
}

/** A deposit seen on chain and not yet credited (session API: GET /deposits/pending). */
export interface PendingDeposit {
  currency: string;
  chain: string;
  txId: string;
  outputIndex: number;
  /** Whole coins, what will be credited. */
  amount: string;
  confirmations: number;
  confirmationsNeeded: number;
  blockHeight: number;
  seenMs: number;
}

/** Most pending deposits the page reads (the server's own cap is 50). */
export const PENDING_DEPOSITS_SHOWN = 50;

export async function fetchPendingDeposits(): Promise<PendingDeposit[]> {
  const answer = await sessionGet<{ deposits: PendingDeposit[] }>(
    `/deposits/pending?limit=${PENDING_DEPOSITS_SHOWN}`,
  );
  return Array.isArray(answer.deposits) ? answer.deposits.slice(0, PENDING_DEPOSITS_SHOWN) : [];
}

/** Custody's steps of a withdrawal, in order (src/custody/port.ts WITHDRAWAL_STEPS). */
export type CustodyStep =
  | "requested"
  | "held"
  | "awaitingApproval"
  | "approved"
  | "signing"
  | "signed"
  | "broadcast"
  | "confirmed"
  | "settled"
  | "rejected"
  | "failed"
  | "stuck";

/** A withdrawal with its custody steps (session API: GET /withdrawals). */
export interface CustodyWithdrawal {
  id: number;
  currency: string;
  amount: string;
  fee: string;
  address: string;
  step: CustodyStep;
  approvals: number;
  approvalsNeeded: number;
  txId: string | null;
  confirmations: number;
  confirmationsNeeded: number | null;
  reason: string | null;
  requestedMs: number;
  history: { step: CustodyStep; atMs: number }[];
}

/** Withdrawals whose steps the page reads: as many as the history lists (the server allows 50). */
export const WITHDRAWALS_SHOWN = OPERATIONS_SHOWN;

export async function fetchWithdrawals(): Promise<CustodyWithdrawal[]> {
  const answer = await sessionGet<{ withdrawals: CustodyWithdrawal[] }>(
    `/withdrawals?limit=${WITHDRAWALS_SHOWN}`,
  );
  return Array.isArray(answer.withdrawals) ? answer.withdrawals.slice(0, WITHDRAWALS_SHOWN) : [];
}
