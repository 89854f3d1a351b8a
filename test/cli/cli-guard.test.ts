// `bulwark guard …` against a real server (no demo, no devnet) through its operator socket:
// degraded mode switched on with a reason and an allow-list takes effect on the public REST API
// (a snapshot miss is 503 + 59036), the WebSocket upgrade (public refused, private allowed), order
// entry (only the allow-listed key) and the status page; off restores them; bans are listed and a
// ban that is not there cannot be lifted; every switch is audited. Offline the commands say the
// guard needs the running server; bad flags are refused before anything is opened.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { signRestBody } from "../../src/gateway/auth/signature.ts";
import { STATUS_CACHE_MS, type StatusReport } from "../../src/gateway/http/status.ts";
import { type ExchangeServer, startExchangeServer } from "../../src/server/server.ts";
import { bulwarkIn, bulwarkText, newDataDir, type Run } from "./harness.ts";

let dataDir: string;
let server: ExchangeServer | undefined;
const bulwark = (...args: string[]) => bulwarkIn(dataDir, args);
const ok = async (...args: string[]) => {
  const run = await bulwark(...args);
  expect(run.json, JSON.stringify(run.json)).toMatchObject({ ok: true });
  expect(run.status).toBe(0);
  return run.json;
};
function expectFailure(run: Run, kind: string, message: RegExp): void {
  expect(run.json.ok, JSON.stringify(run.json)).toBe(false);
  expect(run.json.error?.kind, JSON.stringify(run.json)).toBe(kind);
  expect(run.status).toBe(kind === "usage" ? 2 : 1);
  expect(run.json.error?.message).toMatch(message);
}

beforeAll(() => {
  dataDir = newDataDir("bulwark-cli-guard-");
});
afterAll(async () => {
  await server?.close();
});

/** Whether a WebSocket upgrade to `path` opens, or the HTTP status it was refused with. */
function upgrade(path: string): Promise<"open" | number> {
  return new Promise((resolve) => {
    const socket = new WebSocket(`${server!.url.replace(/^http/, "ws")}${path}`);
    socket.once("open", () => {
      socket.terminate();
      resolve("open");
    });
    socket.once("unexpected-response", (_request, response) => resolve(response.statusCode ?? 0));
    socket.once("error", () => undefined);
  });
}

let nonce = Date.now();
async function orderCreate(key: { keyId: string; secret: string }, price: string) {
  nonce += 1;
  const body = new URLSearchParams({
    nonce: String(nonce),
    pair: "BTC_USD",
    quantity: "0.001",
    price,
    type: "buy",
  }).toString();
  const response = await fetch(`${server!.url}/v1.1/order_create`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      key: key.keyId,
      sign: signRestBody(key.secret, body),
    },
    body,
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe("bulwark guard, offline", () => {
  it("says the guard lives in the running server; flags are checked first", async () => {
    for (const args of [
      ["guard", "status"],
      ["guard", "bans"],
      ["guard", "degrade", "on", "--reason", "flood"],
      ["guard", "degrade", "off"],
      ["guard", "unban", "--ip", "203.0.113.7"],
    ])
      expectFailure(await bulwark(...args), "notFound", /while the server runs/);
    expectFailure(await bulwark("guard", "unban"), "usage", /exactly one of --ip A, --key K or --user U/);
    expectFailure(
      await bulwark("guard", "unban", "--ip", "203.0.113.7", "--key", "K"),
      "usage",
      /exactly one of/,
    );
    expectFailure(
      await bulwark("guard", "degrade", "off", "--allow-key", "K"),
      "usage",
      /--allow-key goes with/,
    );
    expectFailure(
      await bulwark("guard", "bans", "--limit", "ten"),
      "invalid",
      /--limit must be a whole number/,
    );
  });
});

describe("bulwark guard, through a running server", () => {
  let maker: { keyId: string; secret: string };
  let other: { keyId: string; secret: string };

  beforeAll(async () => {
    server = await startExchangeServer({ dataDir, port: 0, host: "127.0.0.1", demo: false, devnet: false });
    for (const email of ["maker@example.com", "other@example.com"])
      await bulwarkIn(dataDir, ["user", "create", "--email", email], "a long password 123\n");
    const makerKey = await ok("key", "create", "--email", "maker@example.com", "--scopes", "info,trade");
    const otherKey = await ok("key", "create", "--email", "other@example.com", "--scopes", "info,trade");
    maker = { keyId: String(makerKey.keyId), secret: String(makerKey.secret) };
    other = { keyId: String(otherKey.keyId), secret: String(otherKey.secret) };
    for (const email of ["maker@example.com", "other@example.com"])
      await ok(
        "balance",
        "adjust",
        "--email",
        email,
        "--asset",
        "USD",
        "--amount",
        "1000",
        "--reason",
        "test",
      );
  }, 30_000);

  it("shows degraded mode off and no bans", async () => {
    const status = await ok("guard", "status");
    expect(status.degraded).toMatchObject({ on: false, allowListedKeyIds: [] });
    expect(status.bans).toEqual([]);
    const text = await bulwarkText(dataDir, ["guard", "status"]);
    expect(text.out).toContain("degraded mode: off");
  });

  it("switches degraded mode on: public REST from cache, public WS refused, order entry allow-listed, status page", async () => {
    // Cached before the switch: this answer goes on being served.
    expect((await fetch(`${server!.url}/v1.1/ticker`)).status).toBe(200);
    const on = await ok(
      "guard",
      "degrade",
      "on",
      "--reason",
      "flood on the public API",
      "--allow-key",
      maker.keyId,
    );
    expect(on.degraded).toMatchObject({
      on: true,
      reason: "flood on the public API",
      allowListedKeyIds: [maker.keyId],
    });
    const text = await bulwarkText(dataDir, ["guard", "status"]);
    expect(text.out).toContain("degraded mode: ON");
    expect(text.out).toContain(maker.keyId);

    expect((await fetch(`${server!.url}/v1.1/ticker`)).status).toBe(200);
    const miss = await fetch(`${server!.url}/v1.1/order_book?pair=ETH_USD&limit=9`);
    expect(miss.status).toBe(503);
    expect(miss.headers.get("retry-after")).not.toBeNull();
    expect(((await miss.json()) as { error: string }).error).toMatch(/^Error 59036: /);

    expect(await upgrade("/v1/public")).toBe(503);
    expect(await upgrade("/v1/private")).toBe("open");

    const refused = await orderCreate(other, "40000");
    expect(refused.status).toBe(503);
    expect(String(refused.body.error)).toMatch(/^Error 59036: .*allow-listed/);
    const allowed = await orderCreate(maker, "40000");
    expect(allowed.body).toMatchObject({ result: true });

    await new Promise((resolve) => setTimeout(resolve, STATUS_CACHE_MS + 50));
    const status = (await (await fetch(`${server!.url}/status`)).json()) as StatusReport;
    const component = status.components.find((candidate) => candidate.id === "public-api");
    expect(component?.status).toBe("degraded");
    expect(component?.message).toContain("flood on the public API");
  });

  it("switches it off: everything answers again", async () => {
    const off = await ok("guard", "degrade", "off");
    expect(off.degraded).toMatchObject({ on: false, allowListedKeyIds: [] });
    expect((await fetch(`${server!.url}/v1.1/order_book?pair=ETH_USD&limit=9`)).status).toBe(200);
    expect(await upgrade("/v1/public")).toBe("open");
    expect((await orderCreate(other, "40001")).body).toMatchObject({ result: true });
  });

  it("lists bans and refuses to lift one that is not there; switches are audited", async () => {
    expect((await ok("guard", "bans", "--limit", "10")).bans).toEqual([]);
    expectFailure(
      await bulwark("guard", "unban", "--ip", "203.0.113.7"),
      "notFound",
      /no active ban on ip 203\.0\.113\.7/,
    );
    expectFailure(await bulwark("guard", "degrade", "on"), "invalid", /needs a reason/);
    const audit = await server!.exchange.internals.store.db
      .selectFrom("audit_log")
      .select(["action", "subject"])
      .where("action", "like", "guard.%")
      .orderBy("seq")
      .execute();
    expect(audit.map((row) => `${row.action} ${row.subject}`)).toEqual([
      "guard.degrade guard:degraded",
      "guard.degrade guard:degraded",
      "guard.unban ip:203.0.113.7",
    ]);
  });

  it("a flooding address is banned by the REST guard; guard bans lists it; guard unban --ip lifts it", async () => {
    const flood = async () => {
      const answers = await Promise.all(
        Array.from({ length: 40 }, async () => (await fetch(`${server!.url}/v1.1/ticker`)).text()),
      );
      return answers.filter((text) => text.includes("Error 40034")).length;
    };
    let refused = 0;
    const banCount = async () => ((await ok("guard", "bans")).bans as unknown[]).length;
    for (let round = 0; round < 10 && (await banCount()) === 0; round++) refused += await flood();
    expect(refused).toBeGreaterThan(0);
    const bans = (await ok("guard", "bans")).bans as { scope: string; subject: string; level: number }[];
    const ban = bans.find((candidate) => candidate.scope === "ip");
    expect(ban, JSON.stringify(bans)).toBeDefined();
    expect(ban?.level).toBe(1);
    const text = await bulwarkText(dataDir, ["guard", "status"]);
    expect(text.out).toContain(ban!.subject);
    const lifted = await ok("guard", "unban", "--ip", ban!.subject);
    expect(lifted).toMatchObject({ lifted: true, scope: "ip", subject: ban!.subject });
    expect((await ok("guard", "bans")).bans).toEqual([]);
    const after = await (await fetch(`${server!.url}/v1.1/ticker`)).text();
    expect(after).not.toContain("Error 40034");
  });
});
