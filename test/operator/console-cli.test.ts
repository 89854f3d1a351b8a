// `bulwark operator add|list|disable` (src/cli/operator.ts) offline and through a running server's
// operator socket: the password only from stdin, roles checked, duplicates and unknown emails
// refused, every change audited; and on the running server the console (mounted by
// src/server/server.ts on the public port) logs the added operator in, until `operator disable`.

import { afterAll, describe, expect, it } from "vitest";
import { CONSOLE_PREFIX } from "../../src/operator/console/console-api.ts";
import { type ExchangeServer, startExchangeServer } from "../../src/server/server.ts";
import { bulwarkIn, newDataDir, type Run } from "../cli/harness.ts";

/** The cheapest scrypt SCRYPT_LIMITS allows for the passwords the server hashes (test/server/server-demo.test.ts checks the default). */
const FAST_PASSWORD_SCRYPT = { logN: 10, blockSize: 8, parallelization: 1 };

const PASSWORD = "operator-cli-password";

function expectFailure(run: Run, kind: string, message?: RegExp): void {
  expect(run.json.ok, JSON.stringify(run.json)).toBe(false);
  expect(run.json.error?.kind).toBe(kind);
  if (message !== undefined) expect(run.json.error?.message).toMatch(message);
}

let server: ExchangeServer | undefined;
afterAll(async () => {
  await server?.close();
});

describe("bulwark operator, offline", () => {
  it("adds with the password from stdin, lists, disables, and refuses bad input changing nothing", async () => {
    const dataDir = newDataDir("bulwark-operator-cli-");
    const bulwark = (args: string[], stdin = "") => bulwarkIn(dataDir, args, stdin);
    const added = await bulwark(
      ["operator", "add", "--email", "Ops@Example.test", "--role", "security"],
      `${PASSWORD}\n`,
    );
    expect(added.json).toMatchObject({ ok: true, email: "ops@example.test", role: "security" });
    expectFailure(
      await bulwark(["operator", "add", "--email", "ops@example.test", "--role", "admin"], `${PASSWORD}\n`),
      "conflict",
      /already exists/,
    );
    expectFailure(
      await bulwark(["operator", "add", "--email", "x@example.test", "--role", "root"], `${PASSWORD}\n`),
      "invalid",
      /--role must be one of/,
    );
    expectFailure(
      await bulwark(["operator", "add", "--email", "x@example.test", "--role", "admin"], "short\n"),
      "invalid",
      /at least 8/,
    );
    expectFailure(
      await bulwark(["operator", "add", "--email", "x@example.test", "--role", "admin"]),
      "usage",
      /stdin/,
    );
    expectFailure(
      await bulwark([
        "operator",
        "add",
        "--email",
        "x@example.test",
        "--role",
        "admin",
        "--password",
        PASSWORD,
      ]),
      "usage",
      /not accepted/,
    );

    const listed = await bulwark(["operator", "list"]);
    expect(listed.json).toMatchObject({
      ok: true,
      operators: [{ email: "ops@example.test", role: "security", disabledMs: null }],
    });
    expect((listed.json.operators as unknown[]).length).toBe(1);

    expect((await bulwark(["operator", "disable", "--email", "ops@example.test"])).json).toMatchObject({
      ok: true,
      email: "ops@example.test",
      sessionsEnded: 0,
    });
    expectFailure(
      await bulwark(["operator", "disable", "--email", "ops@example.test"]),
      "conflict",
      /already disabled/,
    );
    expectFailure(await bulwark(["operator", "disable", "--email", "nobody@example.test"]), "notFound");
    const after = await bulwark(["operator", "list"]);
    expect((after.json.operators as { disabledMs: number | null }[])[0].disabledMs).toEqual(
      expect.any(Number),
    );
    const audit = await bulwark(["audit", "verify"]);
    expect(audit.json).toMatchObject({ ok: true, checkedRows: 2 });
  });
});

describe("bulwark operator, against a running server", () => {
  it("goes through the socket; the console on the public port logs the operator in until disabled", async () => {
    const dataDir = newDataDir("bulwark-operator-cli-live-");
    server = await startExchangeServer({
      dataDir,
      port: 0,
      demo: false,
      devnet: false,
      passwordScrypt: FAST_PASSWORD_SCRYPT,
    });
    const bulwark = (args: string[], stdin = "") => bulwarkIn(dataDir, args, stdin);
    expect(
      (
        await bulwark(
          ["operator", "add", "--email", "live@example.test", "--role", "auditor"],
          `${PASSWORD}\n`,
        )
      ).json,
    ).toMatchObject({
      ok: true,
      role: "auditor",
    });
    const rows = await server.exchange.internals.store.db
      .selectFrom("audit_log")
      .select(["actor", "action", "subject"])
      .where("action", "=", "operator.add")
      .execute();
    expect(rows).toEqual([
      {
        actor: expect.stringMatching(/^operator:cli@/),
        action: "operator.add",
        subject: "operator:live@example.test",
      },
    ]);

    const login = await fetch(`${server.url}${CONSOLE_PREFIX}/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "live@example.test", password: PASSWORD }),
    });
    expect(login.status).toBe(200);
    expect(await login.json()).toMatchObject({ email: "live@example.test", role: "auditor" });
    const cookie = login.headers
      .getSetCookie()
      .map((line) => line.split(";")[0])
      .join("; ");
    const me = () => fetch(`${server?.url}${CONSOLE_PREFIX}/me`, { headers: { cookie } });
    expect((await me()).status).toBe(200);
    const assets = await fetch(`${server.url}${CONSOLE_PREFIX}/operator/v1/assets`, { headers: { cookie } });
    expect(assets.status).toBe(200);
    expect(((await assets.json()) as { assets: unknown[] }).assets.length).toBeGreaterThan(0);
    // The operator bearer token is no way into the console routes.
    expect(
      (
        await fetch(`${server.url}${CONSOLE_PREFIX}/operator/v1/assets`, {
          headers: { authorization: "Bearer x" },
        })
      ).status,
    ).toBe(401);

    expect((await bulwark(["operator", "disable", "--email", "live@example.test"])).json).toMatchObject({
      ok: true,
      sessionsEnded: 1,
    });
    expect((await me()).status).toBe(401);
  });
});
