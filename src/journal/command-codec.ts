// Binary encoding of every Command, for the journal. Replay must hand the core exactly the
// command it saw the first time, so every field round-trips bit for bit: numbers keep their
// exact value (also -0, NaN, fractions and unsafe integers, which the core rejects but must
// reject again the same way on replay), and strings keep every UTF-16 code unit.
//
// Layout: [format version u8][kind u8][sequence num][timestampMs num][fields of the kind...]
// Numbers ("num") and strings are encoded as codec-values.ts describes.
//
// Format versions (the first byte of every record's payload, so one journal may hold both):
// 1: placeOrder = [flags: bit 0 side, bits 1-2 order type, bits 3-4 time in force, bit 5
//    postOnly, bits 6-7 STP][7 nums]. Its 2-bit order type field is full (all 4 values used).
// 2: placeOrder = [order type u8][flags: bit 0 side, bits 1-2 time in force, bit 3 postOnly,
//    bits 4-5 STP, bits 6-7 zero][7 nums]; room for 256 order types. Every other kind is
//    encoded as in version 1.
// Only version 2 is written; both are read, so journals written before replay unchanged.
// Kinds 9..13 (custody's creditDeposit, holdWithdrawal, settleWithdrawal, releaseWithdrawal,
// recordWalletMovement) were added to version 2 without a new version: a version is needed when
// an existing record's bytes would mean something else, and these are new kind codes, appended,
// so every record written before decodes exactly as it did. (A reader older than them refuses a
// journal holding one with "unknown command kind", which is right: it cannot apply it.)
// A wallet account's code is its index in WALLET_ACCOUNTS (src/core/commands.ts), append-only.
// An order type's code is its index in ORDER_TYPES (src/core/commands.ts), which is append-only.
// Kinds 14 (coverIncidentLoss) and 15 (fundInsurance) were appended the same way: a loss cover
// source's code is its index in LOSS_COVER_SOURCES, a funding wallet's its index in
// INSURANCE_FUNDING_WALLETS (both append-only).
// 3: a command carrying a signed request's nonce stamp (commands.ts NonceStamp): version 2's
//    bytes, then [keyId string][nonce num]. Written only for a command with a stamp, so every
//    other record is byte for byte what version 2 wrote. Kind 16 (touchNonce = [userId num]) is
//    always version 3.
// 4: a placeOrder carrying a client order text (the Binance dialect's client order id string):
//    version 2's bytes, then [flags u8: bit 0 = a nonce stamp follows, other bits zero], the
//    stamp if any (as version 3's), then [clientOrderText string]. Written only for an order
//    with a text, so every other record is byte for byte what versions 2 and 3 wrote.

import { ByteReader, ByteWriter, ByteWriterFullError, DecodeError } from "../core/bytes.ts";
import {
  type AddAssetCommand,
  type AddMarketCommand,
  type AdjustBalanceCommand,
  type CancelAllCommand,
  type CancelByClientIdCommand,
  type CancelOrderCommand,
  type Command,
  type CoverIncidentLossCommand,
  type CreditDepositCommand,
  type FundInsuranceCommand,
  type HoldWithdrawalCommand,
  INSURANCE_FUNDING_WALLETS,
  LOSS_COVER_SOURCES,
  type MarketStatus,
  type NonceStamp,
  nonceStampOf,
  ORDER_TYPES,
  type OrderType,
  type PlaceOrderCommand,
  type RecordWalletMovementCommand,
  type ReleaseWithdrawalCommand,
  type SetMarketStatusCommand,
  type SettleWithdrawalCommand,
  type Side,
  type TimeInForce,
  type TouchNonceCommand,
  WALLET_ACCOUNTS,
  type WalletAccount,
} from "../core/commands.ts";
import type { AssetConfig, MarketConfig, SelfTradePrevention } from "../core/config.ts";
import {
  CommandEncodeError,
  MAX_NUMBER_SIZE_BYTES,
  putNumber,
  readNumber,
  readString,
  writeNumber,
  writeString,
} from "./codec-values.ts";
import type { PayloadEncoder } from "./journal.ts";

export { CommandEncodeError, MAX_CODEC_STRING_UNITS } from "./codec-values.ts";

/** The version encode writes for a command without a nonce stamp. */
export const COMMAND_FORMAT_VERSION = 2;
/** The version encode writes for a command with a nonce stamp: version 2 plus the stamp. */
export const COMMAND_FORMAT_VERSION_SIGNED = 3;
/** The version encode writes for a placeOrder with a client order text. */
export const COMMAND_FORMAT_VERSION_TEXT = 4;
/** Version 4's flags: bit 0 says a nonce stamp follows. */
const TEXT_FLAG_STAMP = 1;
/** The first version: still read (its placeOrder flags hold the order type in 2 bits). */
const COMMAND_FORMAT_VERSION_1 = 1;

const KIND_PLACE_ORDER = 1;
const KIND_CANCEL_ORDER = 2;
const KIND_CANCEL_BY_CLIENT_ID = 3;
const KIND_CANCEL_ALL = 4;
const KIND_ADJUST_BALANCE = 5;
const KIND_ADD_ASSET = 6;
const KIND_ADD_MARKET = 7;
const KIND_SET_MARKET_STATUS = 8;
const KIND_CREDIT_DEPOSIT = 9;
const KIND_HOLD_WITHDRAWAL = 10;
const KIND_SETTLE_WITHDRAWAL = 11;
const KIND_RELEASE_WITHDRAWAL = 12;
const KIND_RECORD_WALLET_MOVEMENT = 13;
const KIND_COVER_INCIDENT_LOSS = 14;
const KIND_FUND_INSURANCE = 15;
const KIND_TOUCH_NONCE = 16;

/**
 * Version 1's order type codes, frozen: its 2-bit field names only these four. They are also
 * the first four of ORDER_TYPES, which is append-only, so version 2 gives them the same codes.
 */
const V1_ORDER_TYPES: readonly OrderType[] = ["limit", "market", "marketTotal", "stopMarket"];
const TIMES_IN_FORCE: readonly TimeInForce[] = ["gtc", "ioc", "fok"];
const STP_CODES: readonly (SelfTradePrevention | null)[] = [
  null,
  "cancelResting",
  "cancelIncoming",
  "cancelBoth",
];

// ---------------------------------------------------------------------------------------------
// Encoding

/** Room for every non-string field of any kind: version, kind, order type, flags, 20 numbers, a status. */
const MAX_FIXED_SIZE_BYTES = 5 + 20 * MAX_NUMBER_SIZE_BYTES;

function sideCode(side: Side): number {
  if (side === "buy") return 0;
  if (side === "sell") return 1;
  throw new CommandEncodeError(`unknown side ${JSON.stringify(side)}`);
}

function statusCode(status: MarketStatus): number {
  if (status === "active") return 0;
  if (status === "suspended") return 1;
  throw new CommandEncodeError(`unknown market status ${JSON.stringify(status)}`);
}

/** The order type's code: its index in ORDER_TYPES. */
function orderTypeCode(orderType: OrderType): number {
  const code = orderType === "limit" ? 0 : ORDER_TYPES.indexOf(orderType);
  if (code < 0) throw new CommandEncodeError(`unknown order type ${JSON.stringify(orderType)}`);
  return code;
}

function walletAccountCode(account: WalletAccount, field: string): number {
  const code = WALLET_ACCOUNTS.indexOf(account);
  if (code < 0) throw new CommandEncodeError(`unknown ${field} ${JSON.stringify(account)}`);
  return code;
}

/** The index of `value` in an append-only list of names; throws for one outside it. */
function enumCode(values: readonly string[], value: string, field: string): number {
  const code = values.indexOf(value);
  if (code < 0) throw new CommandEncodeError(`unknown ${field} ${JSON.stringify(value)}`);
  return code;
}

function timeInForceCode(timeInForce: TimeInForce): number {
  if (timeInForce === "gtc") return 0;
  if (timeInForce === "ioc") return 1;
  if (timeInForce === "fok") return 2;
  throw new CommandEncodeError(`unknown time in force ${JSON.stringify(timeInForce)}`);
}

function stpCode(stp: SelfTradePrevention | null): number {
  if (stp === null) return 0;
  if (stp === "cancelResting") return 1;
  if (stp === "cancelIncoming") return 2;
  if (stp === "cancelBoth") return 3;
  throw new CommandEncodeError(`unknown self-trade prevention ${JSON.stringify(stp)}`);
}

/** Version 2 flags byte: bit 0 side, bits 1-2 time in force, bit 3 postOnly, bits 4-5 STP. */
function placeOrderFlags(c: PlaceOrderCommand): number {
  if (typeof c.postOnly !== "boolean") throw new CommandEncodeError("postOnly must be a boolean");
  return (
    sideCode(c.side) |
    (timeInForceCode(c.timeInForce) << 1) |
    (c.postOnly ? 1 << 3 : 0) |
    (stpCode(c.selfTradePrevention) << 4)
  );
}

/** The caller has ensured MAX_FIXED_SIZE_BYTES of room (the order has no string). */
function writePlaceOrder(w: ByteWriter, c: PlaceOrderCommand): void {
  const buffer = w.buffer;
  const view = w.view;
  let at = w.length;
  buffer[at++] = orderTypeCode(c.orderType);
  buffer[at++] = placeOrderFlags(c);
  at = putNumber(buffer, view, at, c.userId);
  at = putNumber(buffer, view, at, c.marketId);
  at = putNumber(buffer, view, at, c.priceTicks);
  at = putNumber(buffer, view, at, c.quantityLots);
  at = putNumber(buffer, view, at, c.quoteAmountUnits);
  at = putNumber(buffer, view, at, c.triggerPriceTicks);
  at = putNumber(buffer, view, at, c.clientOrderId);
  w.length = at;
}

function writeAsset(w: ByteWriter, asset: AssetConfig): void {
  writeNumber(w, asset.assetId);
  writeString(w, asset.code, "asset.code");
  w.ensure(MAX_NUMBER_SIZE_BYTES);
  writeNumber(w, asset.scale);
}

function writeMarket(w: ByteWriter, m: MarketConfig): void {
  writeNumber(w, m.marketId);
  writeString(w, m.symbol, "market.symbol");
  w.ensure(MAX_FIXED_SIZE_BYTES);
  writeNumber(w, m.baseAssetId);
  writeNumber(w, m.quoteAssetId);
  writeNumber(w, m.lotSizeBaseUnits);
  writeNumber(w, m.quoteUnitsPerTickLot);
  writeNumber(w, m.minPriceTicks);
  writeNumber(w, m.maxPriceTicks);
  writeNumber(w, m.minQuantityLots);
  writeNumber(w, m.maxQuantityLots);
  writeNumber(w, m.minNotionalUnits);
  writeNumber(w, m.maxNotionalUnits);
  writeNumber(w, m.makerFeePpm);
  writeNumber(w, m.takerFeePpm);
  writeNumber(w, m.stopBuySlippageBps);
  // null is not a valid market policy; code 0 is refused on decode.
  const code = stpCode(m.selfTradePrevention);
  if (code === 0) throw new CommandEncodeError("market self-trade prevention must not be null");
  w.u8(code);
}

function writeBody(w: ByteWriter, c: Command): void {
  switch (c.kind) {
    case "placeOrder":
      writePlaceOrder(w, c);
      return;
    case "cancelOrder":
      writeNumber(w, c.userId);
      writeNumber(w, c.orderId);
      return;
    case "cancelByClientId":
      writeNumber(w, c.userId);
      writeNumber(w, c.marketId);
      writeNumber(w, c.clientOrderId);
      return;
    case "cancelAll":
      writeNumber(w, c.userId);
      writeNumber(w, c.marketId);
      return;
    case "adjustBalance":
      writeNumber(w, c.userId);
      writeNumber(w, c.assetId);
      writeNumber(w, c.amountUnits);
      writeString(w, c.reason, "reason");
      return;
    case "addAsset":
      writeAsset(w, c.asset);
      return;
    case "addMarket":
      writeMarket(w, c.market);
      return;
    case "setMarketStatus":
      writeNumber(w, c.marketId);
      w.u8(statusCode(c.status));
      return;
    case "creditDeposit":
      writeNumber(w, c.userId);
      writeNumber(w, c.assetId);
      writeNumber(w, c.amountUnits);
      writeString(w, c.chain, "chain");
      writeString(w, c.txId, "txId");
      w.ensure(MAX_NUMBER_SIZE_BYTES);
      writeNumber(w, c.outputIndex);
      return;
    case "holdWithdrawal":
      writeNumber(w, c.withdrawalId);
      writeNumber(w, c.userId);
      writeNumber(w, c.assetId);
      writeNumber(w, c.amountUnits);
      writeNumber(w, c.feeUnits);
      return;
    case "settleWithdrawal":
    case "releaseWithdrawal":
      writeNumber(w, c.withdrawalId);
      return;
    case "recordWalletMovement":
      writeNumber(w, c.assetId);
      w.u8(walletAccountCode(c.from, "from account"));
      w.u8(walletAccountCode(c.to, "to account"));
      writeNumber(w, c.amountUnits);
      writeString(w, c.txId, "txId");
      return;
    case "coverIncidentLoss":
      writeNumber(w, c.incidentId);
      writeNumber(w, c.assetId);
      writeNumber(w, c.amountUnits);
      w.u8(enumCode(LOSS_COVER_SOURCES, c.source, "loss cover source"));
      return;
    case "fundInsurance":
      writeNumber(w, c.assetId);
      w.u8(enumCode(INSURANCE_FUNDING_WALLETS, c.wallet, "insurance funding wallet"));
      writeNumber(w, c.amountUnits);
      writeString(w, c.txId, "txId");
      return;
    case "touchNonce":
      writeNumber(w, c.userId);
      return;
  }
}

function kindCode(c: Command): number {
  switch (c.kind) {
    case "placeOrder":
      return KIND_PLACE_ORDER;
    case "cancelOrder":
      return KIND_CANCEL_ORDER;
    case "cancelByClientId":
      return KIND_CANCEL_BY_CLIENT_ID;
    case "cancelAll":
      return KIND_CANCEL_ALL;
    case "adjustBalance":
      return KIND_ADJUST_BALANCE;
    case "addAsset":
      return KIND_ADD_ASSET;
    case "addMarket":
      return KIND_ADD_MARKET;
    case "setMarketStatus":
      return KIND_SET_MARKET_STATUS;
    case "creditDeposit":
      return KIND_CREDIT_DEPOSIT;
    case "holdWithdrawal":
      return KIND_HOLD_WITHDRAWAL;
    case "settleWithdrawal":
      return KIND_SETTLE_WITHDRAWAL;
    case "releaseWithdrawal":
      return KIND_RELEASE_WITHDRAWAL;
    case "recordWalletMovement":
      return KIND_RECORD_WALLET_MOVEMENT;
    case "coverIncidentLoss":
      return KIND_COVER_INCIDENT_LOSS;
    case "fundInsurance":
      return KIND_FUND_INSURANCE;
    case "touchNonce":
      return KIND_TOUCH_NONCE;
  }
  throw new CommandEncodeError(`unknown command kind ${JSON.stringify((c as { kind: unknown }).kind)}`);
}

/** Appends the encoding of `command` to `w`. On error `w` may hold a partial command: reset it. */
function encodeCommandInto(w: ByteWriter, command: Command): void {
  // One capacity check for all fixed fields; strings check their own room.
  w.ensure(MAX_FIXED_SIZE_BYTES);
  const buffer = w.buffer;
  const view = w.view;
  let at = w.length;
  const stamp = nonceStampOf(command);
  const text = command.kind === "placeOrder" ? command.clientOrderText : undefined;
  if (text !== undefined) buffer[at++] = COMMAND_FORMAT_VERSION_TEXT;
  else buffer[at++] = stamp === undefined ? COMMAND_FORMAT_VERSION : COMMAND_FORMAT_VERSION_SIGNED;
  buffer[at++] = kindCode(command);
  at = putNumber(buffer, view, at, command.sequence);
  w.length = putNumber(buffer, view, at, command.timestampMs);
  writeBody(w, command);
  if (text !== undefined) w.u8(stamp === undefined ? 0 : TEXT_FLAG_STAMP);
  if (stamp !== undefined) writeNonceStamp(w, stamp);
  if (text !== undefined) writeString(w, text, "clientOrderText");
}

function writeNonceStamp(w: ByteWriter, stamp: NonceStamp | null): void {
  // The core rejects a malformed stamp; the journal must still hold exactly what it saw.
  if (stamp === null || typeof stamp !== "object") throw new CommandEncodeError("nonce stamp missing");
  writeString(w, stamp.keyId, "nonce.keyId");
  w.ensure(MAX_NUMBER_SIZE_BYTES);
  writeNumber(w, stamp.nonce);
}

/**
 * Reusable encoder for the hot path. encode() returns a view of an internal buffer that is
 * valid until the next encode() call, so callers copy it before encoding again. encodeInto()
 * (the journal's PayloadEncoder) writes straight into the caller's buffer instead: no copy.
 */
export class CommandEncoder implements PayloadEncoder<Command> {
  private readonly writer = new ByteWriter(256);
  private readonly external = new ByteWriter(0);

  encode(command: Command): Uint8Array {
    this.writer.reset();
    encodeCommandInto(this.writer, command);
    return this.writer.written();
  }

  /**
   * Encodes into target[offset, endOffset) and returns the offset just past the command, or -1
   * if it does not fit there (nothing outside that range is touched either way). Throws
   * CommandEncodeError, and nothing else, for a value it cannot encode (also for a malformed
   * object that makes a field access throw), so a caller can tell it from a journal error.
   */
  encodeInto(
    command: Command,
    target: Uint8Array,
    view: DataView,
    offset: number,
    endOffset: number,
  ): number {
    const w = this.external;
    w.attach(target, view, offset, endOffset);
    try {
      encodeCommandInto(w, command);
    } catch (error) {
      if (error instanceof ByteWriterFullError) return -1;
      if (error instanceof CommandEncodeError) throw error;
      throw new CommandEncodeError(`cannot encode the command: ${String(error)}`);
    }
    return w.length;
  }
}

/** Convenience for tests and tools: a fresh copy. */
export function encodeCommand(command: Command): Uint8Array {
  return new CommandEncoder().encode(command).slice();
}

// ---------------------------------------------------------------------------------------------
// Decoding

function readEnum<T>(values: readonly T[], code: number, field: string, offset: number): T {
  if (code >= values.length) throw new DecodeError(`unknown ${field} code ${code}`, offset);
  return values[code];
}

function readPlaceOrder(
  r: ByteReader,
  version: number,
  sequence: number,
  timestampMs: number,
): PlaceOrderCommand {
  const at = r.position;
  let typeCode: number;
  let flags: number;
  if (version === COMMAND_FORMAT_VERSION) {
    r.need(2, "order type and flags");
    typeCode = r.bytes[r.offset];
    flags = r.bytes[r.offset + 1];
    r.offset += 2;
    if (flags >> 6 !== 0) throw new DecodeError(`unknown order flags 0x${flags.toString(16)}`, at + 1);
  } else {
    // Version 1: one byte; its fields moved to where version 2 keeps them.
    const v1 = r.u8("order flags");
    typeCode = (v1 >> 1) & 3;
    flags = (v1 & 1) | (((v1 >> 3) & 3) << 1) | (((v1 >> 5) & 1) << 3) | (((v1 >> 6) & 3) << 4);
  }
  const types = version === COMMAND_FORMAT_VERSION ? ORDER_TYPES : V1_ORDER_TYPES;
  const flagsAt = version === COMMAND_FORMAT_VERSION ? at + 1 : at;
  return {
    kind: "placeOrder",
    sequence,
    timestampMs,
    side: flags & 1 ? "sell" : "buy",
    orderType: readEnum(types, typeCode, "order type", at),
    timeInForce: readEnum(TIMES_IN_FORCE, (flags >> 1) & 3, "time in force", flagsAt),
    postOnly: (flags & (1 << 3)) !== 0,
    selfTradePrevention: readEnum(STP_CODES, (flags >> 4) & 3, "self-trade prevention", flagsAt),
    userId: readNumber(r, "userId"),
    marketId: readNumber(r, "marketId"),
    priceTicks: readNumber(r, "priceTicks"),
    quantityLots: readNumber(r, "quantityLots"),
    quoteAmountUnits: readNumber(r, "quoteAmountUnits"),
    triggerPriceTicks: readNumber(r, "triggerPriceTicks"),
    clientOrderId: readNumber(r, "clientOrderId"),
  };
}

function readAsset(r: ByteReader): AssetConfig {
  return {
    assetId: readNumber(r, "asset.assetId"),
    code: readString(r, "asset.code"),
    scale: readNumber(r, "asset.scale"),
  };
}

function readMarket(r: ByteReader): MarketConfig {
  const market = {
    marketId: readNumber(r, "market.marketId"),
    symbol: readString(r, "market.symbol"),
    baseAssetId: readNumber(r, "market.baseAssetId"),
    quoteAssetId: readNumber(r, "market.quoteAssetId"),
    lotSizeBaseUnits: readNumber(r, "market.lotSizeBaseUnits"),
    quoteUnitsPerTickLot: readNumber(r, "market.quoteUnitsPerTickLot"),
    minPriceTicks: readNumber(r, "market.minPriceTicks"),
    maxPriceTicks: readNumber(r, "market.maxPriceTicks"),
    minQuantityLots: readNumber(r, "market.minQuantityLots"),
    maxQuantityLots: readNumber(r, "market.maxQuantityLots"),
    minNotionalUnits: readNumber(r, "market.minNotionalUnits"),
    maxNotionalUnits: readNumber(r, "market.maxNotionalUnits"),
    makerFeePpm: readNumber(r, "market.makerFeePpm"),
    takerFeePpm: readNumber(r, "market.takerFeePpm"),
    stopBuySlippageBps: readNumber(r, "market.stopBuySlippageBps"),
  };
  const stpOffset = r.position;
  const stp = readEnum(
    STP_CODES,
    r.u8("market.selfTradePrevention"),
    "market self-trade prevention",
    stpOffset,
  );
  if (stp === null) throw new DecodeError("market self-trade prevention must not be null", stpOffset);
  return { ...market, selfTradePrevention: stp };
}

function readStatus(r: ByteReader): MarketStatus {
  const offset = r.position;
  const code = r.u8("status");
  if (code === 0) return "active";
  if (code === 1) return "suspended";
  throw new DecodeError(`unknown market status code ${code}`, offset);
}

function readWalletAccount(r: ByteReader, field: string): WalletAccount {
  const offset = r.position;
  return readEnum(WALLET_ACCOUNTS, r.u8(field), `${field} account`, offset);
}

function readBody(
  r: ByteReader,
  version: number,
  kind: number,
  sequence: number,
  timestampMs: number,
): Command {
  switch (kind) {
    case KIND_PLACE_ORDER:
      return readPlaceOrder(r, version, sequence, timestampMs);
    case KIND_CANCEL_ORDER:
      return {
        kind: "cancelOrder",
        sequence,
        timestampMs,
        userId: readNumber(r, "userId"),
        orderId: readNumber(r, "orderId"),
      } satisfies CancelOrderCommand;
    case KIND_CANCEL_BY_CLIENT_ID:
      return {
        kind: "cancelByClientId",
        sequence,
        timestampMs,
        userId: readNumber(r, "userId"),
        marketId: readNumber(r, "marketId"),
        clientOrderId: readNumber(r, "clientOrderId"),
      } satisfies CancelByClientIdCommand;
    case KIND_CANCEL_ALL:
      return {
        kind: "cancelAll",
        sequence,
        timestampMs,
        userId: readNumber(r, "userId"),
        marketId: readNumber(r, "marketId"),
      } satisfies CancelAllCommand;
    case KIND_ADJUST_BALANCE:
      return {
        kind: "adjustBalance",
        sequence,
        timestampMs,
        userId: readNumber(r, "userId"),
        assetId: readNumber(r, "assetId"),
        amountUnits: readNumber(r, "amountUnits"),
        reason: readString(r, "reason"),
      } satisfies AdjustBalanceCommand;
    case KIND_ADD_ASSET:
      return { kind: "addAsset", sequence, timestampMs, asset: readAsset(r) } satisfies AddAssetCommand;
    case KIND_ADD_MARKET:
      return { kind: "addMarket", sequence, timestampMs, market: readMarket(r) } satisfies AddMarketCommand;
    case KIND_SET_MARKET_STATUS:
      return {
        kind: "setMarketStatus",
        sequence,
        timestampMs,
        marketId: readNumber(r, "marketId"),
        status: readStatus(r),
      } satisfies SetMarketStatusCommand;
    case KIND_CREDIT_DEPOSIT:
      return {
        kind: "creditDeposit",
        sequence,
        timestampMs,
        userId: readNumber(r, "userId"),
        assetId: readNumber(r, "assetId"),
        amountUnits: readNumber(r, "amountUnits"),
        chain: readString(r, "chain"),
        txId: readString(r, "txId"),
        outputIndex: readNumber(r, "outputIndex"),
      } satisfies CreditDepositCommand;
    case KIND_HOLD_WITHDRAWAL:
      return {
        kind: "holdWithdrawal",
        sequence,
        timestampMs,
        withdrawalId: readNumber(r, "withdrawalId"),
        userId: readNumber(r, "userId"),
        assetId: readNumber(r, "assetId"),
        amountUnits: readNumber(r, "amountUnits"),
        feeUnits: readNumber(r, "feeUnits"),
      } satisfies HoldWithdrawalCommand;
    case KIND_SETTLE_WITHDRAWAL:
      return {
        kind: "settleWithdrawal",
        sequence,
        timestampMs,
        withdrawalId: readNumber(r, "withdrawalId"),
      } satisfies SettleWithdrawalCommand;
    case KIND_RELEASE_WITHDRAWAL:
      return {
        kind: "releaseWithdrawal",
        sequence,
        timestampMs,
        withdrawalId: readNumber(r, "withdrawalId"),
      } satisfies ReleaseWithdrawalCommand;
    case KIND_RECORD_WALLET_MOVEMENT:
      return {
        kind: "recordWalletMovement",
        sequence,
        timestampMs,
        assetId: readNumber(r, "assetId"),
        from: readWalletAccount(r, "from"),
        to: readWalletAccount(r, "to"),
        amountUnits: readNumber(r, "amountUnits"),
        txId: readString(r, "txId"),
      } satisfies RecordWalletMovementCommand;
    case KIND_COVER_INCIDENT_LOSS:
      return {
        kind: "coverIncidentLoss",
        sequence,
        timestampMs,
        incidentId: readNumber(r, "incidentId"),
        assetId: readNumber(r, "assetId"),
        amountUnits: readNumber(r, "amountUnits"),
        source: readEnum(LOSS_COVER_SOURCES, r.u8("source"), "loss cover source", r.position - 1),
      } satisfies CoverIncidentLossCommand;
    case KIND_TOUCH_NONCE: {
      // Its one field, then its stamp (always version 3: decode checked).
      const userId = readNumber(r, "userId");
      return {
        kind: "touchNonce",
        sequence,
        timestampMs,
        userId,
        nonce: readNonceStamp(r),
      } satisfies TouchNonceCommand;
    }
    case KIND_FUND_INSURANCE:
      return {
        kind: "fundInsurance",
        sequence,
        timestampMs,
        assetId: readNumber(r, "assetId"),
        wallet: readEnum(
          INSURANCE_FUNDING_WALLETS,
          r.u8("wallet"),
          "insurance funding wallet",
          r.position - 1,
        ),
        amountUnits: readNumber(r, "amountUnits"),
        txId: readString(r, "txId"),
      } satisfies FundInsuranceCommand;
    default:
      throw new DecodeError(`unknown command kind ${kind}`, 1);
  }
}

function readNonceStamp(r: ByteReader): NonceStamp {
  return { keyId: readString(r, "nonce.keyId"), nonce: readNumber(r, "nonce.nonce") };
}

/** Reads the stamp that follows a version 3 command's fields onto the command (touchNonce reads its own). */
function attachNonceStamp(r: ByteReader, command: Command): void {
  switch (command.kind) {
    case "placeOrder":
    case "cancelOrder":
    case "cancelByClientId":
    case "cancelAll":
      command.nonce = readNonceStamp(r);
      return;
    case "touchNonce":
      return;
    default:
      throw new DecodeError(`a ${command.kind} command cannot carry a nonce stamp`, 1);
  }
}

/** Reads what follows a version 4 placeOrder's fields: flags, the stamp if flagged, the text. */
function attachClientOrderText(r: ByteReader, command: Command): void {
  if (command.kind !== "placeOrder") throw new DecodeError("client order text on a non-order", 1);
  const flagsAt = r.position;
  const flags = r.u8("client order text flags");
  if ((flags & ~TEXT_FLAG_STAMP) !== 0) throw new DecodeError(`unknown flags ${flags}`, flagsAt);
  if ((flags & TEXT_FLAG_STAMP) !== 0) command.nonce = readNonceStamp(r);
  command.clientOrderText = readString(r, "clientOrderText");
}

/**
 * Reusable decoder for replay: one reader for every record, pointed at each payload in place
 * (inside the journal segment's bytes), so decoding allocates only the command it returns.
 */
export class CommandDecoder {
  private readonly reader = new ByteReader();

  /** Decodes bytes[start, end); throws DecodeError (offsets counted from start) on bad input. */
  decode(bytes: Uint8Array, start: number, end: number): Command {
    const r = this.reader;
    r.reset(bytes, start, end);
    const version = r.u8("format version");
    if (
      version !== COMMAND_FORMAT_VERSION &&
      version !== COMMAND_FORMAT_VERSION_SIGNED &&
      version !== COMMAND_FORMAT_VERSION_TEXT &&
      version !== COMMAND_FORMAT_VERSION_1
    ) {
      throw new DecodeError(`unsupported command format version ${version}`, 0);
    }
    const signed = version === COMMAND_FORMAT_VERSION_SIGNED;
    const texted = version === COMMAND_FORMAT_VERSION_TEXT;
    const kind = r.u8("kind");
    if (kind === KIND_TOUCH_NONCE && !signed)
      throw new DecodeError("touchNonce without a nonce stamp (version 3 only)", 1);
    if (texted && kind !== KIND_PLACE_ORDER)
      throw new DecodeError("only placeOrder carries a client order text (version 4)", 1);
    const sequence = readNumber(r, "sequence");
    const timestampMs = readNumber(r, "timestampMs");
    const bodyVersion = signed || texted ? COMMAND_FORMAT_VERSION : version;
    const command = readBody(r, bodyVersion, kind, sequence, timestampMs);
    if (signed) attachNonceStamp(r, command);
    if (texted) attachClientOrderText(r, command);
    if (r.remaining !== 0) {
      throw new DecodeError(`${r.remaining} trailing bytes after the command`, r.position);
    }
    return command;
  }
}

/** Decodes one command; throws DecodeError on any malformed, truncated or over-long input. */
export function decodeCommand(bytes: Uint8Array): Command {
  return new CommandDecoder().decode(bytes, 0, bytes.length);
}
