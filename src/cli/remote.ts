// The operator API of a running server, through the Unix socket its lock file names
// (src/server/operator-listeners.ts). No token: the socket's file mode is the authority. Answers
// are the same JSON objects OperatorActions returns offline, so commands print the same output.

import { request } from "node:http";
import { CliError, type CliErrorKind } from "./args.ts";

const OPERATOR_API_PREFIX = "/operator/v1";
/** An operator action waits for the core and the store; a stuck server should not hang the CLI forever. */
const REQUEST_TIMEOUT_MS = 60_000;
const KINDS_KEPT: ReadonlySet<string> = new Set(["invalid", "notFound", "conflict", "rejected"]);

export class OperatorClient {
  constructor(readonly socketPath: string) {}

  get<T>(path: string): Promise<T> {
    return this.call("GET", path);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.call("POST", path, body);
  }

  delete<T>(path: string): Promise<T> {
    return this.call("DELETE", path);
  }

  private call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const outgoing = request(
        {
          socketPath: this.socketPath,
          method,
          path: `${OPERATOR_API_PREFIX}${path}`,
          timeout: REQUEST_TIMEOUT_MS,
          headers:
            payload === undefined
              ? {}
              : { "content-type": "application/json", "content-length": payload.length },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("error", reject);
          response.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            let json: unknown;
            try {
              json = JSON.parse(text);
            } catch {
              return reject(new CliError("failed", `the server answered ${response.statusCode}: ${text}`));
            }
            if ((response.statusCode ?? 500) < 400) return resolve(json as T);
            reject(remoteError(json, response.statusCode ?? 500));
          });
        },
      );
      outgoing.on("timeout", () => outgoing.destroy(new Error("no answer within 60 s")));
      outgoing.on("error", (error) =>
        reject(
          new CliError(
            "failed",
            `the server's operator socket ${this.socketPath} did not answer (${error.message})`,
          ),
        ),
      );
      outgoing.end(payload);
    });
  }
}

function remoteError(json: unknown, status: number): CliError {
  const error = (json as { error?: { kind?: unknown; message?: unknown } }).error;
  const kind = typeof error?.kind === "string" ? error.kind : "";
  const message = typeof error?.message === "string" ? error.message : `status ${status}`;
  return new CliError(KINDS_KEPT.has(kind) ? (kind as CliErrorKind) : "failed", message);
}
