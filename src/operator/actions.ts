// What an operator can do, shared by the CLI and the operator HTTP API so both have exactly the
// same powers and checks. Every change goes through the core (exchange.submit) or the account
// tables, and every successful change is appended to the hash-chained audit log with who did it.
// Failed attempts change nothing and are reported to the caller, not audited.

import type { UserRecord, UserStatus } from "../accounts/accounts.ts";
import {
  apiKeyPolicyProblem,
  formatScopes,
  generateApiKey,
  parseAllowListEntries,
  parseScopes,
  sealApiSecret,
} from "../accounts/api-keys.ts";
import { hashPassword, passwordPolicyProblem } from "../accounts/passwords.ts";
import type { SecretBox } from "../accounts/secret-box.ts";
import type { UnstampedCommand } from "../core/commands.ts";
import { MAX_REASON_LENGTH } from "../core/commands.ts";
import type { AssetConfig } from "../core/config.ts";
import type { CoreEvent } from "../core/events.ts";
import type { AuditEntry, ExchangeBoundary, JsonValue } from "../exchange/boundary.ts";
import { formatUnits, parseDecimal, parseDecimalBig } from "../units/decimal.ts";
import {
  type DevnetChainControl,
  type DevnetChainStatus,
  type DevnetControl,
  devnetChainStatus,
  MAX_DEVNET_FAUCET_COINS,
  MAX_DEVNET_MINE_BLOCKS,
  MAX_DEVNET_REORG_DEPTH,
} from "./devnet.ts";
import {
  type AssetSpec,
  assetConfigFromSpec,
  type MarketSpec,
  marketConfigFromSpec,
  SpecError,
} from "./market-spec.ts";

export type OperatorErrorKind = "invalid" | "notFound" | "conflict" | "rejected";

/** A refused operator action: `kind` picks the HTTP status and the CLI's exit message. */
export class OperatorError extends Error {
  constructor(
    readonly kind: OperatorErrorKind,
    message: string,
  ) {
    super(message);
  }
}

export interface CreatedApiKey {
  keyId: string;
  secret: string;
  userId: number;
  scopes: string;
  ipAllowList: string[];
}

export interface AssetListing {
  assetId: number;
  code: string;
  scale: number;
}

export interface MarketListing {
  marketId: number;
  symbol: string;
  status: "active" | "suspended";
  tick: string;
  lot: string;
  minPrice: string;
  maxPrice: string;
  minQuantity: string;
  maxQuantity: string;
  minNotional: string;
  maxNotional: string;
  makerFeePercent: string;
  takerFeePercent: string;
}

export class OperatorActions {
  constructor(
    private readonly exchange: ExchangeBoundary,
    private readonly secretBox: SecretBox,
    private readonly clock: () => number = Date.now,
    /** The simulated chains (embedded mode); null when they are off (`start --no-devnet`). */
    private readonly devnet: DevnetControl | null = null,
  ) {}

  private get accounts() {
    return this.exchange.accounts;
  }

  private audit(actor: string, action: string, subject: string, details: JsonValue): Promise<AuditEntry> {
    return this.exchange.audit.append({ tsMs: this.clock(), actor, action, subject, details });
  }

  // ---- users and keys ------------------------------------------------------------------------

  async createUser(
    actor: string,
    input: { email: string; password: string },
  ): Promise<{ userId: number; email: string }> {
    const policy = passwordPolicyProblem(input.password);
    if (policy === "tooShort") throw new OperatorError("invalid", "password must be at least 8 characters");
    if (policy === "tooLong") throw new OperatorError("invalid", "password is too long");
    const email = checkEmail(input.email);
    const created = await this.accounts.createUser({
      email,
      passwordHash: await hashPassword(input.password),
      createdMs: this.clock(),
    });
    if (!created.ok) throw new OperatorError("conflict", `a user with email ${email} already exists`);
    const { userId } = created.user;
    await this.audit(actor, "user.create", `user:${userId}`, { email: created.user.email });
    return { userId, email: created.user.email };
  }

  async setUserStatus(
    actor: string,
    input: { email: string; status: UserStatus },
  ): Promise<{ userId: number; status: UserStatus }> {
    const user = await this.user(input.email);
    if (input.status !== "active" && input.status !== "frozen")
      throw new OperatorError("invalid", "status must be active or frozen");
    await this.accounts.setUserStatus(user.userId, input.status);
    await this.audit(actor, "user.setStatus", `user:${user.userId}`, { status: input.status });
    return { userId: user.userId, status: input.status };
  }

  async createApiKey(
    actor: string,
    input: { email: string; scopes: string; ipAllowList: readonly string[] },
  ): Promise<CreatedApiKey> {
    const user = await this.user(input.email);
    const scopes = parseScopes(input.scopes);
    if (!scopes.ok) throw new OperatorError("invalid", `scopes: ${scopes.problem}`);
    const allowList = parseAllowListEntries(input.ipAllowList);
    if (!allowList.ok) throw new OperatorError("invalid", `ip allow-list: ${allowList.problem}`);
    const policy = apiKeyPolicyProblem(scopes.scopes, allowList.entries);
    if (policy !== null) throw new OperatorError("invalid", policy);
    const { keyId, secret } = generateApiKey();
    const scopesText = formatScopes(scopes.scopes);
    const stored = await this.accounts.createApiKey({
      keyId,
      userId: user.userId,
      secretCiphertext: sealApiSecret(this.secretBox, keyId, secret),
      scopes: scopesText.split(","),
      ipAllowList: [...input.ipAllowList],
      createdMs: this.clock(),
    });
    // 160 random bits: a collision means the random source is broken, not bad luck.
    if (!stored) throw new Error("generated API key id already exists");
    // The secret is shown once to the caller and never written to the audit log.
    await this.audit(actor, "apiKey.create", `apiKey:${keyId}`, {
      userId: user.userId,
      scopes: scopesText,
      ipAllowList: [...input.ipAllowList],
    });
    return { keyId, secret, userId: user.userId, scopes: scopesText, ipAllowList: [...input.ipAllowList] };
  }

  async revokeApiKey(actor: string, input: { keyId: string }): Promise<{ keyId: string }> {
    const key = await this.accounts.apiKey(checkKeyId(input.keyId));
    if (key === undefined) throw new OperatorError("notFound", `no API key ${input.keyId}`);
    if (!(await this.accounts.revokeApiKey(input.keyId, this.clock())))
      throw new OperatorError("conflict", `API key ${input.keyId} is already revoked`);
    await this.audit(actor, "apiKey.revoke", `apiKey:${input.keyId}`, { userId: key.userId });
    return { keyId: input.keyId };
  }

  // ---- balances ------------------------------------------------------------------------------

  /** Credits (amount > 0) or debits (amount < 0) a user's available balance, in the asset's decimals. */
  async adjustBalance(
    actor: string,
    input: { email: string; asset: string; amount: string; reason: string },
  ): Promise<{
    userId: number;
    asset: string;
    amount: string;
    available: string;
    held: string;
    sequence: number;
  }> {
    const user = await this.user(input.email);
    const asset = this.asset(input.asset);
    const amount = parseDecimal(input.amount, asset.scale, { allowNegative: true });
    if (!amount.ok || amount.value === 0)
      throw new OperatorError(
        "invalid",
        `amount ${input.amount} must be a non-zero decimal with at most ${asset.scale} decimals`,
      );
    const reason = input.reason.trim();
    if (reason.length === 0 || reason.length > MAX_REASON_LENGTH)
      throw new OperatorError("invalid", `reason must be 1..${MAX_REASON_LENGTH} characters`);
    const sequence = await this.submit({
      kind: "adjustBalance",
      userId: user.userId,
      assetId: asset.assetId,
      amountUnits: amount.value,
      reason,
    });
    await this.audit(actor, "balance.adjust", `user:${user.userId}`, {
      asset: asset.code,
      amountUnits: amount.value,
      reason,
      sequence,
    });
    const balance = this.exchange.balance(user.userId, asset.assetId);
    return {
      userId: user.userId,
      asset: asset.code,
      amount: formatUnits(amount.value, asset.scale),
      available: formatUnits(balance.availableUnits, asset.scale),
      held: formatUnits(balance.heldUnits, asset.scale),
      sequence,
    };
  }

  // ---- assets and markets --------------------------------------------------------------------

  listAssets(): AssetListing[] {
    return this.exchange
      .assets()
      .map((asset) => ({ assetId: asset.assetId, code: asset.code, scale: asset.scale }));
  }

  async addAsset(actor: string, spec: AssetSpec): Promise<AssetListing> {
    if (this.exchange.assetByCode(spec.code) !== undefined)
      throw new OperatorError("conflict", `asset ${spec.code} already exists`);
    const asset = specOrInvalid(() =>
      assetConfigFromSpec(spec, nextId(this.exchange.assets().map((a) => a.assetId))),
    );
    const sequence = await this.submit({ kind: "addAsset", asset });
    await this.audit(actor, "asset.add", `asset:${asset.code}`, { ...asset, sequence });
    return { ...asset };
  }

  async listMarkets(): Promise<MarketListing[]> {
    await this.exchange.whenProjected(this.exchange.status().lastSequence);
    const statuses = new Map((await this.exchange.reads.markets()).map((row) => [row.marketId, row.status]));
    return this.exchange.markets().map(({ config, units }) => ({
      marketId: config.marketId,
      symbol: config.symbol,
      status: statuses.get(config.marketId) ?? "active",
      tick: units.formatPrice(1),
      lot: units.formatQuantity(1),
      minPrice: units.minPrice,
      maxPrice: units.maxPrice,
      minQuantity: units.minQuantity,
      maxQuantity: units.maxQuantity,
      minNotional: units.minAmount,
      maxNotional: units.maxAmount,
      makerFeePercent: units.makerFeePercent,
      takerFeePercent: units.takerFeePercent,
    }));
  }

  async addMarket(actor: string, spec: MarketSpec): Promise<MarketListing> {
    const base = this.asset(spec.base);
    const quote = this.asset(spec.quote);
    const symbol = `${base.code}_${quote.code}`;
    if (this.exchange.marketBySymbol(symbol) !== undefined)
      throw new OperatorError("conflict", `market ${symbol} already exists`);
    const marketId = nextId(this.exchange.markets().map((m) => m.config.marketId));
    const market = specOrInvalid(() => marketConfigFromSpec(spec, marketId, base, quote));
    const sequence = await this.submit({ kind: "addMarket", market });
    await this.audit(actor, "market.add", `market:${symbol}`, {
      spec: { ...spec },
      market: { ...market },
      sequence,
    });
    const listing = (await this.listMarkets()).find((entry) => entry.marketId === marketId);
    if (listing === undefined) throw new Error(`market ${symbol} missing after it was added`);
    return listing;
  }

  async setMarketStatus(
    actor: string,
    input: { symbol: string; status: "active" | "suspended" },
  ): Promise<{ symbol: string; status: "active" | "suspended"; sequence: number }> {
    const market = this.exchange.marketBySymbol(input.symbol.toUpperCase());
    if (market === undefined) throw new OperatorError("notFound", `no market ${input.symbol}`);
    const sequence = await this.submit({
      kind: "setMarketStatus",
      marketId: market.config.marketId,
      status: input.status,
    });
    const action = input.status === "suspended" ? "market.suspend" : "market.resume";
    await this.audit(actor, action, `market:${market.config.symbol}`, { sequence });
    return { symbol: market.config.symbol, status: input.status, sequence };
  }

  // ---- audit ---------------------------------------------------------------------------------

  async verifyAudit(): Promise<{
    ok: boolean;
    checkedRows: number;
    head: { seq: number; hash: string } | null;
    problem?: string;
  }> {
    const result = await this.exchange.audit.verify();
    if (result.ok) return { ok: true, checkedRows: result.checkedRows, head: result.head };
    return {
      ok: false,
      checkedRows: result.checkedRows,
      head: null,
      problem: `${result.problem} at seq ${result.seq}`,
    };
  }

  // ---- devnet (simulated chains) -------------------------------------------------------------

  devnetStatus(): { chains: DevnetChainStatus[] } {
    return { chains: this.devnetControl().chains.map(devnetChainStatus) };
  }

  async devnetMine(
    actor: string,
    input: { chain: string; blocks: number },
  ): Promise<{ chain: string; blocks: number; height: number; tipHash: string }> {
    const chain = this.devnetChain(input.chain);
    const { blocks } = input;
    if (!Number.isSafeInteger(blocks) || blocks < 1 || blocks > MAX_DEVNET_MINE_BLOCKS)
      throw new OperatorError(
        "invalid",
        `blocks must be a whole number 1..${MAX_DEVNET_MINE_BLOCKS}, got ${String(blocks)}`,
      );
    chain.mine(blocks);
    const result = { chain: chain.id, blocks, height: chain.height(), tipHash: chain.tipHash() };
    await this.audit(actor, "devnet.mine", `devnet:${chain.id}`, result);
    return result;
  }

  /** An outside sender pays `address`; the payment is in the next block. */
  async devnetFaucet(
    actor: string,
    input: { chain: string; address: string; asset: string; amount: string },
  ): Promise<{
    chain: string;
    address: string;
    asset: string;
    amount: string;
    amountUnits: string;
    txid: string;
  }> {
    const chain = this.devnetChain(input.chain);
    const asset = chain.assets.find((a) => a.symbol === input.asset.toUpperCase());
    if (asset === undefined)
      throw new OperatorError(
        "invalid",
        `devnet chain ${chain.id} has no asset ${input.asset} (it has ${chain.assets.map((a) => a.symbol).join(", ")})`,
      );
    const address = chain.normalizeAddress(input.address);
    if (address === null)
      throw new OperatorError("invalid", `not a ${chain.name} address: ${printable(input.address)}`);
    const amount = parseDecimalBig(input.amount, asset.decimals, {
      maxUnits: MAX_DEVNET_FAUCET_COINS * 10n ** BigInt(asset.decimals),
    });
    if (!amount.ok || amount.value === 0n)
      throw new OperatorError(
        "invalid",
        `amount ${printable(input.amount)} must be a positive decimal with at most ${asset.decimals} ` +
          `decimals and at most ${MAX_DEVNET_FAUCET_COINS} ${asset.symbol}`,
      );
    const txid = chain.faucet(address, asset.symbol, amount.value);
    const result = {
      chain: chain.id,
      address,
      asset: asset.symbol,
      amount: formatUnits(amount.value, asset.decimals),
      amountUnits: amount.value.toString(),
      txid,
    };
    await this.audit(actor, "devnet.faucet", `devnet:${chain.id}`, result);
    return result;
  }

  /** Replaces the last `depth` blocks with new ones (new hashes, the same transactions). */
  async devnetReorg(
    actor: string,
    input: { chain: string; depth: number },
  ): Promise<{ chain: string; depth: number; forkHeight: number; height: number; tipHash: string }> {
    const chain = this.devnetChain(input.chain);
    const { depth } = input;
    const most = Math.min(MAX_DEVNET_REORG_DEPTH, chain.height());
    if (!Number.isSafeInteger(depth) || depth < 1 || depth > most)
      throw new OperatorError(
        "invalid",
        `depth must be a whole number 1..${most} (at most ${MAX_DEVNET_REORG_DEPTH}, and not below ` +
          `the genesis block at height ${chain.height()}), got ${String(depth)}`,
      );
    const forkHeight = chain.reorg(depth);
    const result = { chain: chain.id, depth, forkHeight, height: chain.height(), tipHash: chain.tipHash() };
    await this.audit(actor, "devnet.reorg", `devnet:${chain.id}`, result);
    return result;
  }

  private devnetControl(): DevnetControl {
    if (this.devnet === null)
      throw new OperatorError("notFound", "devnet is off on this server (it was started with --no-devnet)");
    return this.devnet;
  }

  private devnetChain(name: string): DevnetChainControl {
    const { chains } = this.devnetControl();
    const wanted = typeof name === "string" ? name.trim().toLowerCase() : "";
    const chain = chains.find((c) => c.id === wanted || c.name === wanted);
    if (chain === undefined)
      throw new OperatorError(
        "invalid",
        `unknown devnet chain ${printable(wanted)}; the chains are ${chains.map((c) => c.id).join(", ")}`,
      );
    return chain;
  }

  // ---- helpers -------------------------------------------------------------------------------

  private async user(email: string): Promise<UserRecord> {
    const user = await this.accounts.userByEmail(checkEmail(email));
    if (user === undefined) throw new OperatorError("notFound", `no user with email ${email}`);
    return user;
  }

  private asset(code: string): AssetConfig {
    const asset = this.exchange.assetByCode(code.toUpperCase());
    if (asset === undefined) throw new OperatorError("notFound", `no asset ${code}`);
    return asset;
  }

  /** Submits, waits until the store shows it, and turns a core rejection into an OperatorError. */
  private async submit(command: UnstampedCommand): Promise<number> {
    const result = await this.exchange.submit(command);
    const rejected = result.events.find((event: CoreEvent) => event.type === "rejected");
    if (rejected !== undefined && rejected.type === "rejected")
      throw new OperatorError("rejected", `the core rejected ${command.kind}: ${rejected.reason}`);
    await this.exchange.whenProjected(result.sequence);
    return result.sequence;
  }
}

/** RFC 5321's longest path; the store's column and the operator API's fields use the same bound. */
export const MAX_EMAIL_LENGTH = 254;
/**
 * Printable ASCII only: a local part of letters, digits and `.!#$%*+/=?^_{|}~-` (RFC 5322's atext
 * without quotes, apostrophe, backtick and `&`), and a domain of dot-separated labels of letters,
 * digits and hyphens. No NUL or other control, no space, no markup (`<`, `>`, quotes): an email is
 * shown in consoles, logs and mails, where such characters are an injection, never an address.
 */
const EMAIL = /^[A-Za-z0-9.!#$%*+/=?^_{|}~-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*$/;
const KEY_ID_TEXT = /^[A-Za-z0-9_-]{1,128}$/;

function checkEmail(email: string): string {
  const trimmed = typeof email === "string" ? email.trim() : "";
  if (trimmed.length > MAX_EMAIL_LENGTH || !EMAIL.test(trimmed))
    throw new OperatorError(
      "invalid",
      `not an email address (printable ASCII, at most ${MAX_EMAIL_LENGTH} characters): ` +
        trimmed.slice(0, 80).replace(/[^A-Za-z0-9.!#$%*+/=?^_{|}~@-]/g, "?"),
    );
  return trimmed;
}

/** User text quoted in a message: at most 80 characters, controls and markup replaced. */
function printable(text: string): string {
  return String(text)
    .slice(0, 80)
    .replace(/[^A-Za-z0-9.:_ -]/g, "?");
}

function checkKeyId(keyId: string): string {
  if (typeof keyId !== "string" || !KEY_ID_TEXT.test(keyId))
    throw new OperatorError("invalid", "malformed key id");
  return keyId;
}

/** Asset and market ids are dense, assigned in order. */
function nextId(ids: readonly number[]): number {
  return ids.reduce((max, id) => Math.max(max, id), 0) + 1;
}

function specOrInvalid<T>(build: () => T): T {
  try {
    return build();
  } catch (error) {
    if (error instanceof SpecError) throw new OperatorError("invalid", error.message);
    throw error;
  }
}
