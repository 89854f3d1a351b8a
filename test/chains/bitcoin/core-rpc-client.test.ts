// The JSON-RPC client for Bitcoin Core against an in-test node (fixtures/core-rpc-node.ts): basic
// auth from a password or the cookie file (followed across a node restart), the node's error
// codes surfaced, batches, and every bound: deadline, response size, unexpected answers.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  BitcoinRpcClient,
  type BitcoinRpcClientOptions,
  BitcoinRpcError,
  BitcoinRpcTransportError,
  RPC_ERRORS,
} from "../../../src/chains/bitcoin/core-rpc-client.ts";
import { RpcNumber } from "../../../src/chains/bitcoin/core-rpc-json.ts";
import { CHAIN_A, FakeBitcoind, freshState } from "./fixtures/core-rpc-node.ts";

let node: FakeBitcoind;
let dir: string;
const clients: BitcoinRpcClient[] = [];

beforeAll(async () => {
  node = await new FakeBitcoind().start();
  dir = mkdtempSync(join(tmpdir(), "bulwark-core-rpc-"));
});

afterEach(() => {
  node.state = freshState();
  node.credentials = "custody:correct horse";
  node.raw = null;
  node.overrides.clear();
  node.calls.length = 0;
  for (const c of clients.splice(0)) c.close();
});

afterAll(async () => {
  await node.stop();
  rmSync(dir, { recursive: true, force: true });
});

function client(options: Partial<BitcoinRpcClientOptions> = {}): BitcoinRpcClient {
  const c = new BitcoinRpcClient({
    url: node.url,
    auth: { user: "custody", password: "correct horse" },
    wallet: node.walletName,
    ...options,
  });
  clients.push(c);
  return c;
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a failure");
}

describe("BitcoinRpcClient", () => {
  it("calls with user and password, wallet calls under /wallet/<name> (URL-encoded)", async () => {
    const rpc = client();
    expect(await rpc.call("getblockcount")).toEqual(new RpcNumber("103"));
    expect(await rpc.call("getblockhash", [101])).toBe(CHAIN_A[101]);
    const unspent = (await rpc.call("listunspent", [1, 9_999_999, [], false], { wallet: true })) as unknown[];
    expect(unspent.length).toBeGreaterThan(0);
    expect(node.calls.map((c) => [c.method, c.wallet])).toEqual([
      ["getblockcount", null],
      ["getblockhash", null],
      ["listunspent", "bulwark watch"],
    ]);
  });

  it("keeps amounts as the node wrote them", async () => {
    const info = (await client().call("getmempoolinfo")) as Record<string, RpcNumber>;
    expect(info.mempoolminfee.text).toBe("0.00001000");
    expect(info.mempoolminfee.toSatoshi()).toBe(1_000n);
  });

  it("surfaces the node's error code and message", async () => {
    const rpc = client();
    const outOfRange = await failure(rpc.call("getblockhash", [1_000]));
    expect(outOfRange).toBeInstanceOf(BitcoinRpcError);
    expect(outOfRange).toMatchObject({
      method: "getblockhash",
      code: RPC_ERRORS.INVALID_PARAMETER,
      rpcMessage: "Block height out of range",
    });
    // HTTP 404 with an error object.
    expect(await failure(rpc.call("getnothing"))).toMatchObject({ code: RPC_ERRORS.METHOD_NOT_FOUND });
    // A wallet RPC sent to the node's root.
    expect(await failure(rpc.call("listunspent"))).toMatchObject({ code: RPC_ERRORS.WALLET_NOT_SPECIFIED });
    // Another wallet name.
    const other = client({ wallet: "hot" });
    expect(await failure(other.call("listunspent", [], { wallet: true }))).toMatchObject({
      code: RPC_ERRORS.WALLET_NOT_FOUND,
    });
    // No wallet configured: refused before sending.
    await expect(client({ wallet: undefined }).call("listunspent", [], { wallet: true })).rejects.toThrow(
      /no wallet configured/,
    );
  });

  it("refuses a wrong password as an auth failure (HTTP 401, empty body)", async () => {
    const error = await failure(
      client({ auth: { user: "custody", password: "wrong" } }).call("getblockcount"),
    );
    expect(error).toBeInstanceOf(BitcoinRpcTransportError);
    expect(error).toMatchObject({ kind: "auth", status: 401 });
    expect((error as Error).message).toMatch(/authentication failed/);
  });

  it("reads the cookie file, and reads it again after a 401 (the node restarted)", async () => {
    const cookieFile = join(dir, ".cookie");
    writeFileSync(cookieFile, "__cookie__:0a1b2c3d\n");
    node.credentials = "__cookie__:0a1b2c3d";
    const rpc = client({ auth: { cookieFile } });
    expect(await rpc.call("getblockcount")).toEqual(new RpcNumber("103"));
    // Restart: a new cookie.
    writeFileSync(cookieFile, "__cookie__:ffeeddcc");
    node.credentials = "__cookie__:ffeeddcc";
    let unauthorized = 0;
    node.raw = (req) => {
      if (req.headers.authorization === `Basic ${Buffer.from("__cookie__:0a1b2c3d").toString("base64")}`)
        unauthorized++;
      return false;
    };
    expect(await rpc.call("getblockcount")).toEqual(new RpcNumber("103"));
    expect(unauthorized).toBe(1);
    // A cookie that no longer opens the node: an auth failure, not a loop.
    node.credentials = "__cookie__:99999999";
    expect(await failure(rpc.call("getblockcount"))).toMatchObject({ kind: "auth" });
    // A missing or malformed cookie file.
    const missing = client({ auth: { cookieFile: join(dir, "missing") } });
    expect(await failure(missing.call("getblockcount"))).toMatchObject({ kind: "auth" });
    writeFileSync(join(dir, "bad"), "no colon here");
    const bad = client({ auth: { cookieFile: join(dir, "bad") } });
    await expect(bad.call("getblockcount")).rejects.toThrow(/not user:password/);
  });

  it("batches: one result or error per call, in order; long batches split", async () => {
    const rpc = client({ maxBatchSize: 2 });
    let requests = 0;
    node.raw = () => {
      requests++;
      return false;
    };
    const results = await rpc.batch([
      { method: "getblockhash", params: [101] },
      { method: "getblockhash", params: [1_000] },
      { method: "getblockcount" },
    ]);
    expect(requests).toBe(2);
    expect(results[0]).toEqual({ ok: true, result: CHAIN_A[101] });
    expect(results[1].ok).toBe(false);
    if (!results[1].ok) expect(results[1].error.code).toBe(RPC_ERRORS.INVALID_PARAMETER);
    expect(results[2]).toEqual({ ok: true, result: new RpcNumber("103") });
    expect(await rpc.batch([])).toEqual([]);
  });

  it("gives up after the deadline when the node does not answer", async () => {
    node.raw = () => true; // never answers
    const started = Date.now();
    const error = await failure(client({ timeoutMs: 200 }).call("getblockcount"));
    expect(error).toMatchObject({ kind: "timeout" });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("cuts a response larger than the cap, declared or streamed", async () => {
    const rpc = client({ maxResponseBytes: 10_000 });
    node.raw = (_req, res) => {
      res.writeHead(200, { "content-type": "application/json", "content-length": 50_000 });
      res.write("{");
      return true;
    };
    expect(await failure(rpc.call("getblock"))).toMatchObject({ kind: "responseTooLarge" });
    node.raw = (_req, res) => {
      res.writeHead(200, { "content-type": "application/json" }); // chunked, no length
      const chunk = `"${"a".repeat(4_000)}",`;
      let sent = 0;
      const pump = () => {
        if (res.destroyed || sent++ > 100) return res.end();
        res.write(chunk, pump);
      };
      res.write(`{"result":[`, pump);
      return true;
    };
    expect(await failure(rpc.call("getblock"))).toMatchObject({ kind: "responseTooLarge" });
    // The client still works afterwards.
    node.raw = null;
    expect(await rpc.call("getblockcount")).toEqual(new RpcNumber("103"));
    // A per-call cap.
    await expect(client().call("getblockchaininfo", [], { maxResponseBytes: 100 })).rejects.toMatchObject({
      kind: "responseTooLarge",
    });
  });

  it("reports an HTTP failure without a JSON-RPC body, and answers that are not JSON-RPC", async () => {
    const rpc = client();
    node.raw = (_req, res) => {
      res.writeHead(503, { "content-type": "text/plain" });
      res.end("Work queue depth exceeded");
      return true;
    };
    const busy = await failure(rpc.call("getblockcount"));
    expect(busy).toMatchObject({ kind: "http", status: 503 });
    expect((busy as Error).message).toMatch(/Work queue depth exceeded/);
    node.raw = (_req, res) => {
      res.writeHead(200, { "content-type": "text/html" });
      res.end("<html>proxy login</html>");
      return true;
    };
    expect(await failure(rpc.call("getblockcount"))).toMatchObject({ kind: "badResponse" });
    node.raw = (_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"result":5,"error":null,"id":987654}');
      return true;
    };
    await expect(rpc.call("getblockcount")).rejects.toThrow(/response id/);
    node.raw = (_req, res) => {
      res.writeHead(403);
      res.end();
      return true;
    };
    expect(await failure(rpc.call("getblockcount"))).toMatchObject({ kind: "auth", status: 403 });
  });

  it("reports a node that cannot be reached", async () => {
    const gone = await new FakeBitcoind().start();
    const url = gone.url;
    await gone.stop();
    const error = await failure(client({ url }).call("getblockcount"));
    expect(error).toMatchObject({ kind: "connection" });
  });

  it("refuses bad configuration", () => {
    const auth = { user: "u", password: "p" };
    expect(() => new BitcoinRpcClient({ url: "http://u:p@127.0.0.1:8332", auth })).toThrow(/not in the URL/);
    expect(() => new BitcoinRpcClient({ url: "ftp://127.0.0.1", auth })).toThrow(/http or https/);
    expect(() => new BitcoinRpcClient({ url: "not a url", auth })).toThrow(/bad bitcoind RPC URL/);
    expect(() => new BitcoinRpcClient({ url: node.url, auth: { user: "a:b", password: "p" } })).toThrow(
      /':'/,
    );
    expect(() => new BitcoinRpcClient({ url: node.url, auth, timeoutMs: 0 })).toThrow(/timeoutMs/);
  });
});
