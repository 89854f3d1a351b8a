// Operator actions for covering a theft and proving reserves (issue 8 §4, §6):
// - `insurance fund`: the operator's own coins sent to an exchange wallet become the insurance fund
//   (core command fundInsurance; custody's reconciliation then checks the chain holds them).
// - `incident cover`: coins stolen from the hot wallet are written off against the insurance fund
//   or operator equity (core command coverIncidentLoss), on an open incident's timeline, then a
//   reserves publication shows liabilities against what the chain holds now.
// - `insurance status`, `reserves publish|list|proof`.
// Every change is audited (insurance.fund, incident.cover, reserves.publish). Also the operator
// API's routes for them (registerReservesRoutes), mounted by plugin.ts.

import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import type { LossCoverSource } from "../core/commands.ts";
import type { AssetConfig } from "../core/config.ts";
import type { CoreEvent } from "../core/events.ts";
import type { ExchangeBoundary, JsonValue } from "../exchange/boundary.ts";
import type { IncidentPort } from "../incidents/port.ts";
import { ReservesError, type ReservesPort } from "../reserves/port.ts";
import type { ReservesProof, ReservesPublication } from "../reserves/proof.ts";
import { formatUnits, parseDecimal } from "../units/decimal.ts";
import { OperatorError } from "./actions.ts";

export const RESERVES_ACTION_LIMITS = { maxList: 1_000, defaultList: 20, maxTxIdLength: 128 } as const;
const TX_ID = /^[\x21-\x7e]{0,128}$/;

export interface ReservesActionDeps {
  exchange: ExchangeBoundary;
  incidents: IncidentPort | null;
  publisher: ReservesPort | null;
  audit(actor: string, action: string, subject: string, details: JsonValue): Promise<unknown>;
  /** The user id of an email (support looks users up by email). */
  userIdOf(email: string): Promise<number>;
}

/** A publication as the operator sees it: figures in whole coins, without the address list. */
export interface PublicationSummary {
  publicationId: number;
  asset: string;
  createdAt: string;
  users: number;
  rootHash: string;
  liabilities: string;
  reserves: string;
  addresses: number;
  fullyBacked: boolean;
  publicKey: string;
}

export interface InsuranceStatusRow {
  asset: string;
  /** Coins the insurance fund holds on the books. */
  insuranceFund: string;
  /** Losses covered so far, all incidents. */
  lossesCovered: string;
  covers: { incidentId: number; amount: string; source: LossCoverSource }[];
}

export interface CoverResult {
  incidentId: number;
  asset: string;
  amount: string;
  source: LossCoverSource;
  sequence: number;
  /** The books after the cover, whole coins. */
  hotOnBooks: string;
  insuranceFund: string;
  customerLiabilities: string;
  /** The publication made right after, or why none was. */
  reserves: PublicationSummary | { skipped: string };
}

export function summaryOf(publication: ReservesPublication): PublicationSummary {
  return {
    publicationId: publication.publicationId,
    asset: publication.asset,
    createdAt: new Date(publication.createdAtMs).toISOString(),
    users: publication.leafCount,
    rootHash: publication.rootHash,
    liabilities: formatUnits(BigInt(publication.liabilitiesUnits), publication.scale),
    reserves: formatUnits(BigInt(publication.reservesUnits), publication.scale),
    addresses: publication.reserveAddresses.length,
    fullyBacked: publication.fullyBacked,
    publicKey: publication.publicKey,
  };
}

const SOURCE_OF: Record<string, LossCoverSource> = { insurance: "insuranceFund", equity: "operatorEquity" };

export class ReservesActions {
  constructor(private readonly deps: ReservesActionDeps) {}

  private asset(code: unknown): AssetConfig {
    if (typeof code !== "string" || code === "") throw new OperatorError("invalid", "--asset is required");
    const asset = this.deps.exchange.assetByCode(code.toUpperCase());
    if (asset === undefined) throw new OperatorError("notFound", `no asset ${code}`);
    return asset;
  }

  private amount(text: unknown, asset: AssetConfig): number {
    const parsed = typeof text === "string" ? parseDecimal(text, asset.scale) : null;
    if (parsed === null || !parsed.ok || parsed.value <= 0)
      throw new OperatorError(
        "invalid",
        `--amount must be a positive decimal with at most ${asset.scale} decimals, got ${JSON.stringify(text)}`,
      );
    return parsed.value;
  }

  private publisher(): ReservesPort {
    if (this.deps.publisher === null)
      throw new OperatorError(
        "notFound",
        "proof of reserves needs the running server (custody reads the chain)",
      );
    return this.deps.publisher;
  }

  /** Submits; a core rejection becomes an OperatorError saying what it means here. */
  private async submit(
    command: Parameters<ExchangeBoundary["submit"]>[0],
    meaning: Record<string, string>,
  ): Promise<number> {
    const result = await this.deps.exchange.submit(command);
    const rejected = result.events.find((event: CoreEvent) => event.type === "rejected");
    if (rejected !== undefined && rejected.type === "rejected")
      throw new OperatorError(
        rejected.reason === "alreadyExists" ? "conflict" : "rejected",
        meaning[rejected.reason] ?? `the core rejected ${command.kind}: ${rejected.reason}`,
      );
    await this.deps.exchange.whenProjected(result.sequence);
    return result.sequence;
  }

  /** `bulwark insurance fund --asset A --amount X --wallet cold|hot [--txid T]`. Audited as insurance.fund. */
  async fundInsurance(
    actor: string,
    input: { asset: string; amount: string; wallet?: string; txId?: string },
  ): Promise<{
    asset: string;
    amount: string;
    wallet: string;
    txId: string;
    sequence: number;
    insuranceFund: string;
  }> {
    const asset = this.asset(input.asset);
    const amountUnits = this.amount(input.amount, asset);
    const walletName = input.wallet ?? "cold";
    if (walletName !== "cold" && walletName !== "hot")
      throw new OperatorError("invalid", `--wallet must be cold or hot, got ${JSON.stringify(walletName)}`);
    const txId = input.txId ?? "";
    if (typeof txId !== "string" || !TX_ID.test(txId))
      throw new OperatorError("invalid", "--txid must be 0..128 printable characters without spaces");
    const wallet = walletName === "cold" ? "walletCold" : "walletHot";
    const sequence = await this.submit(
      { kind: "fundInsurance", assetId: asset.assetId, wallet, amountUnits, txId },
      { limitReached: "the amount would take the books beyond their range" },
    );
    await this.deps.audit(actor, "insurance.fund", `asset:${asset.code}`, {
      amountUnits,
      wallet: walletName,
      txId,
      sequence,
    });
    const books = this.deps.exchange.walletBooks(asset.assetId);
    return {
      asset: asset.code,
      amount: formatUnits(amountUnits, asset.scale),
      wallet: walletName,
      txId,
      sequence,
      insuranceFund: formatUnits(books.systemUnits.insuranceFund, asset.scale),
    };
  }

  /** `bulwark insurance status`: the fund and the losses covered, per asset. */
  insuranceStatus(): { assets: InsuranceStatusRow[] } {
    const exchange = this.deps.exchange;
    const covers = exchange.incidentCovers();
    return {
      assets: exchange.assets().map((asset) => {
        const own = covers.filter((cover) => cover.assetId === asset.assetId);
        return {
          asset: asset.code,
          insuranceFund: formatUnits(
            exchange.walletBooks(asset.assetId).systemUnits.insuranceFund,
            asset.scale,
          ),
          lossesCovered: formatUnits(
            own.reduce((sum, cover) => sum + cover.amountUnits, 0),
            asset.scale,
          ),
          covers: own.map((cover) => ({
            incidentId: cover.incidentId,
            amount: formatUnits(cover.amountUnits, asset.scale),
            source: cover.source,
          })),
        };
      }),
    };
  }

  /**
   * `bulwark incident cover --id N --asset A --amount X [--from insurance|equity]`. The incident
   * must be open; the amount at most what the hot wallet holds on the books (and, from the
   * insurance fund, what the fund holds). Audited as incident.cover; recorded on the timeline,
   * then reserves are published and that is recorded too.
   */
  async coverIncident(
    actor: string,
    input: { incidentId: number; asset: string; amount: string; from?: string },
  ): Promise<CoverResult> {
    const incidents = this.deps.incidents;
    if (incidents === null) throw new OperatorError("notFound", "incidents are not available here");
    if (!Number.isSafeInteger(input.incidentId) || input.incidentId < 1)
      throw new OperatorError("invalid", "--id must be a whole number from 1");
    const asset = this.asset(input.asset);
    const amountUnits = this.amount(input.amount, asset);
    const source = SOURCE_OF[input.from ?? "insurance"];
    if (source === undefined)
      throw new OperatorError(
        "invalid",
        `--from must be insurance or equity, got ${JSON.stringify(input.from)}`,
      );
    const incident = await incidents.get(input.incidentId);
    if (incident === undefined) throw new OperatorError("notFound", `no incident ${input.incidentId}`);
    if (incident.status !== "open")
      throw new OperatorError(
        "conflict",
        `incident ${input.incidentId} is resolved: covers go on open incidents`,
      );
    const format = (units: number) => formatUnits(units, asset.scale);
    const before = this.deps.exchange.walletBooks(asset.assetId);
    const hotUnits = -before.systemUnits.walletHot;
    const sequence = await this.submit(
      {
        kind: "coverIncidentLoss",
        incidentId: input.incidentId,
        assetId: asset.assetId,
        amountUnits,
        source,
      },
      {
        alreadyExists: `incident ${input.incidentId}'s ${asset.code} loss is covered already (once per incident and asset)`,
        insufficientFunds:
          amountUnits > hotUnits
            ? `${format(amountUnits)} ${asset.code} is more than the hot wallet holds on the books (${format(hotUnits)})`
            : `the insurance fund holds ${format(before.systemUnits.insuranceFund)} ${asset.code}, less than ${format(amountUnits)}: fund it (bulwark insurance fund) or cover from equity`,
        limitReached: "the cover would take the books beyond their range, or too many covers are kept",
      },
    );
    await this.deps.audit(actor, "incident.cover", `incident:${input.incidentId}`, {
      asset: asset.code,
      amountUnits,
      source,
      sequence,
    });
    const after = this.deps.exchange.walletBooks(asset.assetId);
    await incidents.record(input.incidentId, {
      type: "cover",
      actor,
      message: `${format(amountUnits)} ${asset.code} written off the hot wallet, covered from ${source === "insuranceFund" ? "the insurance fund" : "operator equity"}; no user balance changed`,
      detail: { asset: asset.code, amount: format(amountUnits), source, sequence },
    });
    let reserves: CoverResult["reserves"];
    if (this.deps.publisher === null)
      reserves = { skipped: "no reserves publisher here (the server publishes)" };
    else {
      // The cover is done and durable: a failed publication is reported, not thrown.
      try {
        reserves = await this.publishAfterCover(actor, asset.code, input.incidentId);
      } catch (error) {
        reserves = {
          skipped: `publishing failed: ${error instanceof Error ? error.message : String(error)}`,
        };
      }
    }
    return {
      incidentId: input.incidentId,
      asset: asset.code,
      amount: format(amountUnits),
      source,
      sequence,
      hotOnBooks: format(-after.systemUnits.walletHot),
      insuranceFund: format(after.systemUnits.insuranceFund),
      customerLiabilities: format(after.customerLiabilitiesUnits),
      reserves,
    };
  }

  private async publishAfterCover(
    actor: string,
    asset: string,
    incidentId: number,
  ): Promise<PublicationSummary> {
    const incidents = this.deps.incidents;
    const publisher = this.deps.publisher;
    if (incidents === null || publisher === null) throw new Error("no publisher or incidents");
    const [publication] = await publisher.publish([asset]);
    const summary = summaryOf(publication);
    await this.deps.audit(actor, "reserves.publish", `asset:${asset}`, {
      publicationId: publication.publicationId,
      rootHash: publication.rootHash,
      liabilitiesUnits: publication.liabilitiesUnits,
      reservesUnits: publication.reservesUnits,
      incidentId,
    });
    await incidents.record(incidentId, {
      type: "reservesPublished",
      actor,
      message: `reserves published for ${asset}: liabilities ${summary.liabilities}, reserves ${summary.reserves}, ${summary.fullyBacked ? "fully backed" : "NOT fully backed"}`,
      detail: { ...summary },
    });
    return summary;
  }

  /** `bulwark reserves publish [--asset A]`. Audited as reserves.publish. */
  async publish(actor: string, input: { asset?: string }): Promise<{ publications: PublicationSummary[] }> {
    const publisher = this.publisher();
    const assets = input.asset === undefined ? undefined : [this.asset(input.asset).code];
    const publications = await this.wrap(() => publisher.publish(assets));
    for (const publication of publications)
      await this.deps.audit(actor, "reserves.publish", `asset:${publication.asset}`, {
        publicationId: publication.publicationId,
        rootHash: publication.rootHash,
        liabilitiesUnits: publication.liabilitiesUnits,
        reservesUnits: publication.reservesUnits,
      });
    return { publications: publications.map(summaryOf) };
  }

  /** `bulwark reserves list [--limit N]`, newest first. */
  list(input: { limit?: number }): { publications: PublicationSummary[] } {
    const limit = input.limit ?? RESERVES_ACTION_LIMITS.defaultList;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > RESERVES_ACTION_LIMITS.maxList)
      throw new OperatorError(
        "invalid",
        `--limit must be a whole number in 1..${RESERVES_ACTION_LIMITS.maxList}`,
      );
    const publisher = this.publisher();
    return { publications: publisher.list(limit).map(summaryOf) };
  }

  /** `bulwark reserves proof --user ID|--email E --asset A`: what the user would fetch (support). */
  async proof(input: { userId?: number; email?: string; asset: string }): Promise<ReservesProof> {
    const asset = this.asset(input.asset);
    let userId = input.userId;
    if (userId === undefined && input.email !== undefined) userId = await this.deps.userIdOf(input.email);
    if (userId === undefined || !Number.isSafeInteger(userId) || userId < 1)
      throw new OperatorError("invalid", "--user must be a whole number from 1 (or give --email)");
    const publisher = this.publisher();
    const id = userId;
    return this.wrap(async () => publisher.proof(id, asset.code));
  }

  private async wrap<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof ReservesError)
        throw new OperatorError(error.kind === "invalid" ? "invalid" : "notFound", error.message);
      throw error;
    }
  }
}

const fundBody = z
  .object({
    asset: z.string().min(1).max(16),
    amount: z.string().min(1).max(40),
    wallet: z.string().min(1).max(8).optional(),
    txId: z.string().max(RESERVES_ACTION_LIMITS.maxTxIdLength).optional(),
  })
  .strict();
const coverBody = z
  .object({
    asset: z.string().min(1).max(16),
    amount: z.string().min(1).max(40),
    from: z.string().min(1).max(16).optional(),
  })
  .strict();
const idParams = z
  .object({ incidentId: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER) })
  .strict();
const publishBody = z.object({ asset: z.string().min(1).max(16).optional() }).strict();
const listQuery = z.object({ limit: z.coerce.number().int().optional() }).strict();
const proofQuery = z
  .object({
    asset: z.string().min(1).max(16),
    userId: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
    email: z.string().min(1).max(254).optional(),
  })
  .strict();

/** Registers /insurance…, /incidents/:id/cover and /reserves… on the operator API. */
export function registerReservesRoutes(
  app: FastifyInstance,
  options: {
    reserves: () => ReservesActions;
    actor: (request: FastifyRequest) => string;
    parse: <T>(schema: z.ZodType<T>, value: unknown) => T;
    route: { bodyLimit: number };
  },
): void {
  const { reserves, actor, parse, route } = options;
  app.post("/insurance/fund", route, async (request) =>
    reserves().fundInsurance(actor(request), parse(fundBody, request.body)),
  );
  app.get("/insurance", async () => reserves().insuranceStatus());
  app.post("/incidents/:incidentId/cover", route, async (request) =>
    reserves().coverIncident(actor(request), {
      incidentId: parse(idParams, request.params).incidentId,
      ...parse(coverBody, request.body),
    }),
  );
  app.post("/reserves/publish", route, async (request) =>
    reserves().publish(actor(request), parse(publishBody, request.body ?? {})),
  );
  app.get("/reserves", async (request) => reserves().list(parse(listQuery, request.query)));
  app.get("/reserves/proof", async (request) => reserves().proof(parse(proofQuery, request.query)));
}
