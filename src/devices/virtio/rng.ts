// virtio-rng / entropy device (virtio 1.2 section 5.4): one request queue whose device-writable buffers are
// filled from the host's random source. No feature bits and no configuration space of its own.
import { logger } from "../../base/log.ts";
import { VIRTIO_ID_RNG } from "./constants.ts";
import { Writer } from "./descriptor_utils.ts";
import { type ActiveState, BASE_FEATURES, VirtioDeviceBase } from "./device_base.ts";
import { processQueue } from "./process_queue.ts";
import type { Queue } from "./split_queue.ts";

export const RNG_QUEUE_SIZE = 256;
/** crypto.getRandomValues fills at most 65536 bytes per call (Web Crypto API); also the size of one fill. */
export const RANDOM_CHUNK = 65536;
/**
 * Most bytes given to one chain: the device may use less of a buffer than offered (2.7.8 used length), and Linux
 * asks for at most a page or so at a time, so a chain of 4 GiB of aliased buffers costs no more than this.
 */
export const MAX_RANDOM_PER_CHAIN = 1 << 20;

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

  /** Where random bytes are generated before going to the guest: Web Crypto refuses views of shared memory. */
  readonly #chunk = new Uint8Array(RANDOM_CHUNK);

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
        // Filled a fixed-size chunk at a time, never through a private buffer as large as the chain.
        const w = Writer.of(chain);
        let left = Math.min(w.available, MAX_RANDOM_PER_CHAIN);
        let written = 0;
        while (left > 0) {
          const piece = this.#chunk.subarray(0, Math.min(left, RANDOM_CHUNK));
          this.random(piece);
          written += w.write(piece);
          left -= piece.length;
        }
        return written;
      },
      this.guestLog,
    );
  }
}
