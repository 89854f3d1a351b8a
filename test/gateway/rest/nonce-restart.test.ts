// A signed request replayed after the exchange restarts is refused (40009): the nonce the gateway
// accepted was committed before the request ran, and the restarted gateway loads it from the store.
// Also: concurrent requests on one key are answered in nonce order, and a key revoked through the
// store stops working at once (the gateway's key cache is invalidated, not left to its TTL).

import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { generateApiKey, sealApiSecret } from "../../../src/accounts/api-keys.ts";
import { SecretBox } from "../../../src/accounts/secret-box.ts";
import { Exchange } from "../../../src/exchange/exchange.ts";
import { signRestBody } from "../../../src/gateway/auth/signature.ts";
import { createGateway, type Gateway } from "../../../src/gateway/http/server.ts";
import { createApiKey, createUser, revokeApiKey } from "../../../src/store/accounts.ts";

interface Running {
  exchange: Exchange;
  gateway: Gateway;
  baseUrl: string;
}

const secretBox = new SecretBox(randomBytes(32));
let dataDir = "";
let running: Running | null = null;

async function start(): Promise<Running> {
  const exchange = await Exchange.open({ dataDir });
  const gateway = createGateway(exchange, {
    secretBox,
    logger: pino({ level: "silent" }),
    port: 0,
    host: "127.0.0.1",
    defaultMetrics: false,
    // Concurrent requests on one key from one address: not what this suite tests.
    rateLimit: false,
  });
  const { port } = await gateway.listen();
  running = { exchange, gateway, baseUrl: `http://127.0.0.1:${port}` };
  return running;
}

async function stop(): Promise<void> {
  if (running === null) return;
  await running.gateway.close();
  await running.exchange.close();
  running = null;
}

async function post(server: Running, keyId: string, sign: string, body: string): Promise<{ error?: string }> {
  const response = await fetch(`${server.baseUrl}/v1.1/user_info`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", key: keyId, sign },
    body,
  });
  return (await response.json()) as { error?: string };
}

async function newKey(server: Running): Promise<{ keyId: string; secret: string }> {
  const created = await createUser(server.exchange.internals.store.db, {
    email: `replay-${randomBytes(4).toString("hex")}@example.test`,
    passwordHash: "$scrypt$unused",
    createdMs: Date.now(),
  });
  if (!created.ok) throw new Error("user exists");
  const { keyId, secret } = generateApiKey();
  await createApiKey(server.exchange.internals.store.db, {
    keyId,
    userId: created.user.userId,
    secretCiphertext: sealApiSecret(secretBox, keyId, secret),
    scopes: ["info"],
    ipAllowList: [],
    createdMs: Date.now(),
  });
  return { keyId, secret };
}

describe("REST nonces through the gateway", () => {
  afterEach(async () => {
    await stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("refuses a request replayed after a restart", async () => {
    dataDir = mkdtempSync(join(tmpdir(), "bulwark-replay-"));
    const first = await start();
    const key = await newKey(first);
    const body = `nonce=${Date.now()}`;
    const sign = signRestBody(key.secret, body);
    expect((await post(first, key.keyId, sign, body)).error).toBeUndefined();
    expect((await post(first, key.keyId, sign, body)).error).toMatch(/^Error 40009/);
    await stop();
    const second = await start();
    expect((await post(second, key.keyId, sign, body)).error).toMatch(/^Error 40009/);
    const fresh = `nonce=${Date.now() + 1_000}`;
    expect((await post(second, key.keyId, signRestBody(key.secret, fresh), fresh)).error).toBeUndefined();
  });

  it("answers concurrent requests on one key by nonce order, and stops a revoked key at once", async () => {
    dataDir = mkdtempSync(join(tmpdir(), "bulwark-replay-"));
    const server = await start();
    const key = await newKey(server);
    const base = Date.now();
    // Sent together on separate connections: whichever nonces arrive after a higher one are refused,
    // and exactly one of the two equal nonces wins.
    const nonces = [base + 1, base + 2, base + 2, base + 3];
    const answers = await Promise.all(
      nonces.map((nonce) => {
        const body = `nonce=${nonce}`;
        return post(server, key.keyId, signRestBody(key.secret, body), body);
      }),
    );
    const accepted = answers.filter((answer) => answer.error === undefined).length;
    expect(accepted).toBeGreaterThanOrEqual(1);
    expect(accepted).toBeLessThanOrEqual(3);
    const withBase2 = answers.filter(
      (answer, index) => nonces[index] === base + 2 && answer.error === undefined,
    );
    expect(withBase2.length).toBeLessThanOrEqual(1);
    await revokeApiKey(server.exchange.internals.store.db, key.keyId, Date.now());
    const after = `nonce=${base + 10}`;
    expect((await post(server, key.keyId, signRestBody(key.secret, after), after)).error).toMatch(
      /^Error 40017/,
    );
  });
});
