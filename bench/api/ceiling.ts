// The ceiling for `npm run bench:api` (issue 10 §1): the most one Node process can do here for a
// signed EXMO request, measured in the same run with the same load generator and connections.
// A bare Fastify server whose order_create and order_cancel only read the form body and verify
// the HMAC-SHA512 signature (the same parser and verifier the gateway uses), then answer as the
// real routes do (an order id, result true) so the load generator runs unchanged. No rate limit,
// no nonce, no core, no journal: everything the real path adds on top is what the ratio measures.

import type { AddressInfo } from "node:net";
import Fastify from "fastify";
import { verifyRestSignature } from "../../src/gateway/auth/signature.ts";
import { parseForm } from "../../src/gateway/http/form.ts";

export interface CeilingServer {
  url: string;
  close(): Promise<void>;
}

export async function startCeilingServer(
  keys: readonly { keyId: string; secret: string }[],
): Promise<CeilingServer> {
  const secrets = new Map(keys.map((key) => [key.keyId, key.secret]));
  const fastify = Fastify({ logger: false, bodyLimit: 4 * 1024 });
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, done) => done(null, body));
  let nextOrderId = 1;
  const verified = (headers: Record<string, unknown>, body: unknown): boolean => {
    const raw = Buffer.isBuffer(body) ? body : Buffer.alloc(0);
    const params = parseForm(raw.toString("utf8"));
    const secret = typeof headers.key === "string" ? secrets.get(headers.key) : undefined;
    const sign = typeof headers.sign === "string" ? headers.sign : undefined;
    return secret !== undefined && params.nonce !== undefined && verifyRestSignature(secret, raw, sign);
  };
  fastify.post("/v1.1/order_create", async (request) =>
    verified(request.headers, request.body)
      ? { result: true, error: "", order_id: nextOrderId++, client_id: 0 }
      : { result: false, error: "Error 40005: Authorization error, incorrect signature" },
  );
  fastify.post("/v1.1/order_cancel", async (request) =>
    verified(request.headers, request.body)
      ? { result: true, error: "" }
      : { result: false, error: "Error 40005: Authorization error, incorrect signature" },
  );
  await fastify.listen({ port: 0, host: "127.0.0.1" });
  const { port } = fastify.server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => fastify.close() };
}
