// A live WS gateway for tests: a real Exchange in a temporary directory with the default markets,
// a plain http.Server on 127.0.0.1 with attachWebSocket, users and API keys written straight into
// the store, and a raw `ws` client that collects frames.

import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { apiSecretContext, generateApiKey } from "../../../src/accounts/api-keys.ts";
import { generateServerKey, parseServerKey, SecretBox } from "../../../src/accounts/secret-box.ts";
import type { UnstampedCommand } from "../../../src/core/commands.ts";
import { Exchange } from "../../../src/exchange/exchange.ts";
import { signWsLogin } from "../../../src/gateway/auth/signature.ts";
import {
  type AttachWebSocketOptions,
  attachWebSocket,
  type WebSocketGateway,
  type WsLimits,
} from "../../../src/gateway/ws/server.ts";
import { DEFAULT_ASSETS, DEFAULT_MARKETS } from "../../../src/server/default-markets.ts";
import { createApiKey, createUser } from "../../../src/store/accounts.ts";

export interface Harness {
  exchange: Exchange;
  gateway: WebSocketGateway;
  server: Server;
  secretBox: SecretBox;
  url: string;
  close(): Promise<void>;
}

export interface Trader {
  userId: number;
  keyId: string;
  secret: string;
}

export async function startHarness(
  limits: Partial<WsLimits> = {},
  /** More of attachWebSocket's options (the flood guard's control, a client-address rule). */
  extra: Partial<Omit<AttachWebSocketOptions, "secretBox" | "limits">> = {},
): Promise<Harness> {
  const dataDir = mkdtempSync(join(tmpdir(), "bulwark-ws-"));
  const exchange = await Exchange.open({ dataDir });
  const setup: UnstampedCommand[] = [
    ...DEFAULT_ASSETS.map((asset): UnstampedCommand => ({ kind: "addAsset", asset })),
    ...DEFAULT_MARKETS.map((market): UnstampedCommand => ({ kind: "addMarket", market })),
  ];
  for (const command of setup) expectAccepted(await exchange.submit(command));
  const secretBox = new SecretBox(parseServerKey(generateServerKey()));
  const server = createServer();
  const gateway = attachWebSocket(server, exchange, { ...extra, secretBox, limits });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    exchange,
    gateway,
    server,
    secretBox,
    url: `ws://127.0.0.1:${port}`,
    async close() {
      await gateway.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await exchange.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function expectAccepted(result: { events: readonly { type: string }[] }): void {
  const rejected = result.events.find((event) => event.type === "rejected");
  if (rejected !== undefined) throw new Error(`command rejected: ${JSON.stringify(rejected)}`);
}

let emailCounter = 0;

/** A user with an info+trade key, funded with `funds` (asset code → ledger units). */
export async function createTrader(
  harness: Harness,
  funds: Record<string, number>,
  options: { scopes?: string[]; ipAllowList?: string[] } = {},
): Promise<Trader> {
  const db = harness.exchange.internals.store.db;
  emailCounter += 1;
  const created = await createUser(db, {
    email: `ws-trader-${emailCounter}-${process.pid}@example.test`,
    passwordHash: "unused",
    createdMs: Date.now(),
  });
  if (!created.ok) throw new Error("user exists");
  const { keyId, secret } = generateApiKey();
  const sealed = Buffer.from(harness.secretBox.seal(secret, apiSecretContext(keyId)), "utf8");
  const ok = await createApiKey(db, {
    keyId,
    userId: created.user.userId,
    secretCiphertext: sealed,
    scopes: options.scopes ?? ["info", "trade"],
    ipAllowList: options.ipAllowList ?? [],
    createdMs: Date.now(),
  });
  if (!ok) throw new Error("key exists");
  for (const [code, amountUnits] of Object.entries(funds)) {
    const asset = harness.exchange.assetByCode(code)!;
    expectAccepted(
      await harness.exchange.submit({
        kind: "adjustBalance",
        userId: created.user.userId,
        assetId: asset.assetId,
        amountUnits,
        reason: "test funding",
      }),
    );
  }
  return { userId: created.user.userId, keyId, secret };
}

export function loginFrame(trader: Trader, nonce: number, id = 1): Record<string, unknown> {
  return {
    method: "login",
    id,
    api_key: trader.keyId,
    sign: signWsLogin(trader.secret, trader.keyId, nonce),
    nonce,
  };
}

export type Frame = Record<string, unknown> & { ts: number; event: string };

/** A raw client that records every frame and lets a test wait for the next one matching a predicate. */
export class RawClient {
  readonly frames: Frame[] = [];
  private readonly taken = new Set<number>();
  private waiters: (() => void)[] = [];
  closeCode: number | null = null;
  readonly closed: Promise<number>;

  constructor(readonly socket: WebSocket) {
    socket.on("message", (data) => {
      this.frames.push(JSON.parse(String(data)) as Frame);
      this.wake();
    });
    this.closed = new Promise((resolve) =>
      socket.on("close", (code) => {
        this.closeCode = code;
        this.wake();
        resolve(code);
      }),
    );
  }

  static async connect(url: string, options: WebSocket.ClientOptions = {}): Promise<RawClient> {
    const socket = new WebSocket(url, options);
    const client = new RawClient(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once("open", () => resolve());
      socket.once("error", reject);
    });
    return client;
  }

  send(value: unknown): void {
    this.socket.send(typeof value === "string" ? value : JSON.stringify(value));
  }

  /** The oldest frame not yet taken that matches; frames that do not match stay for later calls. */
  async next(match: (frame: Frame) => boolean = () => true, timeoutMs = 5_000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (let index = 0; index < this.frames.length; index++)
        if (!this.taken.has(index) && match(this.frames[index])) {
          this.taken.add(index);
          return this.frames[index];
        }
      if (this.closeCode !== null) throw new Error(`socket closed (${this.closeCode}) while waiting`);
      const remaining = deadline - Date.now();
      if (remaining <= 0)
        throw new Error(`no matching frame; got ${JSON.stringify(this.pending().slice(-5))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Frames not yet taken by next(). */
  pending(): Frame[] {
    return this.frames.filter((_, index) => !this.taken.has(index));
  }

  /** Closes and resolves once the server side is gone too. */
  async terminate(): Promise<void> {
    if (this.closeCode === null) this.socket.terminate();
    await this.closed;
  }

  close(): void {
    this.socket.close();
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }
}

export const byEvent =
  (event: string, topic?: string) =>
  (frame: Frame): boolean =>
    frame.event === event && (topic === undefined || frame.topic === topic);
