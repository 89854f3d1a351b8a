import ccxt from "ccxt";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { RejectReason } from "../../../src/core/events.ts";
import { CUSTODY_ERROR_CODES } from "../../../src/custody/port.ts";
import {
  type CcxtErrorClass,
  CUSTODY_ERRORS,
  EXMO_ERRORS,
  type ExmoErrorKind,
  exmoError,
  exmoErrorBody,
  MAX_ERROR_DETAIL_LENGTH,
  sanitizeErrorDetail,
} from "../../../src/gateway/exmo/errors.ts";

// Every RejectReason of src/core/events.ts. The type check below fails to compile when a reason
// is added there and not here, so this list cannot silently fall behind.
const ALL_REJECT_REASONS = [
  "invalidCommand",
  "unknownMarket",
  "marketSuspended",
  "unknownAsset",
  "invalidPrice",
  "invalidQuantity",
  "invalidNotional",
  "insufficientFunds",
  "postOnlyWouldTake",
  "fokCannotFill",
  "noLiquidity",
  "orderNotFound",
  "tooManyOpenOrders",
  "tooManyStopOrders",
  "tooManyUsers",
  "alreadyExists",
  "limitReached",
  "duplicateDeposit",
  "withdrawalExists",
  "withdrawalNotFound",
  "staleNonce",
] as const satisfies readonly RejectReason[];
type UnlistedReason = Exclude<RejectReason, (typeof ALL_REJECT_REASONS)[number]>;
const everyReasonListed: [UnlistedReason] extends [never] ? true : false = true;

// docs/API.md#ccxt-exact-codes, verbatim.
const DOC_EXACT_TABLE: ReadonlyMap<number, CcxtErrorClass> = new Map([
  [40005, "AuthenticationError"],
  [40009, "InvalidNonce"],
  [40015, "ExchangeError"],
  [40016, "OnMaintenance"],
  [40017, "AuthenticationError"],
  [40032, "PermissionDenied"],
  [40033, "PermissionDenied"],
  [40034, "RateLimitExceeded"],
  [50052, "InsufficientFunds"],
  [50054, "InsufficientFunds"],
  [50173, "OrderNotFound"],
  [50304, "OrderNotFound"],
  [50277, "InvalidOrder"],
  [50319, "InvalidOrder"],
  [50321, "InvalidOrder"],
  [50381, "InvalidOrder"],
  [140333, "InvalidOrder"],
  [140434, "BadRequest"],
]);
// docs/API.md#ccxt-broad-phrases.
const DOC_BROAD_TABLE: ReadonlyArray<[string, CcxtErrorClass]> = [
  ["range period is too long", "BadRequest"],
  ["invalid syntax", "BadRequest"],
  ["API rate limit exceeded", "RateLimitExceeded"],
];

/** The class docs/API.md#ccxt-error-classes predicts for a failure body: exact code, then broad text, then ExchangeError. */
function docPredictedClass(code: number, message: string): CcxtErrorClass {
  const exact = DOC_EXACT_TABLE.get(code);
  if (exact !== undefined) return exact;
  for (const [phrase, cls] of DOC_BROAD_TABLE) if (message.includes(phrase)) return cls;
  return "ExchangeError";
}

const ALL_KINDS = Object.keys(EXMO_ERRORS) as ExmoErrorKind[];
const exmo = new ccxt.exmo();

/** The exception ccxt 4.5.73's real `exmo.handleErrors` raises for a body, by class name. */
function ccxtClassFor(body: object): string {
  const text = JSON.stringify(body);
  try {
    exmo.handleErrors(200, "OK", "http://127.0.0.1/v1.1/x", "POST", {}, text, JSON.parse(text), {}, "");
  } catch (error) {
    return (error as Error).name;
  }
  return "no exception";
}

describe("EXMO error table", () => {
  it("has an entry for every RejectReason", () => {
    expect(everyReasonListed).toBe(true);
    for (const reason of ALL_REJECT_REASONS) {
      expect(EXMO_ERRORS[reason], reason).toBeDefined();
      expect(Number.isInteger(EXMO_ERRORS[reason].code), reason).toBe(true);
    }
  });

  it.each(ALL_KINDS)("%s lands in the ccxt class the doc predicts, and the row says so", (kind) => {
    const { code, message } = exmoError(kind);
    expect(EXMO_ERRORS[kind].ccxtClass).toBe(docPredictedClass(code, message));
  });

  it.each(ALL_KINDS)("%s raises its class in ccxt 4.5.73 itself, with and without a detail", (kind) => {
    expect(ccxtClassFor(exmoErrorBody(kind))).toBe(EXMO_ERRORS[kind].ccxtClass);
    expect(ccxtClassFor(exmoErrorBody(kind, "BTC_USD"))).toBe(EXMO_ERRORS[kind].ccxtClass);
  });

  it("codes in ccxt's exact table are used only with the meaning the doc gives them", () => {
    const byCode = new Map<number, ExmoErrorKind[]>();
    for (const kind of ALL_KINDS) {
      const code = EXMO_ERRORS[kind].code;
      byCode.set(code, [...(byCode.get(code) ?? []), kind]);
    }
    expect(byCode.get(40005)).toEqual(["badSignature"]);
    expect(byCode.get(40009)).toEqual([
      "invalidNonce",
      "staleNonce",
      "nonceMissing",
      "nonceMalformed",
      "nonceNotPositive",
      "nonceTooLarge",
      "nonceTooFarAhead",
    ]);
    expect(byCode.get(40015)).toEqual(["unknownFunction"]);
    expect(byCode.get(40016)).toEqual(["maintenance"]);
    expect(byCode.get(40017)).toEqual(["unknownApiKey"]);
    expect(byCode.get(40032)).toEqual(["noPermission", "ipNotAllowed"]);
    expect(byCode.get(40033)).toEqual(["userBlocked"]);
    expect(byCode.get(40034)).toEqual(["rateLimited"]);
    expect(byCode.get(50013)).toEqual(["missingParameter"]);
    expect(byCode.get(50052)).toEqual(["insufficientFunds"]);
    expect(byCode.get(50173)).toEqual(["orderNotFound"]);
    expect(byCode.get(50304)).toEqual(["orderHasNoTrades"]);
    expect(byCode.get(50319)).toEqual(["invalidPrice", "priceTooLow"]);
    expect(byCode.get(50321)).toEqual(["priceTooHigh"]);
    expect(byCode.get(50381)).toEqual(["tooPrecise", "amountTooPrecise"]);
    // Custody's rejections, one Bulwark code each.
    expect(byCode.get(59020)).toEqual(["duplicateDeposit"]);
    expect(byCode.get(59021)).toEqual(["withdrawalExists"]);
    expect(byCode.get(59022)).toEqual(["withdrawalNotFound"]);
    // Custody's refusals of a wallet request, one Bulwark code each, after 59022.
    const walletCodes = [
      "badAddress",
      "belowMinimumWithdrawal",
      "aboveWithdrawalLimit",
      "addressNotInBook",
      "addressNotActive",
      "twoFactorRequired",
      "twoFactorInvalid",
      "withdrawalsLocked",
      "networkNotSupported",
      "memoNotSupported",
      "withdrawalWrongStep",
      "approvalRefused",
    ] as const;
    walletCodes.forEach((kind, i) => {
      expect(byCode.get(59023 + i), kind).toEqual([kind]);
    });
    // Bulwark's own codes sit outside every range ccxt or the doc knows.
    for (const [code, kinds] of byCode) {
      if (code >= 59001 && code <= 59999) {
        expect(DOC_EXACT_TABLE.has(code), kinds.join()).toBe(false);
      }
    }
  });
});

describe("custody's refusals", () => {
  it("every CustodyError code has a row, and the rows the brief reuses are the existing ones", () => {
    expect(Object.keys(CUSTODY_ERRORS).sort()).toEqual([...CUSTODY_ERROR_CODES].sort());
    for (const code of CUSTODY_ERROR_CODES)
      expect(EXMO_ERRORS[CUSTODY_ERRORS[code].kind], code).toBeDefined();
    const kindOf = (code: (typeof CUSTODY_ERROR_CODES)[number]) => CUSTODY_ERRORS[code].kind;
    expect(kindOf("unknownCurrency")).toBe("unknownAsset");
    expect(kindOf("insufficientFunds")).toBe("insufficientFunds");
    expect(kindOf("withdrawScopeRequired")).toBe("noPermission");
    expect(kindOf("ipNotAllowed")).toBe("ipNotAllowed");
    expect(kindOf("walletNotAvailable")).toBe("walletNotAvailable");
    expect(kindOf("withdrawalsDisabled")).toBe("withdrawalsDisabled");
    expect(kindOf("notFound")).toBe("withdrawalNotFound");
    expect(CUSTODY_ERRORS.badAmount).toEqual({ kind: "invalidParameter", detail: "amount" });
  });

  it.each(CUSTODY_ERROR_CODES)("%s with custody's detail raises the row's class in ccxt", (code) => {
    const { kind, detail } = CUSTODY_ERRORS[code];
    const body = exmoErrorBody(kind, detail ?? "the minimum withdrawal is 0.001 BTC");
    expect(ccxtClassFor(body)).toBe(EXMO_ERRORS[kind].ccxtClass);
  });

  it("money and permission refusals keep ccxt's specific classes", () => {
    expect(ccxtClassFor(exmoErrorBody(CUSTODY_ERRORS.insufficientFunds.kind))).toBe("InsufficientFunds");
    expect(ccxtClassFor(exmoErrorBody(CUSTODY_ERRORS.withdrawScopeRequired.kind))).toBe("PermissionDenied");
    expect(ccxtClassFor(exmoErrorBody(CUSTODY_ERRORS.ipNotAllowed.kind))).toBe("PermissionDenied");
    expect(ccxtClassFor(exmoErrorBody(CUSTODY_ERRORS.badAmount.kind, "amount"))).toBe("BadRequest");
    expect(ccxtClassFor(exmoErrorBody("amountTooPrecise", "BTC has 8 decimals"))).toBe("InvalidOrder");
  });
});

describe("exmoErrorBody", () => {
  it("is EXMO's canonical failure body", () => {
    expect(exmoErrorBody("insufficientFunds")).toEqual({
      result: false,
      error: "Error 50052: Insufficient funds",
    });
    expect(exmoErrorBody("missingParameter", "pair")).toEqual({
      result: false,
      error: "Error 50013: Parameter 'pair' is not specified",
    });
    expect(exmoErrorBody("unknownFunction", "/v1.1/nope/")).toEqual({
      result: false,
      error: "Error 40015: API function do not exist - /v1.1/nope/",
    });
    expect(exmoErrorBody("orderNotFound", "404")).toEqual({
      result: false,
      error: "Error 50173: Order with id 404 was not found.",
    });
    expect(exmoErrorBody("orderHasNoTrades", "1")).toEqual({
      result: false,
      error: "Error 50304: Order was not found '1'",
    });
    expect(exmoErrorBody("rateLimited").error).toBe("Error 40034: Access is denied, rate limit is exceeded");
  });

  it("appends a detail after a colon for rows without a template", () => {
    expect(exmoError("insufficientFunds", "USD")).toEqual({
      code: 50052,
      message: "Insufficient funds: USD",
    });
    expect(exmoError("insufficientFunds", "")).toEqual({ code: 50052, message: "Insufficient funds" });
  });

  it("does not interpret replacement patterns in the detail", () => {
    expect(exmoError("missingParameter", "$&$'").message).toBe("Parameter '$&$'' is not specified");
  });

  it("any detail keeps the body parseable by ccxt to the row's code and class", () => {
    const detail = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.string({ unit: "grapheme", maxLength: 50 }),
      fc.constantFrom(
        "invalid syntax",
        "API rate limit exceeded for 1.2.3.4",
        "range period is too long",
        ": x",
      ),
    );
    fc.assert(
      fc.property(fc.constantFrom(...ALL_KINDS), detail, (kind, d) => {
        const body = exmoErrorBody(kind, d);
        // ccxt's code extraction: the second word before the first colon.
        const code = body.error.split(":")[0].split(" ")[1];
        expect(code).toBe(String(EXMO_ERRORS[kind].code));
        expect(ccxtClassFor(body)).toBe(EXMO_ERRORS[kind].ccxtClass);
        expect(body.error).toMatch(/^[\x20-\x7e]*$/);
      }),
      { numRuns: 500 },
    );
  });

  it("sanitizes and bounds details", () => {
    expect(sanitizeErrorDetail("a\nb\u0000c\u00e9")).toBe("a?b?c?");
    expect(sanitizeErrorDetail("x".repeat(500))).toHaveLength(MAX_ERROR_DETAIL_LENGTH + 3);
    expect(sanitizeErrorDetail("bad: invalid syntax")).toBe("bad: invalid_syntax");
  });
});
