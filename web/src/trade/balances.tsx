import type { PrivateData } from "./private-data.ts";

/** Available and in-orders balances: the pair's two currencies first, then every other one held. */
export function Balances({ pair, data }: { pair: string; data: PrivateData }) {
  const [base, quote] = pair.split("_");
  if (data.balances === null) return <p className="muted">Loading balances…</p>;
  const balances = data.balances;
  const reserved = data.reserved ?? {};
  const held = (code: string) => (balances[code] ?? "0") !== "0" || (reserved[code] ?? "0") !== "0";
  const others = Object.keys(balances)
    .filter((code) => code !== base && code !== quote && held(code))
    .sort();
  return (
    <table className="balances-table">
      <thead>
        <tr>
          <th>Currency</th>
          <th className="num">Available</th>
          <th className="num">In orders</th>
        </tr>
      </thead>
      <tbody>
        {[base, quote, ...others].map((code) => (
          <tr key={code} data-currency={code}>
            <td>{code}</td>
            <td className="num available">{balances[code] ?? "0"}</td>
            <td className="num reserved">{reserved[code] ?? "0"}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
