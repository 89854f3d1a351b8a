// The withdrawal pipeline's latency per step (issue 7: "withdrawal pipeline latency per step"),
// through a real demo server: custody in the exchange process, the devnet-btc signer as a child
// process on its Unix socket, the devnet chain mining only on demand. Each withdrawal is timed from
// the request to `broadcast` (custody's checks, the row, the core's hold, the intent, the signer,
// the broadcast), then two blocks are mined and it is timed to `settled` (confirmations, the core's
// settle, the network fee on the books). Per step: the median of the step history's gaps.
//
//   node --import tsx bench/withdrawal-steps.bench.ts [--runs N] [--json]
//
// A peer: the same request's core part alone (a holdWithdrawal + releaseWithdrawal pair through the
// same exchange), the floor under custody's own work.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { addressOfKey, privateKeyFromSeed } from "../src/chains/devnet/index.ts";
import { startExchangeServer } from "../src/server/server.ts";

const runs = Number(process.argv[process.argv.indexOf("--runs") + 1] || 15);
const json = process.argv.includes("--json");

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? Number.NaN : sorted[Math.floor(sorted.length / 2)];
}

const dataDir = mkdtempSync(join(tmpdir(), "bulwark-bench-withdrawal-"));
const server = await startExchangeServer({
  dataDir,
  port: 0,
  devnetBlockMs: 0,
  custodyTickMs: 50,
  demoWalletIntervalMs: 0,
  env: { ...process.env, BULWARK_LOG_LEVEL: "error" },
});
try {
  const custody = server.custody;
  const devnet = server.devnet;
  if (custody === null || devnet === null) throw new Error("custody is not running");
  const trader = await server.exchange.accounts.userByEmail("demo@bulwark.local");
  if (trader === undefined) throw new Error("no demo trader");
  // The demo's funding deposits swept into hot.
  for (let i = 0; i < 6; i++) {
    devnet.btc.mine(1);
    await custody.tick();
  }
  const to = addressOfKey(devnet.btc, privateKeyFromSeed("bench-withdrawal-destination"));
  const nowMs = Date.now();
  await server.exchange.accounts.addAddress({
    userId: trader.userId,
    currency: "BTC",
    address: to,
    label: "b",
    nowMs,
  });
  await server.exchange.accounts.activateAddressNow({
    userId: trader.userId,
    currency: "BTC",
    address: to,
    nowMs,
    operator: "bench",
  });
  // Warm-up: the signer derives its ownership lookahead on its first signature.
  const gaps = new Map<string, number[]>();
  const answered: number[] = [];
  const toBroadcast: number[] = [];
  const toSettled: number[] = [];
  for (let n = 0; n <= runs; n++) {
    const started = performance.now();
    const request = await custody.requestWithdrawal({
      userId: trader.userId,
      currency: "BTC",
      amount: "0.001",
      address: to,
      proof: { kind: "operator", actor: "bench" },
    });
    const answeredMs = performance.now() - started;
    let view = request;
    while (view.step !== "broadcast" && view.step !== "settled") {
      await custody.tick();
      view = (await custody.withdrawal(request.withdrawalId)) ?? view;
    }
    const broadcastMs = performance.now() - started;
    devnet.btc.mine(2);
    while (view.step !== "settled") {
      await custody.tick();
      view = (await custody.withdrawal(request.withdrawalId)) ?? view;
    }
    const settledMs = performance.now() - started;
    if (n === 0) continue;
    answered.push(answeredMs);
    toBroadcast.push(broadcastMs);
    toSettled.push(settledMs);
    for (let i = 1; i < view.history.length; i++) {
      const step = `${view.history[i - 1].step} → ${view.history[i].step}`;
      const list = gaps.get(step) ?? [];
      list.push(view.history[i].atMs - view.history[i - 1].atMs);
      gaps.set(step, list);
    }
  }
  // The peer: the core's part of a request, hold then release, through the same exchange.
  const core: number[] = [];
  for (let n = 0; n < runs; n++) {
    const started = performance.now();
    const withdrawalId = 1_000_000 + n;
    await server.exchange.submit({
      kind: "holdWithdrawal",
      withdrawalId,
      userId: trader.userId,
      assetId: 1,
      amountUnits: 100_000,
      feeUnits: 0,
    });
    core.push(performance.now() - started);
    await server.exchange.submit({ kind: "releaseWithdrawal", withdrawalId });
  }
  const rows = [
    ...[...gaps].map(([step, values]) => ({
      what: `step ${step} (ms, from the step history)`,
      median: median(values),
    })),
    { what: "request answered: checks, row, core hold (ms)", median: median(answered) },
    { what: "request → broadcast (ms)", median: median(toBroadcast) },
    { what: "request → settled, 2 blocks mined at broadcast (ms)", median: median(toSettled) },
    { what: "peer: the core's hold alone, durable (ms)", median: median(core) },
  ];
  if (json) console.log(JSON.stringify({ runs, rows }));
  else {
    console.log(`withdrawal pipeline, devnet-btc, median of ${runs} withdrawals (signer in its own process)`);
    console.table(rows.map((row) => ({ what: row.what, "median ms": row.median.toFixed(1) })));
  }
} finally {
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
}
