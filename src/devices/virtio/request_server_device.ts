// The shape virtio-fs and virtio-9p share: every queue carries requests to one server, one descriptor chain each
// (its buffers gathered as ChainBuffers over the active guest memory), and the configuration space is fixed
// bytes (the mount tag) that the driver only reads.
import { ChainBuffers } from "./descriptor_chain.ts";
import { type ActiveState, VirtioDeviceBase } from "./device_base.ts";
import { processQueueBuffers } from "./process_queue.ts";
import type { Queue } from "./split_queue.ts";

export abstract class RequestServerDevice extends VirtioDeviceBase {
  #buffers: ChainBuffers | undefined;
  readonly #handle = (chain: ChainBuffers): number => this.handleRequest(chain);

  /** The configuration space, as the driver reads it. */
  protected abstract readonly configBytes: Uint8Array;

  /** Serves one request; returns the bytes written into the chain's device-writable buffers. */
  protected abstract handleRequest(chain: ChainBuffers): number;

  readConfig(offset: number, data: Uint8Array): void {
    for (let i = 0; i < data.length; i++) data[i] = this.configBytes[offset + i] ?? 0;
  }

  protected processQueue(_index: number, queue: Queue, active: ActiveState): void {
    let buffers = this.#buffers;
    if (buffers === undefined || buffers.mem !== active.mem) {
      buffers = new ChainBuffers(active.mem);
      this.#buffers = buffers;
    }
    processQueueBuffers(queue, active.interrupt, buffers, this.#handle, this.guestLog);
  }
}
