// Custody in the embedded exchange: the devnet chains' CustodyService, wired to the signer child
// processes (src/server/signers.ts) and to the exchange.
//
// What lives where (docs/CUSTODY.md):
//   <data-dir>/signers/<chain>/      the chain signer's keystore (encrypted hot seed), state, socket
//   <data-dir>/custody/<chain>.pub.json  the public keys the signer exported (custody reads only these)
//   <data-dir>/custody/policy.key    custody's Ed25519 policy key (signs intents; the signer knows its public half)
//   <data-dir>/custody/<chain>/      custody's internal-transfer journal
// A chain whose wallet was never initialised (`bulwark wallet init --chain C`) runs without
// deposits or withdrawals; its currencies say so in payments/providers/crypto/list.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { ChainAdapter } from "../chains/adapter.ts";
import { UtxoDevnet } from "../chains/devnet/index.ts";
import type { ExportedPublicKey } from "../chains/signing.ts";
import {
  type ChainCustodyConfig,
  type CurrencyCustodyConfig,
  DEFAULT_SIGNER_10M_BPS,
  devnetCustodyConfigs,
  hotBounds,
} from "../custody/config.ts";
import {
  type ChainCustodyParts,
  type ChainWallet,
  CustodyService,
  devnetChainWallet,
  type SignerStatusPort,
} from "../custody/custody-service.ts";
import type { RetiredHotWallet } from "../custody/rotation.ts";
import { SignerClient } from "../custody/signer-client.ts";
import type { ExchangeBoundary } from "../exchange/boundary.ts";
import type { IncidentPort } from "../incidents/port.ts";
import { formatUnits } from "../units/decimal.ts";
import type { DevnetChains } from "./devnet.ts";
import { readWalletGenerations } from "./signers.ts";

export const CUSTODY_DIR_NAME = "custody";

/** The signer client as the pipeline speaks to it: signed transactions as base64, budgets as text. */
export function signerPortOf(client: SignerClient): SignerStatusPort {
  return {
    sign: async (intent, signatureHex) => {
      const answer = await client.sign(intent, signatureHex);
      if (!answer.ok) return answer;
      return { ok: true, txId: answer.txId, signedTx: Buffer.from(answer.signedTx).toString("base64") };
    },
    status: async () => {
      const answer = await client.status();
      if (!answer.ok) return answer;
      return {
        ok: true,
        halted: answer.halted,
        budgets: answer.budgets.map((budget) => ({
          asset: budget.asset,
          windows: budget.windows.map((window) => ({ window: window.window, left: window.left.toString() })),
        })),
      };
    },
    // The breaker's halt and resume, and reconciliation's question (src/custody/breaker.ts, reconciler.ts).
    halt: (chain, reason) => client.halt(chain, reason),
    resume: (chain, reason) => client.resume(chain, reason),
    signed: (txIds) => client.signed(txIds),
  };
}

/** The public keys `wallet init` exported for a chain, or null when it has not run. */
export function readChainPublicKeys(dataDir: string, chain: string): { hot: string; deposit: string } | null {
  const path = join(dataDir, CUSTODY_DIR_NAME, `${chain}.pub.json`);
  if (!existsSync(path)) return null;
  const parsed = JSON.parse(readFileSync(path, "utf8")) as unknown;
  const keys = Array.isArray(parsed) ? (parsed as { label?: unknown; key?: unknown }[]) : [];
  const find = (label: string) => {
    const found = keys.find((entry) => entry.label === label)?.key;
    if (typeof found !== "string") throw new Error(`${path}: no "${label}" public key`);
    return found;
  };
  return { hot: find("hot"), deposit: find("deposit") };
}

/** The cold address configured for a chain (`<data-dir>/custody/<chain>.cold.json`: {"address": …}), or null. */
export function readColdAddress(dataDir: string, chain: string): string | null {
  const path = join(dataDir, CUSTODY_DIR_NAME, `${chain}.cold.json`);
  if (!existsSync(path)) return null;
  const parsed = JSON.parse(readFileSync(path, "utf8")) as { address?: unknown };
  return typeof parsed.address === "string" ? parsed.address : null;
}

/**
 * The signer's 10-minute budget of a currency, ledger units: 0.25 % of the asset's customer
 * liabilities now, with the hot cap's minimum as a floor so a young exchange can withdraw at all
 * (docs/SECURITY.md); null when the exchange has no such asset.
 */
function signerTenMinuteUnits(exchange: ExchangeBoundary, currency: CurrencyCustodyConfig): number | null {
  const asset = exchange.assetByCode(currency.currency);
  if (asset === undefined) return null;
  const liabilities = exchange.walletBooks(asset.assetId).customerLiabilitiesUnits;
  return Math.max(
    Math.floor((liabilities * DEFAULT_SIGNER_10M_BPS) / 10_000),
    hotBounds(currency, 0).capUnits,
  );
}

/**
 * The signer's caps per chain asset, in base units: the 10-minute budget (signerTenMinuteUnits);
 * 1 h is twice and 24 h eight times that; one transaction at most the largest withdrawal.
 */
export function signerCapsOf(
  exchange: ExchangeBoundary,
  config: ChainCustodyConfig,
  chainDecimals: ReadonlyMap<string, number>,
): Map<string, { perTransaction: bigint; per10m: bigint; per1h: bigint; per24h: bigint }> {
  const caps = new Map<string, { perTransaction: bigint; per10m: bigint; per1h: bigint; per24h: bigint }>();
  for (const currency of config.currencies) {
    const asset = exchange.assetByCode(currency.currency);
    const decimals = chainDecimals.get(currency.currency);
    const tenMinutes = signerTenMinuteUnits(exchange, currency);
    if (asset === undefined || decimals === undefined || tenMinutes === null) continue;
    const toBase = (units: number) => BigInt(units) * 10n ** BigInt(Math.max(0, decimals - asset.scale));
    caps.set(currency.currency, {
      perTransaction: toBase(currency.maxWithdrawUnits),
      per10m: toBase(tenMinutes),
      per1h: toBase(tenMinutes * 2),
      per24h: toBase(tenMinutes * 8),
    });
  }
  return caps;
}

/**
 * A chain's custody settings as the server runs them: each currency's largest single withdrawal
 * clamped to what the chain's signer can sign in one 10-minute window (min of the configured
 * maximum, the signer's 10-minute budget and its per-transaction cap, which is that maximum).
 * Custody refuses anything larger at request time ("the maximum withdrawal is …"), and the
 * currency lists show the same maximum: a larger one would be held and then wait at the signer
 * for ever. The ledger amount includes the exchange's fee, which covers the network fee the
 * signer also charges to the window, so an amount at the maximum fits. Warnings name currencies
 * whose approval threshold is at or above that maximum (two-approver withdrawals impossible).
 */
export function signerBoundConfig(
  exchange: ExchangeBoundary,
  config: ChainCustodyConfig,
): { config: ChainCustodyConfig; warnings: string[] } {
  const warnings: string[] = [];
  const currencies = config.currencies.map((currency) => {
    const tenMinutes = signerTenMinuteUnits(exchange, currency);
    const maxWithdrawUnits =
      tenMinutes === null ? currency.maxWithdrawUnits : Math.min(currency.maxWithdrawUnits, tenMinutes);
    if (currency.approvalThresholdUnits >= maxWithdrawUnits) {
      const scale = exchange.assetByCode(currency.currency)?.scale ?? 0;
      warnings.push(
        `custody: ${config.chain} ${currency.currency}: the approval threshold ` +
          `${formatUnits(currency.approvalThresholdUnits, scale)} is at or above the largest withdrawal the ` +
          `signer can sign in 10 minutes (${formatUnits(maxWithdrawUnits, scale)}): withdrawals that need ` +
          "two approvers are refused; lower the threshold or raise the hot cap's minimum",
      );
    }
    return { ...currency, maxWithdrawUnits };
  });
  return { config: { ...config, currencies }, warnings };
}

/** The devnet chains' custody settings, each bound to its signer's budget now (signerBoundConfig). */
export function serverCustodyConfigs(exchange: ExchangeBoundary): {
  configs: ChainCustodyConfig[];
  warnings: string[];
} {
  const bound = devnetCustodyConfigs().map((config) => signerBoundConfig(exchange, config));
  return { configs: bound.map((entry) => entry.config), warnings: bound.flatMap((entry) => entry.warnings) };
}

function walletOf(kind: "utxo" | "account", publicKeys: { hot: string; deposit: string } | null) {
  return publicKeys === null ? null : devnetChainWallet(kind, publicKeys);
}
/**
 * A devnet chain's wallet as custody runs it: the active generation's addresses, and the retired
 * generations' hot wallets (`wallet rotate`, src/custody/rotation.ts); null without a wallet.
 */
export function chainWalletOf(dataDir: string, chain: string, kind: "utxo" | "account"): ChainWallet | null {
  const generations = readWalletGenerations(dataDir, chain);
  if (generations === null) return walletOf(kind, readChainPublicKeys(dataDir, chain));
  const keysOf = (publicKeys: readonly ExportedPublicKey[]) => {
    const find = (label: string) => {
      const found = publicKeys.find((entry) => entry.label === label)?.key;
      if (found === undefined) throw new Error(`${chain}: a wallet generation has no "${label}" public key`);
      return found;
    };
    return { hot: find("hot"), deposit: find("deposit") };
  };
  const active = generations.generations[generations.active];
  const wallet = devnetChainWallet(kind, keysOf(active.publicKeys));
  const retiredHot: RetiredHotWallet[] = generations.generations
    .filter((entry) => entry.generation !== generations.active)
    .map((entry) => {
      const old = devnetChainWallet(kind, keysOf(entry.publicKeys));
      return { generation: entry.generation, hotAddress: old.hotAddress, changeAddress: old.changeAddress };
    });
  return { ...wallet, retiredHot };
}

export interface EmbeddedCustodyOptions {
  dataDir: string;
  exchange: ExchangeBoundary;
  /** The chains custody runs on (a cluster custody role passes a subset: BULWARK_CHAINS). */
  devnet: Pick<DevnetChains, "chains">;
  policySecretKey: Uint8Array;
  /** chain → the signer's socket, for chains whose signer runs. */
  signerSockets: ReadonlyMap<string, string>;
  tickMs?: number;
  clock?: () => number;
  log?: (message: string) => void;
  onWithdrawalStep?: (withdrawalId: number, step: string) => void;
  /** Where breaker trips open incidents (src/incidents/). */
  incidents?: IncidentPort;
  /** Resuming a breaker needs two distinct approvers. */
  productionMode?: boolean;
  /**
   * The chains' settings, as the signers' caps were computed from (serverCustodyConfigs); by
   * default computed now. Warnings of the default go to `log`.
   */
  configs?: readonly ChainCustodyConfig[];
}

/** The CustodyService over both devnet chains (not started). */
export function embeddedCustody(options: EmbeddedCustodyOptions): CustodyService {
  let configs = options.configs;
  if (configs === undefined) {
    const computed = serverCustodyConfigs(options.exchange);
    for (const warning of computed.warnings) options.log?.(warning);
    configs = computed.configs;
  }
  const chains: ChainCustodyParts[] = [];
  for (const handle of options.devnet.chains) {
    const chain = handle.chain;
    const config = configs.find((entry) => entry.chain === chain.chain);
    if (config === undefined) continue;
    const socket = options.signerSockets.get(chain.chain);
    const utxo = chain instanceof UtxoDevnet;
    chains.push({
      config,
      adapter: chain as ChainAdapter,
      kind: utxo ? "utxo" : "account",
      wallet: chainWalletOf(options.dataDir, chain.chain, utxo ? "utxo" : "account"),
      signer: socket === undefined ? null : signerPortOf(new SignerClient(socket)),
      coldAddress: readColdAddress(options.dataDir, chain.chain),
      balanceOf: async (address, asset) =>
        chain instanceof UtxoDevnet ? chain.balance(address) : chain.balance(address, asset),
      feeAsset: utxo ? "BTC" : "ETH",
      chainDecimals: new Map(chain.assets.map((asset) => [asset.symbol, asset.decimals])),
    });
  }
  return new CustodyService({
    exchange: options.exchange,
    chains,
    policySecretKey: options.policySecretKey,
    stateDir: join(options.dataDir, CUSTODY_DIR_NAME),
    ...(options.tickMs === undefined ? {} : { tickMs: options.tickMs }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.log === undefined ? {} : { log: options.log }),
    ...(options.onWithdrawalStep === undefined ? {} : { onWithdrawalStep: options.onWithdrawalStep }),
    ...(options.incidents === undefined ? {} : { incidents: options.incidents }),
    ...(options.productionMode === undefined ? {} : { productionMode: options.productionMode }),
  });
}
