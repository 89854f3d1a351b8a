// The server's side of incidents: where the webhook configuration comes from (options, the data
// dir's webhooks.json, the secret from the environment or a 0600 file, generated once) and what
// it refuses, and the withdrawal pipeline's audit hook (every step a withdrawal reaches).

import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Exchange } from "../../src/exchange/exchange.ts";
import {
  auditWithdrawalSteps,
  CONFIG_AUDIT_SUBJECT,
  resolveWebhookConfig,
  startIncidents,
  WEBHOOK_SECRET_ENV,
  WEBHOOK_SECRET_FILE_NAME,
  WEBHOOKS_CONFIG_FILE_NAME,
  WebhookConfigError,
} from "../../src/server/incidents.ts";

const directories: string[] = [];
function dataDir(): string {
  const directory = mkdtempSync(join(tmpdir(), "bulwark-webhook-config-"));
  directories.push(directory);
  return directory;
}
afterAll(() => {
  for (const directory of directories) rmSync(directory, { recursive: true, force: true });
});

const SECRET = "0123456789abcdef0123";

describe("webhook configuration", () => {
  it("is off without receivers, and takes them from options before the data dir's file", () => {
    const dir = dataDir();
    expect(resolveWebhookConfig(dir, {}, {})).toBeNull();
    writeFileSync(
      join(dir, WEBHOOKS_CONFIG_FILE_NAME),
      JSON.stringify({ webhooks: [{ url: "https://alerts.example.test/a" }], auditHeadIntervalMs: 5_000 }),
    );
    const fromFile = resolveWebhookConfig(dir, { [WEBHOOK_SECRET_ENV]: SECRET }, {});
    expect(fromFile).toMatchObject({
      urls: ["https://alerts.example.test/a"],
      source: "file",
      secretSource: "env",
      auditHeadIntervalMs: 5_000,
    });
    const fromOptions = resolveWebhookConfig(
      dir,
      {},
      { webhooks: [{ url: "http://127.0.0.1:9/x" }], webhookSecret: SECRET },
    );
    expect(fromOptions).toMatchObject({
      urls: ["http://127.0.0.1:9/x"],
      source: "option",
      secretSource: "option",
      auditHeadIntervalMs: 60_000,
    });
  });

  it("generates the secret once into an owner-only file, and reads it back", () => {
    const dir = dataDir();
    const first = resolveWebhookConfig(dir, {}, { webhooks: [{ url: "https://a.example.test/" }] });
    expect(first?.secretSource).toBe("generated");
    const path = join(dir, WEBHOOK_SECRET_FILE_NAME);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, "utf8").trim()).toBe(first?.secret);
    const second = resolveWebhookConfig(dir, {}, { webhooks: [{ url: "https://a.example.test/" }] });
    expect(second).toMatchObject({ secretSource: "file", secret: first?.secret });
  });

  it("refuses what would leave an operator without alerts or leak the secret", () => {
    const dir = dataDir();
    const webhooks = [{ url: "https://a.example.test/" }];
    writeFileSync(join(dir, WEBHOOK_SECRET_FILE_NAME), `${SECRET}\n`, { mode: 0o644 });
    chmodSync(join(dir, WEBHOOK_SECRET_FILE_NAME), 0o644);
    expect(() => resolveWebhookConfig(dir, {}, { webhooks })).toThrow(/chmod 600/);
    expect(() => resolveWebhookConfig(dir, { [WEBHOOK_SECRET_ENV]: "short" }, { webhooks })).toThrow(
      WebhookConfigError,
    );
    expect(() =>
      resolveWebhookConfig(dir, {}, { webhooks: [{ url: "ftp://a.example.test/" }], webhookSecret: SECRET }),
    ).toThrow(/http/);
    expect(() =>
      resolveWebhookConfig(
        dir,
        {},
        { webhooks: [{ url: "https://u:p@a.example.test/" }], webhookSecret: SECRET },
      ),
    ).toThrow(/credentials/);
    expect(() =>
      resolveWebhookConfig(dir, {}, { webhooks, webhookSecret: SECRET, auditHeadIntervalMs: 10 }),
    ).toThrow(/auditHeadIntervalMs/);
    const other = dataDir();
    writeFileSync(join(other, WEBHOOKS_CONFIG_FILE_NAME), "{not json");
    expect(() => resolveWebhookConfig(other, {}, {})).toThrow(/not JSON/);
    writeFileSync(
      join(other, WEBHOOKS_CONFIG_FILE_NAME),
      JSON.stringify({ webhooks: "https://a.example.test/" }),
    );
    expect(() => resolveWebhookConfig(other, {}, {})).toThrow(/"webhooks"/);
    writeFileSync(join(other, WEBHOOKS_CONFIG_FILE_NAME), JSON.stringify({ webhooks: [{ url: 7 }] }));
    expect(() => resolveWebhookConfig(other, {}, {})).toThrow(/url must be text/);
  });
});

describe("withdrawal steps in the audit log", () => {
  let exchange: Exchange;
  let dir: string;
  beforeAll(async () => {
    dir = dataDir();
    exchange = await Exchange.open({ dataDir: dir });
  });
  afterAll(async () => {
    await exchange.close();
  });

  it("appends withdrawal.step with who asked and where it goes, then runs the next hook", async () => {
    const withdrawal = await exchange.custody.insertWithdrawal({
      userId: 7,
      chain: "devnet-btc",
      currency: "BTC",
      assetId: 1,
      amountUnits: 150_000,
      feeUnits: 10_000,
      chainAmount: 140_000n,
      destination: "bcrt1qdestination",
      via: "apiKey",
      approvalsNeeded: 0,
      requestedMs: 1,
    });
    const after: string[] = [];
    const problems: string[] = [];
    const hook = auditWithdrawalSteps(
      exchange,
      () => 42,
      (message) => problems.push(message),
      (id, step) => after.push(`${id}:${step}`),
    );
    await hook(withdrawal.withdrawalId, "held");
    await hook(withdrawal.withdrawalId, "settled");
    const rows = await exchange.internals.store.db
      .selectFrom("audit_log")
      .selectAll()
      .where("action", "=", "withdrawal.step")
      .orderBy("seq")
      .execute();
    expect(rows.map((row) => [row.subject, JSON.parse(row.details_json).step])).toEqual([
      [`withdrawal:${withdrawal.withdrawalId}`, "held"],
      [`withdrawal:${withdrawal.withdrawalId}`, "settled"],
    ]);
    expect(JSON.parse(rows[0].details_json)).toMatchObject({
      userId: 7,
      currency: "BTC",
      amountUnits: 150_000,
      destination: "bcrt1qdestination",
      via: "apiKey",
    });
    expect(after).toEqual([`${withdrawal.withdrawalId}:held`, `${withdrawal.withdrawalId}:settled`]);
    expect(problems).toEqual([]);
    expect((await exchange.audit.verify()).ok).toBe(true);
  });
});

describe("configuration changes in the audit log", () => {
  it("records a start's configuration only when it differs from the last one recorded", async () => {
    const dir = dataDir();
    const exchange = await Exchange.open({ dataDir: dir });
    try {
      const start = async (
        options: Parameters<typeof startIncidents>[0]["options"],
        productionMode = false,
      ) => {
        const started = await startIncidents({
          dataDir: dir,
          env: {},
          exchange,
          options,
          productionMode,
          clock: Date.now,
          log: () => undefined,
        });
        started.stop();
      };
      const rows = () =>
        exchange.internals.store.db
          .selectFrom("audit_log")
          .selectAll()
          .where("subject", "=", CONFIG_AUDIT_SUBJECT)
          .orderBy("seq")
          .execute();
      await start({});
      expect(await rows()).toEqual([]);
      const webhooks = [{ url: "http://127.0.0.1:9/hook?token=secret" }];
      await start({ webhooks });
      await start({ webhooks });
      await start({ webhooks }, true);
      await start({});
      const recorded = (await rows()).map((row) => JSON.parse(row.details_json).config);
      expect(recorded).toEqual([
        expect.objectContaining({
          webhooks: ["http://127.0.0.1:9/hook"],
          webhookSecretSource: "file",
          productionMode: false,
        }),
        expect.objectContaining({ webhooks: ["http://127.0.0.1:9/hook"], productionMode: true }),
        expect.objectContaining({ webhooks: [], webhookSource: "none", productionMode: false }),
      ]);
      expect(JSON.stringify(await rows())).not.toContain("token=secret");
    } finally {
      await exchange.close();
    }
  });
});
