// Custody's signer client against the real signer server (listenSigner + SignerService with the
// devnet UTXO plugin and a keystore), and against sockets that misbehave: absent, refusing, silent,
// closing, answering garbage, at the client's connection bound.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addressOfKey, privateKeyFromSeed, UtxoDevnet } from "../../src/chains/devnet/index.ts";
import {
  devnetAddressFromXpub,
  devnetUtxoSigningPlugin,
  HOT_LABEL,
} from "../../src/chains/devnet/signing.ts";
import { MAX_FRAME } from "../../src/chains/signer-protocol.ts";
import {
  type IntentWire,
  SignerClient,
  SignerProtocolError,
  SignerUnavailableError,
} from "../../src/custody/signer-client.ts";
import { intentToWire, signIntent } from "../../src/signer/intent.ts";
import { initKeystore, Keystore } from "../../src/signer/keystore.ts";
import { listenSigner } from "../../src/signer/server.ts";
import { SignerService } from "../../src/signer/service.ts";
import { SignerState } from "../../src/signer/state.ts";
import { newIntentId, POLICY_SECRET, policyConfig, SMALL_SCRYPT, tempDir } from "../signer/helpers.ts";

const PASSPHRASE = "signer client passphrase";
const SEED = new Uint8Array(32).map((_, i) => (i * 13 + 5) & 0xff);
const CAPS = { perTransaction: 500_000n, per10m: 800_000n, per1h: 900_000n, per24h: 1_000_000n };

const { dir, cleanup } = tempDir();
const closers: (() => void | Promise<void>)[] = [];
afterAll(async () => {
  for (const close of closers.reverse()) await close();
  cleanup();
});

const socketPath = join(dir, "signer.sock");
const chain = new UtxoDevnet();
let hot: string;
let client: SignerClient;

beforeAll(async () => {
  initKeystore(join(dir, "keystore"), PASSPHRASE, SEED, SMALL_SCRYPT);
  const keystore = Keystore.open(join(dir, "keystore"), PASSPHRASE);
  const state = SignerState.open(join(dir, "state"), Date.now());
  // Small lookahead: a withdrawal's destination is checked against the whole of it once.
  const plugin = devnetUtxoSigningPlugin({ hotLookahead: 5, depositLookahead: 5 });
  const config = policyConfig({ chain: "devnet-btc", caps: new Map([["BTC", CAPS]]) });
  const service = new SignerService(config, state, plugin, keystore.hotKeys("devnet-btc"));
  const server = await listenSigner(socketPath, service);
  closers.push(() => {
    server.close();
    state.close();
    keystore.close();
  });
  const hotXpub = keystore.exportPublicKeys(plugin).find((key) => key.label === HOT_LABEL)?.key ?? "";
  hot = devnetAddressFromXpub("utxo", hotXpub, 0, 0);
  chain.faucet(hot, "BTC", 2_000_000n);
  chain.mine();
  client = new SignerClient(socketPath);
});

/** A withdrawal of `amount` from the hot wallet to a fresh user, signed by custody's policy key. */
async function withdrawal(amount: bigint, secret = POLICY_SECRET) {
  const user = addressOfKey(chain, privateKeyFromSeed(`user-${newIntentId()}`));
  const unsigned = await chain.buildPayment({ sources: [hot], to: user, asset: "BTC", amount });
  const intent = {
    intentId: newIntentId(),
    chain: "devnet-btc",
    asset: "BTC",
    kind: "withdrawal" as const,
    to: user,
    amount,
    expiresAtMs: Date.now() + 5 * 60_000,
    payload: unsigned.payload,
  };
  const { signature } = signIntent(intent, secret);
  return { intent, wire: intentToWire(intent), signatureHex: Buffer.from(signature).toString("hex"), user };
}

/** A Unix socket server that does `onConnection` with each client; closed after the file. */
async function fakeSigner(name: string, onConnection?: (socket: Socket) => void): Promise<string> {
  const path = join(dir, name);
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    onConnection?.(socket);
  });
  server.listen(path);
  await once(server, "listening");
  closers.push(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return path;
}

async function unavailable(promise: Promise<unknown>): Promise<SignerUnavailableError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SignerUnavailableError);
  return error as SignerUnavailableError;
}

describe("the signer client against the real signer", () => {
  it("signs a devnet withdrawal the chain accepts; the same intent again gets the same transaction", async () => {
    const { wire, signatureHex, user } = await withdrawal(300_000n);
    const signed = await client.sign(wire, signatureHex);
    if (!signed.ok) throw new Error(`refused: ${signed.code} ${signed.detail}`);
    expect(signed.intentId).toBe(wire.intentId);
    expect(signed.signedTx).toBeInstanceOf(Uint8Array);
    // Custody lost the answer and asks again: the same transaction, charged once.
    const again = await client.sign(wire, signatureHex);
    expect(again).toEqual(signed);
    expect(await chain.broadcast(signed.signedTx)).toBe(signed.txId);
    chain.mine();
    expect(chain.balance(user)).toBe(300_000n);
    const status = await client.status();
    if (!status.ok) throw new Error(status.detail);
    expect(status.chain).toBe("devnet-btc");
    const btc = status.budgets.find((budget) => budget.asset === "BTC");
    expect(btc?.perTransaction).toBe(500_000n);
    const tenMinutes = btc?.windows.find((window) => window.window === "10m");
    // The amount and the fee, once (money as bigint, not strings).
    const fee = status.lastSignatures.at(-1)?.fee ?? -1n;
    expect(fee).toBeGreaterThan(0n);
    expect(tenMinutes?.used).toBe(300_000n + fee);
    expect(tenMinutes?.left).toBe(800_000n - 300_000n - fee);
    expect(status.lastSignatures.map((s) => s.txId)).toEqual([signed.txId]);
  });

  it("returns the signer's refusals as typed failures", async () => {
    const forged = await withdrawal(1_000n, new Uint8Array(32).fill(1));
    expect(await client.sign(forged.wire, forged.signatureHex)).toMatchObject({
      ok: false,
      code: "bad-signature",
    });
    const overCap = await withdrawal(600_000n);
    expect(await client.sign(overCap.wire, overCap.signatureHex)).toMatchObject({
      ok: false,
      code: "per-transaction-cap",
    });
    // Another intent under a used id.
    const first = await withdrawal(1_000n);
    expect((await client.sign(first.wire, first.signatureHex)).ok).toBe(true);
    const other = await withdrawal(2_000n);
    const reused = { ...other.intent, intentId: first.intent.intentId };
    const reusedSignature = Buffer.from(signIntent(reused, POLICY_SECRET).signature).toString("hex");
    expect(await client.sign(intentToWire(reused), reusedSignature)).toMatchObject({
      ok: false,
      code: "reused-id",
    });
    // Malformed input is the signer's to refuse, with its reason.
    expect(await client.sign(first.wire, "zz")).toMatchObject({ ok: false, code: "malformed-intent" });
    const badAmount = { ...first.wire, amount: "-5" } as IntentWire;
    expect(await client.sign(badAmount, first.signatureHex)).toMatchObject({
      ok: false,
      code: "out-of-range",
    });
    expect(await client.halt("devnet-eth", "wrong chain")).toMatchObject({ ok: false, code: "wrong-chain" });
  });

  it("halts and resumes signing (a resume needs a reason)", async () => {
    expect(await client.halt("devnet-btc", "unmatched outflow")).toEqual({ ok: true, halted: true });
    const blocked = await withdrawal(1_000n);
    expect(await client.sign(blocked.wire, blocked.signatureHex)).toMatchObject({
      ok: false,
      code: "halted",
    });
    const status = await client.status();
    expect(status.ok && status.halted.map((halt) => [halt.chain, halt.reason])).toEqual([
      ["devnet-btc", "unmatched outflow"],
    ]);
    expect(await client.resume("devnet-btc", "")).toMatchObject({ ok: false, code: "reason-required" });
    expect(await client.resume("devnet-btc", "reconciled")).toEqual({ ok: true, halted: false });
    expect((await client.sign(blocked.wire, blocked.signatureHex)).ok).toBe(true);
  });

  it("refuses to send a request over the signer's frame limit, without connecting", async () => {
    const { wire, signatureHex } = await withdrawal(1_000n);
    const huge = { ...wire, payload: "A".repeat(MAX_FRAME) };
    await expect(client.sign(huge, signatureHex)).rejects.toThrow(RangeError);
    expect((await client.status()).ok).toBe(true);
  });
});

describe("the signer client when no answer comes", () => {
  it("throws SignerUnavailableError for an absent socket and a refused one", async () => {
    const absent = await unavailable(new SignerClient(join(dir, "nothing.sock")).status());
    expect(absent.reason).toBe("absent");
    expect(absent.message).toContain("nothing.sock");
    // A socket file left by a signer killed with -9: nobody listens behind it.
    const stalePath = join(dir, "stale.sock");
    const listener = spawn(process.execPath, [
      "-e",
      `require("node:net").createServer().listen(${JSON.stringify(stalePath)}, () => console.log("up"))`,
    ]);
    await once(listener.stdout, "data");
    listener.kill("SIGKILL");
    await once(listener, "exit");
    expect(existsSync(stalePath)).toBe(true);
    const refused = await unavailable(new SignerClient(stalePath).status());
    expect(refused.reason).toBe("refused");
  });

  it("times out on a silent signer, and reports a connection closed without an answer", async () => {
    const silent = await fakeSigner("silent.sock");
    const started = Date.now();
    const timedOut = await unavailable(new SignerClient(silent, { timeoutMs: 200 }).status());
    expect(timedOut.reason).toBe("timeout");
    expect(Date.now() - started).toBeLessThan(2_000);
    const closing = await fakeSigner("closing.sock", (socket) => socket.destroy());
    expect((await unavailable(new SignerClient(closing).status())).reason).toBe("closed");
  });

  it("throws SignerProtocolError on an answer that is not the protocol's", async () => {
    const answering = (body: Buffer) => (socket: Socket) => {
      socket.once("data", () => socket.end(body));
    };
    const frame = (text: string) => {
      const body = Buffer.from(text);
      const head = Buffer.alloc(4);
      head.writeUInt32BE(body.length);
      return Buffer.concat([head, body]);
    };
    const notJson = await fakeSigner("garbage.sock", answering(frame("not json")));
    await expect(new SignerClient(notJson).status()).rejects.toThrow(SignerProtocolError);
    const noCode = await fakeSigner("nocode.sock", answering(frame('{"ok":false}')));
    await expect(new SignerClient(noCode).status()).rejects.toThrow(SignerProtocolError);
    const huge = await fakeSigner("huge.sock", answering(Buffer.from([0x7f, 0xff, 0xff, 0xff])));
    await expect(new SignerClient(huge).status()).rejects.toThrow(SignerProtocolError);
    // An answer whose bytes do not hash to its digest is not passed on as a transaction.
    const { wire, signatureHex } = await withdrawal(1_000n);
    const lying = await fakeSigner(
      "lying.sock",
      answering(
        frame(
          JSON.stringify({
            ok: true,
            intentId: wire.intentId,
            txId: "00",
            digest: "00".repeat(32),
            signedTx: "AAAA",
          }),
        ),
      ),
    );
    await expect(new SignerClient(lying).sign(wire, signatureHex)).rejects.toThrow(/digest/);
  });

  it("bounds its connections and its queue", async () => {
    const silent = await fakeSigner("bounded.sock");
    const bounded = new SignerClient(silent, { timeoutMs: 300, maxInFlight: 2, maxWaiting: 1 });
    const calls = [bounded.status(), bounded.status(), bounded.status(), bounded.status()];
    const reasons = await Promise.all(calls.map(async (call) => (await unavailable(call)).reason));
    // Two connect and time out, one waits for a slot and times out, the fourth is refused at once.
    expect(reasons).toEqual(["timeout", "timeout", "timeout", "busy"]);
  });

  it("refuses bad options", () => {
    expect(() => new SignerClient("")).toThrow(RangeError);
    expect(() => new SignerClient(socketPath, { timeoutMs: 0 })).toThrow(/timeoutMs/);
    expect(() => new SignerClient(socketPath, { timeoutMs: Number.NaN })).toThrow(/timeoutMs/);
    expect(() => new SignerClient(socketPath, { maxInFlight: 17 })).toThrow(/maxInFlight/);
    expect(() => new SignerClient(socketPath, { maxWaiting: -1 })).toThrow(/maxWaiting/);
  });
});
