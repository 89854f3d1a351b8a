// A small history router: the gateway answers index.html for the app's routes (src/gateway/http/web.ts,
// WEB_CLIENT_ROUTES: keep both lists in step).
import { useEffect, useState } from "react";

export type Route =
  | { page: "markets" }
  | { page: "trade"; pair: string }
  | { page: "wallet" }
  | { page: "account" }
  | { page: "login" }
  | { page: "signup" }
  | { page: "status" }
  | { page: "reserves" }
  | { page: "console"; section: string }
  | { page: "notFound"; path: string };

const PAIR = /^[A-Z0-9]{1,16}_[A-Z0-9]{1,16}$/;
const CONSOLE_SECTION = /^[a-z-]{1,32}$/;
const SIMPLE_PAGES: Readonly<Record<string, Route>> = {
  "/": { page: "markets" },
  "/markets": { page: "markets" },
  "/wallet": { page: "wallet" },
  "/account": { page: "account" },
  "/login": { page: "login" },
  "/signup": { page: "signup" },
  "/status": { page: "status" },
  "/reserves": { page: "reserves" },
  "/console": { page: "console", section: "" },
};

export function parseRoute(path: string): Route {
  const trimmed = path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
  const simple = SIMPLE_PAGES[trimmed];
  if (simple !== undefined) return simple;
  const trade = /^\/trade\/([^/]+)$/.exec(trimmed);
  if (trade !== null) {
    const pair = decodeURIComponent(trade[1]).toUpperCase();
    if (PAIR.test(pair)) return { page: "trade", pair };
  }
  const consoleSection = /^\/console\/([^/]+)$/.exec(trimmed);
  if (consoleSection !== null && CONSOLE_SECTION.test(consoleSection[1]))
    return { page: "console", section: consoleSection[1] };
  return { page: "notFound", path };
}

export function navigate(path: string): void {
  history.pushState(null, "", path);
  dispatchEvent(new PopStateEvent("popstate"));
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.pathname));
  useEffect(() => {
    const onPop = () => setRoute(parseRoute(location.pathname));
    addEventListener("popstate", onPop);
    return () => removeEventListener("popstate", onPop);
  }, []);
  return route;
}
