// Balances per currency: available, held by open orders, and on its way out (withdrawals held
// until settled). The core's "reserved" holds both orders and withdrawals, so orders are
// reserved minus the withdrawals still processing, exactly.
import { compareDecimal, subtractDecimals, sumDecimals } from "../decimal.ts";
import type { UserInfo, WalletOperation } from "./wallet-api.ts";

/** What processing withdrawals hold of `currency`: each one's whole debit (amount + fee). */
export function pendingWithdrawals(operations: readonly WalletOperation[], currency: string): string {
  const debits = operations
    .filter((op) => op.type === "withdraw" && op.status === "Processing" && op.currency === currency)
    .flatMap((op) => [op.amount, op.commission]);
  return sumDecimals(debits.length === 0 ? ["0"] : debits);
}

export function BalancesTable({
  info,
  operations,
  selected,
  onSelect,
}: {
  info: UserInfo;
  operations: readonly WalletOperation[];
  selected: string | null;
  onSelect: (currency: string) => void;
}) {
  const currencies = Object.keys(info.balances).sort();
  return (
    <table className="wallet-balances" aria-label="Balances">
      <thead>
        <tr>
          <th scope="col">Currency</th>
          <th scope="col" className="num">
            Available
          </th>
          <th scope="col" className="num">
            In orders
          </th>
          <th scope="col" className="num">
            Withdrawing
          </th>
        </tr>
      </thead>
      <tbody>
        {currencies.map((currency) => {
          const reserved = info.reserved[currency] ?? "0";
          const withdrawing = pendingWithdrawals(operations, currency);
          const inOrders = subtractDecimals(reserved, withdrawing) ?? reserved;
          return (
            <tr
              key={currency}
              data-currency={currency}
              className={currency === selected ? "selected" : undefined}
            >
              <th scope="row">
                <button
                  type="button"
                  className="currency-pick"
                  onClick={() => onSelect(currency)}
                  aria-pressed={currency === selected}
                  aria-label={`Deposit or withdraw ${currency}`}
                >
                  {currency}
                </button>
              </th>
              <td className="num" data-field="available">
                {info.balances[currency]}
              </td>
              <td className="num" data-field="in-orders">
                {compareDecimal(inOrders, "0") < 0 ? "0" : inOrders}
              </td>
              <td className="num" data-field="withdrawing">
                {withdrawing}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
