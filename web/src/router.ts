// A small history router: the gateway answers index.html for the app's routes (src/gateway/http/web.ts).
import { useEffect, useState } from "react";

export type Route =
  | { page: "markets" }
  | { page: "trade"; pair: string }
  | { page: "notFound"; path: string };

const PAIR = /^[A-Z0-9]{1,16}_[A-Z0-9]{1,16}$/;

export function parseRoute(path: string): Route {
  if (path === "/" || path === "/markets") return { page: "markets" };
  const trade = /^\/trade\/([^/]+)\/?$/.exec(path);
  if (trade !== null) {
    const pair = decodeURIComponent(trade[1]).toUpperCase();
    if (PAIR.test(pair)) return { page: "trade", pair };
  }
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
