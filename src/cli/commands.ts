// The operator commands, each once: how its flags become a request, what it needs offline, which
// operator route does it on a running server, and how its result is printed. Both ways give the
// same result object (the operator API returns what OperatorActions returns), so the output is
// the same whether or not a server holds the data dir.

import type { AssetListing, MarketListing, OperatorActions } from "../operator/actions.ts";
import type { DevnetChainStatus } from "../operator/devnet.ts";
import type { MarketSpec } from "../operator/market-spec.ts";
import { type Cli, CliError, required } from "./args.ts";
import { BREAKER_COMMANDS } from "./breaker.ts";
import { COLD_COMMANDS } from "./cold.ts";
import { COVER_COMMANDS } from "./cover.ts";
import { CUSTODY_COMMANDS } from "./custody.ts";
import { GUARD_COMMANDS } from "./guard.ts";
import { INCIDENT_COMMANDS } from "./incident.ts";
import type { CliIo } from "./io.ts";
import type { OfflineNeeds } from "./offline.ts";
import { OPERATOR_ACCOUNT_COMMANDS } from "./operator.ts";
import { readPassword } from "./password.ts";
import type { OperatorClient } from "./remote.ts";
import { RESERVES_COMMANDS } from "./reserves.ts";
import { SECURITY_COMMANDS } from "./security.ts";
import { STEAL_COMMANDS } from "./steal.ts";
import { WALLET_COMMANDS } from "./wallet.ts";

/** Every change the CLI makes is audited with this actor (the socket's server side uses the same). */
export type Actor = string;

export interface OperatorCommand<I, R> {
  needs: OfflineNeeds;
  /** Reads and checks the flags (and stdin) before anything is opened. */
  input(cli: Cli, io: CliIo): I | Promise<I>;
  offline(actions: OperatorActions, actor: Actor, input: I): Promise<R>;
  remote(client: OperatorClient, input: I): Promise<R>;
  /** The --json fields and the text; throws for a result that is a failure (a broken audit log). */
  print(result: R): { fields: object; text: string };
}

function command<I, R>(definition: OperatorCommand<I, R>): OperatorCommand<I, R> {
  return definition;
}

const path = encodeURIComponent;

/** The table `bulwark <noun> <verb>` dispatches on (each entry typed where it is defined, erased here). */
export const OPERATOR_COMMANDS = {
  "user create": command({
    needs: "storeAndUserIdFloor",
    async input(cli, io) {
      const email = required(cli, "email");
      return { email, password: await readPassword(io, email) };
    },
    offline: (actions, actor, input) => actions.createUser(actor, input),
    remote: (client, input) => client.post<{ userId: number; email: string }>("/users", input),
    print: (user) => ({ fields: user, text: `created user ${user.userId} ${user.email}` }),
  }),
  "user freeze": userStatus("frozen"),
  "user unfreeze": userStatus("active"),
  "key create": command({
    needs: "store",
    input: (cli) => ({
      email: required(cli, "email"),
      scopes: required(cli, "scopes"),
      ipAllowList: cli.values.ip ?? [],
    }),
    offline: (actions, actor, input) => actions.createApiKey(actor, input),
    remote: (client, input) =>
      client.post<Awaited<ReturnType<OperatorActions["createApiKey"]>>>("/keys", input),
    print: (key) => ({
      fields: key,
      text: `key    ${key.keyId}\nsecret ${key.secret}\nscopes ${key.scopes}  (the secret is shown only now)`,
    }),
  }),
  "key revoke": command({
    needs: "store",
    input: (cli) => ({ keyId: required(cli, "key") }),
    offline: (actions, actor, input) => actions.revokeApiKey(actor, input),
    remote: (client, input) => client.delete<{ keyId: string }>(`/keys/${path(input.keyId)}`),
    print: (result) => ({ fields: result, text: `revoked ${result.keyId}` }),
  }),
  "balance adjust": command({
    needs: "exchange",
    input: (cli) => ({
      email: required(cli, "email"),
      asset: required(cli, "asset"),
      amount: required(cli, "amount"),
      reason: required(cli, "reason"),
    }),
    offline: (actions, actor, input) => actions.adjustBalance(actor, input),
    remote: (client, input) =>
      client.post<Awaited<ReturnType<OperatorActions["adjustBalance"]>>>("/balances/adjust", input),
    print: (result) => ({
      fields: result,
      text: `${result.amount} ${result.asset} → user ${result.userId}: available ${result.available}, held ${result.held}`,
    }),
  }),
  "asset add": command({
    needs: "exchange",
    input(cli) {
      const scaleText = required(cli, "scale");
      if (!/^[0-9]{1,2}$/.test(scaleText))
        throw new CliError("invalid", `--scale must be 0..18, got "${scaleText}"`);
      return { code: required(cli, "code"), scale: Number(scaleText) };
    },
    offline: (actions, actor, input) => actions.addAsset(actor, input),
    remote: (client, input) => client.post<AssetListing>("/assets", input),
    print: (asset) => ({
      fields: asset,
      text: `added asset ${asset.code} (id ${asset.assetId}, ${asset.scale} decimals)`,
    }),
  }),
  "asset list": command({
    needs: "exchange",
    input: () => ({}),
    offline: async (actions) => ({ assets: actions.listAssets() }),
    remote: (client) => client.get<{ assets: AssetListing[] }>("/assets"),
    print: (result) => ({ fields: result, text: table(result.assets.map((asset) => ({ ...asset }))) }),
  }),
  "market add": command({
    needs: "exchange",
    input: (cli): MarketSpec => ({
      base: required(cli, "base"),
      quote: required(cli, "quote"),
      tick: required(cli, "tick"),
      lot: required(cli, "lot"),
      minPrice: required(cli, "min-price"),
      maxPrice: required(cli, "max-price"),
      minQuantity: required(cli, "min-qty"),
      maxQuantity: required(cli, "max-qty"),
      minNotional: required(cli, "min-notional"),
      maxNotional: required(cli, "max-notional"),
      makerFeePercent: required(cli, "maker-fee"),
      takerFeePercent: required(cli, "taker-fee"),
    }),
    offline: (actions, actor, spec) => actions.addMarket(actor, spec),
    remote: (client, spec) => client.post<MarketListing>("/markets", spec),
    print: (market) => ({
      fields: market,
      text: `added market ${market.symbol} (id ${market.marketId}): tick ${market.tick}, lot ${market.lot}`,
    }),
  }),
  "market list": command({
    needs: "exchange",
    input: () => ({}),
    offline: async (actions) => ({ markets: await actions.listMarkets() }),
    remote: (client) => client.get<{ markets: MarketListing[] }>("/markets"),
    print: (result) => ({
      fields: result,
      text: table(
        result.markets.map(
          ({ symbol, status, tick, lot, minNotional, makerFeePercent, takerFeePercent }) => ({
            symbol,
            status,
            tick,
            lot,
            minNotional,
            makerFeePercent,
            takerFeePercent,
          }),
        ),
      ),
    }),
  }),
  "market suspend": marketStatus("suspended"),
  "market resume": marketStatus("active"),
  "devnet status": command({
    needs: "devnet",
    input: () => ({}),
    offline: async (actions) => actions.devnetStatus(),
    remote: (client) => client.get<{ chains: DevnetChainStatus[] }>("/devnet/status"),
    print: (result) => ({
      fields: result,
      text: table(
        result.chains.map(({ chain, height, tipHash, mempoolSize, blockIntervalMs }) => ({
          chain,
          height,
          tipHash,
          mempoolSize,
          blockIntervalMs,
        })),
      ),
    }),
  }),
  "devnet mine": command({
    needs: "devnet",
    input: (cli) => ({ chain: required(cli, "chain"), blocks: wholeNumber(cli, "blocks", 1) }),
    offline: (actions, actor, input) => actions.devnetMine(actor, input),
    remote: (client, input) =>
      client.post<Awaited<ReturnType<OperatorActions["devnetMine"]>>>("/devnet/mine", input),
    print: (result) => ({
      fields: result,
      text: `mined ${result.blocks} block(s) on ${result.chain}: height ${result.height}, tip ${result.tipHash}`,
    }),
  }),
  "devnet faucet": command({
    needs: "devnet",
    input: (cli) => ({
      chain: required(cli, "chain"),
      address: required(cli, "address"),
      asset: required(cli, "asset"),
      amount: required(cli, "amount"),
    }),
    offline: (actions, actor, input) => actions.devnetFaucet(actor, input),
    remote: (client, input) =>
      client.post<Awaited<ReturnType<OperatorActions["devnetFaucet"]>>>("/devnet/faucet", input),
    print: (result) => ({
      fields: result,
      text: `${result.amount} ${result.asset} → ${result.address} on ${result.chain}: tx ${result.txid} (in the next block)`,
    }),
  }),
  "devnet reorg": command({
    needs: "devnet",
    input: (cli) => ({ chain: required(cli, "chain"), depth: wholeNumber(cli, "depth") }),
    offline: (actions, actor, input) => actions.devnetReorg(actor, input),
    remote: (client, input) =>
      client.post<Awaited<ReturnType<OperatorActions["devnetReorg"]>>>("/devnet/reorg", input),
    print: (result) => ({
      fields: result,
      text: `replaced ${result.depth} block(s) on ${result.chain} above height ${result.forkHeight}: height ${result.height}, tip ${result.tipHash}`,
    }),
  }),
  "audit verify": command({
    needs: "store",
    input: () => ({}),
    offline: (actions) => actions.verifyAudit(),
    remote: (client) => client.get<Awaited<ReturnType<OperatorActions["verifyAudit"]>>>("/audit/verify"),
    print(result) {
      if (!result.ok) throw new CliError("rejected", `audit log broken: ${result.problem}`);
      return {
        fields: result,
        text: `audit log ok: ${result.checkedRows} rows, head ${result.head?.hash ?? "(empty)"}`,
      };
    },
  }),

  // ---- 2FA and the address book (src/cli/security.ts) ----------------------------------------
  ...SECURITY_COMMANDS,
  // ---- the theft drill: `devnet steal` (src/cli/steal.ts, thief.ts) ---------------------------
  ...STEAL_COMMANDS,
  // ---- custody and withdrawals (src/cli/custody.ts) -------------------------------------------
  ...CUSTODY_COMMANDS,
  // ---- the breakers and reconciliation (src/cli/breaker.ts) ----------------------------------
  ...BREAKER_COMMANDS,
  // ---- the signers' wallets: `wallet init` (src/cli/wallet.ts) -------------------------------
  ...WALLET_COMMANDS,
  // ---- the cold wallet: address, refills, offline keygen and signing (src/cli/cold.ts) --------
  ...COLD_COMMANDS,
  // ---- loss cover and the insurance fund (src/cli/cover.ts) ----------------------------------
  ...COVER_COMMANDS,
  // ---- proof of reserves; `reserves verify` runs in run.ts, needing nothing (src/cli/reserves.ts)
  ...RESERVES_COMMANDS,
  // ---- incidents: list, show, note, resolve, export (src/cli/incident.ts) ---------------------
  ...INCIDENT_COMMANDS,
  // ---- the operator console's accounts: add, list, disable (src/cli/operator.ts) --------------
  ...OPERATOR_ACCOUNT_COMMANDS,
  // ---- the flood guard: degraded mode and bans (src/cli/guard.ts) ----------------------------
  ...GUARD_COMMANDS,
} as unknown as Partial<Record<string, OperatorCommand<unknown, unknown>>>;

/**
 * A whole-number flag (`fallback` when absent). Only the form is checked here; the range is
 * OperatorActions' to check, so offline and remote refuse the same values with the same message.
 */
function wholeNumber(cli: Cli, name: "blocks" | "depth", fallback?: number): number {
  const text = cli.values[name];
  if (text === undefined && fallback !== undefined) return fallback;
  if (text === undefined || text === "")
    throw new CliError("usage", `--${name} is required for "${cli.command}"`);
  if (!/^-?[0-9]{1,15}$/.test(text))
    throw new CliError("invalid", `--${name} must be a whole number, got "${text.slice(0, 40)}"`);
  return Number(text);
}

function userStatus(status: "active" | "frozen") {
  return command({
    needs: "store",
    input: (cli) => ({ email: required(cli, "email"), status }),
    offline: (actions, actor, input) => actions.setUserStatus(actor, input),
    remote: (client, input) =>
      client.post<{ userId: number; status: string }>(`/users/${path(input.email)}/status`, {
        status: input.status,
      }),
    print: (result) => ({ fields: result, text: `user ${result.userId} is ${result.status}` }),
  });
}

function marketStatus(status: "active" | "suspended") {
  return command({
    needs: "exchange",
    input: (cli) => ({ symbol: required(cli, "symbol"), status }),
    offline: (actions, actor, input) => actions.setMarketStatus(actor, input),
    remote: (client, input) =>
      client.post<{ symbol: string; status: string; sequence: number }>(
        `/markets/${path(input.symbol)}/${status === "suspended" ? "suspend" : "resume"}`,
        {},
      ),
    print: (result) => ({ fields: result, text: `${result.symbol} is ${result.status}` }),
  });
}

export function table(rows: readonly Record<string, unknown>[]): string {
  if (rows.length === 0) return "(none)";
  const keys = Object.keys(rows[0]);
  const widths = keys.map((key) => Math.max(key.length, ...rows.map((row) => String(row[key]).length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i]))
      .join("  ")
      .trimEnd();
  return [line(keys), ...rows.map((row) => line(keys.map((key) => String(row[key]))))].join("\n");
}
