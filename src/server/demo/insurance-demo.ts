// Demo mode's insurance fund: once, at the first start, for every currency of the devnet chains,
// the operator's own coins go to the exchange's cold wallet (the devnet faucet pays it; the hot
// wallet when no cold one is set up), past the chain's confirmations, then `insurance fund`
// records them. The amount backs the balances the demo credits by adjustment, plus twice the hot
// cap, so the theft drill's loss (at most the hot wallet, at most its cap) can be covered from the
// fund and the reserves publication still shows customer liabilities fully backed.

import type { CustodyPort } from "../../custody/port.ts";
import type { ExchangeBoundary } from "../../exchange/boundary.ts";
import type { OperatorActions } from "../../operator/actions.ts";
import { formatUnits, parseDecimal } from "../../units/decimal.ts";
import type { DevnetChains } from "../devnet.ts";

/** Blocks mined after the faucet payment: past every devnet chain's confirmation count. */
const FUNDING_BLOCKS = 4;
/** Custody's devnet chains and the simulated chain each runs on. */
const DEVNET_CHAIN_OF: Readonly<Record<string, "btc" | "eth">> = { "devnet-btc": "btc", "devnet-eth": "eth" };
/** The fund holds this many hot caps (beyond what backs the demo's adjusted balances). */
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
  for (const chainStatus of status.chains) {
    const chain =
      DEVNET_CHAIN_OF[chainStatus.chain] === "btc"
        ? devnet.btc
        : DEVNET_CHAIN_OF[chainStatus.chain] === "eth"
          ? devnet.eth
          : null;
    if (chain === null) continue;
    for (const balances of chainStatus.balances) {
      const currency = balances.currency;
      const asset = exchange.assetByCode(currency);
      const onChain = chain.assets.find((entry) => entry.symbol === currency);
      if (asset === undefined || onChain === undefined) continue;
      const books = exchange.walletBooks(asset.assetId);
      if (books.systemUnits.insuranceFund !== 0) continue;
      const own = addresses.addresses.filter(
        (entry) => entry.chain === chainStatus.chain && entry.currency === currency,
      );
      const target = own.find((entry) => entry.role === "cold") ?? own.find((entry) => entry.role === "hot");
      const cap = parseDecimal(balances.hotCap, asset.scale);
      if (target === undefined || !cap.ok) continue;
      // The demo credits some balances by adjustment (no coins behind them): the fund backs those
      // too, so customer liabilities are fully backed before any theft.
      const s = books.systemUnits;
      const coinsUnits = -(s.walletHot + s.walletCold + s.walletDepositAddresses + s.walletInFlight);
      const unbackedUnits = Math.max(0, books.customerLiabilitiesUnits - coinsUnits);
      const amountUnits = unbackedUnits + cap.value * HOT_CAPS_IN_FUND;
      if (amountUnits <= 0) continue;
      // Ledger units → chain base units (the chain has at least the ledger's decimals).
      const baseUnits = BigInt(amountUnits) * 10n ** BigInt(Math.max(0, onChain.decimals - asset.scale));
      const txId = chain.faucet(target.address, currency, baseUnits);
      planned.push({
        asset: currency,
        amount: formatUnits(amountUnits, asset.scale),
        wallet: target.role === "cold" ? "cold" : "hot",
        txId,
      });
    }
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
