// The breaker and reconciliation with the real pieces in one process: an Exchange, the devnet UTXO
// chain, the chain's signer service (keystore, policy, fsynced log) and the CustodyService. A theft
// is a payment signed with the hot key behind custody's and the signer's back; a ledger bug is a
// wallet movement on the books that the chain never saw.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ed25519 } from "@noble/curves/ed25519.js";
import { afterEach, describe, expect, it } from "vitest";
import type { ChainAdapter } from "../../src/chains/adapter.ts";
import { addressOfKey, privateKeyFromSeed, UtxoDevnet } from "../../src/chains/devnet/index.ts";
import { DEPOSIT_LABEL, devnetUtxoSigningPlugin, HOT_LABEL } from "../../src/chains/devnet/signing.ts";
import { devnetCustodyConfigs } from "../../src/custody/config.ts";
import {
  type ChainCustodyParts,
  CustodyService,
  devnetChainWallet,
  type SignerStatusPort,
} from "../../src/custody/custody-service.ts";
import { CustodyError } from "../../src/custody/port.ts";
import { Exchange } from "../../src/exchange/exchange.ts";
import { CUSTODY_ERRORS, exmoError } from "../../src/gateway/exmo/errors.ts";
import type { IncidentPort } from "../../src/incidents/port.ts";
import { DEFAULT_ASSETS } from "../../src/server/default-markets.ts";
import { encodeIntent, intentToWire } from "../../src/signer/intent.ts";
import { initKeystore, Keystore } from "../../src/signer/keystore.ts";
import { SignerService } from "../../src/signer/service.ts";
import { SignerState } from "../../src/signer/state.ts";

const PASSPHRASE = "breaker test";
const SEED = new Uint8Array(32).map((_, i) => (i * 7 + 3) & 0xff);
const SMALL_SCRYPT = { N: 2 ** 10, r: 8, p: 1 };
const LOOKAHEAD = { hotLookahead: 5, depositLookahead: 20 };
const BIG = { perTransaction: 10n ** 12n, per10m: 10n ** 13n, per1h: 10n ** 13n, per24h: 10n ** 13n };
const CHAIN = "devnet-btc";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** An incident port that records what custody asked of it. */
function recordingIncidents(): IncidentPort & { calls: { op: string; args: unknown[] }[] } {
  const calls: { op: string; args: unknown[] }[] = [];
  let nextId = 1;
  const open = new Map<number, { kind: string; chain: string | null }>();
  return {
    calls,
    async open(request) {
      calls.push({ op: "open", args: [request] });
      const incidentId = nextId++;
      open.set(incidentId, { kind: request.kind, chain: request.chain });
      return {
        incidentId,
        kind: request.kind,
        chain: request.chain,
        title: request.title,
        status: "open",
        openedAtMs: request.detectedAtMs,
        resolvedAtMs: null,
        timeline: [],
      };
    },
    async record(incidentId, entry) {
      calls.push({ op: "record", args: [incidentId, entry] });
      return {
        entry: 1,
        type: entry.type,
        atMs: Date.now(),
        actor: entry.actor,
        message: entry.message,
        detail: {},
      };
    },
    async notify(incidentId, notice) {
      calls.push({ op: "notify", args: [incidentId, notice] });
    },
    async get(incidentId) {
      const found = open.get(incidentId);
      if (found === undefined) return undefined;
      return {
        incidentId,
        kind: "operator",
        chain: found.chain,
        title: "t",
        status: "open",
        openedAtMs: 0,
        resolvedAtMs: null,
        timeline: [],
      };
    },
    async list() {
      return [];
    },
    onNotice() {
      return () => {};
    },
  };
}

async function rig() {
  const dir = mkdtempSync(join(tmpdir(), "bulwark-breaker-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const exchange = await Exchange.open({
    dataDir: join(dir, "exchange"),
    projectorThread: false,
    candleSaveIntervalMs: 0,
  });
  cleanups.push(() => exchange.close());
  for (const asset of DEFAULT_ASSETS) await exchange.submit({ kind: "addAsset", asset });
  const chain = new UtxoDevnet();
  const plugin = devnetUtxoSigningPlugin(LOOKAHEAD);
  initKeystore(join(dir, "keystore"), PASSPHRASE, SEED, SMALL_SCRYPT);
  const keystore = Keystore.open(join(dir, "keystore"), PASSPHRASE);
  cleanups.push(() => keystore.close());
  const exported = keystore.exportPublicKeys(plugin);
  const key = (label: string) => exported.find((entry) => entry.label === label)?.key ?? "";
  const publicKeys = { hot: key(HOT_LABEL), deposit: key(DEPOSIT_LABEL) };
  const secretKey = ed25519.utils.randomSecretKey();
  const policy = { secretKey, publicKey: ed25519.getPublicKey(secretKey) };
  const user = async (email: string) => {
    const created = await exchange.accounts.createUser({
      email,
      passwordHash: "x".repeat(64),
      createdMs: Date.now(),
    });
    if (!created.ok) throw new Error("user not created");
    return created.user.userId;
  };
  const userId = await user("owner@example.com");
  const config = devnetCustodyConfigs().find((entry) => entry.chain === CHAIN);
  if (config === undefined) throw new Error("no config");
  const states: SignerState[] = [];
  cleanups.push(() => {
    for (const state of states.splice(0)) state.close();
  });
  let service: SignerService | null = null;
  const haltCalls: string[] = [];
  const incidents = recordingIncidents();
  const asset = exchange.assetByCode("BTC");
  if (asset === undefined) throw new Error("no BTC");
  const r = {
    dir,
    exchange,
    chain,
    plugin,
    keystore,
    policy,
    userId,
    user,
    asset,
    incidents,
    haltCalls,
    signer: () => service as SignerService,
    /** A fresh custody and signer over the same files: a restart. */
    custody(options: { productionMode?: boolean } = {}): CustodyService {
      for (const state of states.splice(0)) state.close();
      const state = SignerState.open(join(dir, "signer-state"), Date.now());
      states.push(state);
      const signerService = new SignerService(
        {
          chain: CHAIN,
          policyPublicKey: policy.publicKey,
          caps: new Map(chain.assets.map((entry) => [entry.symbol, BIG])),
          coldAddresses: new Set(),
          maxFutureMs: 60 * 60_000,
        },
        state,
        plugin,
        keystore.hotKeys(CHAIN),
      );
      service = signerService;
      type Answer<K extends keyof SignerStatusPort> = Awaited<ReturnType<NonNullable<SignerStatusPort[K]>>>;
      const signer: SignerStatusPort = {
        sign: async (intent, signature) =>
          signerService.handle({ op: "sign", intent, signature }) as Answer<"sign">,
        status: async () => signerService.handle({ op: "status" }) as Answer<"status">,
        halt: async (name, reason) => {
          haltCalls.push(name);
          return signerService.handle({ op: "halt", chain: name, reason }) as Answer<"halt">;
        },
        resume: async (name, reason) =>
          signerService.handle({ op: "resume", chain: name, reason }) as Answer<"resume">,
        signed: async (txIds) => signerService.handle({ op: "signed", txIds }) as Answer<"signed">,
      };
      const parts: ChainCustodyParts = {
        config,
        adapter: chain as ChainAdapter,
        kind: "utxo",
        wallet: devnetChainWallet("utxo", publicKeys),
        signer,
        coldAddress: null,
        balanceOf: async (address) => chain.balance(address),
        feeAsset: "BTC",
        chainDecimals: new Map(chain.assets.map((entry) => [entry.symbol, entry.decimals])),
      };
      return new CustodyService({
        exchange,
        chains: [parts],
        policySecretKey: policy.secretKey,
        stateDir: join(dir, "custody"),
        tickMs: 60_000,
        incidents,
        ...(options.productionMode === undefined ? {} : { productionMode: options.productionMode }),
      });
    },
  };
  return r;
}

type Rig = Awaited<ReturnType<typeof rig>>;

/** 5 BTC deposited, credited and swept into hot. */
async function funded(r: Rig, custody: CustodyService): Promise<void> {
  const { address } = await custody.depositAddress(r.userId, "BTC");
  r.chain.faucet(address, "BTC", 500_000_000n);
  for (let i = 0; i < 7; i++) {
    r.chain.mine(1);
    await custody.tick();
  }
  expect(r.exchange.balance(r.userId, r.asset.assetId).availableUnits).toBe(500_000_000);
  expect(-r.exchange.walletBooks(r.asset.assetId).systemUnits.walletHot).toBeGreaterThan(499_000_000);
}

async function activeBookAddress(r: Rig, seed: string): Promise<string> {
  const address = addressOfKey(r.chain, privateKeyFromSeed(seed));
  await r.exchange.accounts.addAddress({
    userId: r.userId,
    currency: "BTC",
    address,
    label: "mine",
    nowMs: Date.now(),
  });
  await r.exchange.accounts.activateAddressNow({
    userId: r.userId,
    currency: "BTC",
    address,
    nowMs: Date.now(),
    operator: "test",
  });
  return address;
}

/** The hot wallet's coins spent with the hot key, outside custody and the signer. */
async function steal(
  r: Rig,
  custody: CustodyService,
  amount: bigint,
): Promise<{ txId: string; height: number }> {
  const hot = custody.chainOf(CHAIN)?.hotAddresses() ?? [];
  const thief = addressOfKey(r.chain, privateKeyFromSeed("thief"));
  const unsigned = await r.chain.buildPayment({
    sources: hot,
    to: thief,
    asset: "BTC",
    amount,
    changeAddress: hot[0],
  });
  const signed = r.plugin.sign(unsigned.payload, r.keystore.hotKeys(CHAIN));
  const txId = await r.chain.broadcast(signed.bytes);
  r.chain.mine(1);
  return { txId, height: r.chain.tip };
}

describe("the breaker", () => {
  it("a theft with the hot key: unmatched outflow at its first block, tripped, signer halted, withdrawals paused, deposits credited, durable", async () => {
    const r = await rig();
    let custody = r.custody({ productionMode: true });
    await funded(r, custody);
    // Normal operation reconciles clean: the deposit sweep was the signer's.
    const clean = await custody.reconciliations(CHAIN, 100);
    expect(clean.length).toBeGreaterThan(0);
    expect(clean.every((result) => result.verdict === "ok")).toBe(true);
    expect(clean.flatMap((result) => result.outflows).some((outflow) => outflow.matchedBy === "signer")).toBe(
      true,
    );
    expect((await custody.breakers())[0]).toMatchObject({ chain: CHAIN, state: "closed", cause: null });

    // A withdrawal waiting for two approvals (at or above 0.5 BTC) before the theft.
    const destination = await activeBookAddress(r, "outside");
    const pending = await custody.requestWithdrawal({
      userId: r.userId,
      currency: "BTC",
      amount: "2.5",
      address: destination,
      proof: { kind: "operator", actor: "test" },
    });
    expect(pending.step).toBe("awaitingApproval");
    const heldBefore = r.exchange.balance(r.userId, r.asset.assetId).heldUnits;
    // The request started a tick of its own: let it finish before the theft's block.
    await custody.tick();

    const theft = await steal(r, custody, 100_000_000n);
    const startedMs = Date.now();
    await custody.tick();
    const [breaker] = await custody.breakers();
    expect(breaker).toMatchObject({
      chain: CHAIN,
      state: "tripped",
      cause: "unmatchedOutflow",
      trippedBy: "system:custody",
    });
    expect(breaker.reason).toContain(theft.txId);
    expect((breaker.trippedAtMs ?? 0) - startedMs).toBeLessThan(5_000);
    expect(breaker.incidentId).toBe(1);
    const [latest] = await custody.reconciliations(CHAIN, 1);
    expect(latest).toMatchObject({ verdict: "unmatchedOutflow", unmatched: 1, toHeight: theft.height });
    expect(latest.outflows[0]).toMatchObject({
      txid: theft.txId,
      blockHeight: theft.height,
      matchedBy: null,
    });
    // The incident: opened with the block, then the trip, the halt and a notice.
    const ops = r.incidents.calls.map((call) =>
      call.op === "record" ? `record:${(call.args[1] as { type: string }).type}` : call.op,
    );
    expect(ops).toEqual(["open", "record:breakerTripped", "record:signerHalted", "notify"]);
    expect(r.incidents.calls[0].args[0]).toMatchObject({
      kind: "unmatchedOutflow",
      chain: CHAIN,
      actor: "system:custody",
      detail: { blockHeight: theft.height, txids: [theft.txId] },
    });
    // Audited.
    const audit = await r.exchange.audit.verify();
    expect(audit.ok).toBe(true);

    // The signer refuses everything for the chain.
    const unsigned = await r.chain.buildPayment({
      sources: custody.chainOf(CHAIN)?.hotAddresses() ?? [],
      to: destination,
      asset: "BTC",
      amount: 1_000n,
    });
    const intent = {
      intentId: "ab".repeat(16),
      chain: CHAIN,
      asset: "BTC",
      kind: "withdrawal" as const,
      to: destination,
      amount: 1_000n,
      expiresAtMs: Date.now() + 60_000,
      payload: unsigned.payload,
    };
    const signature = Buffer.from(ed25519.sign(encodeIntent(intent), r.policy.secretKey)).toString("hex");
    expect(r.signer().handle({ op: "sign", intent: intentToWire(intent), signature })).toMatchObject({
      ok: false,
      code: "halted",
    });

    // A new withdrawal is refused with the breaker's error, an EXMO error that says so.
    const refusal = await custody
      .requestWithdrawal({
        userId: r.userId,
        currency: "BTC",
        amount: "0.01",
        address: destination,
        proof: { kind: "operator", actor: "test" },
      })
      .catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(CustodyError);
    expect((refusal as CustodyError).code).toBe("withdrawalsDisabled");
    expect((refusal as CustodyError).detail).toMatch(/devnet-btc breaker is tripped/);
    const exmo = exmoError(CUSTODY_ERRORS.withdrawalsDisabled.kind, (refusal as CustodyError).detail);
    expect(exmo.message).toBe(
      "Withdrawals of this currency are temporarily disabled: the devnet-btc breaker is tripped (incident 1): withdrawals are paused until an operator resumes it",
    );

    // The pending withdrawal gets its approvals and still is not signed: funds stay held.
    await custody.approveWithdrawal(pending.withdrawalId, "alice");
    await custody.approveWithdrawal(pending.withdrawalId, "bob");
    r.chain.mine(1);
    await custody.tick();
    const paused = await custody.withdrawal(pending.withdrawalId);
    expect(paused).toMatchObject({ step: "approved", txId: null });
    expect(paused?.reason).toMatch(/breaker/);
    expect(r.exchange.balance(r.userId, r.asset.assetId).heldUnits).toBe(heldBefore);

    // Deposits are still credited (and not swept while tripped).
    const depositor = await r.user("late@example.com");
    const { address } = await custody.depositAddress(depositor, "BTC");
    r.chain.faucet(address, "BTC", 10_000_000n);
    for (let i = 0; i < 3; i++) {
      r.chain.mine(1);
      await custody.tick();
    }
    expect(r.exchange.balance(depositor, r.asset.assetId).availableUnits).toBe(10_000_000);
    expect(r.chain.balance(address)).toBe(10_000_000n);

    // A restart stays tripped and halts the signer again.
    await custody.stop();
    r.haltCalls.length = 0;
    custody = r.custody({ productionMode: true });
    expect((await custody.breakers())[0]).toMatchObject({
      state: "tripped",
      cause: "unmatchedOutflow",
      incidentId: 1,
    });
    await custody.tick();
    expect(r.haltCalls).toEqual([CHAIN]);
    expect((await custody.status()).chains[0]).toMatchObject({
      signerHalted: true,
      breaker: { state: "tripped" },
    });

    // Resuming: a reason, an operator, and two distinct approvers in production mode; bad requests change nothing.
    await expect(
      custody.resumeBreaker({ chain: CHAIN, approvers: ["alice", "bob"], reason: " " }),
    ).rejects.toMatchObject({
      code: "invalidRequest",
    });
    await expect(
      custody.resumeBreaker({ chain: CHAIN, approvers: [], reason: "covered" }),
    ).rejects.toMatchObject({
      code: "invalidRequest",
    });
    await expect(
      custody.resumeBreaker({ chain: CHAIN, approvers: ["alice", "alice"], reason: "covered" }),
    ).rejects.toMatchObject({ code: "approvalRefused" });
    await expect(
      custody.resumeBreaker({ chain: "devnet-xyz", approvers: ["alice"], reason: "covered" }),
    ).rejects.toMatchObject({
      code: "notFound",
    });
    expect((await custody.breakers())[0].state).toBe("tripped");
    const resumed = await custody.resumeBreaker({
      chain: CHAIN,
      approvers: ["alice", "bob"],
      reason: "loss covered, keys rotated",
    });
    expect(resumed).toMatchObject({ state: "closed", reason: null, cause: null });
    expect(r.signer().handle({ op: "status" })).toMatchObject({ halted: [] });
    expect(
      r.incidents.calls.some(
        (call) => call.op === "record" && (call.args[1] as { type: string }).type === "breakerResumed",
      ),
    ).toBe(true);
    await expect(
      custody.resumeBreaker({ chain: CHAIN, approvers: ["alice", "bob"], reason: "again" }),
    ).rejects.toMatchObject({
      code: "wrongStep",
    });

    // The loss taken off the hot books (a stand-in for `incident cover`), then a restart: the
    // watcher rescans its window, meets the theft again, and it is acknowledged, not a new trip.
    const [beforeRestart] = await custody.reconciliations(CHAIN, 1);
    const shortfall = beforeRestart.assets?.[0].shortfalls.find((entry) => entry.part === "total");
    expect(shortfall).toBeDefined();
    const lossUnits = Math.round(Number(shortfall?.shortfall) * 1e8);
    const cover = await r.exchange.submit({
      kind: "recordWalletMovement",
      assetId: r.asset.assetId,
      from: "walletHot",
      to: "networkFees",
      amountUnits: lossUnits,
      txId: theft.txId,
    });
    await r.exchange.whenProjected(cover.sequence);
    await custody.stop();
    custody = r.custody({ productionMode: true });
    await custody.tick();
    expect((await custody.breakers())[0].state).toBe("closed");
    const rescanned = (await custody.reconciliations(CHAIN, 20)).flatMap((result) => result.outflows);
    expect(rescanned.find((outflow) => outflow.txid === theft.txId)?.matchedBy).toBe("acknowledged");
    await custody.stop();
  });

  it("a ledger bug without a theft (books say cold holds coins the chain never saw) trips it as a reconciliation break", async () => {
    const r = await rig();
    const custody = r.custody();
    await funded(r, custody);
    expect((await custody.breakers())[0].state).toBe("closed");
    const bug = await r.exchange.submit({
      kind: "recordWalletMovement",
      assetId: r.asset.assetId,
      from: "walletHot",
      to: "walletCold",
      amountUnits: 50_000_000,
      txId: "never-on-chain",
    });
    expect(bug.events.some((event) => event.type === "rejected")).toBe(false);
    await r.exchange.whenProjected(bug.sequence);
    r.chain.mine(1);
    await custody.tick();
    const [breaker] = await custody.breakers();
    expect(breaker).toMatchObject({ state: "tripped", cause: "reconciliationBreak" });
    const [latest] = await custody.reconciliations(CHAIN, 1);
    expect(latest.verdict).toBe("reconciliationBreak");
    expect(latest.unmatched).toBe(0);
    expect(latest.assets?.[0].shortfalls).toEqual([{ part: "cold", shortfall: "0.5", allowance: "0" }]);
    expect(r.incidents.calls[0].args[0]).toMatchObject({ kind: "reconciliationBreak", chain: CHAIN });
    // Demo / non-production: one operator resumes.
    const resumed = await custody.resumeBreaker({
      chain: CHAIN,
      approvers: ["alice"],
      reason: "ledger fixed",
    });
    expect(resumed.state).toBe("closed");
    await custody.stop();
  });

  it("a block whose reconciliation failed (the node erred) is reconciled on the next tick, never skipped", async () => {
    const r = await rig();
    const custody = r.custody();
    await funded(r, custody);
    const original = r.chain.scanOutflows.bind(r.chain);
    let failures = 1;
    r.chain.scanOutflows = async (from, to, watched) => {
      if (failures-- > 0) throw new Error("node unavailable");
      return original(from, to, watched);
    };
    const theft = await steal(r, custody, 50_000_000n);
    await custody.tick();
    expect((await custody.breakers())[0].state).toBe("closed");
    r.chain.mine(1);
    await custody.tick();
    expect((await custody.breakers())[0]).toMatchObject({ state: "tripped", cause: "unmatchedOutflow" });
    const found = (await custody.reconciliations(CHAIN, 5)).flatMap((result) => result.outflows);
    expect(found.find((outflow) => outflow.txid === theft.txId)).toMatchObject({
      blockHeight: theft.height,
      matchedBy: null,
    });
    await custody.stop();
  });

  it("operators trip one chain or all; bad input is refused and changes nothing", async () => {
    const r = await rig();
    const custody = r.custody();
    await expect(
      custody.tripBreaker({ chain: "nochain", actor: "operator:alice", reason: "test" }),
    ).rejects.toMatchObject({
      code: "notFound",
    });
    await expect(
      custody.tripBreaker({ chain: CHAIN, actor: "operator:alice", reason: "" }),
    ).rejects.toMatchObject({
      code: "invalidRequest",
    });
    await expect(
      custody.tripBreaker({ chain: CHAIN, actor: "operator:alice", reason: "drill", incidentId: 99 }),
    ).rejects.toMatchObject({ code: "notFound" });
    expect((await custody.breakers())[0].state).toBe("closed");
    expect(r.incidents.calls).toEqual([]);
    const auditRowsBefore = (await r.exchange.audit.verify()).checkedRows;
    const views = await custody.tripBreaker({
      chain: "all",
      actor: "operator:alice",
      reason: "suspicious login",
    });
    expect(views).toEqual([
      expect.objectContaining({
        chain: CHAIN,
        state: "tripped",
        cause: "operator",
        trippedBy: "operator:alice",
        incidentId: 1,
      }),
    ]);
    expect(r.incidents.calls[0].args[0]).toMatchObject({ kind: "operator", actor: "operator:alice" });
    // Audited: the trip (the incident service audits its own entries).
    expect((await r.exchange.audit.verify()).checkedRows).toBe(auditRowsBefore + 1);
    // Tripping again leaves it as it was.
    const again = await custody.tripBreaker({ chain: CHAIN, actor: "operator:bob", reason: "again" });
    expect(again[0]).toMatchObject({ trippedBy: "operator:alice" });
    // A trip joining an open incident records there instead of opening one.
    await custody.resumeBreaker({ chain: CHAIN, approvers: ["alice"], reason: "false alarm" });
    const opened = r.incidents.calls.filter((call) => call.op === "open").length;
    const joined = await custody.tripBreaker({
      chain: CHAIN,
      actor: "operator:bob",
      reason: "joins incident 1",
      incidentId: 1,
    });
    expect(joined[0]).toMatchObject({ state: "tripped", incidentId: 1, trippedBy: "operator:bob" });
    expect(r.incidents.calls.filter((call) => call.op === "open").length).toBe(opened);
    expect(r.incidents.calls.at(-1)).toMatchObject({
      op: "notify",
      args: [1, { kind: "breaker", chain: CHAIN }],
    });
    await expect(custody.reconciliations(CHAIN, 0)).rejects.toMatchObject({ code: "invalidRequest" });
    await custody.stop();
  });
});
