// Collects a byte stream into lines for line-oriented serial back ends (syslog, unix datagram socket), as crosvm's
// Syslogger and WriteSocket do: a line ends at '\n' (a trailing '\r' is dropped), and a line that reaches the buffer's
// capacity without a newline is emitted as it is (crosvm's WriteSocket flushes at 1024 bytes). The partial line lives
// in a SharedArrayBuffer so that output from any vCPU thread continues the same line; callers hold the device mutex.
// Layout: Int32 length, then `capacity` bytes.

export const LINE_CAPACITY = 1024;
const HEADER_BYTES = 4;

export class SharedLineBuffer {
  readonly #len: Int32Array;
  readonly #bytes: Uint8Array;

  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(HEADER_BYTES + LINE_CAPACITY)) {
    if (buffer.byteLength <= HEADER_BYTES) throw new Error("line buffer: the shared buffer holds no bytes");
    this.#len = new Int32Array(buffer, 0, 1);
    this.#bytes = new Uint8Array(buffer, HEADER_BYTES);
  }

  /** Appends `data`, calling `emit` with each completed line (a copy, without its line ending). */
  append(data: Uint8Array, emit: (line: Uint8Array) => void): void {
    for (const b of data) {
      let len = this.#len[0]!;
      if (b === 0x0a) {
        const end = len > 0 && this.#bytes[len - 1] === 0x0d ? len - 1 : len;
        this.#len[0] = 0;
        emit(this.#bytes.slice(0, end));
        continue;
      }
      this.#bytes[len++] = b;
      this.#len[0] = len;
      if (len === this.#bytes.length) {
        this.#len[0] = 0;
        emit(this.#bytes.slice(0, len));
      }
    }
  }
}
