// A bounded byte FIFO kept in a SharedArrayBuffer, so that the main thread (pushing host input) and the vCPU
// Workers (popping what the guest reads) see one queue. It has no lock of its own: every access happens under the
// owning device's SharedMutex. Layout: Int32 head, Int32 length, then `capacity` bytes of ring.

const HEADER_BYTES = 8;

export class SharedByteFifo {
  readonly #header: Int32Array;
  readonly #ring: Uint8Array;

  constructor(readonly buffer: SharedArrayBuffer) {
    if (buffer.byteLength <= HEADER_BYTES) throw new Error("byte FIFO: the shared buffer holds no ring");
    this.#header = new Int32Array(buffer, 0, 2);
    this.#ring = new Uint8Array(buffer, HEADER_BYTES);
  }

  static create(capacity: number): SharedByteFifo {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new Error(`byte FIFO: capacity ${capacity} is not positive`);
    return new SharedByteFifo(new SharedArrayBuffer(HEADER_BYTES + capacity));
  }

  get capacity(): number {
    return this.#ring.length;
  }

  get length(): number {
    return this.#header[1]!;
  }

  get free(): number {
    return this.capacity - this.length;
  }

  /** Appends as many of `bytes` as fit; returns how many were taken. */
  push(bytes: Uint8Array): number {
    const n = Math.min(bytes.length, this.free);
    const cap = this.capacity;
    let tail = (this.#header[0]! + this.length) % cap;
    for (let i = 0; i < n; i++) {
      this.#ring[tail] = bytes[i]!;
      tail = tail + 1 === cap ? 0 : tail + 1;
    }
    this.#header[1] = this.length + n;
    return n;
  }

  /** Removes and returns the oldest byte, or undefined when empty. */
  pop(): number | undefined {
    const len = this.length;
    if (len === 0) return undefined;
    const head = this.#header[0]!;
    const b = this.#ring[head]!;
    this.#header[0] = head + 1 === this.capacity ? 0 : head + 1;
    this.#header[1] = len - 1;
    return b;
  }

  /** Empties the FIFO; returns how many bytes were discarded. */
  clear(): number {
    const len = this.length;
    this.#header[0] = 0;
    this.#header[1] = 0;
    return len;
  }
}
