// Growable byte writer and bounds-checked byte reader shared by the command codec and the
// journal/snapshot file formats. The writer is reused across calls so the hot path allocates
// nothing but the occasional doubling of its buffer.

/** Thrown when bytes cannot be decoded: truncated input, an unknown tag, trailing bytes. */
export class DecodeError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} (at byte ${offset})`);
    this.name = "DecodeError";
  }
}

/** Upper bound of any single buffer the writer grows to: a bug, not load, gets there. */
export const DEFAULT_MAX_WRITER_SIZE_BYTES = 64 * 1024 * 1024;

export class ByteWriter {
  /** Public so hot encoders can write after one ensure() without a bounds check per byte. */
  buffer: Uint8Array;
  view: DataView;
  /** Bytes written since the last reset(). */
  length = 0;

  constructor(
    initialSizeBytes = 1024,
    readonly maxSizeBytes = DEFAULT_MAX_WRITER_SIZE_BYTES,
  ) {
    this.buffer = new Uint8Array(initialSizeBytes);
    this.view = new DataView(this.buffer.buffer);
  }

  reset(): void {
    this.length = 0;
  }

  /** A view of the bytes written since reset(); valid until the next write or reset. */
  written(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }

  /** Makes room for `sizeBytes` more bytes, doubling the buffer as needed. */
  ensure(sizeBytes: number): void {
    const needed = this.length + sizeBytes;
    if (needed <= this.buffer.length) return;
    if (needed > this.maxSizeBytes) {
      throw new RangeError(`ByteWriter would exceed its limit of ${this.maxSizeBytes} bytes`);
    }
    let capacity = this.buffer.length * 2;
    while (capacity < needed) capacity *= 2;
    const grown = new Uint8Array(Math.min(capacity, this.maxSizeBytes));
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
    this.view = new DataView(grown.buffer);
  }

  u8(value: number): void {
    this.ensure(1);
    this.buffer[this.length++] = value;
  }

  u16(value: number): void {
    this.ensure(2);
    this.view.setUint16(this.length, value, true);
    this.length += 2;
  }

  u32(value: number): void {
    this.ensure(4);
    this.view.setUint32(this.length, value, true);
    this.length += 4;
  }

  f64(value: number): void {
    this.ensure(8);
    this.view.setFloat64(this.length, value, true);
    this.length += 8;
  }
}

export class ByteReader {
  private readonly view: DataView;
  offset = 0;

  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  need(sizeBytes: number, what: string): void {
    if (this.offset + sizeBytes > this.bytes.length) {
      throw new DecodeError(
        `truncated input: ${what} needs ${sizeBytes} bytes, ${this.remaining} left`,
        this.offset,
      );
    }
  }

  u8(what: string): number {
    this.need(1, what);
    return this.bytes[this.offset++];
  }

  u16(what: string): number {
    this.need(2, what);
    const value = this.view.getUint16(this.offset, true);
    this.offset += 2;
    return value;
  }

  u32(what: string): number {
    this.need(4, what);
    const value = this.view.getUint32(this.offset, true);
    this.offset += 4;
    return value;
  }

  f64(what: string): number {
    this.need(8, what);
    const value = this.view.getFloat64(this.offset, true);
    this.offset += 8;
    return value;
  }
}
