// The signed-in person's side of the trade page: balances (user_info, then spot/wallet updates),
// open orders, cancelled orders and trades of the pair (REST, refetched when spot/orders or
// spot/user_trades say something changed: events in a burst make one refetch, never two at once).
import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError, privateCall, privateFeed } from "../session.ts";

/** Rows kept per list (the API pages; the trade page shows the newest). */
export const MAX_ROWS = 50;
/** Events arriving within this window make one refetch. */
const REFRESH_BATCH_MS = 150;

export interface OpenOrder {
  order_id?: string;
  parent_order_id?: string;
  client_id: string;
  created: string;
  type: string;
  pair: string;
  quantity: string;
  price?: string;
  trigger_price?: string;
  amount: string;
}

export interface UserTrade {
  trade_id: number;
  date: number;
  type: "buy" | "sell";
  pair: string;
  order_id: number;
  quantity: string;
  price: string;
  amount: string;
  exec_type: string;
  commission_amount: string;
  commission_currency: string;
}

interface UserInfo {
  balances: Record<string, string>;
  reserved: Record<string, string>;
}

export interface PrivateData {
  balances: Record<string, string> | null;
  reserved: Record<string, string> | null;
  open: OpenOrder[];
  cancelled: OpenOrder[];
  trades: UserTrade[];
  /** A failed refresh, in words (a 401 also refreshes the session: the page then shows signed out). */
  error: string | null;
  /** Refetch now (after placing or cancelling). */
  refresh(): void;
}

/** The id the cancel call takes, and which call. */
export function orderKey(order: OpenOrder): string {
  return order.order_id ?? `stop-${order.parent_order_id ?? "?"}`;
}

export function usePrivateData(pair: string, enabled: boolean): PrivateData {
  const [balances, setBalances] = useState<Record<string, string> | null>(null);
  const [reserved, setReserved] = useState<Record<string, string> | null>(null);
  const [open, setOpen] = useState<OpenOrder[]>([]);
  const [cancelled, setCancelled] = useState<OpenOrder[]>([]);
  const [trades, setTrades] = useState<UserTrade[]>([]);
  const [error, setError] = useState<string | null>(null);
  const schedule = useRef<() => void>(() => undefined);

  useEffect(() => {
    if (!enabled) return;
    let live = true;
    let running = false;
    let again = false;
    let timer: ReturnType<typeof setTimeout> | null = null;

    const fetchAll = async () => {
      if (running) {
        again = true;
        return;
      }
      running = true;
      try {
        const [info, openByPair, cancelledAll, tradesByPair] = await Promise.all([
          privateCall<UserInfo>("user_info"),
          privateCall<Record<string, OpenOrder[]>>("user_open_orders", { pair }),
          privateCall<OpenOrder[]>("user_cancelled_orders", { limit: String(MAX_ROWS) }),
          privateCall<Record<string, UserTrade[]>>("user_trades", { pair, limit: String(MAX_ROWS) }),
        ]);
        if (!live) return;
        setBalances(info.balances);
        setReserved(info.reserved);
        // Newest first, like the other lists.
        setOpen([...(openByPair[pair] ?? [])].reverse().slice(0, MAX_ROWS));
        setCancelled(
          (Array.isArray(cancelledAll) ? cancelledAll : []).filter((o) => o.pair === pair).slice(0, MAX_ROWS),
        );
        setTrades((tradesByPair[pair] ?? []).slice(0, MAX_ROWS));
        setError(null);
      } catch (failure) {
        if (live) setError(failure instanceof ApiError ? failure.message : String(failure));
      } finally {
        running = false;
        if (again && live) {
          again = false;
          void fetchAll();
        }
      }
    };
    const later = () => {
      if (timer !== null) return;
      timer = setTimeout(() => {
        timer = null;
        void fetchAll();
      }, REFRESH_BATCH_MS);
    };
    schedule.current = () => void fetchAll();
    void fetchAll();

    const feed = privateFeed();
    const stops = [
      feed.subscribe("spot/orders", () => later()),
      feed.subscribe("spot/user_trades", () => later()),
      feed.subscribe("spot/wallet", (event, data) => {
        if (event !== "update") return;
        const update = data as { currency?: string; balance?: string; reserved?: string };
        const currency = update.currency;
        if (typeof currency !== "string") return;
        if (typeof update.balance === "string") {
          const balance = update.balance;
          setBalances((current) => (current === null ? current : { ...current, [currency]: balance }));
        }
        if (typeof update.reserved === "string") {
          const held = update.reserved;
          setReserved((current) => (current === null ? current : { ...current, [currency]: held }));
        }
      }),
    ];
    return () => {
      live = false;
      if (timer !== null) clearTimeout(timer);
      for (const stop of stops) stop();
      schedule.current = () => undefined;
    };
  }, [pair, enabled]);

  const refresh = useCallback(() => schedule.current(), []);
  return { balances, reserved, open, cancelled, trades, error, refresh };
}
