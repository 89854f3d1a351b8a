// Deposit crediting benchmark (not a test), the scale target of issue 7 §4 end to end: "a devnet
// block with 10,000 transfers among 100,000 watched addresses is scanned and credited within one
// block interval". bench/devnet-scan.bench.ts times the scan alone; this one times the whole way.
//
//   node --import tsx bench/deposit-credit.bench.ts [--json] [--runs N] [--transfers N] [--watched N]
//                                                   [--block-interval-ms N] [--sequential-sample N]
//                                                   [--assign-sample N] [--in-flight N]
//                                                   [--cpu-profile FILE]
//
// Setup (timed separately, reported below the table): a real Exchange as the server opens it
// (SQLite store in a temp dir, the projector in its worker thread, default core limits: maxUsers
// is 10,000,000, so 100,000 users fit without raising it), the default assets and markets, and
// --watched deposit addresses (default 100,000) per devnet chain assigned to users 1..N through
// custody's store path: the first --assign-sample (default 2,000) through
// CustodyStore.assignDepositAddress (one transaction per address, as DepositAddresses does; its
// rate is reported: ~2,000/s here, so ~50 s per chain), the rest as the same rows (next indices,
// same account) in 500-row INSERTs through the store's database in one transaction. The addresses
// are hash-derived strings in each chain's address format, since deriving 200,000 BIP32 keys
// would dominate the setup. Users are not created in the core beforehand: creditDeposit creates
// a user at its first deposit. A DepositWatcher per chain, with the devnet custody config's
// confirmations and minimum deposits, loads the watched set from the store (start(), timed too);
// --in-flight N sets its maxCreditsInFlight (default: the watcher's).
//
// Each run, per chain (devnet-btc: BTC outputs; devnet-eth: USDT token transfers): one block of
// --transfers faucet payments (default 10,000) to addresses drawn at random from the watched set
// (a user may get several), mined with the confirmation count on top (untimed), then ONE watcher
// poll is timed from the block's arrival until every transfer is credited, durable (submit
// resolved: the journal fsync covering it; the exchange's acknowledgedSequence is checked) and
// projected (whenProjected of the last credit's sequence). Phases: scan (tip, reorg check, block
// scan), owner lookups (the store, in pages of 500), credit submits (conversion, creditDeposit
// submits, scanner state save: until the poll returns, which is once the last credit is durable
// AND projected, since the watcher keeps at most maxCreditsInFlight credits unprojected),
// projection left (whenProjected after the poll: ~0 for the watcher). Target: one block interval
// (default 10,000 ms, the devnet's).
//
// Peer in the same run, the core's floor: the same 10,000 amounts (the devnet-btc block's users
// and amounts) submitted as plain adjustBalance commands through the same Exchange, all at once
// (the sequencer batches them into few journal writes): submits until durable, then the
// projection left (the projector trails all 10,000). Second reference: adjustBalance awaited one
// at a time (one journal fsync each), timed over --sequential-sample commands (default 1,000) and
// scaled to --transfers: the cost of crediting with one await per transfer, which is what the
// watcher did before it submitted concurrently. Median of --runs (default 3) after one warm-up
// run of a 1,000-transfer block.
//
// --cpu-profile FILE: after the timed runs, one more devnet-btc block (not in the table) with the
// main thread's CPU profiled from the poll until projected, written to FILE; read it with
//   node --import tsx bench/cpu-profile-top.ts FILE
// (the projector's worker thread is not in it; `node --cpu-prof` profiles every thread, setup too).

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { sha256 } from "@noble/hashes/sha2.js";
import type { ChainAdapter } from "../src/chains/adapter.ts";
import { toHex } from "../src/chains/devnet/codec.ts";
import { AccountDevnet, UtxoDevnet } from "../src/chains/devnet/index.ts";
import { utxoAddress } from "../src/chains/devnet/keys.ts";
import { DEPOSIT_ACCOUNT } from "../src/chains/devnet/signing.ts";
import { DEFAULT_CORE_LIMITS } from "../src/core/config.ts";
import { devnetCustodyConfigs } from "../src/custody/config.ts";
import { type DepositAssetConfig, DepositWatcher, type PollResult } from "../src/custody/deposit-watcher.ts";
import type { CommandResult, CustodyStore } from "../src/exchange/boundary.ts";
import { Exchange } from "../src/exchange/exchange.ts";
import { Prng } from "../src/lib/prng.ts";
import { ensureDefaultMarkets } from "../src/server/default-markets.ts";
import { ledgerToChain } from "../src/units/chain-units.ts";
import { median } from "./stats.ts";

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const JSON_OUTPUT = process.argv.includes("--json");
const RUNS = flag("runs", 3);
const TRANSFERS = flag("transfers", 10_000);
const WATCHED = flag("watched", 100_000);
const BLOCK_INTERVAL_MS = flag("block-interval-ms", 10_000);
const SEQUENTIAL_SAMPLE = Math.min(flag("sequential-sample", 1_000), TRANSFERS);
const WARMUP_TRANSFERS = Math.min(1_000, TRANSFERS);
const CPU_PROFILE = process.argv.includes("--cpu-profile")
  ? process.argv[process.argv.indexOf("--cpu-profile") + 1]
  : undefined;
/** The watcher's maxCreditsInFlight (undefined: its default). */
const IN_FLIGHT = process.argv.includes("--in-flight") ? flag("in-flight", 0) : undefined;
const ASSIGN_SAMPLE = Math.min(flag("assign-sample", 2_000), WATCHED);
/** Rows per INSERT of the bulk setup (SQLite allows 32,766 bound parameters; 6 per row). */
const BULK_ROWS = 500;

const note = (message: string) => {
  if (!JSON_OUTPUT) console.log(message);
};
const now = () => performance.now();

type Kind = "utxo" | "account";

/** Address-shaped strings from a counter (as in devnet-scan.bench.ts), in the chain's canonical form. */
function syntheticAddress(chain: ChainAdapter, kind: Kind, i: number): string {
  const digest = sha256(new TextEncoder().encode(`deposit-bench-${kind}-${i}`));
  let raw: string;
  if (kind === "account") raw = `0x${toHex(digest.subarray(12))}`;
  else {
    const pub = new Uint8Array(33);
    pub[0] = 2;
    pub.set(digest, 1);
    raw = utxoAddress(pub, "dvbtc");
  }
  const canonical = chain.normalizeAddress(raw);
  if (canonical === null) throw new Error(`${chain.chain} refuses the synthetic address ${raw}`);
  return canonical;
}

/** When the watcher's poll reached each phase boundary (performance.now()). */
interface Marks {
  scanEnd: number;
  lookupsEnd: number;
  lookups: number;
  submits: number;
}

interface Phases {
  scanMs: number;
  lookupsMs: number;
  creditMs: number;
  projectionMs: number;
  totalMs: number;
}

interface ChainRig {
  kind: Kind;
  chain: UtxoDevnet | AccountDevnet;
  asset: string;
  assetId: number;
  /** Chain base units: the smallest amount drawn (the minimum deposit) and the range above it. */
  minAmount: bigint;
  confirmations: number;
  /** addresses[userId - 1]: the user's deposit address. */
  addresses: string[];
  watcher: DepositWatcher;
  marks: Marks;
  assignMs: number;
  bulkMs: number;
  startMs: number;
}

async function setUpChain(exchange: Exchange, kind: Kind): Promise<ChainRig> {
  const chain = kind === "utxo" ? new UtxoDevnet() : new AccountDevnet();
  const config = devnetCustodyConfigs().find((c) => c.chain === chain.chain);
  if (config === undefined) throw new Error(`no devnet custody config for ${chain.chain}`);
  const asset = kind === "utxo" ? "BTC" : "USDT";
  const assets: DepositAssetConfig[] = config.currencies.map((currency) => {
    const core = exchange.assetByCode(currency.currency);
    const decimals = chain.assets.find((a) => a.symbol === currency.currency)?.decimals;
    if (core === undefined || decimals === undefined) throw new Error(`no asset ${currency.currency}`);
    return {
      symbol: currency.currency,
      assetId: core.assetId,
      minDepositBaseUnits: ledgerToChain(currency.minDepositUnits, decimals, core.scale).baseUnits,
    };
  });
  const credited = assets.find((a) => a.symbol === asset);
  if (credited?.minDepositBaseUnits === undefined) throw new Error(`no deposit config for ${asset}`);

  // The deposit addresses. The first --assign-sample through custody's store path
  // (assignDepositAddress: one transaction per address, as DepositAddresses assigns them), timed;
  // the rest as the same rows (next indices, same account) in bulk through the store's database.
  const addresses = Array.from({ length: WATCHED }, (_, i) => syntheticAddress(chain, kind, i));
  const t0 = now();
  for (let userId = 1; userId <= ASSIGN_SAMPLE; userId++) {
    const record = await exchange.custody.assignDepositAddress(
      { userId, chain: chain.chain, account: DEPOSIT_ACCOUNT, createdMs: Date.now() },
      (index) => addresses[index],
    );
    if (record.address !== addresses[userId - 1]) throw new Error("address assigned out of order");
  }
  const assignMs = now() - t0;
  const t1 = now();
  const createdMs = Date.now();
  await exchange.internals.store.db.transaction().execute(async (tx) => {
    for (let from = ASSIGN_SAMPLE; from < WATCHED; from += BULK_ROWS)
      await tx
        .insertInto("deposit_addresses")
        .values(
          addresses.slice(from, Math.min(from + BULK_ROWS, WATCHED)).map((address, k) => ({
            user_id: from + k + 1,
            chain: chain.chain,
            account: DEPOSIT_ACCOUNT,
            address_index: from + k,
            address,
            created_ms: createdMs,
          })),
        )
        .execute();
  });
  const bulkMs = now() - t1;

  // Instrumented views of the chain and the exchange: they only note when the phases end.
  const marks: Marks = { scanEnd: 0, lookupsEnd: 0, lookups: 0, submits: 0 };
  const scan: ChainAdapter["scan"] = async (from, to, watched) => {
    const result = await chain.scan(from, to, watched);
    marks.scanEnd = now();
    return result;
  };
  const adapter = new Proxy(chain, {
    get(target, property) {
      if (property === "scan") return scan;
      const value: unknown = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as ChainAdapter;
  const custody: CustodyStore = {
    ...exchange.custody,
    depositAddressOwners: async (c, list) => {
      const owners = await exchange.custody.depositAddressOwners(c, list);
      marks.lookupsEnd = now();
      marks.lookups++;
      return owners;
    },
  };
  const watcher = new DepositWatcher({
    exchange: {
      custody,
      asset: (assetId) => exchange.asset(assetId),
      whenProjected: (sequence) => exchange.whenProjected(sequence),
      submit: (command) => {
        marks.submits++;
        return exchange.submit(command);
      },
    },
    adapter,
    confirmations: config.confirmations,
    assets,
    log: () => undefined,
    ...(IN_FLIGHT === undefined ? {} : { maxCreditsInFlight: IN_FLIGHT }),
  });
  const t2 = now();
  await watcher.start();
  const startMs = now() - t2;
  if (watcher.watchedCount !== WATCHED) throw new Error(`watching ${watcher.watchedCount} addresses`);
  await watcher.poll(); // catch up with the (empty) chain
  return {
    kind,
    chain,
    asset,
    assetId: credited.assetId,
    minAmount: credited.minDepositBaseUnits,
    confirmations: config.confirmations,
    addresses,
    watcher,
    marks,
    assignMs,
    bulkMs,
    startMs,
  };
}

interface Credit {
  userId: number;
  assetId: number;
  amountUnits: number;
}

interface BlockRun {
  phases: Phases;
  credits: Credit[];
  newUsers: number;
  lookups: number;
}

const everCredited = new Set<number>();

async function runBlock(
  exchange: Exchange,
  rig: ChainRig,
  transfers: number,
  prng: Prng,
  profile?: Session,
): Promise<BlockRun> {
  for (let i = 0; i < transfers; i++) {
    const userId = prng.int(1, WATCHED);
    const amount = rig.minAmount * BigInt(prng.int(1, 1_000)) + BigInt(prng.int(0, 999));
    rig.chain.faucet(rig.addresses[userId - 1], rig.asset, amount);
  }
  rig.chain.mine(rig.confirmations);

  const marks = rig.marks;
  marks.lookups = 0;
  marks.submits = 0;
  await profile?.post("Profiler.start");
  const t0 = now();
  marks.scanEnd = t0;
  const result: PollResult = await rig.watcher.poll();
  const polled = now();
  if (marks.lookupsEnd < marks.scanEnd) marks.lookupsEnd = marks.scanEnd;
  if (result.credited.length !== transfers || result.failed.length > 0 || result.belowMinimum.length > 0)
    throw new Error(
      `${rig.chain.chain}: credited ${result.credited.length} of ${transfers} ` +
        `(failed ${result.failed.length}, below minimum ${result.belowMinimum.length}, pending ${result.pending})`,
    );
  let last = 0;
  for (const c of result.credited) last = Math.max(last, c.sequence);
  if (exchange.status().acknowledgedSequence < last) throw new Error("credits not acknowledged (durable)");
  await exchange.whenProjected(last);
  const projected = now();
  if (profile !== undefined && CPU_PROFILE !== undefined) {
    const { profile: taken } = await profile.post("Profiler.stop");
    writeFileSync(CPU_PROFILE, JSON.stringify(taken));
  }

  let newUsers = 0;
  for (const c of result.credited)
    if (!everCredited.has(c.userId)) {
      everCredited.add(c.userId);
      newUsers++;
    }
  return {
    phases: {
      scanMs: marks.scanEnd - t0,
      lookupsMs: marks.lookupsEnd - marks.scanEnd,
      creditMs: polled - marks.lookupsEnd,
      projectionMs: projected - polled,
      totalMs: projected - t0,
    },
    credits: result.credited.map((c) => ({
      userId: c.userId,
      assetId: c.assetId,
      amountUnits: c.amountUnits,
    })),
    newUsers,
    lookups: marks.lookups,
  };
}

function checkAccepted(result: CommandResult): void {
  const rejected = result.events.find((e) => e.type === "rejected");
  if (rejected !== undefined) throw new Error(`adjustBalance rejected: ${JSON.stringify(rejected)}`);
}

const adjust = (c: Credit) => ({ kind: "adjustBalance", reason: "deposit-credit bench peer", ...c }) as const;

/** The core's floor: the same credits as adjustBalance, all submitted at once. */
async function runPeerConcurrent(exchange: Exchange, credits: Credit[]): Promise<Phases> {
  const t0 = now();
  const results = await Promise.all(credits.map((c) => exchange.submit(adjust(c))));
  const durable = now();
  let last = 0;
  for (const r of results) {
    checkAccepted(r);
    last = Math.max(last, r.sequence);
  }
  if (exchange.status().acknowledgedSequence < last) throw new Error("adjustments not acknowledged");
  await exchange.whenProjected(last);
  const projected = now();
  return {
    scanMs: 0,
    lookupsMs: 0,
    creditMs: durable - t0,
    projectionMs: projected - durable,
    totalMs: projected - t0,
  };
}

/** One await per command, over a sample, scaled to the whole block. */
async function runPeerSequential(exchange: Exchange, credits: Credit[]): Promise<Phases> {
  const sample = credits.slice(0, SEQUENTIAL_SAMPLE);
  const scale = credits.length / sample.length;
  const t0 = now();
  let last = 0;
  for (const c of sample) {
    const r = await exchange.submit(adjust(c));
    checkAccepted(r);
    last = r.sequence;
  }
  const durable = now();
  await exchange.whenProjected(last);
  const projected = now();
  return {
    scanMs: 0,
    lookupsMs: 0,
    creditMs: (durable - t0) * scale,
    projectionMs: projected - durable,
    totalMs: (durable - t0) * scale + (projected - durable),
  };
}

// ---- the run ---------------------------------------------------------------------------------

const loadBefore = loadavg()[0];
const dataDir = mkdtempSync(join(tmpdir(), "bulwark-deposit-bench-"));
const backgroundErrors: string[] = [];
const exchange = await Exchange.open({
  dataDir,
  onBackgroundError: (what, error) => backgroundErrors.push(`${what}: ${String(error)}`),
});
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const setupLine = (rig: ChainRig) => {
  const rate = ASSIGN_SAMPLE / (rig.assignMs / 1000);
  return (
    `${rig.chain.chain}: ${fmt(ASSIGN_SAMPLE)} addresses via assignDepositAddress ${fmt(rig.assignMs)} ms ` +
    `(${fmt(rate)}/s: ${fmt(WATCHED / rate)} s for all ${fmt(WATCHED)} that way), ` +
    `${fmt(WATCHED - ASSIGN_SAMPLE)} more in bulk ${fmt(rig.bulkMs)} ms; ` +
    `watcher start (watched set from the store) ${fmt(rig.startMs)} ms; ` +
    `${rig.confirmations} confirmations; ${rig.asset} transfers`
  );
};
try {
  if (exchange.internals.projectorWorker === null) throw new Error("expected the projector thread");
  await ensureDefaultMarkets(exchange);
  note(`setting up ${fmt(WATCHED)} deposit addresses per chain in ${dataDir} …`);
  const rigs: ChainRig[] = [];
  for (const kind of ["utxo", "account"] as const) {
    const rig = await setUpChain(exchange, kind);
    rigs.push(rig);
    note(`  ${setupLine(rig)}`);
  }

  const prng = new Prng(11);
  // Warm-up: a smaller block through each watcher and both peers.
  for (const rig of rigs) {
    const warm = await runBlock(exchange, rig, WARMUP_TRANSFERS, prng);
    if (rig.kind === "utxo") {
      await runPeerConcurrent(exchange, warm.credits);
      await runPeerSequential(exchange, warm.credits.slice(0, Math.min(200, warm.credits.length)));
    }
  }

  const series = new Map<string, { phases: Phases[]; newUsers: number[]; lookups: number[] }>();
  const add = (name: string, phases: Phases, newUsers = 0, lookups = 0) => {
    let s = series.get(name);
    if (s === undefined) {
      s = { phases: [], newUsers: [], lookups: [] };
      series.set(name, s);
    }
    s.phases.push(phases);
    s.newUsers.push(newUsers);
    s.lookups.push(lookups);
  };
  for (let r = 0; r < RUNS; r++) {
    let btcCredits: Credit[] = [];
    for (const rig of rigs) {
      const run = await runBlock(exchange, rig, TRANSFERS, prng);
      add(`${rig.chain.chain} watcher`, run.phases, run.newUsers, run.lookups);
      if (rig.kind === "utxo") btcCredits = run.credits;
      note(`  run ${r + 1}: ${rig.chain.chain} watcher ${fmt(run.phases.totalMs)} ms`);
    }
    const concurrent = await runPeerConcurrent(exchange, btcCredits);
    add("adjustBalance, all at once", concurrent);
    const sequential = await runPeerSequential(exchange, btcCredits);
    add("adjustBalance, one await each", sequential);
    note(
      `  run ${r + 1}: adjustBalance all at once ${fmt(concurrent.totalMs)} ms, one await each ${fmt(sequential.totalMs)} ms (scaled)`,
    );
  }

  if (CPU_PROFILE !== undefined) {
    const session = new Session();
    session.connect();
    await session.post("Profiler.enable");
    const rig = rigs[0];
    const run = await runBlock(exchange, rig, TRANSFERS, prng, session);
    session.disconnect();
    note(
      `  profiled ${rig.chain.chain} block (not in the table): ${fmt(run.phases.totalMs)} ms → ${CPU_PROFILE}`,
    );
  }

  const names = [...series.keys()];
  const med = (name: string, key: keyof Phases) =>
    median((series.get(name)?.phases ?? []).map((p) => p[key]));
  const floor = med("adjustBalance, all at once", "totalMs");

  if (JSON_OUTPUT) {
    for (const name of names) {
      const s = series.get(name);
      if (s === undefined) continue;
      const total = med(name, "totalMs");
      console.log(
        JSON.stringify({
          bench: "deposit-credit",
          subject: name,
          transfers: TRANSFERS,
          watched: WATCHED,
          runs: RUNS,
          medianMs: {
            scan: med(name, "scanMs"),
            ownerLookups: med(name, "lookupsMs"),
            creditSubmits: med(name, "creditMs"),
            projection: med(name, "projectionMs"),
            total,
          },
          runsTotalMs: s.phases.map((p) => p.totalMs),
          creditsPerSec: TRANSFERS / (total / 1000),
          ratioVsCoreFloor: total / floor,
          blockIntervalMs: BLOCK_INTERVAL_MS,
          fitsOneBlockInterval: total < BLOCK_INTERVAL_MS,
          headroom: BLOCK_INTERVAL_MS / total,
          newUsersPerBlock: s.newUsers,
          ownerLookupsPerBlock: s.lookups,
          ...(name.includes("one await") ? { scaledFromCommands: SEQUENTIAL_SAMPLE } : {}),
        }),
      );
    }
    for (const rig of rigs)
      console.log(
        JSON.stringify({
          bench: "deposit-credit",
          subject: `${rig.chain.chain} setup`,
          addresses: WATCHED,
          assignedOneByOne: ASSIGN_SAMPLE,
          assignMs: rig.assignMs,
          assignPerSec: ASSIGN_SAMPLE / (rig.assignMs / 1000),
          bulkRows: WATCHED - ASSIGN_SAMPLE,
          bulkMs: rig.bulkMs,
          watcherStartMs: rig.startMs,
        }),
      );
    console.log(
      JSON.stringify({
        bench: "deposit-credit",
        subject: "machine",
        cpus: cpus().length,
        loadAverage1m: { start: loadBefore, end: loadavg()[0] },
      }),
    );
  } else {
    const ms = (n: number) => (n === 0 ? "–" : n < 10 ? n.toFixed(1) : fmt(n));
    const headers = ["median of runs", ...names];
    const row = (label: string, cell: (name: string) => string) => [label, ...names.map(cell)];
    const total = (name: string) => med(name, "totalMs");
    const table = [
      row("scan: tip, reorg check, block (ms)", (n) => ms(med(n, "scanMs"))),
      row("owner lookups (ms)", (n) => ms(med(n, "lookupsMs"))),
      row("credit submits: durable (watcher: +projected)", (n) => ms(med(n, "creditMs"))),
      row("projection left after that (ms)", (n) => ms(med(n, "projectionMs"))),
      row("total: credited+durable+projected (ms)", (n) => ms(total(n))),
      row("credits/s", (n) => fmt(TRANSFERS / (total(n) / 1000))),
      row("vs core floor (adjustBalance at once)", (n) => `${(total(n) / floor).toFixed(2)}x`),
      row(`fits one block interval (${fmt(BLOCK_INTERVAL_MS)} ms)`, (n) =>
        total(n) < BLOCK_INTERVAL_MS ? "yes" : "NO",
      ),
      row("headroom (interval / total)", (n) => `${(BLOCK_INTERVAL_MS / total(n)).toFixed(1)}x`),
    ];
    const widths = headers.map((h, i) => Math.max(h.length, ...table.map((cells) => cells[i].length)));
    const line = (cells: string[]) =>
      cells
        .map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
        .join("  ")
        .trimEnd();
    console.log(
      `\n== deposit credit: one block of ${fmt(TRANSFERS)} transfers among ${fmt(WATCHED)} watched addresses, ` +
        `scanned, credited, durable and projected; median of ${RUNS} runs after a warm-up ==`,
    );
    console.log(line(headers));
    console.log(widths.map((w) => "-".repeat(w)).join("  "));
    for (const cells of table) console.log(line(cells));
    for (const name of names) {
      const s = series.get(name);
      if (s === undefined) continue;
      const extra = name.includes("watcher")
        ? `; first deposits (new core users) ${s.newUsers.map(fmt).join(" ")}; owner lookups ${s.lookups.join(" ")}`
        : name.includes("one await")
          ? `; scaled from ${fmt(SEQUENTIAL_SAMPLE)} commands`
          : "";
      console.log(`${name} runs (ms): ${s.phases.map((p) => fmt(p.totalMs)).join(" ")}${extra}`);
    }
    for (const rig of rigs) console.log(`setup (not in the table) ${setupLine(rig)}`);
    console.log(
      `core users with a deposit at the end: ${fmt(everCredited.size)} (core maxUsers ${fmt(DEFAULT_CORE_LIMITS.maxUsers)}, the default)`,
    );
    console.log(
      `machine load average (1 min) ${loadBefore.toFixed(2)} at start, ${loadavg()[0].toFixed(2)} at end, on ${cpus().length} CPUs: other processes skew the numbers when it is above the CPU count`,
    );
  }
  if (backgroundErrors.length > 0) throw new Error(`background errors: ${backgroundErrors.join("; ")}`);
} finally {
  await exchange.close();
  rmSync(dataDir, { recursive: true, force: true });
}
