// Little-endian byte writer and bounds-checked byte reader, shared by the core's snapshots and
// the journal's command codec (the journal imports from the core, never the other way round).
// The writer is reused across calls, so the hot path allocates nothing but the occasional
// doubling of its buffer; the reader checks every read against the end of its input, so
// truncated bytes fail loudly with a DecodeError.

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
const DEFAULT_MAX_WRITER_SIZE_BYTES = 64 * 1024 * 1024;

/** Thrown by a ByteWriter attached to a caller's buffer when the write would pass its end. */
export class ByteWriterFullError extends RangeError {
  constructor(neededEndOffset: number, endOffset: number) {
    super(`no room: a write needs up to byte ${neededEndOffset}, the attached buffer ends at ${endOffset}`);
    this.name = "ByteWriterFullError";
  }
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder("utf-8", { fatal: true });

export class ByteWriter {
  /** Public so hot encoders can write after one ensure() without a bounds check per byte. */
  buffer: Uint8Array;
  /** A DataView indexing the same bytes as `buffer` (view offset i is buffer[i]). */
  view: DataView;
  /** Offset in `buffer` of the next byte written: bytes written since reset(), or since attach()'s offset. */
  length = 0;
  /** Writes may not pass this offset; attached buffers do not grow. */
  private endOffset: number;
  private attached = false;

  constructor(
    initialSizeBytes = 1024,
    readonly maxSizeBytes = DEFAULT_MAX_WRITER_SIZE_BYTES,
  ) {
    this.buffer = new Uint8Array(initialSizeBytes);
    this.view = new DataView(this.buffer.buffer);
    this.endOffset = initialSizeBytes;
  }

  reset(): void {
    this.length = 0;
  }

  /**
   * Writes go into `buffer` from `offset` on and may not reach past `endOffset`: ensure() throws
   * ByteWriterFullError instead of growing. Lets an encoder write straight into another
   * component's buffer (the journal's pending records) without an intermediate copy.
   */
  attach(buffer: Uint8Array, view: DataView, offset: number, endOffset: number): void {
    // Checked only when they change (the journal swaps two buffers): the getters are not free.
    if (buffer !== this.buffer || view !== this.view) {
      if (view.buffer !== buffer.buffer || view.byteOffset !== buffer.byteOffset) {
        throw new RangeError("attach(): the view must index the same bytes as the buffer");
      }
      this.buffer = buffer;
      this.view = view;
    }
    if (!(offset >= 0 && offset <= endOffset && endOffset <= buffer.length)) {
      throw new RangeError(`attach(): bad range ${offset}..${endOffset} of ${buffer.length} bytes`);
    }
    this.length = offset;
    this.endOffset = endOffset;
    this.attached = true;
  }

  /** A view of the bytes written since reset(); valid until the next write or reset. */
  written(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }

  /** A copy of the bytes written since reset(). */
  finish(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }

  /** Makes room for `sizeBytes` more bytes, doubling the buffer as needed. */
  ensure(sizeBytes: number): void {
    const needed = this.length + sizeBytes;
    if (needed <= this.endOffset) return;
    if (this.attached) throw new ByteWriterFullError(needed, this.endOffset);
    if (needed > this.maxSizeBytes) {
      throw new RangeError(`ByteWriter would exceed its limit of ${this.maxSizeBytes} bytes`);
    }
    let capacity = Math.max(this.buffer.length * 2, 1);
    while (capacity < needed) capacity *= 2;
    const grown = new Uint8Array(Math.min(capacity, this.maxSizeBytes));
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
    this.view = new DataView(grown.buffer);
    this.endOffset = grown.length;
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

  i32(value: number): void {
    this.ensure(4);
    this.view.setInt32(this.length, value, true);
    this.length += 4;
  }

  f64(value: number): void {
    this.ensure(8);
    this.view.setFloat64(this.length, value, true);
    this.length += 8;
  }

  /** UTF-8 bytes behind a u16 length (snapshots; the command codec has its own string form). */
  string(value: string): void {
    const bytes = textEncoder.encode(value);
    if (bytes.length > 0xffff) throw new RangeError("string longer than 65535 UTF-8 bytes");
    this.u16(bytes.length);
    this.ensure(bytes.length);
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
  }
}

const EMPTY_BYTES = new Uint8Array(0);

/**
 * Bounds-checked reader over bytes[start, end). Reusable: reset() points it at other bytes, so
 * a replay decodes every record with one reader (it builds a DataView only when the underlying
 * bytes change, once per journal segment). Offsets in errors and `position` count from start.
 * `what` names the field in the error a truncated read throws.
 */
export class ByteReader {
  bytes: Uint8Array = EMPTY_BYTES;
  private view: DataView = new DataView(EMPTY_BYTES.buffer);
  /** Index in `bytes` of the next byte read. */
  offset = 0;
  private start = 0;
  private end = 0;

  constructor(bytes?: Uint8Array) {
    if (bytes !== undefined) this.reset(bytes, 0, bytes.length);
  }

  /** Reads bytes[start, end) next. */
  reset(bytes: Uint8Array, start: number, end: number): void {
    if (!(start >= 0 && start <= end && end <= bytes.length)) {
      throw new RangeError(`ByteReader.reset(): bad range ${start}..${end} of ${bytes.length} bytes`);
    }
    if (bytes !== this.bytes) {
      this.bytes = bytes;
      this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
    this.offset = start;
    this.start = start;
    this.end = end;
  }

  /** Bytes read since reset(). */
  get position(): number {
    return this.offset - this.start;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  /** Whether every byte has been read. */
  get done(): boolean {
    return this.offset === this.end;
  }

  need(sizeBytes: number, what: string): void {
    if (this.offset + sizeBytes > this.end) {
      throw new DecodeError(
        `truncated input: ${what} needs ${sizeBytes} bytes, ${this.remaining} left`,
        this.position,
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

  i32(what: string): number {
    this.need(4, what);
    const value = this.view.getInt32(this.offset, true);
    this.offset += 4;
    return value;
  }

  f64(what: string): number {
    this.need(8, what);
    const value = this.view.getFloat64(this.offset, true);
    this.offset += 8;
    return value;
  }

  /** The form ByteWriter.string() writes. */
  string(what: string): string {
    const length = this.u16(what);
    this.need(length, what);
    const at = this.offset;
    this.offset += length;
    return textDecoder.decode(this.bytes.subarray(at, at + length));
  }
}
