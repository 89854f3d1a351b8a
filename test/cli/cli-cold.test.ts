// `bulwark cold …` end to end: a cold keystore made by `cold keygen` outside the data dir, its
// address set with `cold set-address`, a real server (custody, the devnet-btc signer child) whose
// hot wallet above its cap sweeps to that address, then a refill back: `cold refill`, `cold approve`
// by two named approvers (the requester and unknown names refused), `cold export`, `cold sign` on
// the "offline machine" (a wrong destination pin and tampered files refused), `cold import`,
// `cold broadcast`, blocks mined, and the refill recorded on the books once. Every change audited.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ColdRefillExport, ColdRefillView } from "../../src/custody/port.ts";
import { type ExchangeServer, startExchangeServer } from "../../src/server/server.ts";
import { initWallet } from "../../src/server/signers.ts";
import { coldChainNamed, coldKeygen } from "../../src/signer/cold-keys.ts";
import { DEFAULT_SCRYPT } from "../../src/signer/keystore.ts";
import { SMALL_SCRYPT } from "../signer/helpers.ts";
import { bulwarkIn, newDataDir, type Run } from "./harness.ts";

/** The cheapest scrypt SCRYPT_LIMITS allows for the passwords the server hashes (test/server/server-demo.test.ts checks the default). */
const FAST_PASSWORD_SCRYPT = { logN: 10, blockSize: 8, parallelization: 1 };

const PASSPHRASE = "cold-cli signer passphrase 0123";
const COLD_PASSPHRASE = "cold wallet passphrase 4567";
const EMAIL = "frank@example.com";
const BTC_ASSET_ID = 1;

function expectFailure(run: Run, kind: string, message?: RegExp): void {
  expect(run.json.ok, JSON.stringify(run.json)).toBe(false);
  expect(run.json.error?.kind, JSON.stringify(run.json)).toBe(kind);
  if (message !== undefined) expect(run.json.error?.message).toMatch(message);
}

let dataDir: string;
let offlineMachine: string;
let server: ExchangeServer | undefined;
const bulwark = (...args: string[]) => bulwarkIn(dataDir, args);
const ok = async (...args: string[]) => {
  const run = await bulwark(...args);
  expect(run.json, JSON.stringify(run.json)).toMatchObject({ ok: true });
  expect(run.status).toBe(0);
  return run.json;
};
/** A command that reads the cold keystore's passphrase (piped on stdin, as from a password manager). */
const withPassphrase = (...args: string[]) => bulwarkIn(dataDir, args, `${COLD_PASSPHRASE}\n`);

function books(): { hot: number; cold: number } {
  if (server === undefined) throw new Error("no server");
  const system = server.exchange.walletBooks(BTC_ASSET_ID).systemUnits;
  return { hot: -system.walletHot, cold: -system.walletCold };
}

/** `devnet mine` through the operator socket, then one custody step. */
async function mine(blocks = 1): Promise<void> {
  for (let i = 0; i < blocks; i++) {
    await ok("devnet", "mine", "--chain", "btc");
    await server?.custody?.tick();
  }
}

async function until(done: () => boolean | Promise<boolean>, rounds = 12): Promise<void> {
  for (let i = 0; i < rounds && !(await done()); i++) await mine();
  expect(await done()).toBe(true);
}

beforeAll(() => {
  dataDir = newDataDir("bulwark-cold-cli-");
  offlineMachine = mkdtempSync(join(tmpdir(), "bulwark-offline-machine-"));
  initWallet(dataDir, "devnet-btc", PASSPHRASE, SMALL_SCRYPT);
});

afterAll(async () => {
  await server?.close();
  rmSync(offlineMachine, { recursive: true, force: true });
});

describe("bulwark cold: keygen → set-address → refill → approve ×2 → export → sign offline → import → broadcast → recorded", () => {
  let coldAddress: string;
  let refillId: number;
  // `cold keygen` makes its keystore under the production scrypt cost (checked once, below); every
  // later open of it would cost as much (~1 s each here), so the refill is signed with a second
  // keystore made by the same coldKeygen under a small cost, which `cold keygen` and `cold sign`
  // then open as they open any keystore (the cost is read from its file).
  const productionKeystore = () => join(offlineMachine, "cold-keystore-production");
  const keystore = () => join(offlineMachine, "cold-keystore");

  it("makes a cold keystore outside the data dir and prints its address, never the seed", async () => {
    const made = await withPassphrase("cold", "keygen", "--chain", "btc", "--out", productionKeystore());
    expect(made.json, JSON.stringify(made.json)).toMatchObject({
      ok: true,
      chain: "devnet-btc",
      created: true,
    });
    expect(Object.keys(made.json).sort()).toEqual([
      "address",
      "chain",
      "created",
      "keystoreDir",
      "ok",
      "path",
      "xpub",
    ]);
    expect(String(made.json.xpub)).toMatch(/^tpub/);
    expect(String(made.json.address)).toMatch(/^dvbtc1/);
    expect(made.json.path).toBe("m/44'/9001'/2'/0/0");
    expect(statSync(productionKeystore()).mode & 0o777).toBe(0o700);
    const productionFile = JSON.parse(readFileSync(join(productionKeystore(), "keystore.json"), "utf8"));
    expect(productionFile.kdf).toMatchObject({ name: "scrypt", ...DEFAULT_SCRYPT });
    expect(JSON.stringify(productionFile)).not.toContain(COLD_PASSPHRASE);

    // The keystore the refill is signed with (small scrypt cost, as above).
    const btc = coldChainNamed("btc");
    if (btc === undefined) throw new Error("no btc cold chain");
    const small = await coldKeygen(btc, keystore(), COLD_PASSPHRASE, SMALL_SCRYPT);
    expect(small.created).toBe(true);
    coldAddress = small.address;
    expect(coldAddress).toMatch(/^dvbtc1/);
    expect(coldAddress).not.toBe(made.json.address);
    // Again: the same keystore opens and gives the same address; a wrong passphrase does not.
    const again = await withPassphrase("cold", "keygen", "--chain", "devnet-btc", "--out", keystore());
    expect(again.json).toMatchObject({ ok: true, created: false, address: coldAddress });
    const wrong = await bulwarkIn(
      dataDir,
      ["cold", "keygen", "--chain", "btc", "--out", keystore()],
      "wrong one!\n",
    );
    expectFailure(wrong, "invalid", /wrong passphrase/);
    expectFailure(
      await withPassphrase("cold", "keygen", "--chain", "btc", "--out", join(dataDir, "cold")),
      "invalid",
      /not live in the data dir/,
    );
  });

  it("sets the cold address offline (checked, audited, written for custody's next start)", async () => {
    expectFailure(
      await bulwark("cold", "set-address", "--chain", "btc", "--address", "0x1234"),
      "invalid",
      /not a devnet-btc address/,
    );
    const set = await ok("cold", "set-address", "--chain", "btc", "--address", coldAddress.toUpperCase());
    expect(set).toMatchObject({ chain: "devnet-btc", address: coldAddress });
    const file = join(dataDir, "custody", "devnet-btc.cold.json");
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ address: coldAddress });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    // Refills run inside the server: offline they say so.
    expectFailure(
      await bulwark(
        "cold",
        "refill",
        "--chain",
        "btc",
        "--currency",
        "BTC",
        "--amount",
        "1",
        "--reason",
        "x",
      ),
      "notFound",
      /custody is not running/,
    );
    expectFailure(await bulwark("cold", "approve", "--id", "x"), "invalid", /--id must be a whole number/);
  });

  it("sweeps the hot wallet above its cap to the cold address on a running server", async () => {
    // Two of the three named approvers; no time lock in this test.
    mkdirSync(join(dataDir, "custody"), { recursive: true, mode: 0o700 });
    writeFileSync(
      join(dataDir, "custody", "cold-refills.json"),
      JSON.stringify({ approvers: ["alice", "bob", "carol"], approvalsRequired: 2, timeLockMs: 0 }),
      { mode: 0o600 },
    );
    server = await startExchangeServer({
      dataDir,
      port: 0,
      host: "127.0.0.1",
      demo: false,
      devnetBlockMs: 0,
      custodyTickMs: 60_000,
      passwordScrypt: FAST_PASSWORD_SCRYPT,
      env: {
        BULWARK_OPERATOR_TOKEN: "operator-token-for-cold-cli-tests-0001",
        BULWARK_SIGNER_PASSPHRASE: PASSPHRASE,
      },
    });
    const custody = server.custody;
    if (custody === null) throw new Error("custody is not running");
    const created = await bulwarkIn(dataDir, ["user", "create", "--email", EMAIL], "correct horse battery\n");
    const userId = Number(created.json.userId);
    const { address } = await custody.depositAddress(userId, "BTC");
    await ok("devnet", "faucet", "--chain", "btc", "--address", address, "--asset", "BTC", "--amount", "3");
    // Credited, swept into hot (cap 1 BTC), and the excess over the 0.5 BTC target swept to cold.
    await until(() => books().cold > 0, 20);
    const after = books();
    expect(after.hot).toBeLessThanOrEqual(50_000_000);
    expect(after.cold).toBeGreaterThan(240_000_000);
    const status = (await ok("custody", "status", "--chain", "btc")).chains as {
      balances: { onChain: { cold: string | null } }[];
    }[];
    expect(Number(status[0].balances[0].onChain.cold)).toBe(after.cold / 1e8);
  });

  it("refills cold → hot with two approvals, an offline signature, and records it once", async () => {
    const requested = (await ok(
      "cold",
      "refill",
      "--chain",
      "btc",
      "--currency",
      "BTC",
      "--amount",
      "0.3",
      "--reason",
      "weekend withdrawals",
      "--as",
      "alice",
    )) as unknown as ColdRefillView;
    expect(requested).toMatchObject({
      step: "requested",
      requestedBy: "alice",
      from: coldAddress,
      amount: "0.3",
    });
    refillId = requested.refillId;
    const id = String(refillId);

    expectFailure(
      await bulwark("cold", "approve", "--id", id, "--as", "alice"),
      "conflict",
      /requested this refill/,
    );
    expectFailure(await bulwark("cold", "approve", "--id", id), "conflict", /not a cold-refill approver/);
    expectFailure(await bulwark("cold", "approve", "--id", id, "--as", "system:custody"), "invalid");
    expect(await ok("cold", "approve", "--id", id, "--as", "bob")).toMatchObject({ step: "requested" });
    expectFailure(
      await bulwark("cold", "approve", "--id", id, "--as", "bob"),
      "conflict",
      /approved this refill already/,
    );
    const unsignedFile = join(offlineMachine, "refill.json");
    expectFailure(
      await bulwark("cold", "export", "--id", id, "--out", unsignedFile),
      "conflict",
      /1 of 2 approvals/,
    );
    expect(await ok("cold", "approve", "--id", id, "--as", "carol")).toMatchObject({ step: "approved" });

    const exported = await ok("cold", "export", "--id", id, "--out", unsignedFile, "--as", "bob");
    expect((exported.refill as ColdRefillView).step).toBe("exported");
    const file = JSON.parse(readFileSync(unsignedFile, "utf8")) as ColdRefillExport;
    expect(file).toMatchObject({
      format: "bulwark-cold-refill/v1",
      refillId,
      from: coldAddress,
      amount: "0.3",
    });
    expect(statSync(unsignedFile).mode & 0o777).toBe(0o600);
    expectFailure(await bulwark("cold", "export", "--id", id, "--out", unsignedFile), "conflict", /exists/);

    // The offline machine: a wrong destination pin is refused; then signed.
    const signedFile = join(offlineMachine, "refill.signed.json");
    const signArgs = ["cold", "sign", "--chain", "btc", "--keystore", keystore(), "--in", unsignedFile];
    expectFailure(
      await withPassphrase(...signArgs, "--out", signedFile, "--to", coldAddress),
      "rejected",
      /not the hot address you gave/,
    );
    // A file claiming another amount than its payload pays: refused.
    const lying = join(offlineMachine, "lying.json");
    writeFileSync(lying, JSON.stringify({ ...file, amountBaseUnits: "90000000", amount: "0.9" }));
    expectFailure(
      await withPassphrase(
        "cold",
        "sign",
        "--chain",
        "btc",
        "--keystore",
        keystore(),
        "--in",
        lying,
        "--out",
        join(offlineMachine, "x.json"),
      ),
      "rejected",
      /the payload pays/,
    );
    const signed = await withPassphrase(...signArgs, "--out", signedFile, "--to", file.to);
    expect(signed.json, JSON.stringify(signed.json)).toMatchObject({
      ok: true,
      refillId,
      to: file.to,
      amount: "0.3",
    });

    // Back on the exchange: a tampered signed file is refused, the real one imported.
    const signedJson = JSON.parse(readFileSync(signedFile, "utf8")) as { signedTxBase64: string };
    const bytes = Buffer.from(signedJson.signedTxBase64, "base64");
    bytes[20] ^= 1;
    const tampered = join(offlineMachine, "tampered.json");
    writeFileSync(tampered, JSON.stringify({ ...signedJson, signedTxBase64: bytes.toString("base64") }));
    expectFailure(
      await bulwark("cold", "import", "--id", id, "--in", tampered),
      "invalid",
      /badSignedTransaction/,
    );
    expectFailure(
      await bulwark("cold", "import", "--id", "999", "--in", signedFile),
      "invalid",
      /signs refill/,
    );
    expect(await ok("cold", "import", "--id", id, "--in", signedFile)).toMatchObject({
      step: "imported",
      txId: signed.json.txId,
    });

    const before = books();
    expect(await ok("cold", "broadcast", "--id", id)).toMatchObject({ step: "broadcast" });
    expectFailure(await bulwark("cold", "cancel", "--id", id, "--reason", "late"), "conflict", /broadcast/);
    await until(async () => {
      const list = (await ok("cold", "list", "--chain", "btc")).refills as ColdRefillView[];
      return list.find((r) => r.refillId === refillId)?.step === "recorded";
    });
    const after = books();
    expect(after.hot - before.hot).toBe(30_000_000);
    const fee = Number(file.feeBaseUnits);
    expect(before.cold - after.cold).toBe(30_000_000 + fee);
    await mine(2);
    expect(books()).toEqual(after);
    server?.exchange.internals.core.checkInvariants();

    const audit = await server?.exchange.internals.store.db
      .selectFrom("audit_log")
      .select(["action", "subject", "details_json"])
      .where("action", "like", "cold.%")
      .orderBy("seq")
      .execute();
    expect(audit?.map((row) => row.action)).toEqual([
      "cold.setAddress",
      "cold.refill.request",
      "cold.refill.approve",
      "cold.refill.approve",
      "cold.refill.export",
      "cold.refill.import",
      "cold.refill.broadcast",
    ]);
    expect(JSON.parse(audit?.[3].details_json ?? "{}")).toMatchObject({
      approver: "carol",
      step: "approved",
    });
    expect(await ok("audit", "verify")).toMatchObject({ ok: true });
  });
});
