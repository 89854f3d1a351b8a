// The wire between custody and the isolated signer (src/signer/server.ts serves it, custody's
// signer-client.ts speaks it): frames of u32 BE length + UTF-8 JSON, and the intent's wire form.
// Here, beside the chains' signing contract (signing.ts), because both sides may import chains/
// and neither may import the other: one codec, so the two cannot drift apart. Pure: no I/O.

/** The largest request frame the signer reads (a sign request with a 32 KiB payload fits). */
export const MAX_FRAME = 64 * 1024;

/** An intent as JSON: amount as a decimal string of base units, payload as canonical base64. */
export interface IntentWire {
  /** 16 random bytes, lowercase hex. */
  intentId: string;
  chain: string;
  asset: string;
  kind: string;
  to: string;
  amount: string;
  expiresAtMs: number;
  payload: string;
}

export class FrameError extends Error {
  constructor(
    readonly code: "frame-too-large" | "bad-frame",
    message: string,
  ) {
    super(message);
    this.name = "FrameError";
  }
}

/** One frame: u32 BE length, then the value as UTF-8 JSON. */
export function encodeFrame(value: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(value), "utf8");
  const frame = Buffer.alloc(4 + body.length);
  frame.writeUInt32BE(body.length, 0);
  body.copy(frame, 4);
  return frame;
}

/** Accumulates bytes and yields whole frames; throws FrameError on a length of 0 or over `maxFrame`. */
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

/** Parses one frame's body as UTF-8 JSON; throws FrameError("bad-frame") on invalid UTF-8 or JSON. */
export function decodeFrameBody(frame: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(frame));
  } catch {
    throw new FrameError("bad-frame", "a frame holds one UTF-8 JSON value");
  }
}
