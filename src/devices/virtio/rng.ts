// virtio-rng / entropy device (virtio 1.2 section 5.4): one request queue whose device-writable buffers are
// filled from the host's random source. No feature bits and no configuration space of its own.
import { logger } from "../../base/log.ts";
import { VIRTIO_ID_RNG } from "./constants.ts";
import { Writer } from "./descriptor_utils.ts";
import { type ActiveState, BASE_FEATURES, VirtioDeviceBase } from "./device_base.ts";
import { processQueue } from "./process_queue.ts";
import type { Queue } from "./split_queue.ts";

export const RNG_QUEUE_SIZE = 256;
/** crypto.getRandomValues fills at most 65536 bytes per call (Web Crypto API). */
const RANDOM_CHUNK = 65536;

export type RandomSource = (buf: Uint8Array) => void;

const cryptoSource: RandomSource = (buf) => {
  for (let at = 0; at < buf.length; at += RANDOM_CHUNK)
    crypto.getRandomValues(buf.subarray(at, at + RANDOM_CHUNK));
};

export class VirtioRng extends VirtioDeviceBase {
  readonly debugLabel = "virtio-rng";
  readonly deviceType = VIRTIO_ID_RNG;
  readonly queueMaxSizes = [RNG_QUEUE_SIZE];
  protected readonly log = logger("devices::virtio::rng");

  constructor(readonly random: RandomSource = cryptoSource) {
    super();
  }

  features(): bigint {
    return BASE_FEATURES;
  }

  readConfig(_offset: number, data: Uint8Array): void {
    data.fill(0);
  }

  protected processQueue(_index: number, queue: Queue, active: ActiveState): number {
    return processQueue(
      queue,
      active.interrupt,
      (chain) => {
        // Generated into a private buffer first: Web Crypto refuses views of shared memory.
        const w = Writer.of(chain);
        const bytes = new Uint8Array(w.available);
        this.random(bytes);
        return w.write(bytes);
      },
      this.guestLog,
    );
  }
}
