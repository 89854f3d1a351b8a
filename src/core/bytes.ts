// Little-endian byte writer and reader for snapshots. The writer grows by doubling; the reader
// checks every read against the end of its input so a truncated snapshot fails loudly.

import { assert } from "./assert.ts";

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder("utf-8", { fatal: true });

export class ByteWriter {
  private buffer: Uint8Array;
  private view: DataView;
  private length = 0;

  constructor(initialSizeBytes = 1 << 16) {
    this.buffer = new Uint8Array(initialSizeBytes);
    this.view = new DataView(this.buffer.buffer);
  }

  private reserve(sizeBytes: number): void {
    if (this.length + sizeBytes <= this.buffer.length) return;
    let capacity = this.buffer.length * 2;
    while (capacity < this.length + sizeBytes) capacity *= 2;
    const grown = new Uint8Array(capacity);
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
    this.view = new DataView(grown.buffer);
  }

  u8(value: number): void {
    this.reserve(1);
    this.buffer[this.length] = value;
    this.length += 1;
  }
  u16(value: number): void {
    this.reserve(2);
    this.view.setUint16(this.length, value, true);
    this.length += 2;
  }
  u32(value: number): void {
    this.reserve(4);
    this.view.setUint32(this.length, value, true);
    this.length += 4;
  }
  i32(value: number): void {
    this.reserve(4);
    this.view.setInt32(this.length, value, true);
    this.length += 4;
  }
  f64(value: number): void {
    this.reserve(8);
    this.view.setFloat64(this.length, value, true);
    this.length += 8;
  }
  string(value: string): void {
    const bytes = textEncoder.encode(value);
    assert(bytes.length <= 0xffff, "string too long for a snapshot");
    this.u16(bytes.length);
    this.reserve(bytes.length);
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
  }

  /** A copy of the bytes written so far. */
  finish(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }
}

export class ByteReader {
  private offset = 0;
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private take(sizeBytes: number): number {
    const at = this.offset;
    if (at + sizeBytes > this.bytes.length) throw new Error(`snapshot truncated at byte ${at}`);
    this.offset += sizeBytes;
    return at;
  }

  u8(): number {
    return this.view.getUint8(this.take(1));
  }
  u16(): number {
    return this.view.getUint16(this.take(2), true);
  }
  u32(): number {
    return this.view.getUint32(this.take(4), true);
  }
  i32(): number {
    return this.view.getInt32(this.take(4), true);
  }
  f64(): number {
    return this.view.getFloat64(this.take(8), true);
  }
  string(): string {
    const length = this.u16();
    const at = this.take(length);
    return textDecoder.decode(this.bytes.subarray(at, at + length));
  }
  get done(): boolean {
    return this.offset === this.bytes.length;
  }
}
