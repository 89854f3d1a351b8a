import { useState } from "react";
import { sumDecimals } from "../decimal.ts";
import { ApiError, privateCall } from "../session.ts";
import { type OpenOrder, orderKey, type PrivateData, type UserTrade } from "./private-data.ts";

/** A cancel-all never sends more calls than this in one click (the list shows at most MAX_ROWS). */
const MAX_CANCELS_PER_CLICK = 100;

function cancelCall(order: OpenOrder): [string, Record<string, string>] {
  return order.order_id !== undefined
    ? ["order_cancel", { order_id: order.order_id }]
    : ["stop_market_order_cancel", { parent_order_id: order.parent_order_id ?? "" }];
}

function when(seconds: string | number): string {
  return new Date(Number(seconds) * 1000).toLocaleString();
}

interface HistoryRow {
  key: string;
  orderId: string;
  type: string;
  price: string;
  quantity: string;
  status: string;
  atSeconds: number;
}

/** Cancelled orders and traded orders (fills grouped by order), newest first. */
function historyRows(data: PrivateData): HistoryRow[] {
  const openIds = new Set(data.open.map((order) => order.order_id));
  const byOrder = new Map<number, UserTrade[]>();
  for (const trade of data.trades)
    byOrder.set(trade.order_id, [...(byOrder.get(trade.order_id) ?? []), trade]);
  const rows: HistoryRow[] = data.cancelled.map((order) => ({
    key: `c-${orderKey(order)}`,
    orderId: order.order_id ?? order.parent_order_id ?? "",
    type: order.type,
    price: order.price ?? order.trigger_price ?? "",
    quantity: order.quantity,
    status: "cancelled",
    atSeconds: Number(order.created),
  }));
  for (const [orderId, fills] of byOrder) {
    rows.push({
      key: `t-${orderId}`,
      orderId: String(orderId),
      type: fills[0].type,
      price: fills[0].price,
      quantity: sumDecimals(fills.map((fill) => fill.quantity)),
      status: openIds.has(String(orderId)) ? "partly filled" : "filled",
      atSeconds: fills[0].date,
    });
  }
  return rows.sort((a, b) => b.atSeconds - a.atSeconds).slice(0, data.trades.length + data.cancelled.length);
}

/** Open orders (cancel each, cancel all of the pair), order history and the person's trades of the pair. */
export function MyOrders({
  pair,
  data,
  onSignedOut,
}: {
  pair: string;
  data: PrivateData;
  onSignedOut(message: string): void;
}) {
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<string | null>(null);

  const cancel = async (orders: OpenOrder[]) => {
    if (busy) return;
    setBusy(true);
    setMessage(null);
    let refused = 0;
    let lastRefusal = "";
    try {
      for (const order of orders.slice(0, MAX_CANCELS_PER_CLICK)) {
        const [method, params] = cancelCall(order);
        try {
          await privateCall(method, params);
        } catch (failure) {
          if (failure instanceof ApiError && failure.status === 401) {
            onSignedOut(failure.message);
            return;
          }
          refused += 1;
          lastRefusal = failure instanceof ApiError ? failure.message : String(failure);
        }
      }
      if (refused > 0) setMessage(`${refused} could not be cancelled: ${lastRefusal}`);
    } finally {
      setBusy(false);
      data.refresh();
    }
  };

  const history = historyRows(data);
  return (
    <div className="my-orders">
      <section aria-label="Open orders" className="open-orders">
        <div className="toolbar">
          <h3>Open orders ({data.open.length})</h3>
          <button
            type="button"
            className="cancel-all"
            disabled={busy || data.open.length === 0}
            onClick={() => void cancel(data.open)}
          >
            Cancel all {pair.replace("_", "/")}
          </button>
        </div>
        {message !== null && (
          <p className="error" role="alert">
            {message}
          </p>
        )}
        {data.error !== null && (
          <p className="error" role="alert">
            {data.error}
          </p>
        )}
        {data.open.length === 0 ? (
          <p className="empty">No open orders.</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th>Type</th>
                <th className="num">Price</th>
                <th className="num">Open quantity</th>
                <th className="num">Amount</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {data.open.map((order) => (
                <tr key={orderKey(order)} className="open-order" data-order-id={orderKey(order)}>
                  <td className={order.type.includes("buy") ? "up" : "down"}>
                    {order.type.replaceAll("_", " ")}
                  </td>
                  <td className="num price">{order.price ?? `trigger ${order.trigger_price ?? ""}`}</td>
                  <td className="num quantity">{order.quantity}</td>
                  <td className="num">{order.amount}</td>
                  <td>
                    <button type="button" disabled={busy} onClick={() => void cancel([order])}>
                      Cancel
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <section aria-label="Order history" className="order-history">
        <h3>Order history</h3>
        {history.length === 0 ? (
          <p className="empty">No orders yet.</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th>Order</th>
                <th>Type</th>
                <th className="num">Price</th>
                <th className="num">Quantity</th>
                <th>Status</th>
              </tr>
            </thead>
            <tbody>
              {history.map((row) => (
                <tr key={row.key} className="history-row">
                  <td>{row.orderId}</td>
                  <td>{row.type.replaceAll("_", " ")}</td>
                  <td className="num">{row.price}</td>
                  <td className="num">{row.quantity}</td>
                  <td>{row.status}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <section aria-label="My trades" className="my-trades">
        <h3>My trades</h3>
        {data.trades.length === 0 ? (
          <p className="empty">No trades yet.</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th>Time</th>
                <th>Side</th>
                <th className="num">Price</th>
                <th className="num">Quantity</th>
                <th className="num">Fee</th>
              </tr>
            </thead>
            <tbody>
              {data.trades.map((trade) => (
                <tr
                  key={trade.trade_id}
                  className="my-trade"
                  data-trade-id={trade.trade_id}
                  data-order-id={trade.order_id}
                >
                  <td>{when(trade.date)}</td>
                  <td className={trade.type === "buy" ? "up" : "down"}>
                    {trade.type} ({trade.exec_type})
                  </td>
                  <td className="num price">{trade.price}</td>
                  <td className="num quantity">{trade.quantity}</td>
                  <td className="num">
                    {trade.commission_amount} {trade.commission_currency}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </div>
  );
}
