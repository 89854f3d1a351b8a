#!/usr/bin/env node
// Checks that every import under src/ points down the data flow, and that SQL lives in store/ only (docs/ARCHITECTURE.md, "Layers"):
//
//   cli → server → gateway, operator → exchange (boundary.ts only) → accounts, marketdata
//       → runtime, store → journal → units → core
//
// Each folder lists what it may import. A layer above the exchange sees only exchange/boundary.ts
// and the core's contract (commands, events, config), never store/, runtime/ or journal/. Exits 1
// with one line per offending import. Run by `npm run lint` (so by `npm test`).

import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const sourceRoot = join(root, "src");

/** The core's contract: plain types and pure validation every layer may speak. */
const CORE_CONTRACT = ["core/commands.ts", "core/events.ts", "core/config.ts", "core/state-view.ts"];
const BOUNDARY = ["exchange/boundary.ts", "exchange/event-pipeline.ts"];
/** Custody's face for the edges: types only (src/custody/port.ts). */
const CUSTODY_PORT = ["custody/port.ts"];
/** The incident service's face (src/incidents/port.ts): custody's breaker, the gateway and operator use only it. */
const INCIDENT_PORT = ["incidents/port.ts"];

/** folder → the folders (or exact files) it may import besides itself. */
const ALLOWED = {
  core: [],
  /** Leaf helpers (an LRU map, a seeded PRNG) that import nothing; every folder but core may import them. */
  lib: [],
  units: ["core"],
  journal: ["core"],
  runtime: ["core", "journal"],
  /**
   * Cluster mode's parts on NATS (issue 12): the journal as a JetStream stream, the command bus,
   * the leader lease, the standby's follower. They sit beside runtime/ (the core's durable loop).
   * The projector role is a composition root (like server/): it writes the store's read models.
   * The gateway role too (cluster-exchange.ts, gateway-main.ts): an ExchangeBoundary over the
   * bus, a core replica and the store, served by the gateways. The custody role (custody-main.ts)
   * runs the server's custody composition (devnet, signers, CustodyService) over that exchange.
   */
  cluster: [
    "core",
    "journal",
    "runtime",
    "store",
    "units",
    "marketdata",
    "accounts",
    "exchange",
    "gateway",
    "server",
    "custody",
    "chains",
    "signer",
  ],
  store: ["core"],
  marketdata: ["core", "units"],
  accounts: ["store", ...CORE_CONTRACT],
  exchange: ["core", "units", "journal", "runtime", "store", "marketdata", "accounts"],
  /** Proof of reserves: a pure Merkle sum tree and its verifier (shared by the CLI and the web page). */
  reserves: ["units", ...CORE_CONTRACT],
  /** Incidents, notices, webhooks and the status of components: a client of the boundary. */
  incidents: ["units", ...BOUNDARY, ...CORE_CONTRACT],
  gateway: [
    "accounts",
    "marketdata",
    "units",
    "reserves",
    ...BOUNDARY,
    ...CUSTODY_PORT,
    ...INCIDENT_PORT,
    ...CORE_CONTRACT,
  ],
  operator: [
    "accounts",
    "units",
    "reserves",
    // The operator console (src/operator/console/) reuses the people's session helpers (cookies,
    // CSRF double submit, Origin check) and login throttle, not the rest of the gateway.
    "gateway/session/session-auth.ts",
    "gateway/session/login-throttle.ts",
    // The flood guard's operator face (degraded mode, bans): a plain state object, no gateway code.
    "gateway/guard/guard-control.ts",
    ...BOUNDARY,
    ...CUSTODY_PORT,
    ...INCIDENT_PORT,
    ...CORE_CONTRACT,
  ],
  /** Per-blockchain code both sides need: watch-only derivation and transactions for custody, signing for the signer. */
  chains: ["units"],
  /** The isolated signer process: its own keystore and policy, and the chains' signing code, nothing else. */
  signer: ["chains"],
  /** Deposits, withdrawals, sweeps: a client of the exchange boundary, like the gateway. */
  /** signer/intent.ts is the contract between custody and the signer: the intent's bytes, nothing else of the signer. */
  custody: [
    "chains",
    "accounts",
    "units",
    "signer/intent.ts",
    ...BOUNDARY,
    ...INCIDENT_PORT,
    ...CORE_CONTRACT,
  ],
  server: [
    "core",
    "units",
    "journal",
    "runtime",
    "store",
    "marketdata",
    "accounts",
    "exchange",
    "gateway",
    "operator",
    "chains",
    "signer",
    "custody",
    "incidents",
    "reserves",
  ],
  /** The CLI may use everything the composition root does, and the composition root itself. */
  get cli() {
    return [...this.server, "server", "cluster"];
  },
};

/** The longest import list a folder may have: a guard against a runaway walk, not a style rule. */
const MAX_FILES = 10_000;

function listSourceFiles(directory, found = []) {
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) listSourceFiles(path, found);
    else if (/\.(ts|mjs)$/.test(entry.name)) found.push(path);
    if (found.length > MAX_FILES) throw new Error(`more than ${MAX_FILES} files under src/`);
  }
  return found;
}

/** Relative specifiers of static and dynamic imports and re-exports. */
function importsOf(text) {
  const specifiers = [];
  const pattern =
    /(?:^|[\s;])(?:import|export)\s[^"';]*?from\s*["'](\.[^"']+)["']|import\s*\(\s*["'](\.[^"']+)["']\s*\)|^import\s*["'](\.[^"']+)["']/gm;
  for (const match of text.matchAll(pattern)) specifiers.push(match[1] ?? match[2] ?? match[3]);
  return specifiers;
}

function isAllowed(fromFolder, target) {
  const targetFolder = target.split("/")[0];
  if (targetFolder === fromFolder) return true;
  if (targetFolder === "lib" && fromFolder !== "core") return true;
  return ALLOWED[fromFolder].some((rule) => rule === targetFolder || rule === target);
}

/** Query-builder calls and raw SQL: only store/ may hold them. */
const SQL =
  /\.(selectFrom|insertInto|updateTable|deleteFrom|replaceInto)\(|\bsql`|\.prepare\(\s*["'`]\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|PRAGMA)/i;

const problems = [];
for (const file of listSourceFiles(sourceRoot)) {
  const from = relative(sourceRoot, file);
  const fromFolder = from.split("/")[0];
  if (fromFolder !== "store" && SQL.test(readFileSync(file, "utf8")))
    problems.push(`${from}: SQL outside store/`);
  if (!(fromFolder in ALLOWED)) {
    problems.push(
      `${from}: folder ${fromFolder}/ has no place in the layer table of scripts/check-imports.mjs`,
    );
    continue;
  }
  for (const specifier of importsOf(readFileSync(file, "utf8"))) {
    const target = relative(sourceRoot, resolve(dirname(file), specifier));
    if (target.startsWith("..")) problems.push(`${from}: imports ${specifier}, outside src/`);
    else if (!isAllowed(fromFolder, target)) problems.push(`${from}: imports ${target}, against the flow`);
  }
}

if (problems.length > 0) {
  console.error(`Imports against the data flow, or SQL outside store/ (${problems.length}):`);
  for (const problem of problems) console.error(`  ${problem}`);
  process.exit(1);
}
console.log("imports: every import under src/ points down the data flow; SQL only in store/");
