// virtio-console (virtio 1.2 section 5.3), single port 0 without VIRTIO_CONSOLE_F_MULTIPORT: queue 0 is port 0's
// receiveq (host -> guest), queue 1 its transmitq (guest -> host). Input is pushed in by the VMM (stdin, a file,
// a socket, like the UART backends) and waits in a bounded buffer until the guest posts receive buffers; output
// goes to a ConsoleOutput (an fd to write to, in the VMM).
import { writeAll } from "../../../ffi/libc.ts";
import { logger } from "../../base/log.ts";
import { VIRTIO_ID_CONSOLE } from "./constants.ts";
import { Reader, Writer } from "./descriptor_utils.ts";
import { type ActiveState, BASE_FEATURES, VirtioDeviceBase } from "./device_base.ts";
import { processQueue } from "./process_queue.ts";
import type { Queue } from "./split_queue.ts";

export const CONSOLE_QUEUE_SIZE = 256;
export const CONSOLE_RECEIVEQ = 0;
export const CONSOLE_TRANSMITQ = 1;
/** struct virtio_console_config: cols, rows, max_nr_ports, emerg_wr (5.3.4); all zero without features. */
export const CONSOLE_CONFIG_SIZE = 12;
/** Input kept while the guest has no receive buffers; older bytes are dropped beyond this. */
export const CONSOLE_INPUT_LIMIT = 1 << 20;

export interface ConsoleOutput {
  write(bytes: Uint8Array): void;
}

/** Writes guest output to a file descriptor (stdout, a file, a pty). */
export class FdConsoleOutput implements ConsoleOutput {
  constructor(readonly fd: number) {}
  write(bytes: Uint8Array): void {
    writeAll(this.fd, bytes, `console output fd ${this.fd}`);
  }
}

export class VirtioConsole extends VirtioDeviceBase {
  readonly debugLabel = "virtio-console";
  readonly deviceType = VIRTIO_ID_CONSOLE;
  readonly queueMaxSizes = [CONSOLE_QUEUE_SIZE, CONSOLE_QUEUE_SIZE];
  protected readonly log = logger("devices::virtio::console");
  #input: Uint8Array[] = [];
  #inputBytes = 0;
  droppedInput = 0;

  constructor(readonly output?: ConsoleOutput) {
    super();
  }

  features(): bigint {
    return BASE_FEATURES;
  }

  readConfig(_offset: number, data: Uint8Array): void {
    data.fill(0);
  }

  /** Bytes waiting for guest receive buffers. */
  get pendingInput(): number {
    return this.#inputBytes;
  }

  /** Queues host input for the guest and delivers what fits now. */
  pushInput(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.#input.push(bytes.slice());
    this.#inputBytes += bytes.length;
    while (this.#inputBytes > CONSOLE_INPUT_LIMIT) {
      const old = this.#input.shift()!;
      this.#inputBytes -= old.length;
      this.droppedInput += old.length;
    }
    this.queueNotify(CONSOLE_RECEIVEQ);
  }

  protected override onActivate(active: ActiveState): void {
    const rx = active.queues.get(CONSOLE_RECEIVEQ);
    if (rx && this.#inputBytes > 0) this.processQueue(CONSOLE_RECEIVEQ, rx, active);
  }

  protected processQueue(index: number, queue: Queue, active: ActiveState): void {
    if (index === CONSOLE_RECEIVEQ) {
      processQueue(queue, active.interrupt, (chain) => this.#receive(Writer.of(chain)), this.guestLog, {
        more: () => this.#inputBytes > 0,
      });
    } else if (index === CONSOLE_TRANSMITQ) {
      processQueue(
        queue,
        active.interrupt,
        (chain) => {
          const r = Reader.of(chain);
          const bytes = r.readExact(r.available);
          try {
            this.output?.write(bytes);
          } catch (e) {
            this.guestLog.warn("output failed", `console output failed: ${(e as Error).message}`);
          }
          return 0;
        },
        this.guestLog,
      );
    }
  }

  #receive(w: Writer): number {
    let n = 0;
    while (w.available > 0 && this.#input.length > 0) {
      const head = this.#input[0]!;
      const k = w.write(head);
      n += k;
      this.#inputBytes -= k;
      if (k === head.length) this.#input.shift();
      else this.#input[0] = head.subarray(k);
    }
    return n;
  }
}
