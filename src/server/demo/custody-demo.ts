// Demo mode's custody: the market maker and the demo trader get their coins by deposits on the
// devnet chains (faucet → blocks → confirmations → credit), and now and then a deposit and a
// withdrawal flow on their own, so a newcomer sees confirmations, credits, sweeps and settlements
// in wallet_history, `bulwark custody status` and the web wallet.

import { addressOfKey, privateKeyFromSeed } from "../../chains/devnet/index.ts";
import type { CustodyPort } from "../../custody/port.ts";
import type { ExchangeBoundary } from "../../exchange/boundary.ts";
import type { DevnetChains } from "../devnet.ts";

/** Coins the demo funds by deposit (one chain each); other currencies are credited by adjustment. */
export const DEMO_DEPOSIT_CURRENCIES: Readonly<Record<string, "btc" | "eth">> = { BTC: "btc", ETH: "eth" };
/** Blocks mined after a funding deposit: past every devnet chain's confirmation count. */
const FUNDING_BLOCKS = 4;
/** How often the demo's own deposit or withdrawal happens (alternating). */
export const DEFAULT_DEMO_WALLET_INTERVAL_MS = 45_000;

function chainOf(devnet: DevnetChains, id: "btc" | "eth") {
  return id === "btc" ? devnet.btc : devnet.eth;
}

function toBaseUnits(amount: string, decimals: number): bigint {
  const [whole, fraction = ""] = amount.split(".");
  return BigInt(whole + fraction.padEnd(decimals, "0").slice(0, decimals));
}

/**
 * Funds a demo user by deposits once: when the user has no deposit yet, each currency in
 * DEMO_DEPOSIT_CURRENCIES that `funding` names is paid to the user's deposit address by the
 * devnet faucet, the chain mines past its confirmations, and custody credits it. Returns the
 * currencies funded this way (the caller adjusts the rest).
 */
export async function fundByDeposits(
  exchange: ExchangeBoundary,
  custody: CustodyPort & { tick(): Promise<void> },
  devnet: DevnetChains,
  userId: number,
  funding: Readonly<Record<string, string>>,
): Promise<Set<string>> {
  const handled = new Set<string>();
  const past = await exchange.reads.walletOperationsOfUser(userId, { kind: "deposit", offset: 0, limit: 1 });
  for (const [currency, chainId] of Object.entries(DEMO_DEPOSIT_CURRENCIES)) {
    if (funding[currency] === undefined) continue;
    const terms = custody.terms().find((entry) => entry.currency === currency);
    if (terms === undefined || !terms.depositEnabled) continue;
    handled.add(currency);
    if (past.length > 0) continue;
    const chain = chainOf(devnet, chainId);
    const decimals = chain.assets.find((asset) => asset.symbol === currency)?.decimals ?? 0;
    const { address } = await custody.depositAddress(userId, currency);
    chain.faucet(address, currency, toBaseUnits(funding[currency], decimals));
  }
  if (handled.size > 0 && past.length === 0) {
    devnet.btc.mine(FUNDING_BLOCKS);
    devnet.eth.mine(FUNDING_BLOCKS);
    await custody.tick();
  }
  return handled;
}

export interface DemoWalletActivityOptions {
  exchange: ExchangeBoundary;
  custody: CustodyPort;
  devnet: DevnetChains;
  traderId: number;
  intervalMs?: number;
  onError?: (error: unknown) => void;
}

/**
 * Every interval, alternately: a small deposit to the demo trader (an outside sender pays the
 * trader's BTC or ETH deposit address), or a small withdrawal by the trader to their own outside
 * address (in the address book, activated by the demo). Both go the whole way through custody.
 */
export class DemoWalletActivity {
  private timer: NodeJS.Timeout | null = null;
  private round = 0;
  private readonly destinations = new Map<string, string>();

  constructor(private readonly options: DemoWalletActivityOptions) {}

  /** Adds the trader's outside addresses to their address book, activated (demo only). */
  async prepare(): Promise<void> {
    const { exchange, devnet, traderId } = this.options;
    for (const [currency, chainId] of Object.entries(DEMO_DEPOSIT_CURRENCIES)) {
      const chain = chainOf(devnet, chainId);
      // An outside wallet of the demo trader's: a devnet key from a public seed, nobody's secret.
      const address = addressOfKey(chain, privateKeyFromSeed(`bulwark-demo-outside-${chainId}`));
      const nowMs = Date.now();
      await exchange.accounts.addAddress({
        userId: traderId,
        currency,
        address,
        label: "demo outside wallet",
        nowMs,
      });
      await exchange.accounts.activateAddressNow({
        userId: traderId,
        currency,
        address,
        nowMs,
        operator: "system:demo",
      });
      this.destinations.set(currency, address);
    }
  }

  start(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(
      () => void this.step(),
      this.options.intervalMs ?? DEFAULT_DEMO_WALLET_INTERVAL_MS,
    );
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** One deposit or one withdrawal; failures are reported and the next round goes on. */
  async step(): Promise<void> {
    const round = this.round++;
    const currency = round % 4 < 2 ? "BTC" : "ETH";
    const chainId = DEMO_DEPOSIT_CURRENCIES[currency];
    try {
      if (round % 2 === 0) {
        const { address } = await this.options.custody.depositAddress(this.options.traderId, currency);
        const chain = chainOf(this.options.devnet, chainId);
        const decimals = chain.assets.find((asset) => asset.symbol === currency)?.decimals ?? 0;
        chain.faucet(address, currency, toBaseUnits(currency === "BTC" ? "0.02" : "0.3", decimals));
        return;
      }
      const destination = this.destinations.get(currency);
      if (destination === undefined) return;
      await this.options.custody.requestWithdrawal({
        userId: this.options.traderId,
        currency,
        amount: currency === "BTC" ? "0.01" : "0.1",
        address: destination,
        proof: { kind: "operator", actor: "system:demo" },
      });
    } catch (error) {
      this.options.onError?.(error);
    }
  }
}
