// What an operator can do, shared by the CLI and the operator HTTP API so both have exactly the
// same powers and checks. Every change goes through the core (exchange.submit) or the account
// tables, and every successful change is appended to the hash-chained audit log with who did it.
// Failed attempts change nothing and are reported to the caller, not audited.

import { createHash } from "node:crypto";
import {
  type AccountProof,
  AccountService,
  AccountServiceError,
  type AddressRules,
} from "../accounts/account-service.ts";
import type { Accounts, AddressBookEntry, UserRecord, UserStatus } from "../accounts/accounts.ts";
import {
  DEFAULT_SCRYPT_PARAMS,
  hashPassword,
  passwordPolicyProblem,
  type ScryptParams,
} from "../accounts/passwords.ts";
import type { SecretBox } from "../accounts/secret-box.ts";
import type { UnstampedCommand } from "../core/commands.ts";
import { MAX_REASON_LENGTH } from "../core/commands.ts";
import type { AssetConfig } from "../core/config.ts";
import type { CoreEvent } from "../core/events.ts";
import {
  type ChainCustodyStatus,
  ColdRefillError,
  type ColdRefillErrorCode,
  type ColdRefillExport,
  type ColdRefillPort,
  type ColdRefillView,
  CustodyError,
  type CustodyErrorCode,
  type CustodyPort,
  MAX_SWEEPS_LISTED,
  type SweepView,
  WITHDRAWAL_STEPS,
  type WithdrawalStep,
  type WithdrawalView,
} from "../custody/port.ts";
import type { AuditEntry, ExchangeBoundary, JsonValue } from "../exchange/boundary.ts";
import type { GuardControl } from "../gateway/guard/guard-control.ts";
import type { IncidentAdminPort } from "../incidents/port.ts";
import type { ReservesPort } from "../reserves/port.ts";
import { formatUnits, parseDecimal, parseDecimalBig } from "../units/decimal.ts";
import { BreakerActions, PendingResumes } from "./breaker-actions.ts";
import { ConsoleAdminActions } from "./console/operator-accounts.ts";
import {
  type DevnetChainControl,
  type DevnetChainStatus,
  type DevnetControl,
  devnetChainStatus,
  MAX_DEVNET_FAUCET_COINS,
  MAX_DEVNET_MINE_BLOCKS,
  MAX_DEVNET_REORG_DEPTH,
  MAX_DEVNET_SIGNED_TX_BYTES,
} from "./devnet.ts";
import { GuardActions } from "./guard-actions.ts";
import { IncidentActions } from "./incident-actions.ts";
import {
  type AssetSpec,
  assetConfigFromSpec,
  type MarketSpec,
  marketConfigFromSpec,
  SpecError,
} from "./market-spec.ts";
import { ReservesActions } from "./reserves-actions.ts";
import {
  RotationInputError,
  rotateWalletAction,
  type WalletRotationPort,
  type WalletRotationView,
} from "./wallet-rotation.ts";

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

/** A second factor just created: shown once, never stored in clear or audited. */
export interface TotpEnrolment {
  userId: number;
  email: string;
  /** Base32, for typing into an authenticator by hand. */
  secret: string;
  /** otpauth://totp/…, for a QR code. */
  uri: string;
}

export interface TotpChange {
  userId: number;
  email: string;
  totp: "enabled" | "disabled";
  /** Withdrawals are refused until then (24 h after a 2FA change); null when nothing was locked. */
  withdrawalsLockedUntil: string | null;
}

export interface AddressBookListing {
  userId: number;
  email: string;
  currency: string;
  /** The currency's chain, when custody or the devnet knows it; null otherwise. */
  chain: string | null;
  address: string;
  label: string;
  created: string;
  activeFrom: string;
  /** Past its activation time now. */
  active: boolean;
  /** The operator who activated it early, or null. */
  activatedBy: string | null;
}

/** Most withdrawals one `withdrawal list` returns, and its default. */
export const MAX_WITHDRAWAL_LIST = 1_000;
export const DEFAULT_WITHDRAWAL_LIST = 100;
/** Sweeps one `custody sweeps` lists when no limit is given (at most MAX_SWEEPS_LISTED). */
const DEFAULT_SWEEP_LIST = 50;
/** Longest address taken (the store's bound). */
const MAX_ADDRESS_LENGTH = 256;
const CURRENCY_CODE = /^[A-Z0-9]{1,16}$/;

export class OperatorActions {
  /** Custody (deposits, withdrawals, wallets); null when it is not running (offline CLI, or not wired). */
  private custody: CustodyPort | null;
  private accountsWithKey: Accounts | null = null;

  constructor(
    private readonly exchange: ExchangeBoundary,
    private readonly secretBox: SecretBox,
    private readonly clock: () => number = Date.now,
    /** The simulated chains (embedded mode); null when they are off (`start --no-devnet`). */
    private readonly devnet: DevnetControl | null = null,
    custody: CustodyPort | null = null,
    /** scrypt cost of the passwords these actions hash (users, console operators); tests lower it. */
    private readonly passwordScrypt: ScryptParams = DEFAULT_SCRYPT_PARAMS,
  ) {
    this.custody = custody;
  }

  /** Attaches custody once it runs (or detaches it with null, before it stops). */
  setCustody(custody: CustodyPort | null): void {
    this.custody = custody;
  }

  private incidentPort: IncidentAdminPort | null = null;

  /** Attaches the incident service: the server's, or the CLI's over the store when offline. */
  setIncidents(port: IncidentAdminPort | null): void {
    this.incidentPort = port;
  }

  /** `bulwark incident list|show|note|resolve|export` (src/operator/incident-actions.ts). */
  get incidents(): IncidentActions {
    return new IncidentActions(this.incidentPort);
  }

  private reservesPublisher: ReservesPort | null = null;

  /** Attaches the reserves publisher (src/server/reserves.ts); null offline. */
  setReservesPublisher(publisher: ReservesPort | null): void {
    this.reservesPublisher = publisher;
  }

  /** `bulwark insurance …`, `incident cover`, `reserves …` (src/operator/reserves-actions.ts). */
  get reserves(): ReservesActions {
    return new ReservesActions({
      exchange: this.exchange,
      incidents: this.incidentPort,
      publisher: this.reservesPublisher,
      audit: (actor, action, subject, details) => this.audit(actor, action, subject, details),
      userIdOf: async (email) => (await this.user(email)).userId,
    });
  }

  private guardControl: GuardControl | null = null;

  /** Attaches the running gateway's flood guard (degraded mode, bans); null offline. */
  setGuardControl(control: GuardControl | null): void {
    this.guardControl = control;
  }

  /** `bulwark guard …` (src/operator/guard-actions.ts): degraded mode and bans, audited. */
  get guard(): GuardActions {
    return new GuardActions({
      control: this.guardControl,
      audit: (actor, action, subject, details) => this.audit(actor, action, subject, details),
    });
  }

  private walletRotation: WalletRotationPort | null = null;

  /** Attaches `wallet rotate` (src/server/wallet-rotation.ts); the notice goes through setIncidents' port. */
  setWalletRotation(port: WalletRotationPort | null): void {
    this.walletRotation = port;
  }

  /** `bulwark wallet rotate --chain C [--incident N]` (src/operator/wallet-rotation.ts). Audited as wallet.rotate. */
  async rotateWallet(
    actor: string,
    input: { chain: string; incidentId?: number },
  ): Promise<WalletRotationView> {
    const rotation = this.walletRotation;
    if (rotation === null) throw new OperatorError("notFound", "wallet rotation is not available here");
    if (typeof input.chain !== "string" || input.chain === "")
      throw new OperatorError("invalid", "--chain is required");
    if (input.incidentId !== undefined && (!Number.isSafeInteger(input.incidentId) || input.incidentId < 1))
      throw new OperatorError("invalid", "--incident must be a whole number from 1");
    try {
      return await rotateWalletAction(
        {
          rotation,
          incidents: this.incidentPort,
          audit: (action, subject, details) => this.audit(actor, action, subject, details as JsonValue),
        },
        actor,
        input,
      );
    } catch (error) {
      if (error instanceof RotationInputError) throw new OperatorError("notFound", error.message);
      throw error;
    }
  }

  private get accounts() {
    return this.exchange.accounts;
  }

  /** The accounts service with the server key, which 2FA seals its secrets with. */
  private get secured(): Accounts {
    this.accountsWithKey ??= this.exchange.accounts.withSecretBox(this.secretBox);
    return this.accountsWithKey;
  }

  private audit(actor: string, action: string, subject: string, details: JsonValue): Promise<AuditEntry> {
    return this.exchange.audit.append({ tsMs: this.clock(), actor, action, subject, details });
  }

  private accountService: AccountService | null = null;

  /** The person-level operations (src/accounts/account-service.ts), shared with the session routes. */
  private get service(): AccountService {
    this.accountService ??= new AccountService({
      accounts: this.secured,
      secretBox: this.secretBox,
      clock: this.clock,
      audit: (entry) => this.exchange.audit.append(entry),
      auditOfSubjects: (subjects, options) => this.exchange.audit.ofSubjects(subjects, options),
      addressRules: () => this.addressRules,
    });
    return this.accountService;
  }

  /**
   * Which chain serves a currency and the canonical form of its addresses, as custody and the
   * devnet chains here tell: the server hands it to the session routes too (one rule for both doors).
   */
  readonly addressRules: AddressRules = {
    chainOf: (currency) => this.currencyChain(currency),
    canonical: (currency, chain, address) => this.canonicalAddress(currency, chain, address),
  };

  /** Runs a shared account operation, its refusals as OperatorErrors of the same kind and message. */
  private async account<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof AccountServiceError) throw new OperatorError(error.kind, error.message);
      throw error;
    }
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
      passwordHash: await hashPassword(input.password, this.passwordScrypt),
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
    // A freeze also ends the user's browser sessions for good (unfreezing does not revive them).
    const sessionsEnded =
      input.status === "frozen" ? await this.accounts.revokeSessionsOfUser(user.userId, this.clock()) : 0;
    await this.audit(actor, "user.setStatus", `user:${user.userId}`, { status: input.status, sessionsEnded });
    return { userId: user.userId, status: input.status };
  }

  async createApiKey(
    actor: string,
    input: { email: string; scopes: string; ipAllowList: readonly string[] },
  ): Promise<CreatedApiKey> {
    const user = await this.user(input.email);
    return this.account(() =>
      this.service.createApiKey(
        actor,
        user,
        { scopes: input.scopes, ipAllowList: input.ipAllowList },
        OPERATOR_PROOF,
      ),
    );
  }

  async revokeApiKey(actor: string, input: { keyId: string }): Promise<{ keyId: string }> {
    const { keyId } = await this.account(() => this.service.revokeApiKey(actor, input, null));
    return { keyId };
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

  /**
   * A signed transaction from outside onto a devnet chain (a node's "send raw transaction"): the
   * theft drill's way in, where the CLI, holding the stolen hot key, built and signed it itself.
   * `signedTx` is base64; `note` says what it is in the audit log.
   */
  async devnetBroadcast(
    actor: string,
    input: { chain: string; signedTx: string; note?: string },
  ): Promise<{ chain: string; txid: string; bytes: number }> {
    const chain = this.devnetChain(input.chain);
    const bytes = decodeBase64(input.signedTx, MAX_DEVNET_SIGNED_TX_BYTES);
    const note = input.note === undefined ? null : checkNote(input.note);
    const sent = chain.broadcast(bytes);
    if (!sent.ok)
      throw new OperatorError("rejected", `${chain.name} refused the transaction: ${sent.reason}`);
    const result = { chain: chain.id, txid: sent.txid, bytes: bytes.length };
    await this.audit(actor, "devnet.broadcast", `devnet:${chain.id}`, { ...result, note });
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

  // ---- 2FA (TOTP) -----------------------------------------------------------------------------

  /**
   * A new pending TOTP secret for the user (replacing a pending one): shown once, to be typed or
   * scanned into an authenticator and confirmed with its first code. Refused while 2FA is enabled.
   */
  async enableTotp(actor: string, input: { email: string }): Promise<TotpEnrolment> {
    const user = await this.user(input.email);
    const enrolment = await this.account(() => this.service.enableTotp(actor, user));
    return { userId: user.userId, email: user.email, secret: enrolment.secret, uri: enrolment.uri };
  }

  /** Enables the pending secret with its first code; withdrawals are locked for 24 h from now. */
  async confirmTotp(actor: string, input: { email: string; code: string }): Promise<TotpChange> {
    const user = await this.user(input.email);
    const change = await this.account(() => this.service.confirmTotp(actor, user, input.code));
    return {
      userId: user.userId,
      email: user.email,
      totp: "enabled",
      withdrawalsLockedUntil: isoOrNull(change.withdrawalsLockedUntilMs),
    };
  }

  /** Checks a code of the user's enabled 2FA (support proving who calls); each code works once. */
  async verifyTotp(
    actor: string,
    input: { email: string; code: string },
  ): Promise<{
    userId: number;
    email: string;
    verified: true;
  }> {
    const user = await this.user(input.email);
    await this.account(() => this.service.verifyTotp(actor, user, input.code));
    return { userId: user.userId, email: user.email, verified: true };
  }

  /** Removes the user's 2FA (pending or enabled); removing an enabled one locks withdrawals 24 h. */
  async disableTotp(actor: string, input: { email: string }): Promise<TotpChange> {
    const user = await this.user(input.email);
    const change = await this.account(() => this.service.disableTotp(actor, user, OPERATOR_PROOF));
    return {
      userId: user.userId,
      email: user.email,
      totp: "disabled",
      withdrawalsLockedUntil: isoOrNull(change.withdrawalsLockedUntilMs),
    };
  }

  // ---- address book ----------------------------------------------------------------------------

  /**
   * Adds a withdrawal destination: the currency must be one custody (or, without it, a devnet
   * chain) serves, and the address one of its chain, stored in the chain's canonical form. Usable
   * after the accounts' activation delay unless an operator activates it.
   */
  async addAddress(
    actor: string,
    input: { email: string; currency: string; address: string; label?: string },
  ): Promise<AddressBookListing> {
    const user = await this.user(input.email);
    const { entry, chain } = await this.account(() =>
      this.service.addAddress(
        actor,
        user,
        { currency: input.currency, address: input.address, label: input.label ?? "" },
        OPERATOR_PROOF,
      ),
    );
    return this.addressListing(user, entry, chain);
  }

  async listAddresses(input: { email: string }): Promise<{ addresses: AddressBookListing[] }> {
    const user = await this.user(input.email);
    const entries = await this.account(() => this.service.listAddresses(user.userId));
    return {
      addresses: entries.map((entry) =>
        this.addressListing(user, entry, this.service.chainOf(entry.currency)),
      ),
    };
  }

  /** The operator makes an entry usable now (named on it), with the reason in the audit log. */
  async activateAddress(
    actor: string,
    input: { email: string; currency: string; address: string; reason: string },
  ): Promise<AddressBookListing> {
    const user = await this.user(input.email);
    const reason = checkReason(input.reason);
    const { currency, address } = await this.account(() => this.service.existingAddress(user, input));
    if (
      !(await this.accounts.activateAddressNow({
        userId: user.userId,
        currency,
        address,
        nowMs: this.clock(),
        operator: actor,
      }))
    )
      throw new OperatorError("notFound", `${address} is not in ${user.email}'s ${currency} address book`);
    const entry = await this.service.storedEntry(user, currency, address);
    await this.audit(actor, "addressBook.activate", `user:${user.userId}`, {
      currency,
      address,
      reason,
      activeFromMs: entry.activeFromMs,
    });
    return this.addressListing(user, entry, this.service.chainOf(currency));
  }

  async removeAddress(
    actor: string,
    input: { email: string; currency: string; address: string; reason?: string },
  ): Promise<{ userId: number; email: string; currency: string; address: string; removed: true }> {
    const user = await this.user(input.email);
    const { currency, address } = await this.account(() => this.service.removeAddress(actor, user, input));
    return { userId: user.userId, email: user.email, currency, address, removed: true };
  }

  /**
   * The currency's chain: custody's terms when custody runs (it is the authority on which
   * currencies have wallets), else the devnet chains' assets. `currency` is checked, upper case.
   * Refusals are the account service's (these are its AddressRules).
   */
  private currencyChain(currency: string): string {
    if (this.custody !== null) {
      const terms = this.custody.terms();
      const found = terms.find((t) => t.currency === currency);
      if (found === undefined)
        throw new AccountServiceError(
          "notFound",
          "not_found",
          `no currency ${currency} in custody (it serves ${terms.map((t) => t.currency).join(", ") || "none"})`,
        );
      return found.chain;
    }
    if (this.devnet === null)
      throw new AccountServiceError(
        "notFound",
        "not_found",
        `cannot tell which chain ${currency} is on: neither custody nor the devnet chains run here`,
      );
    const chain = this.devnet.chains.find((c) => c.assets.some((a) => a.symbol === currency));
    if (chain === undefined) {
      const known = this.devnet.chains.flatMap((c) => c.assets.map((a) => a.symbol));
      throw new AccountServiceError(
        "notFound",
        "not_found",
        `no currency ${currency} on a chain (the currencies are ${known.join(", ")})`,
      );
    }
    return chain.name;
  }

  /** The address (trimmed, 1..256 characters) in its chain's canonical form; refuses malformed ones and those of another chain. */
  private canonicalAddress(currency: string, chainName: string, address: string): string {
    const chains = this.devnet?.chains ?? [];
    const chain = chains.find((c) => c.name === chainName);
    if (chain === undefined)
      throw new AccountServiceError(
        "invalid",
        "bad_request",
        `cannot check addresses of ${chainName} (${currency}) here: only the devnet chains' addresses are checked`,
      );
    const canonical = chain.normalizeAddress(address);
    if (canonical !== null) return canonical;
    const other = chains.find((c) => c !== chain && c.normalizeAddress(address) !== null);
    if (other !== undefined)
      throw new AccountServiceError(
        "invalid",
        "bad_request",
        `${printable(address)} is a ${other.name} address; ${currency} is on ${chain.name}, so its address must be a ${chain.name} one`,
      );
    throw new AccountServiceError(
      "invalid",
      "bad_request",
      `not a ${chain.name} address (for ${currency}): ${printable(address)}`,
    );
  }

  private addressListing(
    user: UserRecord,
    entry: AddressBookEntry,
    chain: string | null,
  ): AddressBookListing {
    return {
      userId: user.userId,
      email: user.email,
      currency: entry.currency,
      chain,
      address: entry.address,
      label: entry.label,
      created: iso(entry.createdMs),
      activeFrom: iso(entry.activeFromMs),
      active: entry.activeFromMs <= this.clock(),
      activatedBy: entry.activatedBy,
    };
  }

  // ---- custody ---------------------------------------------------------------------------------

  async custodyStatus(input: { chain?: string }): Promise<{ chains: ChainCustodyStatus[] }> {
    const report = await this.custodyCall(() => this.custodyPort().status());
    if (input.chain === undefined || input.chain === "") return { chains: report.chains };
    const wanted = input.chain.trim().toLowerCase();
    // A devnet chain may be named as the devnet commands name it (`btc`) or as custody does (`devnet-btc`).
    const devnetName = this.devnet?.chains.find((c) => c.id === wanted)?.name;
    const chains = report.chains.filter((c) => c.chain === wanted || c.chain === devnetName);
    if (chains.length === 0)
      throw new OperatorError(
        "invalid",
        `custody has no chain ${printable(wanted)}; its chains are ${report.chains.map((c) => c.chain).join(", ") || "none"}`,
      );
    return { chains };
  }

  async listWithdrawals(input: { email?: string; step?: string; limit?: number }): Promise<{
    withdrawals: WithdrawalView[];
  }> {
    const port = this.custodyPort();
    const userId = input.email === undefined ? undefined : (await this.user(input.email)).userId;
    const step = input.step === undefined ? undefined : checkStep(input.step);
    const limit = input.limit ?? DEFAULT_WITHDRAWAL_LIST;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_WITHDRAWAL_LIST)
      throw new OperatorError(
        "invalid",
        `limit must be a whole number 1..${MAX_WITHDRAWAL_LIST}, got ${String(limit)}`,
      );
    const withdrawals = await this.custodyCall(() =>
      port.withdrawals({
        ...(userId === undefined ? {} : { userId }),
        ...(step === undefined ? {} : { step }),
        limit,
      }),
    );
    return { withdrawals };
  }

  /** Custody's sweeps (deposit addresses → hot, hot → cold, gas top-ups, rotations), newest first. */
  async listSweeps(input: { chain?: string; limit?: number }): Promise<{ sweeps: SweepView[] }> {
    const port = this.custodyPort();
    const limit = input.limit ?? DEFAULT_SWEEP_LIST;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_SWEEPS_LISTED)
      throw new OperatorError(
        "invalid",
        `limit must be a whole number 1..${MAX_SWEEPS_LISTED}, got ${String(limit)}`,
      );
    if (port.sweeps === undefined) throw new OperatorError("notFound", "this custody keeps no sweeps");
    const sweeps = port.sweeps.bind(port);
    const chain =
      input.chain === undefined || input.chain.trim() === "" ? undefined : this.custodyChainName(input.chain);
    return {
      sweeps: await this.custodyCall(() => sweeps({ ...(chain === undefined ? {} : { chain }), limit })),
    };
  }

  /**
   * A user's own withdrawal asked at the CLI (or, later, the web): proved by the user's TOTP code,
   * with every check of withdraw_crypt (custody's one implementation). Audited with the actor.
   */
  async requestWithdrawal(
    actor: string,
    input: { email: string; currency: string; amount: string; address: string; code: string },
  ): Promise<WithdrawalView> {
    const port = this.custodyPort();
    const user = await this.user(input.email);
    const view = await this.custodyCall(() =>
      port.requestWithdrawal({
        userId: user.userId,
        currency: input.currency,
        amount: input.amount,
        address: input.address,
        proof: { kind: "totp", code: input.code },
      }),
    );
    await this.audit(actor, "withdrawal.request", `withdrawal:${view.withdrawalId}`, {
      userId: view.userId,
      currency: view.currency,
      amount: view.amount,
      address: view.address,
      step: view.step,
    });
    return view;
  }

  /** One approval of a withdrawal waiting for approvals (custody refuses a second by the same approver). */
  async approveWithdrawal(actor: string, input: { withdrawalId: number }): Promise<WithdrawalView> {
    const port = this.custodyPort();
    const withdrawalId = checkWithdrawalId(input.withdrawalId);
    const view = await this.custodyCall(() => port.approveWithdrawal(withdrawalId, actor));
    await this.audit(actor, "withdrawal.approve", `withdrawal:${withdrawalId}`, {
      userId: view.userId,
      currency: view.currency,
      amount: view.amount,
      address: view.address,
      step: view.step,
      approvals: view.approvals.length,
      approvalsNeeded: view.approvalsNeeded,
    });
    return view;
  }

  /** Rejects a withdrawal not yet signed: custody releases the hold with the reason. */
  async rejectWithdrawal(
    actor: string,
    input: { withdrawalId: number; reason: string },
  ): Promise<WithdrawalView> {
    const port = this.custodyPort();
    const withdrawalId = checkWithdrawalId(input.withdrawalId);
    const reason = checkReason(input.reason);
    const view = await this.custodyCall(() => port.rejectWithdrawal(withdrawalId, actor, reason));
    await this.audit(actor, "withdrawal.reject", `withdrawal:${withdrawalId}`, {
      userId: view.userId,
      currency: view.currency,
      amount: view.amount,
      step: view.step,
      reason,
    });
    return view;
  }

  /** Console operators and the console's users / audit pages (src/operator/console/operator-accounts.ts). */
  get consoleAdmin(): ConsoleAdminActions {
    return new ConsoleAdminActions({
      exchange: this.exchange,
      clock: this.clock,
      passwordScrypt: this.passwordScrypt,
      secretBox: this.secretBox,
      audit: (actor, action, subject, details) => this.audit(actor, action, subject, details),
    });
  }

  /** The breaker commands (src/operator/breaker-actions.ts): status, trip, resume, reconciliations. */
  get breaker(): BreakerActions {
    return new BreakerActions({
      port: () => this.custodyPort(),
      call: (run) => this.custodyCall(run),
      chainName: (chain) => this.custodyChainName(chain),
      pendingResumes: this.pendingResumes,
      clock: this.clock,
      audit: (actor, action, subject, details) => this.audit(actor, action, subject, details),
    });
  }

  /** The console's breaker resume approvals waiting for a second operator (in memory: see the class). */
  private readonly pendingResumes = new PendingResumes();

  private custodyPort(): CustodyPort {
    if (this.custody === null)
      throw new OperatorError(
        "notFound",
        "custody is not running: it runs inside the server (`bulwark start`); run this command while the server runs",
      );
    return this.custody;
  }

  /** Custody's refusals as the operator's kinds, with custody's code and its safe detail. */
  private async custodyCall<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof CustodyError)
        throw new OperatorError(
          CUSTODY_ERROR_KINDS[error.code] ?? "rejected",
          `${error.code}: ${error.detail}`,
        );
      throw error;
    }
  }

  // ---- the cold wallet: its address, and cold → hot refills (src/custody/cold-refills.ts) ------
  //
  // An operator may name themselves (`as`, e.g. `bulwark cold approve --id 3 --as alice`): that name
  // is the requester or approver custody counts (one of the configured cold-refill approvers); the
  // audit entry keeps both it and the actor the request came through.

  /**
   * Checks a cold address for a chain (the chain's own address rule; not one of the exchange's
   * deposit addresses when custody runs) and audits the change. The caller writes
   * `<data-dir>/custody/<chain>.cold.json`; custody reads it at its next start.
   */
  async setColdAddress(
    actor: string,
    input: { chain: string; address: string },
  ): Promise<{ chain: string; address: string }> {
    const chain = this.devnetChain(input.chain);
    const given = typeof input.address === "string" ? input.address.trim() : "";
    const address = given.length > MAX_ADDRESS_LENGTH ? null : chain.normalizeAddress(given);
    if (address === null)
      throw new OperatorError("invalid", `not a ${chain.name} address: ${printable(given)}`);
    if (this.custody !== null) {
      const owners = await this.exchange.custody.depositAddressOwners(chain.name, [address]);
      if (owners.size > 0)
        throw new OperatorError("invalid", `${address} is a user's deposit address, not a cold wallet`);
    }
    const result = { chain: chain.name, address };
    await this.audit(actor, "cold.setAddress", `chain:${chain.name}`, result);
    return result;
  }

  async listColdRefills(input: { chain?: string }): Promise<{ refills: ColdRefillView[] }> {
    const port = this.coldPort();
    const chain =
      input.chain === undefined || input.chain === "" ? undefined : this.custodyChainName(input.chain);
    return { refills: await this.coldCall(() => port.coldRefills(chain)) };
  }

  async requestColdRefill(
    actor: string,
    input: { chain: string; currency: string; amount: string; reason: string; as?: string },
  ): Promise<ColdRefillView> {
    const port = this.coldPort();
    const requester = operatorName(actor, input.as);
    const reason = checkReason(input.reason);
    const view = await this.coldCall(() =>
      port.requestColdRefill({
        chain: this.custodyChainName(input.chain),
        currency: checkCurrency(input.currency),
        amount: typeof input.amount === "string" ? input.amount.trim() : "",
        actor: requester,
        reason,
      }),
    );
    await this.audit(actor, "cold.refill.request", `coldRefill:${view.refillId}`, {
      chain: view.chain,
      currency: view.currency,
      amount: view.amount,
      from: view.from,
      to: view.to,
      requestedBy: view.requestedBy,
      reason,
    });
    return view;
  }

  async approveColdRefill(actor: string, input: { refillId: number; as?: string }): Promise<ColdRefillView> {
    const port = this.coldPort();
    const refillId = checkRefillId(input.refillId);
    const approver = operatorName(actor, input.as);
    const view = await this.coldCall(() => port.approveColdRefill(refillId, approver));
    await this.audit(actor, "cold.refill.approve", `coldRefill:${refillId}`, {
      approver,
      step: view.step,
      approvals: view.approvals.length,
      approvalsNeeded: view.approvalsNeeded,
      exportableFromMs: view.exportableFromMs,
    });
    return view;
  }

  /** The unsigned payload for the offline signer (the audit entry keeps its SHA-256). */
  async exportColdRefill(
    actor: string,
    input: { refillId: number; as?: string },
  ): Promise<{ refill: ColdRefillView; export: ColdRefillExport }> {
    const port = this.coldPort();
    const refillId = checkRefillId(input.refillId);
    const by = operatorName(actor, input.as);
    const result = await this.coldCall(() => port.exportColdRefill(refillId, by));
    await this.audit(actor, "cold.refill.export", `coldRefill:${refillId}`, {
      by,
      step: result.refill.step,
      payloadSha256: createHash("sha256")
        .update(Buffer.from(result.export.payloadBase64, "base64"))
        .digest("hex"),
    });
    return result;
  }

  async importColdRefill(
    actor: string,
    input: { refillId: number; signedTx: string; as?: string },
  ): Promise<ColdRefillView> {
    const port = this.coldPort();
    const refillId = checkRefillId(input.refillId);
    const by = operatorName(actor, input.as);
    const view = await this.coldCall(() => port.importColdRefill(refillId, input.signedTx, by));
    await this.audit(actor, "cold.refill.import", `coldRefill:${refillId}`, {
      by,
      step: view.step,
      txId: view.txId,
    });
    return view;
  }

  async broadcastColdRefill(
    actor: string,
    input: { refillId: number; as?: string },
  ): Promise<ColdRefillView> {
    const port = this.coldPort();
    const refillId = checkRefillId(input.refillId);
    const by = operatorName(actor, input.as);
    const view = await this.coldCall(() => port.broadcastColdRefill(refillId, by));
    await this.audit(actor, "cold.refill.broadcast", `coldRefill:${refillId}`, {
      by,
      step: view.step,
      txId: view.txId,
    });
    return view;
  }

  async cancelColdRefill(
    actor: string,
    input: { refillId: number; reason: string; as?: string },
  ): Promise<ColdRefillView> {
    const port = this.coldPort();
    const refillId = checkRefillId(input.refillId);
    const by = operatorName(actor, input.as);
    const reason = checkReason(input.reason);
    const view = await this.coldCall(() => port.cancelColdRefill(refillId, by, reason));
    await this.audit(actor, "cold.refill.cancel", `coldRefill:${refillId}`, { by, reason });
    return view;
  }

  private coldPort(): ColdRefillPort {
    const port = this.custodyPort();
    const names = [
      "coldRefills",
      "requestColdRefill",
      "approveColdRefill",
      "exportColdRefill",
      "importColdRefill",
      "broadcastColdRefill",
      "cancelColdRefill",
    ] as const;
    if (!names.every((name) => typeof port[name] === "function"))
      throw new OperatorError("notFound", "this custody has no cold wallet refills");
    return port as CustodyPort & ColdRefillPort;
  }

  /** Custody's chain name: the devnet commands' short one (`btc`) or custody's own (`devnet-btc`). */
  private custodyChainName(chain: string): string {
    const wanted = typeof chain === "string" ? chain.trim().toLowerCase() : "";
    return this.devnet?.chains.find((c) => c.id === wanted)?.name ?? wanted;
  }

  /** custodyCall, and the refusals particular to refills. */
  private async coldCall<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await this.custodyCall(call);
    } catch (error) {
      if (error instanceof ColdRefillError)
        throw new OperatorError(COLD_REFILL_ERROR_KINDS[error.code], `${error.code}: ${error.detail}`);
      throw error;
    }
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

export function checkEmail(email: string): string {
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

/** Custody's refusal codes as operator error kinds (the rest are "rejected"). */
const CUSTODY_ERROR_KINDS: Partial<Record<CustodyErrorCode, OperatorErrorKind>> = {
  notFound: "notFound",
  unknownCurrency: "notFound",
  wrongStep: "conflict",
  approvalRefused: "conflict",
  badAddress: "invalid",
  badAmount: "invalid",
  invalidRequest: "invalid",
};

/** Refill refusals as operator error kinds. */
const COLD_REFILL_ERROR_KINDS: Record<ColdRefillErrorCode, OperatorErrorKind> = {
  timeLocked: "conflict",
  badSignedTransaction: "invalid",
  chainRefused: "rejected",
  coldWalletNotConfigured: "notFound",
};

/** Most characters of an operator's name (`--as`). */
const MAX_OPERATOR_NAME = 64;

/** Who requests or approves: the name an operator gave (`as`), else the actor the request came through. */
function operatorName(actor: string, as: string | undefined): string {
  if (as === undefined) return actor;
  const name = typeof as === "string" ? as.trim() : "";
  if (!/^[A-Za-z0-9._@:-]+$/.test(name) || name.length > MAX_OPERATOR_NAME || name.startsWith("system:"))
    throw new OperatorError(
      "invalid",
      `an operator name is 1..${MAX_OPERATOR_NAME} letters, digits and . _ @ : - (not system:…), got ${printable(name)}`,
    );
  return name;
}

function checkRefillId(id: number): number {
  if (!Number.isSafeInteger(id) || id < 1)
    throw new OperatorError("invalid", `a refill id is a whole number ≥ 1, got ${String(id)}`);
  return id;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function isoOrNull(ms: number | null): string | null {
  return ms === null ? null : iso(ms);
}

/** The operator is trusted: no 2FA code of the user's is asked for. */
const OPERATOR_PROOF: AccountProof = { kind: "operator" };

function checkCurrency(text: string): string {
  const currency = typeof text === "string" ? text.trim().toUpperCase() : "";
  if (!CURRENCY_CODE.test(currency))
    throw new OperatorError("invalid", `a currency is 1..16 letters or digits, got ${printable(currency)}`);
  return currency;
}

function checkReason(text: string): string {
  const reason = typeof text === "string" ? text.trim() : "";
  if (reason.length === 0 || reason.length > MAX_REASON_LENGTH)
    throw new OperatorError("invalid", `reason must be 1..${MAX_REASON_LENGTH} characters`);
  return reason;
}

function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

function checkNote(text: string): string {
  const note = typeof text === "string" ? text.trim() : "";
  if (note.length > MAX_REASON_LENGTH || hasControl(note))
    throw new OperatorError("invalid", `a note has at most ${MAX_REASON_LENGTH} printable characters`);
  return note;
}

function checkStep(text: string): WithdrawalStep {
  const step = WITHDRAWAL_STEPS.find((s) => s === text);
  if (step === undefined)
    throw new OperatorError(
      "invalid",
      `unknown withdrawal step ${printable(text)}; the steps are ${WITHDRAWAL_STEPS.join(", ")}`,
    );
  return step;
}

function checkWithdrawalId(id: number): number {
  if (!Number.isSafeInteger(id) || id < 1)
    throw new OperatorError("invalid", `a withdrawal id is a whole number ≥ 1, got ${String(id)}`);
  return id;
}

/** Strict base64 (no whitespace, padding only at the end) of 1..`maxBytes` bytes. */
function decodeBase64(text: string, maxBytes: number): Uint8Array {
  if (
    typeof text !== "string" ||
    text.length === 0 ||
    text.length % 4 !== 0 ||
    text.length > Math.ceil(maxBytes / 3) * 4 ||
    !/^[A-Za-z0-9+/]+={0,2}$/.test(text)
  )
    throw new OperatorError("invalid", `signedTx must be base64 of 1..${maxBytes} bytes`);
  const bytes = new Uint8Array(Buffer.from(text, "base64"));
  if (bytes.length === 0 || bytes.length > maxBytes)
    throw new OperatorError("invalid", `signedTx must be base64 of 1..${maxBytes} bytes`);
  return bytes;
}
