// kill -9 at every step of the withdrawal pipeline, with real processes: a child process runs
// `bulwark start` (startExchangeServer, demo mode: devnet chains mining on demand, wallets, one
// signer child process per chain, custody ticking every 100 ms) armed with the crash drill
// (BULWARK_TEST_KILL_AT_WITHDRAWAL_STEP=<step>: the server SIGKILLs itself right after a
// withdrawal's step is persisted). The test requests a withdrawal of the demo trader's BTC to an
// outside address in their address book, mines devnet blocks through the operator API
// (<data-dir>/operator.sock) until the server dies by SIGKILL at that step, checks that its signer
// children went with it (pids gone, sockets removed), restarts the server on the same data dir,
// mines until the withdrawal is settled, and checks: the destination got the amount minus the
// fee exactly once, the trader was debited once, no other withdrawal row exists, the step
// history holds every step once with the steps after the kill made by the restarted process,
// the hot wallet's books equal its coins on chain, and the core's invariants hold
// (GET /operator/v1/verify).
//
// One exchange lives through every kill (a start costs ~15 s on a loaded 2-core machine): the
// steps run latest first, and the restart that resumes the withdrawal killed at step X is armed
// for the next step Y, which comes before X in the pipeline. The resumed withdrawal only moves
// through steps after X, so it never meets Y's kill; the next withdrawal is requested once it is
// settled and checked, and dies at Y. The last restart has no drill armed. So each withdrawal
// is resumed by a process in which nothing kills it, as after a plain restart, and the
// exchange's books are checked across all the crashes together.
//
// Steps: all of held … settled with BULWARK_TEST_FULL=1 (`npm run test:full`), else the ones
// where a payment is in flight (signing, signed, broadcast).

import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { devnetCustodyConfigs } from "../../src/custody/config.ts";
import type { WithdrawalStep, WithdrawalView } from "../../src/custody/port.ts";
import {
  closeServerChild,
  type Exit,
  isRunning,
  killServerChild,
  operatorCall,
  type ReadyLine,
  type ServerChild,
  sleep,
  startServerChild,
  until,
} from "./server-child-harness.ts";

const PIPELINE: readonly WithdrawalStep[] = [
  "requested",
  "held",
  "approved",
  "signing",
  "signed",
  "broadcast",
  "confirmed",
  "settled",
];
const FULL_STEPS: readonly WithdrawalStep[] = [
  "held",
  "approved",
  "signing",
  "signed",
  "broadcast",
  "confirmed",
  "settled",
];
// A drill for `npm run test:full` (CI runs it after `npm test`): real server processes killed at
// every step. `npm test` has the in-process version (test/custody/custody-service.test.ts: a new
// custody and signer after every persisted step).
const QUICK_STEPS: readonly WithdrawalStep[] = [];
const STEPS = process.env.BULWARK_TEST_FULL === "1" ? FULL_STEPS : QUICK_STEPS;
/** Latest step first: see the header. */
const KILL_ORDER = [...STEPS].sort((a, b) => PIPELINE.indexOf(b) - PIPELINE.indexOf(a));

const AMOUNT = "0.1";
const AMOUNT_UNITS = 10_000_000;
const BTC_CONFIG = devnetCustodyConfigs()
  .flatMap((chain) => chain.currencies)
  .find((currency) => currency.currency === "BTC");
const FEE_UNITS = BTC_CONFIG?.withdrawFeeUnits ?? Number.NaN;
/** Satoshis the destination receives per withdrawal (the ledger's BTC scale is 8: units = sats). */
const SENT_SATS = BigInt(AMOUNT_UNITS - FEE_UNITS);
/** "1000.90049385" BTC → satoshis. */
function satsOf(btc: string): bigint {
  const match = /^([0-9]+)(?:\.([0-9]{1,8}))?$/.exec(btc);
  if (match === null) throw new Error(`not a BTC amount: ${btc}`);
  return BigInt(match[1]) * 100_000_000n + BigInt((match[2] ?? "").padEnd(8, "0"));
}

const DEATH_TIMEOUT_MS = 60_000;
const SETTLE_TIMEOUT_MS = 60_000;

interface ChildState {
  height: number;
  trader: { availableUnits: number; heldUnits: number };
  destination: string;
  /** Coins at the hot wallet's receive and change addresses. */
  hotSats: string;
  onChain: { hot: string | null } | null;
  onBooks: { hot: string; inFlight: string } | null;
  signerPids: (number | null)[];
}

const dataDir = mkdtempSync(join(tmpdir(), "bulwark-wcrash-"));
const children: ServerChild[] = [];

afterAll(async () => {
  for (const child of children) await killServerChild(child);
  // Signers of a killed server end with its pipes; give them a moment before the dir goes.
  await sleep(200);
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(`${dataDir}-demo-cold`, { recursive: true, force: true }); // the demo cold keystores beside it
}, 30_000);

function start(killAtStep: WithdrawalStep | undefined): ServerChild {
  const child = startServerChild(dataDir, killAtStep === undefined ? {} : { killAtStep });
  children.push(child);
  return child;
}

async function mine(ready: ReadyLine, blocks = 1): Promise<void> {
  const answer = await operatorCall(ready.operatorSocket, "POST", "/devnet/mine", { chain: "btc", blocks });
  if (answer.status !== 200)
    throw new Error(`mine answered ${answer.status}: ${JSON.stringify(answer.body)}`);
}

async function withdrawals(ready: ReadyLine): Promise<WithdrawalView[]> {
  const answer = await operatorCall<{ withdrawals: WithdrawalView[] }>(
    ready.operatorSocket,
    "GET",
    "/withdrawals?limit=100",
  );
  expect(answer.status).toBe(200);
  return answer.body.withdrawals;
}

/** Mines a block every ~150 ms until the child is gone; the drill kills it at the armed step. */
async function mineUntilDeath(child: ServerChild, ready: ReadyLine): Promise<Exit> {
  let exit: Exit | undefined;
  void child.exited.then((value) => {
    exit = value;
  });
  const deadline = Date.now() + DEATH_TIMEOUT_MS;
  while (exit === undefined) {
    if (Date.now() > deadline) {
      const rows = await withdrawals(ready).catch(() => []);
      throw new Error(
        `the server did not die within ${DEATH_TIMEOUT_MS} ms; withdrawals: ${JSON.stringify(rows)}`,
      );
    }
    // The server may die during the call: that is the point.
    await mine(ready).catch(() => {});
    await sleep(150);
  }
  return exit;
}

/** The signers of a server killed with -9 exit on their own (their stdin closes): no pid, no socket left. */
async function signersGone(pids: (number | null)[]): Promise<void> {
  expect(pids.filter((pid) => pid !== null)).toHaveLength(2);
  await until("the signer children to exit", 20_000, () =>
    pids.every((pid) => pid === null || !isRunning(pid)) ? true : undefined,
  );
  for (const chain of ["devnet-btc", "devnet-eth"])
    await until(`the ${chain} signer's socket to be removed`, 5_000, () =>
      existsSync(join(dataDir, "signers", chain, "signer.sock")) ? undefined : true,
    );
}

async function settled(ready: ReadyLine, withdrawalId: number): Promise<WithdrawalView> {
  return until(`withdrawal ${withdrawalId} to settle`, SETTLE_TIMEOUT_MS, async () => {
    const row = (await withdrawals(ready)).find((entry) => entry.withdrawalId === withdrawalId);
    if (row?.step === "settled") return row;
    await mine(ready);
    return undefined;
  });
}

describe.skipIf(KILL_ORDER.length === 0)(
  "kill -9 of the exchange at each withdrawal step, then a restart",
  () => {
    it(`resumes and pays exactly once after a kill at ${KILL_ORDER.join(", ")}`, {
      timeout: 120_000 + KILL_ORDER.length * 60_000,
    }, async () => {
      const startedMs = performance.now();
      const timings: string[] = [];
      let child = start(KILL_ORDER[0]);
      let ready = await child.ready;
      timings.push(`first start ${Math.round(performance.now() - startedMs)} ms`);
      const { destination } = await child.command<{ destination: string }>("prepare");
      const initial = await child.command<ChildState>("state");
      expect(initial.destination).toBe("0");
      expect(initial.trader.heldUnits).toBe(0);
      expect(initial.trader.availableUnits).toBeGreaterThanOrEqual(KILL_ORDER.length * AMOUNT_UNITS);

      for (let round = 0; round < KILL_ORDER.length; round++) {
        const step = KILL_ORDER[round];
        const roundStartMs = performance.now();
        const before = await withdrawals(ready);
        expect(before).toHaveLength(round);
        // At held and approved the drill fires inside the request itself: no answer comes.
        const request = child.command<WithdrawalView>("withdraw", { amount: AMOUNT }).catch(() => null);
        const exit = await mineUntilDeath(child, ready);
        expect(exit, `the server's exit at ${step}: ${child.stderr().slice(-2_000)}`).toEqual({
          code: null,
          signal: "SIGKILL",
        });
        const answered = await request;
        if (answered !== null) expect(answered.step).toBe("approved");
        await signersGone(ready.signerPids);

        const restartMs = Date.now();
        const next = KILL_ORDER[round + 1];
        const deathMs = performance.now() - roundStartMs;
        child = start(next);
        ready = await child.ready;
        const restartedMs = performance.now() - roundStartMs - deathMs;
        const rows = await withdrawals(ready);
        expect(rows, "one new withdrawal row").toHaveLength(round + 1);
        const withdrawalId = Math.max(...rows.map((row) => row.withdrawalId));
        const done = await settled(ready, withdrawalId);

        // Every step once, in order; those up to the kill by the killed process, the rest by the restarted one.
        expect(done.history.map((entry) => entry.step)).toEqual(PIPELINE);
        const killedAt = PIPELINE.indexOf(step);
        done.history.forEach((entry, index) => {
          if (index <= killedAt) expect(entry.atMs, `${entry.step} before the kill`).toBeLessThan(restartMs);
          else expect(entry.atMs, `${entry.step} after the restart`).toBeGreaterThanOrEqual(restartMs);
        });
        expect(done.amount).toBe(AMOUNT);
        expect(done.address).toBe(destination);

        // A few more blocks and ticks: nothing is paid again, nothing else moves.
        await mine(ready, 2);
        await sleep(500);
        const all = await withdrawals(ready);
        expect(all).toHaveLength(round + 1);
        expect(all.every((row) => row.step === "settled")).toBe(true);
        const state = await child.command<ChildState>("state");
        expect(BigInt(state.destination), "the destination got each withdrawal once").toBe(
          SENT_SATS * BigInt(round + 1),
        );
        expect(state.trader).toEqual({
          availableUnits: initial.trader.availableUnits - AMOUNT_UNITS * (round + 1),
          heldUnits: 0,
        });
        expect(state.onBooks?.inFlight).toBe("0");
        expect(BigInt(state.hotSats), "the hot wallet's books equal its coins on chain").toBe(
          satsOf(state.onBooks?.hot ?? ""),
        );
        const verify = await operatorCall<{ invariants?: string }>(ready.operatorSocket, "GET", "/verify");
        expect(verify.status, JSON.stringify(verify.body)).toBe(200);
        expect(verify.body.invariants).toBe("ok");
        timings.push(
          `${step}: died after ${Math.round(deathMs)} ms, restarted in ${Math.round(restartedMs)} ms, ` +
            `settled and checked after ${Math.round(performance.now() - roundStartMs - deathMs - restartedMs)} ms`,
        );
      }
      // A clean stop ends the signers too.
      await closeServerChild(child);
      await signersGone(ready.signerPids);
      console.log(
        `withdrawal crash drill (${KILL_ORDER.length} kills) in ${Math.round(performance.now() - startedMs)} ms: ${timings.join("; ")}`,
      );
    });
  },
);
