// The wallet (issue 9): balances per currency (live from the private feed's spot/wallet), a
// currency's deposit address with its QR code, the deposits on their way with their confirmations
// (followed until credited) and those credited, withdrawals to the address book with the fee,
// limits and 2FA code, and each withdrawal's custody steps followed until it settles.
import "./wallet.css";
import { useCallback, useEffect, useRef, useState } from "react";
import { Link } from "../link.tsx";
import { privateFeed, useSession } from "../session.ts";
import { BalancesTable } from "./balances-table.tsx";
import { DepositPanel } from "./deposit-panel.tsx";
import { OperationsList } from "./operations-list.tsx";
import {
  type AddressEntry,
  type CurrencyTerms,
  type CustodyWithdrawal,
  errorText,
  fetchAddresses,
  fetchCurrencyTerms,
  fetchOperations,
  fetchPendingDeposits,
  fetchUserInfo,
  fetchWithdrawals,
  type PendingDeposit,
  type UserInfo,
  type WalletOperation,
} from "./wallet-api.ts";
import { WithdrawPanel } from "./withdraw-panel.tsx";
import { isFinal, isSettledStep } from "./withdrawal-steps.ts";

/**
 * How often deposits to come (once a deposit address is shown) and addresses not yet active are
 * looked at again when nothing is in flight.
 */
const FOLLOW_INTERVAL_MS = 2_000;
/**
 * While something is in flight (a deposit counting confirmations, a withdrawal going through
 * custody's steps, coins likely on their way just after the address was shown): every second, so
 * each confirmation and step shows as it happens.
 */
const IN_FLIGHT_INTERVAL_MS = 1_000;
/** After a deposit address is shown, coins are likely sent at once: followed as in flight this long. */
const JUST_SHOWN_WINDOW_MS = 60_000;
/** An address not yet active is looked at this long after its activation time (not a poll later). */
const ACTIVATION_MARGIN_MS = 100;
/** The shortest wait before a look, whatever the activation times say. */
const MIN_FOLLOW_DELAY_MS = 50;
/** Time the page follows before it stops (an hour); a reload or an action follows again. */
const MAX_FOLLOW_MS = 3_600_000;
/** A burst of balance updates (a trade touches two currencies) reloads the history once. */
const HISTORY_RELOAD_DELAY_MS = 150;

/**
 * The wait before the next look: every second while something is in flight, else every 2 s, and
 * sooner when an address becomes active before that (once its time has passed on this clock but the
 * server says not yet, clocks differ: the in-flight pace then).
 */
function followDelayMs(inFlight: boolean, soonestActivationMs: number | null, nowMs: number): number {
  const paceMs = inFlight ? IN_FLIGHT_INTERVAL_MS : FOLLOW_INTERVAL_MS;
  if (soonestActivationMs === null) return paceMs;
  const untilActiveMs = soonestActivationMs - nowMs + ACTIVATION_MARGIN_MS;
  const waitMs = untilActiveMs > 0 ? untilActiveMs : IN_FLIGHT_INTERVAL_MS;
  return Math.min(paceMs, Math.max(waitMs, MIN_FOLLOW_DELAY_MS));
}

interface WalletUpdate {
  currency?: unknown;
  balance?: unknown;
  reserved?: unknown;
}

function applyWalletFrame(
  info: UserInfo | null,
  event: "snapshot" | "update",
  data: unknown,
): UserInfo | null {
  if (data === null || typeof data !== "object") return info;
  if (event === "snapshot") {
    const snapshot = data as Partial<UserInfo>;
    if (typeof snapshot.balances !== "object" || typeof snapshot.reserved !== "object") return info;
    return { balances: { ...snapshot.balances }, reserved: { ...snapshot.reserved } };
  }
  const update = data as WalletUpdate;
  if (info === null || typeof update.currency !== "string") return info;
  if (typeof update.balance !== "string" || typeof update.reserved !== "string") return info;
  return {
    balances: { ...info.balances, [update.currency]: update.balance },
    reserved: { ...info.reserved, [update.currency]: update.reserved },
  };
}

function Wallet({ totpEnabled }: { totpEnabled: boolean }) {
  const [terms, setTerms] = useState<CurrencyTerms[]>([]);
  const [info, setInfo] = useState<UserInfo | null>(null);
  const [operations, setOperations] = useState<WalletOperation[]>([]);
  const [withdrawals, setWithdrawals] = useState<ReadonlyMap<number, CustodyWithdrawal>>(new Map());
  const [pendingDeposits, setPendingDeposits] = useState<PendingDeposit[]>([]);
  /**
   * When a deposit address was last shown (null: not yet): coins may come, so the page looks for
   * them (bounded like the rest), closely at first.
   */
  const [depositAddressShownMs, setDepositAddressShownMs] = useState<number | null>(null);
  const [addresses, setAddresses] = useState<AddressEntry[]>([]);
  const [selected, setSelected] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  /** Time spent following since the page opened or the person last acted. */
  const [followedMs, setFollowedMs] = useState(0);
  const historyTimer = useRef<ReturnType<typeof setTimeout> | null>(null);

  const reloadOperations = useCallback(async () => {
    // wallet_operations lists them; custody's answer has each withdrawal's steps.
    const [listed, steps] = await Promise.allSettled([fetchOperations(), fetchWithdrawals()]);
    if (listed.status === "fulfilled") setOperations(listed.value);
    else setError(errorText(listed.reason));
    if (steps.status === "fulfilled") setWithdrawals(new Map(steps.value.map((entry) => [entry.id, entry])));
    else setError(errorText(steps.reason));
  }, []);
  const reloadPendingDeposits = useCallback(async () => {
    try {
      setPendingDeposits(await fetchPendingDeposits());
    } catch (failure) {
      setError(errorText(failure));
    }
  }, []);
  const reloadAddresses = useCallback(async () => {
    try {
      setAddresses(await fetchAddresses());
    } catch (failure) {
      setError(errorText(failure));
    }
  }, []);
  const reloadBalances = useCallback(async () => {
    try {
      setInfo(await fetchUserInfo());
    } catch (failure) {
      setError(errorText(failure));
    }
  }, []);

  useEffect(() => {
    let live = true;
    fetchCurrencyTerms()
      .then((list) => {
        if (!live) return;
        setTerms(list);
        setSelected(
          (current) => current ?? (list.find((entry) => entry.depositEnabled) ?? list[0])?.currency ?? null,
        );
      })
      .catch((failure: unknown) => live && setError(errorText(failure)));
    void reloadBalances();
    void reloadOperations();
    void reloadAddresses();
    void reloadPendingDeposits();
    // Balances live; a change (a deposit credited, a withdrawal held or settled) reloads the history.
    const unsubscribe = privateFeed().subscribe("spot/wallet", (event, data) => {
      setInfo((current) => applyWalletFrame(current, event, data));
      if (event === "update" && historyTimer.current === null)
        historyTimer.current = setTimeout(() => {
          historyTimer.current = null;
          void reloadOperations();
          void reloadPendingDeposits();
        }, HISTORY_RELOAD_DELAY_MS);
    });
    return () => {
      live = false;
      unsubscribe();
      if (historyTimer.current !== null) clearTimeout(historyTimer.current);
      historyTimer.current = null;
    };
  }, [reloadBalances, reloadOperations, reloadAddresses, reloadPendingDeposits]);

  const withdrawalsOnTheirWay =
    operations.some((op) => !isFinal(op)) ||
    [...withdrawals.values()].some((entry) => !isSettledStep(entry.step));
  const waitingAddresses = addresses.filter((entry) => !entry.active);
  const addressesWaiting = waitingAddresses.length > 0;
  const soonestActivationMs = addressesWaiting
    ? Math.min(...waitingAddresses.map((entry) => entry.activeFromMs))
    : null;
  const depositsPending = pendingDeposits.length > 0;
  const depositsToFollow = depositsPending || depositAddressShownMs !== null;
  const following =
    (withdrawalsOnTheirWay || addressesWaiting || depositsToFollow) && followedMs < MAX_FOLLOW_MS;

  // biome-ignore lint/correctness/useExhaustiveDependencies: followedMs re-arms the timer after each look.
  useEffect(() => {
    if (!following) return;
    const nowMs = Date.now();
    const justShown = depositAddressShownMs !== null && nowMs - depositAddressShownMs < JUST_SHOWN_WINDOW_MS;
    const inFlight = withdrawalsOnTheirWay || depositsPending || justShown;
    const delayMs = followDelayMs(inFlight, soonestActivationMs, nowMs);
    const timer = setTimeout(() => {
      setFollowedMs((spentMs) => spentMs + delayMs);
      // A hidden tab does not look (its time still counts); it looks again once shown.
      if (document.visibilityState === "hidden") return;
      if (withdrawalsOnTheirWay) {
        void reloadOperations();
        void reloadBalances();
      }
      if (addressesWaiting) void reloadAddresses();
      if (depositsToFollow) void reloadPendingDeposits();
    }, delayMs);
    return () => clearTimeout(timer);
  }, [
    following,
    followedMs,
    withdrawalsOnTheirWay,
    addressesWaiting,
    soonestActivationMs,
    depositsPending,
    depositsToFollow,
    depositAddressShownMs,
    reloadOperations,
    reloadBalances,
    reloadAddresses,
    reloadPendingDeposits,
  ]);

  const onRequested = () => {
    setFollowedMs(0);
    void reloadOperations();
    void reloadBalances();
  };
  const onDepositAddressShown = () => {
    setDepositAddressShownMs(Date.now());
    setFollowedMs(0);
  };
  const onAddressesChanged = () => {
    setFollowedMs(0);
    void reloadAddresses();
  };

  const current = terms.find((entry) => entry.currency === selected);
  return (
    <div className="wallet-page">
      <h1>Wallet</h1>
      {error !== null && (
        <p role="alert" className="error">
          {error}{" "}
          <button type="button" onClick={() => setError(null)}>
            Dismiss
          </button>
        </p>
      )}
      {!totpEnabled && (
        <p className="notice">
          Withdrawals need two-factor authentication: <Link to="/account">enable 2FA</Link>.
        </p>
      )}
      <section className="panel" aria-labelledby="balances-heading">
        <h2 id="balances-heading">Balances</h2>
        <p className="muted">Pick a currency to deposit or withdraw it.</p>
        {info === null ? (
          <p className="empty">Loading balances…</p>
        ) : (
          <BalancesTable info={info} operations={operations} selected={selected} onSelect={setSelected} />
        )}
      </section>
      {current !== undefined && (
        <div className="wallet-grid">
          <DepositPanel
            key={`deposit-${current.currency}`}
            terms={current}
            operations={operations}
            pending={pendingDeposits.filter((deposit) => deposit.currency === current.currency)}
            onAddressShown={onDepositAddressShown}
          />
          <WithdrawPanel
            key={`withdraw-${current.currency}`}
            terms={current}
            available={info?.balances[current.currency] ?? "0"}
            addresses={addresses}
            totpEnabled={totpEnabled}
            onAddressesChanged={onAddressesChanged}
            onRequested={onRequested}
          />
        </div>
      )}
      <OperationsList
        operations={operations}
        withdrawals={withdrawals}
        terms={terms}
        following={following && withdrawalsOnTheirWay}
      />
      {(withdrawalsOnTheirWay || addressesWaiting || depositsToFollow) && followedMs >= MAX_FOLLOW_MS && (
        <p className="muted">Stopped following after an hour: reload the page to see the latest.</p>
      )}
    </div>
  );
}

export function WalletPage() {
  const session = useSession();
  if (session.status === "loading") return <p className="empty">Loading…</p>;
  if (session.status === "anonymous")
    return (
      <p className="empty">
        <Link to="/login">Log in</Link> to see your wallet.
      </p>
    );
  return <Wallet totpEnabled={session.me.totp === "enabled"} />;
}
