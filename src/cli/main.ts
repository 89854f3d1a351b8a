// The `bulwark` command. Every command takes --data-dir (default ./data) and --json.

import { resolve } from "node:path";
import { parseArgs } from "node:util";
import type { UnstampedCommand } from "../core/commands.ts";
import type { Core } from "../core/core.ts";
import { type EmbeddedCore, startEmbeddedCore } from "../runtime/embedded.ts";
import { DEFAULT_ASSETS, DEFAULT_MARKETS } from "./default-markets.ts";

const USAGE = `usage: bulwark <command> [--data-dir DIR] [--json]

commands:
  start    recover the core from DIR (default ./data), add the default markets to a fresh
           exchange, and run until Ctrl-C or SIGTERM
  verify   recover, check every ledger and book invariant, print the last sequence and state hash
  help     this text`;

interface CliOptions {
  dataDir: string;
  json: boolean;
}

function parseCli(argv: string[]): { command: string; options: CliOptions } {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      "data-dir": { type: "string", default: "data" },
      json: { type: "boolean", default: false },
    },
  });
  if (positionals.length > 1) throw new Error(`unexpected arguments: ${positionals.slice(1).join(" ")}`);
  return {
    command: positionals[0] ?? "help",
    options: { dataDir: resolve(values["data-dir"]), json: values.json },
  };
}

function say(options: CliOptions, fields: Record<string, unknown>, text: string): void {
  console.log(options.json ? JSON.stringify(fields) : text);
}

/** A fresh exchange gets the default assets and markets, through the journal like any command. */
async function addDefaultMarkets(embedded: EmbeddedCore): Promise<number> {
  if (embedded.core.assetList().length > 0) return 0;
  const commands: UnstampedCommand[] = [
    ...DEFAULT_ASSETS.map((asset): UnstampedCommand => ({ kind: "addAsset", asset })),
    ...DEFAULT_MARKETS.map((market): UnstampedCommand => ({ kind: "addMarket", market })),
  ];
  const results = await Promise.all(commands.map((command) => embedded.sequencer.submit(command)));
  for (const result of results) {
    const rejected = result.events.find((event) => event.type === "rejected");
    if (rejected !== undefined) throw new Error(`default market setup rejected: ${JSON.stringify(rejected)}`);
  }
  return commands.length;
}

interface StateSummary {
  lastSequence: number;
  assets: string[];
  markets: string[];
  restingOrders: number;
}

function stateSummary(core: Core): StateSummary {
  return {
    lastSequence: core.lastSequence,
    assets: core.assetList().map((asset) => asset.code),
    markets: core.marketList().map((market) => market.symbol),
    restingOrders: core.restingOrderCount,
  };
}

async function start(options: CliOptions): Promise<void> {
  const embedded = await startEmbeddedCore({
    dataDir: options.dataDir,
    onSnapshotError: (error) => console.error("snapshot failed:", error),
  });
  const { journalOpenReport, recoveryReport } = embedded;
  const added = await addDefaultMarkets(embedded);
  const summary = {
    event: "started",
    dataDir: options.dataDir,
    ...stateSummary(embedded.core),
    snapshotSequence: recoveryReport.snapshotSequence,
    replayedCommands: recoveryReport.replayedCommandCount,
    truncatedJournalBytes: journalOpenReport.truncatedBytes,
    defaultCommandsAdded: added,
  };
  say(
    options,
    summary,
    `Bulwark core running on ${options.dataDir}\n` +
      `  markets ${summary.markets.join(", ")}; last sequence ${summary.lastSequence}; ` +
      `${summary.restingOrders} resting orders\n` +
      `  recovered from snapshot ${summary.snapshotSequence} + ${summary.replayedCommands} journal records` +
      (summary.truncatedJournalBytes > 0
        ? ` (dropped a torn tail of ${summary.truncatedJournalBytes} bytes)`
        : "") +
      "\n  the EXMO API gateway is not built yet; Ctrl-C stops cleanly",
  );
  await waitForStopSignal();
  await embedded.close();
  say(options, { event: "stopped", lastSequence: embedded.core.lastSequence }, "Stopped; journal flushed.");
}

function waitForStopSignal(): Promise<void> {
  return new Promise((resolveStop) => {
    const stop = (): void => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolveStop();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}

async function verify(options: CliOptions): Promise<void> {
  const embedded = await startEmbeddedCore({ dataDir: options.dataDir });
  try {
    embedded.core.checkInvariants();
    const fields = { ...stateSummary(embedded.core), stateHash: embedded.core.stateHash(), invariants: "ok" };
    say(
      options,
      fields,
      `last sequence ${fields.lastSequence}, ${fields.restingOrders} resting orders, invariants ok\nstate hash ${fields.stateHash}`,
    );
  } finally {
    await embedded.close();
  }
}

async function main(argv: string[]): Promise<void> {
  const { command, options } = parseCli(argv);
  switch (command) {
    case "start":
      return start(options);
    case "verify":
      return verify(options);
    case "help":
      console.log(USAGE);
      return;
    default:
      throw new Error(`unknown command "${command}"\n${USAGE}`);
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
