// `bulwark breaker status|trip|resume` and `bulwark custody reconciliations` against a real server
// in production mode (startExchangeServer with custody, a devnet-btc wallet initialised and its
// signer child running), through the operator socket: an operator trip halts the signer, a resume
// needs a reason and two distinct approvers, bad input is refused and changes nothing. Offline,
// custody is not running and the commands say so.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BreakerView, ChainCustodyStatus, ReconciliationResult } from "../../src/custody/port.ts";
import { type ExchangeServer, startExchangeServer } from "../../src/server/server.ts";
import { initWallet } from "../../src/server/signers.ts";
import { SMALL_SCRYPT } from "../signer/helpers.ts";
import { bulwarkIn, bulwarkText, newDataDir, type Run } from "./harness.ts";

const PASSPHRASE = "breaker-cli passphrase 0123";

function expectFailure(run: Run, kind: string, message?: RegExp): void {
  expect(run.json.ok, JSON.stringify(run.json)).toBe(false);
  expect(run.json.error?.kind).toBe(kind);
  expect(run.status).toBe(kind === "usage" ? 2 : 1);
  if (message !== undefined) expect(run.json.error?.message).toMatch(message);
}

let dataDir: string;
let server: ExchangeServer;
const bulwark = (...args: string[]) => bulwarkIn(dataDir, args);
const ok = async (...args: string[]) => {
  const run = await bulwark(...args);
  expect(run.json, JSON.stringify(run.json)).toMatchObject({ ok: true });
  expect(run.status).toBe(0);
  return run.json;
};
const breakers = async () => (await ok("breaker", "status")).breakers as BreakerView[];
const btcStatus = async () =>
  ((await ok("custody", "status", "--chain", "btc")).chains as ChainCustodyStatus[])[0];

beforeAll(async () => {
  dataDir = newDataDir("bulwark-breaker-cli-");
  initWallet(dataDir, "devnet-btc", PASSPHRASE, SMALL_SCRYPT);
});

afterAll(async () => {
  await server?.close();
});

describe("bulwark breaker, offline", () => {
  it("says custody is not running; a trip names one chain or --all", async () => {
    for (const args of [
      ["breaker", "status"],
      ["breaker", "trip", "--chain", "btc", "--reason", "drill"],
      ["breaker", "resume", "--chain", "btc", "--reason", "drill"],
      ["custody", "reconciliations", "--chain", "btc"],
    ])
      expectFailure(await bulwark(...args), "notFound", /custody is not running/);
    expectFailure(
      await bulwark("breaker", "trip", "--reason", "drill"),
      "usage",
      /--chain C\) or every chain/,
    );
    expectFailure(
      await bulwark("breaker", "trip", "--all", "--chain", "btc", "--reason", "drill"),
      "usage",
      /--chain C\) or every chain/,
    );
    expectFailure(await bulwark("breaker", "trip", "--chain", "btc"), "usage", /--reason/);
    expectFailure(await bulwark("breaker", "resume", "--chain", "btc"), "usage", /--reason/);
    expectFailure(
      await bulwark("breaker", "trip", "--chain", "btc", "--reason", "x y", "--incident", "one"),
      "invalid",
      /--incident must be a whole number/,
    );
  });
});

describe("bulwark breaker, through a running server in production mode", () => {
  beforeAll(async () => {
    server = await startExchangeServer({
      dataDir,
      port: 0,
      host: "127.0.0.1",
      demo: false,
      devnetBlockMs: 0,
      custodyTickMs: 200,
      productionMode: true,
      env: {
        BULWARK_OPERATOR_TOKEN: "operator-token-for-breaker-cli-tests-01",
        BULWARK_SIGNER_PASSPHRASE: PASSPHRASE,
      },
    });
  });

  it("reports every chain's breaker, closed at first", async () => {
    const all = await breakers();
    expect(all).toEqual([
      {
        chain: "devnet-btc",
        state: "closed",
        reason: null,
        trippedAtMs: null,
        trippedBy: null,
        incidentId: null,
        cause: null,
      },
      {
        chain: "devnet-eth",
        state: "closed",
        reason: null,
        trippedAtMs: null,
        trippedBy: null,
        incidentId: null,
        cause: null,
      },
    ]);
    const text = await bulwarkText(dataDir, ["breaker", "status"]);
    expect(text.status).toBe(0);
    expect(text.out).toMatch(/devnet-btc\s+closed/);
  });

  it("refuses bad trips and changes nothing", async () => {
    expectFailure(
      await bulwark("breaker", "trip", "--chain", "nochain", "--reason", "drill"),
      "notFound",
      /no chain nochain/,
    );
    expectFailure(
      await bulwark("breaker", "trip", "--chain", "btc", "--reason", "ab"),
      "invalid",
      /reason must be 3/,
    );
    expectFailure(
      await bulwark("breaker", "resume", "--chain", "btc", "--reason", "not tripped"),
      "conflict",
      /not tripped/,
    );
    expect((await breakers()).every((breaker) => breaker.state === "closed")).toBe(true);
  });

  it("an operator trip halts the signer; resuming needs a reason and two distinct approvers", async () => {
    const tripped = (await ok("breaker", "trip", "--chain", "btc", "--reason", "operator drill"))
      .breakers as BreakerView[];
    expect(tripped).toEqual([
      expect.objectContaining({
        chain: "devnet-btc",
        state: "tripped",
        cause: "operator",
        reason: "operator drill",
      }),
    ]);
    expect(tripped[0].trippedBy).toMatch(/\S/);
    const status = await btcStatus();
    expect(status).toMatchObject({ signerHalted: true, breaker: { state: "tripped", cause: "operator" } });
    const text = await bulwarkText(dataDir, ["custody", "status", "--chain", "btc"]);
    expect(text.out).toMatch(/BREAKER TRIPPED \(operator\)/);

    expectFailure(
      await bulwark("breaker", "resume", "--chain", "btc", "--reason", "all clear"),
      "conflict",
      /two distinct approvers/,
    );
    expectFailure(
      await bulwark(
        "breaker",
        "resume",
        "--chain",
        "btc",
        "--reason",
        "all clear",
        "--approver",
        "alice",
        "--approver",
        "alice",
      ),
      "conflict",
      /two distinct approvers/,
    );
    expectFailure(
      await bulwark(
        "breaker",
        "resume",
        "--chain",
        "btc",
        "--reason",
        "",
        "--approver",
        "alice",
        "--approver",
        "bob",
      ),
      "usage",
      /--reason/,
    );
    expect((await btcStatus()).breaker?.state).toBe("tripped");
    const resumed = (
      await ok(
        "breaker",
        "resume",
        "--chain",
        "btc",
        "--reason",
        "all clear",
        "--approver",
        "alice",
        "--approver",
        "bob",
      )
    ).breaker as BreakerView;
    expect(resumed).toMatchObject({ chain: "devnet-btc", state: "closed", cause: null });
    expect(await btcStatus()).toMatchObject({ signerHalted: false, breaker: { state: "closed" } });
    const verified = await ok("audit", "verify");
    expect(verified.ok).toBe(true);
  });

  it("--all trips every chain", async () => {
    const all = (await ok("breaker", "trip", "--all", "--reason", "stop everything"))
      .breakers as BreakerView[];
    expect(all.map((breaker) => [breaker.chain, breaker.state])).toEqual([
      ["devnet-btc", "tripped"],
      ["devnet-eth", "tripped"],
    ]);
    for (const chain of ["btc", "eth"])
      await ok(
        "breaker",
        "resume",
        "--chain",
        chain,
        "--reason",
        "drill over",
        "--approver",
        "alice",
        "--approver",
        "bob",
      );
    expect((await breakers()).every((breaker) => breaker.state === "closed")).toBe(true);
  });

  it("lists the chain's reconciliations, newest first", async () => {
    await ok("devnet", "mine", "--chain", "btc", "--blocks", "2");
    let results: ReconciliationResult[] = [];
    // Custody ticks every 200 ms here: the two blocks are reconciled within a few ticks.
    for (let i = 0; i < 50 && (results[0]?.toHeight ?? -1) < 2; i++) {
      results = (await ok("custody", "reconciliations", "--chain", "btc", "--limit", "5"))
        .reconciliations as ReconciliationResult[];
      if ((results[0]?.toHeight ?? -1) < 2) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(results[0]).toMatchObject({ chain: "devnet-btc", verdict: "ok", unmatched: 0, toHeight: 2 });
    expect(results.length).toBeLessThanOrEqual(5);
    expectFailure(
      await bulwark("custody", "reconciliations", "--chain", "btc", "--limit", "0"),
      "invalid",
      /limit must be/,
    );
    expect((await btcStatus()).lastReconciliation?.chain).toBe("devnet-btc");
    // /metrics: per chain, the last height reconciled, the residuals, unmatched outflows, the breaker.
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/bulwark_custody_reconciled_height\{chain="devnet-btc"\} [1-9]/);
    expect(metrics).toMatch(/bulwark_custody_reconciliation_residual\{chain="devnet-btc",asset="BTC"\} 0/);
    expect(metrics).toContain('bulwark_custody_unmatched_outflows_total{chain="devnet-btc"} 0');
    expect(metrics).toContain('bulwark_custody_breaker_tripped{chain="devnet-eth"} 0');
  });
});
