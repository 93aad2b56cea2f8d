// A host end of one VM serial port as a pair of FIFOs: NAME.in (host -> VM) and NAME.out (VM -> host).
// QEMU opens the pair for `-chardev pipe,path=NAME`, crosvm for `--serial type=file,path=NAME.out,input=NAME.in`.
// Both ends are opened O_RDWR so neither side blocks in open() or sees EOF when the other closes.
import { closeSync, constants, openSync, readSync, writeSync } from "node:fs";

const O_RDWR_NONBLOCK = constants.O_RDWR | constants.O_NONBLOCK;

export class SerialPipe {
  readonly inPath: string;
  readonly outPath: string;
  #text = "";
  #listeners: ((text: string) => void)[] = [];
  #readFd: number;
  #writeFd: number;
  #reader: { cancel(): Promise<void> } | undefined;
  #closed = false;

  private constructor(readonly base: string) {
    this.inPath = `${base}.in`;
    this.outPath = `${base}.out`;
    for (const path of [this.inPath, this.outPath]) {
      const made = Bun.spawnSync(["mkfifo", "-m", "0600", path], { stderr: "pipe" });
      if (made.exitCode !== 0) throw new Error(`mkfifo ${path} failed: ${made.stderr.toString().trim()}`);
    }
    this.#readFd = openSync(this.outPath, O_RDWR_NONBLOCK);
    this.#writeFd = openSync(this.inPath, O_RDWR_NONBLOCK);
    void this.#pump();
  }

  /** Creates BASE.in and BASE.out and starts collecting what the VM writes. */
  static create(base: string): SerialPipe {
    return new SerialPipe(base);
  }

  async #pump(): Promise<void> {
    const decoder = new TextDecoder();
    // The FIFO is held open for writing by ourselves too, so a stream ending early is not the VM's EOF:
    // read again until close().
    while (!this.#closed) {
      const reader = Bun.file(this.#readFd).stream().getReader();
      this.#reader = reader;
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done || this.#closed) break;
          const text = decoder.decode(value, { stream: true });
          this.#text += text;
          for (const listener of this.#listeners) listener(text);
        }
      } catch (error) {
        if (this.#closed) return;
        this.#text += `\n[serial pipe ${this.outPath}: read failed: ${String(error)}]\n`;
      }
      if (!this.#closed) {
        console.warn(`serial pipe ${this.outPath}: read stream ended while open; reading again`);
        await Bun.sleep(10);
      }
    }
  }

  /** Everything the VM wrote so far. */
  get text(): string {
    return this.#text;
  }

  /** Forgets the text collected so far (a new guest is about to use the port). */
  clear(): void {
    this.#text = "";
  }

  onData(listener: (text: string) => void): () => void {
    this.#listeners.push(listener);
    return () => {
      this.#listeners = this.#listeners.filter((l) => l !== listener);
    };
  }

  /** Writes all of `text`, waiting while the FIFO is full. */
  async write(text: string): Promise<void> {
    const bytes = new TextEncoder().encode(text);
    let offset = 0;
    while (offset < bytes.length) {
      if (this.#closed) throw new Error(`serial pipe ${this.inPath} is closed`);
      try {
        offset += writeSync(this.#writeFd, bytes, offset);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EAGAIN") throw error;
        await Bun.sleep(5);
      }
    }
  }

  /**
   * Drops what was written to the VM but not yet read by it (NAME.in is held read-write here, so its unread bytes
   * can be read back), so that a request meant for an earlier guest cannot reach the next one.
   */
  discardUnsent(): void {
    const scratch = new Uint8Array(4096);
    for (;;) {
      try {
        if (readSync(this.#writeFd, scratch) <= 0) return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "EAGAIN") return;
        throw error;
      }
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    void this.#reader?.cancel().catch(() => {});
    closeSync(this.#readFd);
    closeSync(this.#writeFd);
  }
}
