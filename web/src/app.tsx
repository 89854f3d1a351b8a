import { lazy, Suspense } from "react";
import { AccountPage } from "./account/account-page.tsx";
import { LoginPage, LogoutButton, SignupPage } from "./account/login.tsx";
import { NoticeBanner } from "./banner.tsx";
import { Link } from "./link.tsx";
import { MarketsPage } from "./markets.tsx";
import { ReservesPage } from "./public/reserves-page.tsx";
import { StatusPage } from "./public/status-page.tsx";
import { useRoute } from "./router.ts";
import { useSession } from "./session.ts";
import { TradePage } from "./trade.tsx";
import { WalletPage } from "./wallet/wallet-page.tsx";

// The console is for operators only: its code loads when /console is opened, not with the trade page.
const ConsoleApp = lazy(() => import("./console/console-app.tsx"));

function SessionLinks() {
  const session = useSession();
  if (session.status === "loading") return null;
  if (session.status === "anonymous")
    return (
      <>
        <Link to="/login">Log in</Link>
        <Link to="/signup">Sign up</Link>
      </>
    );
  return (
    <>
      <Link to="/account" className="who">
        {session.me.email}
      </Link>
      <LogoutButton />
    </>
  );
}

export function App() {
  const route = useRoute();
  if (route.page === "console")
    return (
      <Suspense fallback={<p className="empty">Loading the console…</p>}>
        <ConsoleApp section={route.section} />
      </Suspense>
    );
  return (
    <>
      <header className="top">
        <Link to="/" className="brand">
          Bulwark
        </Link>
        <nav aria-label="Main">
          <Link to="/">Markets</Link>
          <Link to="/trade/BTC_USD">Trade</Link>
          <Link to="/wallet">Wallet</Link>
          <Link to="/status">Status</Link>
          <Link to="/reserves">Reserves</Link>
        </nav>
        <nav className="session-links" aria-label="Account">
          <SessionLinks />
        </nav>
      </header>
      <NoticeBanner />
      <main>
        {route.page === "markets" && <MarketsPage />}
        {route.page === "trade" && <TradePage key={route.pair} pair={route.pair} />}
        {route.page === "wallet" && <WalletPage />}
        {route.page === "account" && <AccountPage />}
        {route.page === "login" && <LoginPage />}
        {route.page === "signup" && <SignupPage />}
        {route.page === "status" && <StatusPage />}
        {route.page === "reserves" && <ReservesPage />}
        {route.page === "notFound" && (
          <p className="empty">
            Nothing at {route.path}. <Link to="/">Markets</Link>
          </p>
        )}
      </main>
    </>
  );
}
