// Where the operator API listens (docs/SECURITY.md): it can mint money through balance
// adjustments, so it is never on the public port.
//
// - Always: the Unix socket <data-dir>/operator.sock, mode 0600 inside the 0700 data dir. Opening
//   it needs the data dir owner's OS account, which is the authority: no token, and changes are
//   audited as "operator:cli@<that user>" (the same actor as the offline CLI). The `bulwark` CLI
//   finds it through the data dir's lock file and goes through it while a server runs.
// - Only when asked (--operator-listen HOST:PORT or BULWARK_OPERATOR_LISTEN): a TCP listener of
//   its own, loopback unless a host is named, with the operator bearer token (and its
//   wrong-token throttle), over TLS when the server has a certificate. Any other address than
//   loopback is refused without TLS: the token would cross the network in clear.

import { chmodSync, rmSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import type { OperatorActions } from "../operator/actions.ts";
import { OPERATOR_API_PREFIX, operatorApi } from "../operator/plugin.ts";
import type { OperatorToken } from "../operator/token.ts";

export const OPERATOR_SOCKET_FILE_NAME = "operator.sock";
export const OPERATOR_LISTEN_ENV = "BULWARK_OPERATOR_LISTEN";
const DEFAULT_OPERATOR_HOST = "127.0.0.1";
/** sockaddr_un.sun_path is 108 bytes on Linux (104 on macOS), including the NUL. */
const MAX_SOCKET_PATH_BYTES = 103;

export interface OperatorListenAddress {
  host: string;
  port: number;
}

/**
 * "HOST:PORT", "[v6]:PORT", ":PORT" or "PORT" (loopback); throws with the reason otherwise.
 * Port 0 picks a free one.
 */
export function parseOperatorListen(text: string): OperatorListenAddress {
  const trimmed = text.trim();
  const colon = trimmed.lastIndexOf(":");
  let host = trimmed.slice(0, Math.max(colon, 0));
  const portText = trimmed.slice(colon + 1);
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  const port = Number(portText);
  if (!/^[0-9]{1,5}$/.test(portText) || port > 65_535 || !/^[A-Za-z0-9.:-]*$/.test(host))
    throw new Error(`operator listen address must be HOST:PORT (e.g. 127.0.0.1:8081), got "${text}"`);
  return { host: host === "" ? DEFAULT_OPERATOR_HOST : host, port };
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$/.test(host);
}

export interface OperatorListenersOptions {
  dataDir: string;
  actions: OperatorActions;
  token: OperatorToken;
  verifyCore: () => unknown;
  /** The optional TCP listener (bearer token). */
  listen?: OperatorListenAddress;
  tls?: { cert: Buffer; key: Buffer };
}

export interface OperatorListeners {
  /** The Unix socket's path. */
  socketPath: string;
  /** http(s)://host:port/operator/v1 of the TCP listener, or null when there is none. */
  url: string | null;
  close(): Promise<void>;
}

function operatorApp(options: OperatorListenersOptions, socket: boolean): FastifyInstance {
  const app = Fastify({
    logger: false,
    ...(options.tls === undefined || socket ? {} : { https: options.tls }),
  });
  app.register(operatorApi, {
    prefix: OPERATOR_API_PREFIX,
    actions: options.actions,
    token: options.token,
    verifyCore: options.verifyCore,
    ...(socket ? { socket: { actor: `operator:cli@${userInfo().username}` } } : {}),
  });
  return app;
}

/** Opens the socket (and the TCP listener when asked for). The caller holds the data dir's lock. */
export async function listenOperatorApi(options: OperatorListenersOptions): Promise<OperatorListeners> {
  const socketPath = join(options.dataDir, OPERATOR_SOCKET_FILE_NAME);
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH_BYTES)
    throw new Error(
      `the operator socket path ${socketPath} is longer than ${MAX_SOCKET_PATH_BYTES} bytes, ` +
        "which Unix sockets do not allow; use a data dir with a shorter path",
    );
  if (options.listen !== undefined && !isLoopback(options.listen.host) && options.tls === undefined)
    throw new Error(
      `the operator API on ${options.listen.host}:${options.listen.port} would send its bearer token in ` +
        "clear over the network: give start --tls-cert and --tls-key, or listen on 127.0.0.1",
    );
  const apps: FastifyInstance[] = [];
  const close = async () => {
    for (const app of apps.splice(0)) await app.close();
  };
  try {
    // We hold the data dir's lock, so a socket file here is a dead server's leftover.
    rmSync(socketPath, { force: true });
    const socketApp = operatorApp(options, true);
    apps.push(socketApp);
    await socketApp.listen({ path: socketPath });
    chmodSync(socketPath, 0o600);
    let url: string | null = null;
    if (options.listen !== undefined) {
      const tcpApp = operatorApp(options, false);
      apps.push(tcpApp);
      await tcpApp.listen({ host: options.listen.host, port: options.listen.port });
      const address = tcpApp.server.address();
      const port = typeof address === "object" && address !== null ? address.port : options.listen.port;
      const host = options.listen.host.includes(":") ? `[${options.listen.host}]` : options.listen.host;
      url = `${options.tls === undefined ? "http" : "https"}://${host}:${port}${OPERATOR_API_PREFIX}`;
    }
    return { socketPath, url, close };
  } catch (error) {
    await close();
    throw error;
  }
}
