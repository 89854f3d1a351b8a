// Canonical byte encoding for devnet transactions and state files: fixed-width big-endian
// integers, length-prefixed byte strings. One encoding per value, so equal values give equal
// bytes (and equal hashes). The reader refuses truncated input and trailing bytes.

export class DevnetFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DevnetFormatError";
  }
}

export class ByteWriter {
  private buffer = new Uint8Array(256);
  private length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buffer.subarray(0, this.length));
    this.buffer = next;
  }

  u8(value: number): this {
    this.reserve(1);
    this.buffer[this.length++] = value & 0xff;
    return this;
  }

  u16(value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > 0xffff)
      throw new DevnetFormatError(`u16 out of range: ${value}`);
    return this.u8(value >>> 8).u8(value);
  }

  u32(value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff)
      throw new DevnetFormatError(`u32 out of range: ${value}`);
    return this.u8(value >>> 24)
      .u8(value >>> 16)
      .u8(value >>> 8)
      .u8(value);
  }

  /** Unsigned integer of `bytes` bytes, big-endian. */
  uint(value: bigint, bytes: number): this {
    if (value < 0n || value >= 1n << BigInt(bytes * 8))
      throw new DevnetFormatError(`value out of range for ${bytes} bytes: ${value}`);
    this.reserve(bytes);
    for (let i = bytes - 1; i >= 0; i--) {
      this.buffer[this.length + i] = Number(value & 0xffn);
      value >>= 8n;
    }
    this.length += bytes;
    return this;
  }

  raw(bytes: Uint8Array): this {
    this.reserve(bytes.length);
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
    return this;
  }

  /** Length-prefixed (u32) bytes. */
  bytes(bytes: Uint8Array): this {
    return this.u32(bytes.length).raw(bytes);
  }

  /** Length-prefixed (u16) UTF-8 string. */
  string(value: string): this {
    const encoded = new TextEncoder().encode(value);
    return this.u16(encoded.length).raw(encoded);
  }

  finish(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }
}

export class ByteReader {
  private offset = 0;
  constructor(private readonly data: Uint8Array) {}

  private need(n: number): void {
    if (this.offset + n > this.data.length) throw new DevnetFormatError("truncated input");
  }

  u8(): number {
    this.need(1);
    return this.data[this.offset++];
  }

  u16(): number {
    return (this.u8() << 8) | this.u8();
  }

  u32(): number {
    return ((this.u8() << 24) >>> 0) + (this.u8() << 16) + (this.u8() << 8) + this.u8();
  }

  uint(bytes: number): bigint {
    this.need(bytes);
    let value = 0n;
    for (let i = 0; i < bytes; i++) value = (value << 8n) | BigInt(this.data[this.offset + i]);
    this.offset += bytes;
    return value;
  }

  raw(n: number): Uint8Array {
    this.need(n);
    const out = this.data.slice(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  bytes(maxLength: number): Uint8Array {
    const n = this.u32();
    if (n > maxLength) throw new DevnetFormatError(`byte string of ${n} bytes, at most ${maxLength}`);
    return this.raw(n);
  }

  string(): string {
    const n = this.u16();
    return new TextDecoder("utf-8", { fatal: true }).decode(this.raw(n));
  }

  get done(): boolean {
    return this.offset === this.data.length;
  }

  end(): void {
    if (!this.done) throw new DevnetFormatError(`${this.data.length - this.offset} trailing bytes`);
  }
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]];
  return out;
}

export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new DevnetFormatError("not hex");
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
