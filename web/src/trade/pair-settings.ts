// pair_settings (docs/API.md#pair-settings), fetched once per page load and shared by the book's
// grouping and the order form's limits.
import { useEffect, useState } from "react";
import type { PairSettings } from "./order-math.ts";

let settingsPromise: Promise<Record<string, PairSettings>> | null = null;

function loadAll(): Promise<Record<string, PairSettings>> {
  settingsPromise ??= fetch("/v1.1/pair_settings", { headers: { accept: "application/json" } })
    .then(async (response) => {
      if (!response.ok) throw new Error(`pair_settings: HTTP ${response.status}`);
      return (await response.json()) as Record<string, PairSettings>;
    })
    .catch((failure: unknown) => {
      settingsPromise = null; // the next page that asks tries again
      throw failure;
    });
  return settingsPromise;
}

/** The pair's settings, or null while loading (or when the pair is not listed). */
export function usePairSettings(pair: string): PairSettings | null {
  const [settings, setSettings] = useState<PairSettings | null>(null);
  useEffect(() => {
    let live = true;
    loadAll()
      .then((all) => live && setSettings(all[pair] ?? null))
      .catch(() => undefined);
    return () => {
      live = false;
    };
  }, [pair]);
  return settings;
}
