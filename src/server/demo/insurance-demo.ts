// Demo mode's insurance fund: once, at the first start, the operator's own coins go to the
// exchange's cold wallet (the devnet faucet pays it; the hot wallet when no cold one is set up),
// past the chain's confirmations, then `insurance fund` records them. Twice the hot cap, so the
// theft drill's loss (at most the hot wallet, at most its cap) can be covered from the fund and
// the reserves publication still shows customer liabilities fully backed.

import type { CustodyPort } from "../../custody/port.ts";
import type { ExchangeBoundary } from "../../exchange/boundary.ts";
import type { OperatorActions } from "../../operator/actions.ts";
import { formatUnits, parseDecimal } from "../../units/decimal.ts";
import type { DevnetChains } from "../devnet.ts";
import { DEMO_DEPOSIT_CURRENCIES } from "./custody-demo.ts";

/** Blocks mined after the faucet payment: past every devnet chain's confirmation count. */
const FUNDING_BLOCKS = 4;
/** The fund holds this many hot caps. */
const HOT_CAPS_IN_FUND = 2;

export async function fundDemoInsurance(
  exchange: ExchangeBoundary,
  actions: OperatorActions,
  custody: CustodyPort & { tick(): Promise<void> },
  devnet: DevnetChains,
  actor: string,
): Promise<{ asset: string; amount: string; wallet: string }[]> {
  const funded: { asset: string; amount: string; wallet: string }[] = [];
  if (custody.reserveAddresses === undefined) return funded;
  const status = await custody.status();
  const addresses = await custody.reserveAddresses();
  const planned: { asset: string; amount: string; wallet: "cold" | "hot"; txId: string }[] = [];
  for (const [currency, chainId] of Object.entries(DEMO_DEPOSIT_CURRENCIES)) {
    const asset = exchange.assetByCode(currency);
    if (asset === undefined || exchange.walletBooks(asset.assetId).systemUnits.insuranceFund !== 0) continue;
    const balances = status.chains.flatMap((chain) => chain.balances).find((b) => b.currency === currency);
    const own = addresses.addresses.filter((entry) => entry.currency === currency);
    const target = own.find((entry) => entry.role === "cold") ?? own.find((entry) => entry.role === "hot");
    if (balances === undefined || target === undefined) continue;
    const cap = parseDecimal(balances.hotCap, asset.scale);
    if (!cap.ok || cap.value <= 0) continue;
    const amountUnits = cap.value * HOT_CAPS_IN_FUND;
    const chain = chainId === "btc" ? devnet.btc : devnet.eth;
    const decimals = chain.assets.find((entry) => entry.symbol === currency)?.decimals ?? asset.scale;
    // Ledger units → chain base units (the chain has at least the ledger's decimals).
    const baseUnits = BigInt(amountUnits) * 10n ** BigInt(Math.max(0, decimals - asset.scale));
    const txId = chain.faucet(target.address, currency, baseUnits);
    planned.push({
      asset: currency,
      amount: formatUnits(amountUnits, asset.scale),
      wallet: target.role === "cold" ? "cold" : "hot",
      txId,
    });
  }
  if (planned.length === 0) return funded;
  devnet.btc.mine(FUNDING_BLOCKS);
  devnet.eth.mine(FUNDING_BLOCKS);
  await custody.tick();
  for (const plan of planned) {
    await actions.reserves.fundInsurance(actor, plan);
    funded.push({ asset: plan.asset, amount: plan.amount, wallet: plan.wallet });
  }
  return funded;
}
