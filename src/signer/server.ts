// The signer on a Unix socket, owner-only (0600, created under a 0177 umask so it is never open to
// others even for a moment). Frames: u32 BE length + UTF-8 JSON, at most MAX_FRAME bytes. One
// request at a time per connection: requests are handled synchronously in arrival order, each
// answered before the next is read. A malformed or oversized frame is answered with its reason and
// the connection closed. A bounded number of connections; idle ones are closed.

import { chmodSync, lstatSync, unlinkSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import {
  decodeFrameBody,
  encodeFrame,
  FrameError,
  FrameReader,
  MAX_FRAME,
} from "../chains/signer-protocol.ts";
import type { Response, SignerService } from "./service.ts";

const MAX_CONNECTIONS = 16;
const IDLE_MS = 60_000;

// The codec is shared with custody's client (chains/signer-protocol.ts); re-exported for the tests.
export { encodeFrame, FrameError, FrameReader, MAX_FRAME };

function serve(socket: Socket, service: SignerService): void {
  const reader = new FrameReader();
  socket.setTimeout(IDLE_MS, () => socket.destroy());
  const fail = (code: string, detail: string) => {
    socket.end(encodeFrame({ ok: false, code, detail }));
    socket.removeAllListeners("data");
  };
  socket.on("data", (chunk: Buffer) => {
    let frames: Buffer[];
    try {
      frames = reader.push(chunk);
    } catch (error) {
      const frameError = error as FrameError;
      return fail(frameError.code, frameError.message);
    }
    for (const frame of frames) {
      let request: unknown;
      try {
        request = decodeFrameBody(frame);
      } catch (error) {
        return fail("bad-frame", (error as FrameError).message);
      }
      const response: Response = service.handle(request);
      socket.write(encodeFrame(response));
    }
  });
  socket.on("error", () => socket.destroy());
}

/** Listens on `socketPath` (a stale socket file there is replaced; any other file is refused). */
export async function listenSigner(socketPath: string, service: SignerService): Promise<Server> {
  try {
    if (lstatSync(socketPath).isSocket()) unlinkSync(socketPath);
    else throw new Error(`${socketPath} exists and is not a socket`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const server = createServer((socket) => serve(socket, service));
  server.maxConnections = MAX_CONNECTIONS;
  const previous = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(socketPath, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } finally {
    process.umask(previous);
  }
  chmodSync(socketPath, 0o600);
  return server;
}
