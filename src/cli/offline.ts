// Commands on a data dir no server holds: the CLI opens it itself, under the data dir's lock, and
// only as much of it as the command needs.
//
// - "store": users, API keys and the audit log live in the store alone, so those commands open
//   the store and no exchange (no projector thread, no market data). `user create` also recovers
//   the core from snapshot + journal (no sequencer) to raise the store's user-id floor first, as
//   Exchange.open does: a users row lost in a crash must never let a new account take an id that
//   holds money.
// - "devnet": the simulated chains' state under <data-dir>/devnet/ (no block timer), and the store
//   for the audit log; saved and closed again.
// - "exchange": balances, assets and markets go through the core: the whole Exchange is opened,
//   with the default assets and markets on a fresh data dir, and closed again.

import { join } from "node:path";
import type { ExchangeBoundary } from "../exchange/boundary.ts";
import type { OperatorActions } from "../operator/actions.ts";
import { ensurePrivateDataDir } from "../server/data-dir.ts";
import { acquireDataDirLock } from "../server/data-dir-lock.ts";
import type { Cli } from "./args.ts";
import type { CliIo } from "./io.ts";

export type OfflineNeeds = "store" | "storeAndUserIdFloor" | "exchange" | "devnet";

function databaseUrlOf(io: CliIo): string | undefined {
  const url = io.env.DATABASE_URL;
  return url === undefined || url === "" ? undefined : url;
}

/**
 * The incident service over the store for `bulwark incident …` offline: entries are recorded and
 * audited; no WebSocket client or webhook is told (no server runs to tell them).
 */
async function withIncidents(actions: OperatorActions, exchange: ExchangeBoundary): Promise<OperatorActions> {
  const { IncidentService } = await import("../incidents/incident-service.ts");
  actions.setIncidents(new IncidentService({ exchange }));
  return actions;
}

/** Opens what `needs` says under the data dir's lock, runs `work`, and closes everything again. */
export async function withOfflineActions<T>(
  cli: Cli,
  io: CliIo,
  needs: OfflineNeeds,
  work: (actions: OperatorActions) => Promise<T>,
): Promise<T> {
  ensurePrivateDataDir(cli.dataDir);
  const lock = acquireDataDirLock(cli.dataDir, `cli ${cli.command}`);
  try {
    const [{ loadServerKey }, { OperatorActions }] = await Promise.all([
      import("../accounts/server-key.ts"),
      import("../operator/actions.ts"),
    ]);
    const { secretBox } = loadServerKey(cli.dataDir, io.env);
    if (needs === "exchange") {
      const [{ Exchange }, { ensureDefaultMarkets }] = await Promise.all([
        import("../exchange/exchange.ts"),
        import("../server/default-markets.ts"),
      ]);
      const exchange = await Exchange.open({
        dataDir: cli.dataDir,
        databaseUrl: databaseUrlOf(io),
        projectorThread: false,
      });
      try {
        await ensureDefaultMarkets(exchange);
        return await work(await withIncidents(new OperatorActions(exchange, secretBox), exchange));
      } finally {
        await exchange.close();
      }
    }
    const [{ openStore }, { storeOnlyBoundary }] = await Promise.all([
      import("../store/open-store.ts"),
      import("./store-only.ts"),
    ]);
    const store = await openStore(
      databaseUrlOf(io) === undefined ? { dataDir: cli.dataDir } : { databaseUrl: databaseUrlOf(io) },
    );
    try {
      if (needs === "storeAndUserIdFloor") await raiseUserIdFloorFromCore(cli.dataDir, store);
      if (needs === "devnet") {
        const { DevnetChains } = await import("../server/devnet.ts");
        const devnet = DevnetChains.open({ dataDir: cli.dataDir, blockIntervalMs: 0 });
        try {
          const boundary = storeOnlyBoundary(store);
          return await work(
            await withIncidents(new OperatorActions(boundary, secretBox, Date.now, devnet), boundary),
          );
        } finally {
          devnet.close();
        }
      }
      const boundary = storeOnlyBoundary(store);
      return await work(await withIncidents(new OperatorActions(boundary, secretBox), boundary));
    } finally {
      await store.close();
    }
  } finally {
    lock.release();
  }
}

async function raiseUserIdFloorFromCore(
  dataDir: string,
  store: Awaited<ReturnType<typeof import("../store/open-store.ts").openStore>>,
): Promise<void> {
  const [{ Core }, { DEFAULT_CORE_LIMITS }, { FileJournal }, { recover }, { SnapshotStore }, accounts] =
    await Promise.all([
      import("../core/core.ts"),
      import("../core/config.ts"),
      import("../journal/file-journal.ts"),
      import("../runtime/recovery.ts"),
      import("../runtime/snapshot-store.ts"),
      import("../store/accounts.ts"),
    ]);
  const journal = await FileJournal.open({ dir: join(dataDir, "journal") });
  try {
    const { core } = recover({
      journal,
      snapshots: new SnapshotStore({ dir: join(dataDir, "snapshots") }),
      createCore: () => new Core(DEFAULT_CORE_LIMITS),
      restoreCore: (bytes) => Core.restore(bytes, DEFAULT_CORE_LIMITS),
      maxCommandsPerBatch: DEFAULT_CORE_LIMITS.maxCommandsPerBatch,
    });
    await accounts.raiseUserIdFloor(store.db, store.engine, accounts.maxUserIdOf(core.exportState()));
  } finally {
    await journal.close();
  }
}
