// The projector's worker thread (spawned by projector-worker.ts, SQLite only). better-sqlite3 is
// synchronous: on the main thread every projector transaction stalled the API for its whole
// duration. Here the writes run on their own connection to the same file (WAL: the main thread
// keeps reading while this one writes), and the main thread only posts batches and reads acks.

import { parentPort, workerData } from "node:worker_threads";
import { openSqliteFile, sqliteKysely } from "./open-store.ts";
import { Projector } from "./projector.ts";
import type { ProjectorThreadData, ToProjectorThread } from "./projector-worker.ts";
import { describeError, type FromProjectorThread } from "./projector-worker.ts";

const port = parentPort;
if (port === null) throw new Error("projector-thread.ts must run as a worker thread");
const { sqliteFile } = workerData as ProjectorThreadData;

const sqlite = openSqliteFile(sqliteFile);
const db = sqliteKysely(sqlite);
const projector = await Projector.open(db);
const post = (message: FromProjectorThread) => port.postMessage(message);

// Messages are handled strictly one after another (the chain), so batches are written in the
// order they were posted and "close" runs after every batch posted before it.
let chain: Promise<void> = Promise.resolve();
port.on("message", (message: ToProjectorThread) => {
  chain = chain.then(async () => {
    if (message.type === "apply") {
      try {
        const result = await projector.applyBatch(message.batch);
        post({ type: "applied", id: message.id, result });
      } catch (error) {
        post({ type: "failed", id: message.id, error: describeError(error) });
      }
    } else {
      await db.destroy();
      // Closing the port empties this thread's event loop, so it exits with code 0.
      port.close();
    }
  });
});
post({ type: "ready", lastSequence: projector.lastSequence });
