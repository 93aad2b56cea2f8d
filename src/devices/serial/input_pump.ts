// Feeds a host byte stream (stdin, an input file or a FIFO) into a UART from the main thread without blocking its
// event loop. Policy when the UART's input FIFO is full: reading stops and the unaccepted bytes wait, retried every
// few milliseconds until the guest has read enough; nothing is dropped, and a stalled guest simply stops the host
// reading further (the pipe or terminal then buffers and eventually blocks its writer). At end of input the pump
// stops; the guest sees no further data.
// Bun's file streams read a character device other than its own stdin with pread, which a non-seekable one (a
// terminal such as /dev/ttyS0 or a pty, a virtio-serial port such as /dev/vport0p1) refuses with ESPIPE; those
// are read with read(2) on Bun's file thread pool instead (node:fs read at no position).
import { fstatSync, read } from "node:fs";
import { isatty } from "../../../ffi/libc.ts";
import { logger } from "../../base/log.ts";

const log = logger("devices::serial");

/** How long to wait before offering held-back input again while the guest's FIFO is full. */
const FULL_RETRY_MS = 2;
/** Bytes one read(2) of a character device asks for. */
const CHAR_DEVICE_READ = 4096;

export interface InputTarget {
  /** Takes as many of `bytes` as fit; returns how many it took. */
  queueInput(bytes: Uint8Array): number;
}

export class InputPump {
  #stopped = false;
  #reader: { cancel(): Promise<void> } | undefined;
  #done: Promise<void> | undefined;

  constructor(
    readonly fd: number,
    readonly target: InputTarget,
    readonly what: string,
  ) {}

  /** Starts pumping; a second call does nothing. */
  start(): void {
    if (this.#done || this.#stopped) return;
    this.#done = this.#run().catch((e: unknown) => {
      if (!this.#stopped)
        log.error(`reading ${this.what} failed: ${e instanceof Error ? e.message : String(e)}`);
    });
  }

  /** Resolves when the pump has stopped (end of input, stop(), or a read error). */
  get done(): Promise<void> {
    return this.#done ?? Promise.resolve();
  }

  /** Stops reading; idempotent and synchronous. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#reader?.cancel().catch(() => {});
  }

  async #run(): Promise<void> {
    const chunks = needsPlainRead(this.fd) ? this.#plainReads() : this.#streamReads();
    for await (const value of chunks) {
      if (this.#stopped) return;
      let offset = 0;
      while (offset < value.length) {
        offset += this.target.queueInput(value.subarray(offset));
        if (offset < value.length) {
          await Bun.sleep(FULL_RETRY_MS);
          if (this.#stopped) return;
        }
      }
    }
  }

  /** Chunks from a Bun file stream (pipes, FIFOs, sockets, terminals, regular files). */
  async *#streamReads(): AsyncGenerator<Uint8Array> {
    const reader = Bun.file(this.fd).stream().getReader();
    this.#reader = reader;
    if (this.#stopped) {
      await reader.cancel();
      return;
    }
    for (;;) {
      const { value, done } = await reader.read();
      if (done || this.#stopped) return;
      yield value;
    }
  }

  /** Chunks from read(2) at no position, until end of input or stop(). */
  async *#plainReads(): AsyncGenerator<Uint8Array> {
    while (!this.#stopped) {
      const buffer = new Uint8Array(CHAR_DEVICE_READ);
      const n = await new Promise<number>((resolve, reject) =>
        read(this.fd, buffer, 0, buffer.length, null, (error, bytes) =>
          error ? reject(error) : resolve(bytes),
        ),
      );
      if (n === 0 || this.#stopped) return;
      yield buffer.subarray(0, n);
    }
  }
}

/** A character device Bun's file stream would pread: any but a terminal on stdin, which Bun reads itself. */
function needsPlainRead(fd: number): boolean {
  return fstatSync(fd).isCharacterDevice() && !(fd === 0 && isatty(fd));
}
