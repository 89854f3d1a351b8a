// The signer on a Unix socket, owner-only (0600, created under a 0177 umask so it is never open to
// others even for a moment). Frames: u32 BE length + UTF-8 JSON, at most MAX_FRAME bytes. One
// request at a time per connection: requests are handled synchronously in arrival order, each
// answered before the next is read. A malformed or oversized frame is answered with its reason and
// the connection closed. A bounded number of connections; idle ones are closed.

import { chmodSync, lstatSync, unlinkSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import type { Response, SignerService } from "./service.ts";

export const MAX_FRAME = 64 * 1024;
const MAX_CONNECTIONS = 16;
const IDLE_MS = 60_000;

export function encodeFrame(value: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(value), "utf8");
  const frame = Buffer.alloc(4 + body.length);
  frame.writeUInt32BE(body.length, 0);
  body.copy(frame, 4);
  return frame;
}

/** Accumulates bytes and yields whole frames; throws FrameError on a bad length. */
export class FrameReader {
  private buffer: Buffer = Buffer.alloc(0);

  constructor(private readonly maxFrame = MAX_FRAME) {}

  push(chunk: Buffer): Buffer[] {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const frames: Buffer[] = [];
    while (this.buffer.length >= 4) {
      const length = this.buffer.readUInt32BE(0);
      if (length === 0 || length > this.maxFrame)
        throw new FrameError("frame-too-large", `a frame is 1 to ${this.maxFrame} bytes, not ${length}`);
      if (this.buffer.length < 4 + length) break;
      frames.push(this.buffer.subarray(4, 4 + length));
      this.buffer = this.buffer.subarray(4 + length);
    }
    return frames;
  }

  get pending(): number {
    return this.buffer.length;
  }
}

export class FrameError extends Error {
  constructor(
    readonly code: "frame-too-large" | "bad-frame",
    message: string,
  ) {
    super(message);
  }
}

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
        request = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(frame));
      } catch {
        return fail("bad-frame", "a frame holds one UTF-8 JSON value");
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
