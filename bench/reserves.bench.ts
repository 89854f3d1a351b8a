// Proof of reserves (issue 8, section 6: "1,000,000 users in ≤ 10 s"): builds one asset's Merkle
// sum tree over N users' liabilities (salts derived from the reserves secret, leaves, every level up
// to the root) and prints the median of the runs, with a proof extracted and verified as a check.
//
//   node --import tsx bench/reserves.bench.ts [--users N] [--runs N] [--json]
//
// A peer in the same run: the textbook build, recursive with an object per node and a one-shot
// sha256() per hash (the same bytes, so the same root, asserted), on the same leaves.

import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import {
  EMPTY_HASH,
  leafHash,
  nodeOf,
  rootFromPath,
  SaltDeriver,
  SumTree,
} from "../src/reserves/sum-tree.ts";

const argument = (name: string, fallback: number): number => {
  const at = process.argv.indexOf(name);
  return at < 0 ? fallback : Number(process.argv[at + 1]);
};
const users = argument("--users", 1_000_000);
const runs = argument("--runs", 5);
const peerRuns = argument("--peer-runs", 3);
const json = process.argv.includes("--json");

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

// Leaves: ids 1..N with gaps, balances up to 10^12 units (a seeded LCG, so every run is the same).
const accountIds = new Float64Array(users);
const balancesUnits: bigint[] = new Array(users);
let seed = 42;
let id = 0;
for (let index = 0; index < users; index++) {
  seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
  id += 1 + (seed % 3);
  accountIds[index] = id;
  balancesUnits[index] = BigInt(seed) * 466n;
}
const saltSource = { secret: sha256(new TextEncoder().encode("bench reserves secret")), publicationId: 1 };

/** The peer: recursive, one object per node, one-shot hashes. */
function naiveRoot(): { hash: Uint8Array; sumUnits: bigint } {
  const salts = new SaltDeriver(saltSource);
  let level = Array.from({ length: users }, (_, index) => {
    const accountId = accountIds[index];
    return {
      hash: leafHash(salts.salt(accountId), accountId, balancesUnits[index]),
      sumUnits: balancesUnits[index],
    };
  });
  const empty = { hash: EMPTY_HASH, sumUnits: 0n };
  const up = (nodes: typeof level): typeof level => {
    if (nodes.length <= 1) return nodes;
    const parents = [];
    for (let index = 0; index < nodes.length; index += 2)
      parents.push(nodeOf(nodes[index], nodes[index + 1] ?? empty));
    return up(parents);
  };
  level = up(level);
  return level[0];
}

/** Wall time and this process's CPU time (on a busy machine the wall time includes waiting for a core). */
const times: number[] = [];
const cpuTimes: number[] = [];
let tree: SumTree | undefined;
for (let run = 0; run < runs; run++) {
  const cpu = process.cpuUsage();
  const started = performance.now();
  tree = SumTree.build({ accountIds, balancesUnits }, saltSource);
  times.push(performance.now() - started);
  const used = process.cpuUsage(cpu);
  cpuTimes.push((used.user + used.system) / 1000);
}
if (tree === undefined) throw new Error("no runs");
const peerTimes: number[] = [];
const peerCpuTimes: number[] = [];
let peer: { hash: Uint8Array; sumUnits: bigint } | undefined;
for (let run = 0; run < peerRuns; run++) {
  const cpu = process.cpuUsage();
  const started = performance.now();
  peer = naiveRoot();
  peerTimes.push(performance.now() - started);
  const used = process.cpuUsage(cpu);
  peerCpuTimes.push((used.user + used.system) / 1000);
}
if (
  peer === undefined ||
  bytesToHex(peer.hash) !== bytesToHex(tree.root) ||
  peer.sumUnits !== tree.totalUnits
)
  throw new Error("the peer's root differs from the tree's");
const proof = tree.proof(Math.floor(users / 3));
const again = rootFromPath(proof, proof.path);
if (bytesToHex(again.hash) !== bytesToHex(tree.root)) throw new Error("a proof does not lead to the root");

const rows = [
  {
    build: "SumTree.build (flat buffers, cloned sha256 state)",
    users,
    runs,
    medianMs: Math.round(median(times)),
    medianCpuMs: Math.round(median(cpuTimes)),
  },
  {
    build: "naive recursive (object per node, one-shot sha256)",
    users,
    runs: peerRuns,
    medianMs: Math.round(median(peerTimes)),
    medianCpuMs: Math.round(median(peerCpuTimes)),
  },
];
if (json)
  console.log(JSON.stringify({ rows, root: bytesToHex(tree.root), totalUnits: tree.totalUnits.toString() }));
else {
  console.log(
    `proof of reserves: Merkle sum tree over ${users.toLocaleString("en")} users (target ≤ 10,000 ms)`,
  );
  console.log("build                                                  runs   median ms  median CPU ms");
  for (const row of rows)
    console.log(
      `${row.build.padEnd(55)}${String(row.runs).padStart(4)}${String(row.medianMs).padStart(12)}${String(row.medianCpuMs).padStart(15)}`,
    );
  console.log(
    `root ${bytesToHex(tree.root)}, total ${tree.totalUnits} units, proof of ${proof.path.length} siblings verified`,
  );
}
