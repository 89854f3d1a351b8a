// Child process of the custody process tests (withdrawal-crash.test.ts, no-key-material.test.ts):
// `node --import tsx test/custody/server-child.ts <dataDir>` runs a real `bulwark start`
// (startExchangeServer in demo mode: wallets, signer child processes, custody, devnet chains
// mining only on demand) on <dataDir>. BULWARK_TEST_KILL_AT_WITHDRAWAL_STEP in its environment
// arms the server's crash drill (it SIGKILLs itself after a withdrawal reaches that step).
//
// Protocol (stdout is a pipe; every line is written synchronously):
//   stdout: {"event":"ready","pid":…,"armedStep":…,"signerPids":[…],"signers":[{chain,pid}…],
//            "traderId":…,"operatorSocket":…,"url":…}
//   stdin:  {"id":n,"cmd":"…",…}      one JSON command a line
//   stdout: {"id":n,"ok":true,"result":…} or {"id":n,"ok":false,"error":"…"}
// Commands: prepare (the trader's outside BTC address, in the address book and activated),
// withdraw {amount}, state {address?}, addresses (custody's BTC hot and change addresses, the
// trader's deposit address), heap {path} (v8.writeHeapSnapshot), close (a clean stop, exit 0).
// Logs go to stderr.

import { writeSync } from "node:fs";
import { createInterface } from "node:readline";
import { writeHeapSnapshot } from "node:v8";
import pino from "pino";
import { addressOfKey, privateKeyFromSeed } from "../../src/chains/devnet/index.ts";
import { DEMO_TRADER_EMAIL } from "../../src/server/demo/demo-accounts.ts";
import { KILL_AT_WITHDRAWAL_STEP_ENV, startExchangeServer } from "../../src/server/server.ts";

const [dataDir] = process.argv.slice(2);
if (dataDir === undefined) throw new Error("usage: server-child.ts <dataDir>");

/** The trader's own wallet outside the exchange: a devnet key from a public seed. */
const OUTSIDE_SEED = "bulwark-custody-process-test-outside";

const env: NodeJS.ProcessEnv = { ...process.env };
for (const name of [
  "DATABASE_URL",
  "BULWARK_SERVER_KEY",
  "BULWARK_OPERATOR_TOKEN",
  "BULWARK_OPERATOR_LISTEN",
  "BULWARK_SIGNER_PASSPHRASE",
])
  delete env[name];

const server = await startExchangeServer({
  dataDir,
  port: 0,
  demo: true,
  devnetBlockMs: 0,
  custodyTickMs: Number(process.env.CHILD_CUSTODY_TICK_MS ?? 100),
  demoWalletIntervalMs: 0,
  // The market maker is not what these tests watch: one quote round an hour.
  demoTickIntervalMs: 3_600_000,
  rateLimit: false,
  env,
  logger: pino({ level: process.env.BULWARK_LOG_LEVEL ?? "warn" }, pino.destination(2)),
});
function required<T>(value: T | null | undefined, what: string): T {
  if (value === null || value === undefined) throw new Error(`the server has no ${what}`);
  return value;
}
const { exchange } = server;
const custody = required(server.custody, "custody");
const devnet = required(server.devnet, "devnet");
const traderId = required(await exchange.accounts.userByEmail(DEMO_TRADER_EMAIL), "demo trader").userId;
const btc = required(exchange.assetByCode("BTC"), "BTC asset");
const outside = addressOfKey(devnet.btc, privateKeyFromSeed(OUTSIDE_SEED));

function send(message: unknown): void {
  writeSync(
    1,
    `${JSON.stringify(message, (_key, value) => (typeof value === "bigint" ? value.toString() : value))}\n`,
  );
}

interface Command {
  id: number;
  cmd: string;
  amount?: string;
  address?: string;
  path?: string;
}

async function run(command: Command): Promise<unknown> {
  switch (command.cmd) {
    case "prepare": {
      const nowMs = Date.now();
      await exchange.accounts.addAddress({
        userId: traderId,
        currency: "BTC",
        address: outside,
        label: "outside",
        nowMs,
      });
      await exchange.accounts.activateAddressNow({
        userId: traderId,
        currency: "BTC",
        address: outside,
        nowMs,
        operator: "test",
      });
      return { destination: outside };
    }
    case "withdraw":
      return custody.requestWithdrawal({
        userId: traderId,
        currency: "BTC",
        amount: command.amount ?? "0.1",
        address: outside,
        proof: { kind: "operator", actor: "test" },
      });
    case "state": {
      const status = await custody.status();
      const chain = status.chains.find((entry) => entry.chain === "devnet-btc");
      const books = chain?.balances.find((entry) => entry.currency === "BTC");
      // The hot wallet's coins: its receive address and its change address.
      const hot = custody.chainOf("devnet-btc");
      const hotSats = [hot?.hotAddress, hot?.changeAddress].reduce(
        (sum, address) => sum + (address == null ? 0n : devnet.btc.balance(address)),
        0n,
      );
      return {
        height: devnet.btc.tip,
        trader: exchange.balance(traderId, btc.assetId),
        destination: devnet.btc.balance(command.address ?? outside).toString(),
        hotSats: hotSats.toString(),
        onChain: books?.onChain ?? null,
        onBooks: books?.onBooks ?? null,
        signerPids: server.signers?.status().map((entry) => entry.pid) ?? [],
      };
    }
    case "addresses": {
      const hot = custody.chainOf("devnet-btc");
      return {
        hot: hot?.hotAddress ?? null,
        change: hot?.changeAddress ?? null,
        traderDeposit: (await custody.depositAddress(traderId, "BTC")).address,
      };
    }
    case "heap":
      return { path: writeHeapSnapshot(command.path) };
    case "close":
      await server.close();
      return { closed: true };
    default:
      throw new Error(`unknown command ${command.cmd}`);
  }
}

send({
  event: "ready",
  pid: process.pid,
  // What the crash drill is armed with, as the server reads it (so the parent knows the name is right).
  armedStep: env[KILL_AT_WITHDRAWAL_STEP_ENV] ?? null,
  signerPids: server.signers?.status().map((entry) => entry.pid) ?? [],
  signers: server.signers?.status().map((entry) => ({ chain: entry.chain, pid: entry.pid })) ?? [],
  traderId,
  operatorSocket: server.operatorSocket,
  url: server.url,
});

createInterface({ input: process.stdin }).on("line", (line) => {
  const command = JSON.parse(line) as Command;
  run(command).then(
    (result) => {
      send({ id: command.id, ok: true, result: result ?? null });
      if (command.cmd === "close") process.exit(0);
    },
    (error: unknown) => send({ id: command.id, ok: false, error: (error as Error).message ?? String(error) }),
  );
});
// The parent going away (a failed test) ends this server too.
process.stdin.on("end", () => {
  void server.close().finally(() => process.exit(0));
});
