// Child of api-crash.test.ts: the whole exchange server (gateway, sequencer, file journal, store)
// on a data dir, killed with SIGKILL by the parent under load. With SEED=1 it first creates a user
// with money and API keys (through OperatorActions, as the CLI does). Prints one JSON line when
// listening: { url, keys? }.

import pino from "pino";
import { loadServerKey } from "../../src/accounts/server-key.ts";
import { OperatorActions } from "../../src/operator/actions.ts";
import { startExchangeServer } from "../../src/server/server.ts";

const dataDir = process.argv[2];
const keyCount = Number(process.argv[3] ?? "0");
const server = await startExchangeServer({
  dataDir,
  port: 0,
  host: "127.0.0.1",
  demo: false,
  logger: pino({ level: "silent" }),
  // The load comes from one address: this drill is about durability, not the limiter.
  rateLimit: false,
  passwordScrypt: { logN: 10, blockSize: 8, parallelization: 1 },
});
let keys: { keyId: string; secret: string }[] | undefined;
if (keyCount > 0) {
  const actions = new OperatorActions(server.exchange, loadServerKey(dataDir).secretBox);
  const email = "crash@bulwark.local";
  await actions.createUser("test", { email, password: "crash-password-1" });
  await actions.adjustBalance("test", { email, asset: "USD", amount: "10000000", reason: "crash drill" });
  keys = [];
  for (let index = 0; index < keyCount; index++) {
    const key = await actions.createApiKey("test", { email, scopes: "info,trade", ipAllowList: [] });
    keys.push({ keyId: key.keyId, secret: key.secret });
  }
}
process.stdout.write(`${JSON.stringify({ url: server.url, keys })}\n`);
