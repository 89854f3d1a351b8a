// Devnet deposit-scan benchmark (not a test), the scale target of issue 7 §4: "a devnet block
// with 10,000 transfers among 100,000 watched addresses is scanned … within one block interval".
//
//   node --import tsx bench/devnet-scan.bench.ts [--transfers N] [--watched N] [--runs N]
//                                                [--block-interval-ms N] [--naive-runs N] [--naive-sample N]
//
// For each devnet chain (UTXO: BTC outputs; account: USDT token transfers) it builds one block
// of --transfers faucet payments (default 10,000) to addresses drawn from --watched addresses
// (default 100,000; every one of them watched, plus as many unwatched payees so half the
// transfers miss), then times the adapter's scan of that block: median of --runs (default 5)
// after one warm-up. Baseline in the same run: a naive scan that compares every output's
// address with every watched address (an array walk instead of a set lookup), median of
// --naive-runs (default 3) over --naive-sample of the block's outputs (default 1,000, half of
// them watched), scaled to the whole block: the full walk is transfers × watched = 10^9
// comparisons, about 10-30 s per run on a busy 2-core machine. The target is one block
// interval (--block-interval-ms, default 10,000). The 1-min load average is printed: on a shared
// machine other processes skew the numbers when it is above the CPU count.

import { cpus, loadavg } from "node:os";
import { sha256 } from "@noble/hashes/sha2.js";
import type { ScanResult } from "../src/chains/adapter.ts";
import { toHex } from "../src/chains/devnet/codec.ts";
import { AccountDevnet, UtxoDevnet } from "../src/chains/devnet/index.ts";
import { utxoAddress } from "../src/chains/devnet/keys.ts";
import { Prng } from "../src/lib/prng.ts";
import { median } from "./stats.ts";

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const TRANSFERS = flag("transfers", 10_000);
const WATCHED = flag("watched", 100_000);
const RUNS = flag("runs", 5);
const NAIVE_RUNS = flag("naive-runs", 3);
const NAIVE_SAMPLE = flag("naive-sample", 1_000);
const BLOCK_INTERVAL_MS = flag("block-interval-ms", 10_000);

/** Address-shaped strings from a counter: hashing stands in for key derivation (100k EC keys take long). */
function syntheticAddress(kind: "utxo" | "account", i: number): string {
  const digest = sha256(new TextEncoder().encode(`bench-address-${i}`));
  if (kind === "account") return `0x${toHex(digest.subarray(12))}`;
  const pub = new Uint8Array(33);
  pub[0] = 2;
  pub.set(digest, 1);
  return utxoAddress(pub, "dvbtc");
}

interface Row {
  chain: string;
  buildMs: number;
  found: number;
  scanMs: number[];
  naiveMs: number[];
}

function timeMs(fn: () => ScanResult | number): { ms: number; result: ScanResult | number } {
  const t0 = process.hrtime.bigint();
  const result = fn();
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, result };
}

function runChain(kind: "utxo" | "account"): Row {
  const chain = kind === "utxo" ? new UtxoDevnet() : new AccountDevnet();
  const asset = kind === "utxo" ? "BTC" : "USDT";
  const watched = Array.from({ length: WATCHED }, (_, i) => syntheticAddress(kind, i));
  const watchedSet = new Set(watched);
  const prng = new Prng(7);
  const t0 = performance.now();
  for (let i = 0; i < TRANSFERS; i++) {
    const hit = i % 2 === 0;
    const to = hit ? watched[prng.int(0, WATCHED - 1)] : syntheticAddress(kind, WATCHED + i);
    chain.faucet(to, asset, BigInt(1_000 + i));
  }
  chain.mine();
  const buildMs = performance.now() - t0;
  const height = chain.tip;

  const scan = () => chain.scanSync(height, height, watchedSet);
  const expected = (scan() as ScanResult).transfers.length;
  const scanMs: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const { ms, result } = timeMs(scan);
    if ((result as ScanResult).transfers.length !== expected)
      throw new Error("scan results differ between runs");
    scanMs.push(ms);
  }

  // Naive baseline: a sample of the block's outputs (as many hits as misses), each compared with
  // every watched address.
  const hits = (scan() as ScanResult).transfers.slice(0, NAIVE_SAMPLE >> 1).map((t) => t.address);
  const sample = [...hits];
  for (let i = 0; sample.length < hits.length * 2; i += 2)
    sample.push(syntheticAddress(kind, WATCHED + i + 1));
  const scale = TRANSFERS / sample.length;
  const naive = () => {
    let found = 0;
    for (const address of sample)
      for (let j = 0; j < watched.length; j++)
        if (watched[j] === address) {
          found++;
          break;
        }
    return found;
  };
  const naiveMs: number[] = [];
  for (let r = 0; r < NAIVE_RUNS; r++) {
    const { ms, result } = timeMs(naive);
    if (result !== hits.length) throw new Error(`naive scan found ${result} of ${hits.length}`);
    naiveMs.push(ms * scale);
  }
  return { chain: chain.chain, buildMs, found: expected, scanMs, naiveMs };
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const loadBefore = loadavg()[0];
const rows = [runChain("utxo"), runChain("account")];

const headers = ["metric", "bulwark scan", "naive scan", "ratio", "target", ""];
const table: string[][] = [];
for (const r of rows) {
  const scan = median(r.scanMs);
  const naive = median(r.naiveMs);
  table.push([
    `${r.chain}: block scan (ms)`,
    scan.toFixed(2),
    naive.toFixed(0),
    `${(naive / scan).toFixed(0)}x`,
    `< ${fmt(BLOCK_INTERVAL_MS)} ms`,
    scan < BLOCK_INTERVAL_MS ? "pass" : "MISS",
  ]);
  table.push([
    `${r.chain}: transfers/s`,
    fmt(TRANSFERS / (scan / 1000)),
    fmt(TRANSFERS / (naive / 1000)),
    "",
    "",
    "",
  ]);
  table.push([`${r.chain}: deposits found`, fmt(r.found), "", "", "", ""]);
  table.push([`${r.chain}: block built and mined (ms, untimed)`, fmt(r.buildMs), "", "", "", ""]);
}
const widths = headers.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
const line = (cells: string[]) =>
  cells
    .map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
    .join("  ")
    .trimEnd();
console.log(
  `== devnet scan: one block of ${fmt(TRANSFERS)} transfers, ${fmt(WATCHED)} watched addresses, median of ${RUNS} runs (naive: ${NAIVE_RUNS}) after a warm-up ==`,
);
console.log(line(headers));
console.log(widths.map((w) => "-".repeat(w)).join("  "));
for (const row of table) console.log(line(row));
for (const r of rows)
  console.log(
    `${r.chain} runs (ms; naive scaled from ${fmt(Math.min(NAIVE_SAMPLE, TRANSFERS))} outputs): scan ${r.scanMs.map((v) => v.toFixed(2)).join(" ")}; naive ${r.naiveMs.map((v) => v.toFixed(0)).join(" ")}`,
  );
console.log(
  `machine load average (1 min) ${loadBefore.toFixed(2)} at start, ${loadavg()[0].toFixed(2)} at end, on ${cpus().length} CPUs (this bench adds ~1): other processes skew the numbers when it is above the CPU count`,
);
