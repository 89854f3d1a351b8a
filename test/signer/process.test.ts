// The signer as a real child process on its Unix socket: start, sign, refuse, kill -9, restart,
// refuse the reused id (and answer a repeat of the same intent with the same transaction); malformed and oversized frames; a wrong passphrase stops it at start.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, statSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { ed25519 } from "@noble/curves/ed25519.js";
import { afterAll, describe, expect, it } from "vitest";
import { initKeystore } from "../../src/signer/keystore.ts";
import { encodeFrame, FrameReader } from "../../src/signer/server.ts";
import { COLD, makeIntent, POLICY_PUBLIC, SMALL_SCRYPT, signRequest, tempDir } from "./helpers.ts";

const CHILD = join(import.meta.dirname, "signer-child.ts");
const PASSPHRASE = "signer test passphrase";
const { dir, cleanup } = tempDir();
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  cleanup();
});

const socketPath = join(dir, "signer.sock");
const configPath = join(dir, "signer.json");
writeFileSync(
  configPath,
  JSON.stringify({
    chain: "fakechain",
    socketPath,
    stateDir: join(dir, "state"),
    keystoreDir: join(dir, "keystore"),
    policyPublicKey: Buffer.from(POLICY_PUBLIC).toString("hex"),
    caps: { BTC: { perTransaction: "1000", per10m: "2500", per1h: "5000", per24h: "10000" } },
    coldAddresses: [COLD],
  }),
);
initKeystore(join(dir, "keystore"), PASSPHRASE, new Uint8Array(32).fill(9), SMALL_SCRYPT);

function start(passphrase = PASSPHRASE): Promise<{ child: ChildProcess; ready: Record<string, unknown> }> {
  const child = spawn(process.execPath, ["--import", "tsx", CHILD, "run", "--config", configPath], {
    env: { ...process.env, BULWARK_SIGNER_PASSPHRASE: passphrase },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    child.stdout?.on("data", (chunk) => {
      out += chunk;
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (line) resolve({ child, ready: JSON.parse(line) });
    });
    child.stderr?.on("data", (chunk) => {
      err += chunk;
    });
    child.on("exit", (code) => reject(new Error(`signer exited ${code}: ${err}`)));
  });
}

/** Sends raw bytes, returns the answers until the signer closes or `count` arrive. */
function exchange(
  bytes: Buffer,
  count = 1,
): Promise<{ answers: Record<string, unknown>[]; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    const reader = new FrameReader(1 << 20);
    const answers: Record<string, unknown>[] = [];
    socket.on("data", (chunk) => {
      for (const frame of reader.push(chunk)) answers.push(JSON.parse(frame.toString("utf8")));
      if (answers.length >= count) {
        socket.destroy();
        resolve({ answers, closed: false });
      }
    });
    socket.on("end", () => resolve({ answers, closed: true }));
    socket.on("error", reject);
    socket.write(bytes);
  });
}

async function call(request: unknown): Promise<Record<string, unknown>> {
  return (await exchange(encodeFrame(request))).answers[0];
}

const fresh = (overrides: Parameters<typeof makeIntent>[0] = {}) =>
  makeIntent({ expiresAtMs: Date.now() + 5 * 60_000, ...overrides });

describe("the signer process", () => {
  it("signs over an owner-only socket, refuses, survives kill -9 and refuses the reused id after it (a repeat of the same intent gets the same answer)", async () => {
    const { child } = await start();
    expect(statSync(socketPath).mode & 0o777).toBe(0o600);
    const intent = fresh({ amount: 600n });
    const request = signRequest(intent);
    const signed = await call(request);
    expect(signed).toMatchObject({ ok: true, intentId: request.intent.intentId });
    // The same intent again (custody lost the answer): the same transaction; another one: refused.
    expect(await call(request)).toEqual(signed);
    const reused = signRequest(fresh({ intentId: intent.intentId, amount: 500n }));
    expect(await call(reused)).toMatchObject({ ok: false, code: "reused-id" });
    expect(await call(signRequest(fresh(), ed25519.utils.randomSecretKey()))).toMatchObject({
      code: "bad-signature",
    });
    expect(await call(signRequest(fresh({ kind: "sweepToCold", to: "cold-9" })))).toMatchObject({
      code: "cold-destination-not-allowed",
    });
    // Two requests in one write: answered one after the other on the same connection.
    const two = await exchange(
      Buffer.concat([encodeFrame({ op: "status" }), encodeFrame(signRequest(fresh()))]),
      2,
    );
    expect(two.answers.map((a) => a.ok)).toEqual([true, true]);

    child.kill("SIGKILL");
    await new Promise((resolve) => child.once("exit", resolve));
    await start();
    expect(await call(reused)).toMatchObject({ ok: false, code: "reused-id" });
    expect(await call(request)).toEqual(signed);
    const status = (await call({ op: "status" })) as { budgets: { windows: { used: string }[] }[] };
    expect(status.budgets[0].windows[0].used).toBe("700");
  });

  it("answers a malformed or oversized frame with its reason and closes the connection", async () => {
    const garbage = Buffer.concat([Buffer.from([0, 0, 0, 5]), Buffer.from("nope!")]);
    expect(await exchange(garbage)).toMatchObject({ answers: [{ ok: false, code: "bad-frame" }] });
    const oversized = Buffer.from([0, 0x10, 0, 0]);
    const answer = await exchange(oversized);
    expect(answer.answers[0]).toMatchObject({ ok: false, code: "frame-too-large" });
    expect(await exchange(Buffer.from([0, 0, 0, 0]))).toMatchObject({
      answers: [{ code: "frame-too-large" }],
    });
    // Still serving others.
    expect(await call({ op: "status" })).toMatchObject({ ok: true });
  });

  it("halts and refuses everything until resumed with a reason", async () => {
    expect(await call({ op: "halt", chain: "fakechain", reason: "test breaker" })).toMatchObject({
      ok: true,
    });
    expect(await call(signRequest(fresh()))).toMatchObject({ code: "halted" });
    expect(await call({ op: "resume", chain: "fakechain", reason: "" })).toMatchObject({
      code: "reason-required",
    });
    expect(await call({ op: "resume", chain: "fakechain", reason: "checked" })).toMatchObject({ ok: true });
    expect(await call(signRequest(fresh()))).toMatchObject({ ok: true });
  });

  it("stops a compromised custody draining as fast as it can at the 10-minute budget", async () => {
    let refusal: Record<string, unknown> | undefined;
    let signedNow = 0n;
    for (let i = 0; i < 100 && !refusal; i++) {
      const answer = await call(signRequest(fresh({ amount: 1_000n, to: `drain-${i}` })));
      if (answer.ok) signedNow += 1_000n;
      else refusal = answer;
    }
    expect(refusal).toMatchObject({ code: "window-cap-10m" });
    const status = (await call({ op: "status" })) as {
      budgets: { windows: { used: string; cap: string }[] }[];
    };
    const tenMinutes = status.budgets[0].windows[0];
    expect(BigInt(tenMinutes.used)).toBeLessThanOrEqual(BigInt(tenMinutes.cap));
    expect(signedNow).toBeLessThanOrEqual(2_500n);
  });

  it("does not start with a wrong passphrase, nor beside a live signer on the same state", async () => {
    await expect(start("not the passphrase")).rejects.toThrow(/wrong passphrase/);
    await expect(start()).rejects.toThrow(/another signer \(pid \d+\) holds/);
    expect(await call({ op: "status" })).toMatchObject({ ok: true });
  });

  it("with --exit-with-stdin, stops cleanly when its parent's end of stdin closes", async () => {
    const own = tempDir();
    try {
      const ownSocket = join(own.dir, "signer.sock");
      const ownConfig = join(own.dir, "signer.json");
      writeFileSync(
        ownConfig,
        JSON.stringify({
          chain: "fakechain",
          socketPath: ownSocket,
          stateDir: join(own.dir, "state"),
          keystoreDir: join(dir, "keystore"),
          policyPublicKey: Buffer.from(POLICY_PUBLIC).toString("hex"),
          caps: {},
          coldAddresses: [],
        }),
      );
      const child = spawn(
        process.execPath,
        ["--import", "tsx", CHILD, "run", "--exit-with-stdin", "--config", ownConfig],
        { env: { ...process.env, BULWARK_SIGNER_PASSPHRASE: PASSPHRASE }, stdio: ["pipe", "pipe", "pipe"] },
      );
      children.push(child);
      await new Promise((resolve, reject) => {
        child.stdout?.on("data", resolve);
        child.on("exit", reject);
      });
      expect(existsSync(ownSocket)).toBe(true);
      child.stdin?.end();
      const [code] = await once(child, "exit");
      expect(code).toBe(0);
      expect(existsSync(ownSocket)).toBe(false);
      expect(existsSync(join(own.dir, "state", "signer.lock"))).toBe(false);
    } finally {
      own.cleanup();
    }
  });
});
