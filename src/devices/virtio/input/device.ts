// virtio-input (virtio 1.2 section 5.8): the host's events go to the driver on eventq, one struct
// virtio_input_event per buffer (the Linux driver posts 8-byte buffers); the driver's status events (keyboard
// LEDs) come back on statusq and go to the event source (a socket or the host evdev node). Events wait in a
// bounded buffer while the guest has no eventq buffers; beyond it the oldest are dropped and counted.
import { logger } from "../../../base/log.ts";
import { Reader, Writer } from "../descriptor_utils.ts";
import { type ActiveState, BASE_FEATURES, VirtioDeviceBase } from "../device_base.ts";
import { processQueue } from "../process_queue.ts";
import type { Queue } from "../split_queue.ts";
import { InputConfigSpace, type InputDeviceConfig } from "./config.ts";
import {
  INPUT_EVENTQ,
  INPUT_QUEUE_SIZE,
  INPUT_STATUSQ,
  VIRTIO_ID_INPUT,
  VIRTIO_INPUT_EVENT_SIZE,
} from "./constants.ts";
import { decodeVirtioEvent, encodeVirtioEvent, eventProblem, type InputEvent } from "./events.ts";

/** Events kept while the guest posts no eventq buffers (a few seconds of a busy touch screen). */
export const INPUT_PENDING_LIMIT = 4096;
/** Status events read from one statusq chain at most (the Linux driver sends one per chain). */
export const STATUS_EVENTS_PER_CHAIN = 64;

/** Where the driver's status events go (the event source). */
export interface StatusSink {
  write(e: InputEvent): void;
}

export class VirtioInput extends VirtioDeviceBase {
  readonly deviceType = VIRTIO_ID_INPUT;
  readonly queueMaxSizes = [INPUT_QUEUE_SIZE, INPUT_QUEUE_SIZE];
  protected readonly log = logger("devices::virtio::input");
  readonly #config: InputConfigSpace;
  readonly #event = new Uint8Array(VIRTIO_INPUT_EVENT_SIZE);
  #pending: InputEvent[] = [];
  #head = 0;
  /** Events dropped because the pending buffer was full, or a guest buffer was too small for one. */
  droppedEvents = 0;
  /** Status events the driver sent that the device does not list. */
  refusedStatus = 0;

  constructor(
    readonly debugLabel: string,
    readonly config: InputDeviceConfig,
    readonly status?: StatusSink,
  ) {
    super();
    this.#config = new InputConfigSpace(config);
  }

  features(): bigint {
    return BASE_FEATURES;
  }

  readConfig(offset: number, data: Uint8Array): void {
    this.#config.read(offset, data);
  }

  override writeConfig(offset: number, data: Uint8Array): void {
    this.#config.write(offset, data);
  }

  /** Events waiting for eventq buffers. */
  get pendingEvents(): number {
    return this.#pending.length - this.#head;
  }

  /** Queues host events for the guest, in order, and delivers what the guest has buffers for. */
  pushEvents(events: readonly InputEvent[]): void {
    if (events.length === 0) return;
    for (const e of events) this.#pending.push(e);
    const excess = this.pendingEvents - INPUT_PENDING_LIMIT;
    if (excess > 0) {
      this.#head += excess;
      this.droppedEvents += excess;
    }
    this.#compact();
    this.queueNotify(INPUT_EVENTQ);
  }

  protected override onActivate(active: ActiveState): void {
    const q = active.queues.get(INPUT_EVENTQ);
    if (q && this.pendingEvents > 0) this.processQueue(INPUT_EVENTQ, q, active);
  }

  protected processQueue(index: number, queue: Queue, active: ActiveState): void {
    if (index === INPUT_EVENTQ) {
      processQueue(queue, active.interrupt, (chain) => this.#deliver(Writer.of(chain)), this.guestLog, {
        more: () => this.pendingEvents > 0,
      });
      this.#compact();
    } else if (index === INPUT_STATUSQ) {
      processQueue(queue, active.interrupt, (chain) => this.#status(Reader.of(chain)), this.guestLog);
    }
  }

  #deliver(w: Writer): number {
    const e = this.#pending[this.#head++]!;
    if (w.available < VIRTIO_INPUT_EVENT_SIZE) {
      this.droppedEvents++;
      this.guestLog.warn("small buffer", `eventq buffer of ${w.available} bytes cannot hold an event`);
      return 0;
    }
    w.writeAll(encodeVirtioEvent(e, this.#event));
    return VIRTIO_INPUT_EVENT_SIZE;
  }

  #status(r: Reader): number {
    for (let i = 0; i < STATUS_EVENTS_PER_CHAIN && r.available >= VIRTIO_INPUT_EVENT_SIZE; i++) {
      const e = decodeVirtioEvent(r.readExact(VIRTIO_INPUT_EVENT_SIZE, "status event"));
      const problem = eventProblem(e, this.config);
      if (problem !== undefined) {
        this.refusedStatus++;
        this.guestLog.warn("status event", `statusq: ${problem}`);
        continue;
      }
      try {
        this.status?.write(e);
      } catch (err) {
        this.guestLog.warn("status write", `status event not passed on: ${(err as Error).message}`);
      }
    }
    return 0;
  }

  #compact(): void {
    if (this.#head > 0 && this.#head * 2 >= this.#pending.length) {
      this.#pending = this.#pending.slice(this.#head);
      this.#head = 0;
    }
  }
}
