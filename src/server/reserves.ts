// The reserves publisher (docs/RESERVES.md): per asset, a Merkle sum tree over every user's
// liability as the core holds it now, signed by the exchange's reserves key, stored next to the
// on-chain reserve figure custody reads (every exchange address and its coins).
//
// Files, under <data-dir>/reserves/ (0700; keys 0600, created on first use):
//   reserves-key         Ed25519 secret (hex): signs publications
//   reserves-secret      32 random bytes (hex): each user's salt derives from it (sum-tree.ts)
//   <id>-<ASSET>.json    the signed publication
//   <id>-<ASSET>.leaves  its leaves (count u32, then per leaf: accountId f64 | balance u64), to
//                        rebuild the tree for a user's proof: salts are derived, never stored

import { randomBytes } from "node:crypto";
import {
  closeSync,
  constants,
  existsSync,
  fsyncSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { ed25519 } from "@noble/curves/ed25519.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import type { CustodyPort } from "../custody/port.ts";
import type { ExchangeBoundary } from "../exchange/boundary.ts";
import { ReservesError, type ReservesErrorKind, type ReservesPort } from "../reserves/port.ts";
import {
  proofJson,
  type ReservesProof,
  type ReservesPublication,
  signPublication,
} from "../reserves/proof.ts";
import { RESERVES_SECRET_BYTES, SumTree } from "../reserves/sum-tree.ts";
import { ensurePrivateDir, requireOwnerOnly } from "../signer/state.ts";

export const RESERVES_DIR_NAME = "reserves";
const KEY_FILE_NAME = "reserves-key";
const SECRET_FILE_NAME = "reserves-secret";
/** Publications kept listed; older files stay on disk. */
export const MAX_LISTED_PUBLICATIONS = 1_000;
const PUBLICATION_FILE = /^([0-9]{1,12})-([A-Z0-9]{1,16})\.json$/;

/** Reads a 32-byte hex secret file, creating it (0600, O_EXCL) on first use. */
function loadOrCreateSecret(path: string, what: string, create: () => Uint8Array): Uint8Array {
  if (!existsSync(path)) {
    try {
      const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      try {
        writeSync(fd, `${bytesToHex(create())}\n`);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
  }
  requireOwnerOnly(path, what);
  const text = readFileSync(path, "utf8").trim();
  if (!/^[0-9a-f]{64}$/.test(text)) throw new Error(`${path} is not a ${what} (64 lowercase hex digits)`);
  return new Uint8Array(Buffer.from(text, "hex"));
}

/** Writes a file atomically (temp + fsync + rename), owner-only. */
function writeFileAtomic(path: string, content: Uint8Array | string): void {
  const bytes = typeof content === "string" ? new TextEncoder().encode(content) : content;
  const temp = `${path}.tmp`;
  const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o600);
  try {
    // writeSync may write less than asked: loop until every byte is out (bounded by the length).
    for (let written = 0; written < bytes.length; )
      written += writeSync(fd, bytes, written, bytes.length - written);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
}

function encodeLeaves(userIds: readonly number[], balancesUnits: readonly number[]): Uint8Array {
  const bytes = new Uint8Array(4 + userIds.length * 16);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, userIds.length, true);
  for (let index = 0; index < userIds.length; index++) {
    view.setFloat64(4 + index * 16, userIds[index], true);
    view.setBigUint64(12 + index * 16, BigInt(balancesUnits[index]), true);
  }
  return bytes;
}

function decodeLeaves(bytes: Uint8Array): { accountIds: Float64Array; balancesUnits: bigint[] } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getUint32(0, true);
  if (bytes.byteLength !== 4 + count * 16) throw new Error("a reserves leaves file has the wrong length");
  const accountIds = new Float64Array(count);
  const balancesUnits: bigint[] = new Array(count);
  for (let index = 0; index < count; index++) {
    accountIds[index] = view.getFloat64(4 + index * 16, true);
    balancesUnits[index] = view.getBigUint64(12 + index * 16, true);
  }
  return { accountIds, balancesUnits };
}

export interface ReservesPublisherOptions {
  dataDir: string;
  exchange: ExchangeBoundary;
  /** Reads the on-chain reserve figure; null: no custody (every reserve counts 0). */
  custody: () => CustodyPort | null;
  clock?: () => number;
}

export class ReservesPublisher implements ReservesPort {
  private readonly dir: string;
  private readonly signingKey: Uint8Array;
  private readonly secret: Uint8Array;
  private readonly clock: () => number;
  /** The last tree built per asset (proofs of the newest publication without a rebuild): one per asset. */
  private readonly trees = new Map<string, { publicationId: number; tree: SumTree }>();
  /** One publish at a time: ids are handed out in order. */
  private publishing: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: ReservesPublisherOptions) {
    this.dir = join(options.dataDir, RESERVES_DIR_NAME);
    ensurePrivateDir(this.dir, "reserves directory");
    this.signingKey = loadOrCreateSecret(join(this.dir, KEY_FILE_NAME), "reserves key", () =>
      ed25519.utils.randomSecretKey(),
    );
    this.secret = loadOrCreateSecret(
      join(this.dir, SECRET_FILE_NAME),
      "reserves secret",
      () => new Uint8Array(randomBytes(RESERVES_SECRET_BYTES)),
    );
    this.clock = options.clock ?? Date.now;
  }

  /** The exchange's reserves public key (hex): users pin it with `reserves verify --key`. */
  get publicKeyHex(): string {
    return bytesToHex(ed25519.getPublicKey(this.signingKey));
  }

  publish(assets?: readonly string[]): Promise<ReservesPublication[]> {
    const run = this.publishing.then(() => this.publishNow(assets));
    this.publishing = run.catch(() => undefined);
    return run;
  }

  private async publishNow(assets?: readonly string[]): Promise<ReservesPublication[]> {
    const exchange = this.options.exchange;
    const custody = this.options.custody();
    // By default the assets custody holds on chain (all of them without custody): an asset with
    // no chain has no reserve figure to publish.
    const served = custody === null ? null : new Set(custody.terms().map((terms) => terms.currency));
    const chosen =
      assets === undefined
        ? exchange.assets().filter((asset) => served === null || served.has(asset.code))
        : assets.map((code) => {
            const asset = exchange.assetByCode(code);
            if (asset === undefined) throw new ReservesError("invalid", `unknown asset ${code}`);
            return asset;
          });
    const report = custody?.reserveAddresses === undefined ? null : await custody.reserveAddresses();
    const published: ReservesPublication[] = [];
    let publicationId = this.highestId();
    for (const asset of chosen) {
      publicationId += 1;
      // Liabilities are read in one synchronous call: one consistent point of the core.
      const { userIds, balancesUnits } = exchange.customerLiabilities(asset.assetId);
      const tree = SumTree.build(
        { accountIds: userIds, balancesUnits: balancesUnits.map((units) => BigInt(units)) },
        { secret: this.secret, publicationId },
      );
      const reserveAddresses = (report?.addresses ?? [])
        .filter((entry) => entry.currency === asset.code)
        .map((entry) => ({
          chain: entry.chain,
          role: entry.role,
          address: entry.address,
          balanceUnits: String(entry.balanceUnits),
        }));
      const reservesUnits = reserveAddresses.reduce((sum, entry) => sum + BigInt(entry.balanceUnits), 0n);
      const publication = signPublication(
        {
          publicationId,
          asset: asset.code,
          scale: asset.scale,
          createdAtMs: this.clock(),
          leafCount: tree.leafCount,
          rootHash: bytesToHex(tree.root),
          liabilitiesUnits: tree.totalUnits.toString(),
          reservesUnits: reservesUnits.toString(),
          reserveAddresses,
        },
        this.signingKey,
      );
      const base = join(this.dir, `${publicationId}-${asset.code}`);
      writeFileAtomic(`${base}.leaves`, encodeLeaves(userIds, balancesUnits));
      writeFileAtomic(`${base}.json`, `${JSON.stringify(publication, null, 2)}\n`);
      this.trees.set(asset.code, { publicationId, tree });
      published.push(publication);
    }
    return published;
  }

  private files(): { publicationId: number; asset: string; name: string }[] {
    const found: { publicationId: number; asset: string; name: string }[] = [];
    for (const name of readdirSync(this.dir)) {
      const match = PUBLICATION_FILE.exec(name);
      if (match !== null) found.push({ publicationId: Number(match[1]), asset: match[2], name });
    }
    return found.sort((a, b) => b.publicationId - a.publicationId);
  }

  private highestId(): number {
    return this.files()[0]?.publicationId ?? 0;
  }

  list(limit: number): ReservesPublication[] {
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LISTED_PUBLICATIONS)
      throw new ReservesError("invalid", `limit must be a whole number in 1..${MAX_LISTED_PUBLICATIONS}`);
    return this.files()
      .slice(0, limit)
      .map((file) => JSON.parse(readFileSync(join(this.dir, file.name), "utf8")) as ReservesPublication);
  }

  proof(userId: number, asset: string): ReservesProof {
    const fail = (kind: ReservesErrorKind, message: string): never => {
      throw new ReservesError(kind, message);
    };
    const file = this.files().find((entry) => entry.asset === asset);
    if (file === undefined) return fail("notFound", `no reserves publication for ${asset} yet`);
    const publication = JSON.parse(readFileSync(join(this.dir, file.name), "utf8")) as ReservesPublication;
    let cached = this.trees.get(asset);
    if (cached === undefined || cached.publicationId !== file.publicationId) {
      const leaves = decodeLeaves(
        new Uint8Array(readFileSync(join(this.dir, `${file.publicationId}-${asset}.leaves`))),
      );
      cached = {
        publicationId: file.publicationId,
        tree: SumTree.build(leaves, { secret: this.secret, publicationId: file.publicationId }),
      };
      if (bytesToHex(cached.tree.root) !== publication.rootHash)
        fail("unavailable", `publication ${file.publicationId}'s leaves do not give its root`);
      this.trees.set(asset, cached);
    }
    const index = cached.tree.indexOf(userId);
    if (index < 0)
      return fail("notFound", `user ${userId} held no ${asset} in publication ${file.publicationId}`);
    return proofJson(publication, cached.tree.proof(index));
  }
}
