import { NoticeBanner } from "./banner.tsx";
import { Link } from "./link.tsx";
import { MarketsPage } from "./markets.tsx";
import { useRoute } from "./router.ts";
import { TradePage } from "./trade.tsx";

export function App() {
  const route = useRoute();
  return (
    <>
      <header className="top">
        <Link to="/" className="brand">
          Bulwark
        </Link>
        <nav>
          <Link to="/">Markets</Link>
          <Link to="/trade/BTC_USD">Trade</Link>
          <a href="/status">Status</a>
        </nav>
      </header>
      <NoticeBanner />
      <main>
        {route.page === "markets" && <MarketsPage />}
        {route.page === "trade" && <TradePage key={route.pair} pair={route.pair} />}
        {route.page === "notFound" && (
          <p className="empty">
            Nothing at {route.path}. <Link to="/">Markets</Link>
          </p>
        )}
      </main>
    </>
  );
}
