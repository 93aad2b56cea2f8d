// virtio-pmem (virtio 1.2 section 5.19, Linux include/uapi/linux/virtio_pmem.h): the guest reaches the device's
// memory directly, through the memory slot the VMM mapped at `start` (src/vmm/device_memory.ts); the only queue
// work is the flush request, after which everything the guest wrote through that mapping must be on the file.
// Writes through a MAP_SHARED file mapping (the VMM's, which KVM writes through) dirty the file's page cache, so
// fdatasync on the file here persists them: that is what msync(MS_SYNC) does for such a mapping on Linux.
import { fdatasync } from "../../../../ffi/libc.ts";
import { logger } from "../../../base/log.ts";
import { Reader, Writer } from "../descriptor_utils.ts";
import { type ActiveState, BASE_FEATURES, VirtioDeviceBase } from "../device_base.ts";
import { processQueue } from "../process_queue.ts";
import type { Queue } from "../split_queue.ts";

/** Device ID (virtio 1.2 section 5 table "Device Types"). */
export const VIRTIO_ID_PMEM = 27;
/** crosvm devices/src/virtio/pmem.rs QUEUE_SIZE: one request queue. */
export const PMEM_QUEUE_SIZE = 256;

/** struct virtio_pmem_config { le64 start; le64 size; } (section 5.19.4). */
export const PMEM_CONFIG_START = 0;
export const PMEM_CONFIG_SIZE = 8;
export const PMEM_CONFIG_BYTES = 16;

/** struct virtio_pmem_req { le32 type; } and its one type (section 5.19.6). */
export const VIRTIO_PMEM_REQ_TYPE_FLUSH = 0;
export const PMEM_REQ_BYTES = 4;
/** struct virtio_pmem_resp { le32 ret; }: 0 on success, anything else makes Linux fail the flush with EIO. */
export const PMEM_RESP_BYTES = 4;
export const VIRTIO_PMEM_RESP_OK = 0;
export const VIRTIO_PMEM_RESP_EIO = 1;

/** What the device does to persist the mapping (fdatasync of the file; tests record it). */
export type SyncFile = () => void;

export interface PmemOptions {
  /** Guest physical address and size of the mapping (the config space's start and size). */
  readonly start: number;
  readonly size: number;
  readonly sync: SyncFile;
}

/** fdatasync of the backing file, named for its error message. */
export function fileSync(fd: number, label: string): SyncFile {
  return () => fdatasync(fd, label);
}

export class VirtioPmem extends VirtioDeviceBase {
  readonly debugLabel = "virtio-pmem";
  readonly deviceType = VIRTIO_ID_PMEM;
  readonly queueMaxSizes = [PMEM_QUEUE_SIZE];
  protected readonly log = logger("devices::virtio::pmem");
  readonly #config = new Uint8Array(PMEM_CONFIG_BYTES);

  constructor(readonly o: PmemOptions) {
    super();
    const dv = new DataView(this.#config.buffer);
    dv.setBigUint64(PMEM_CONFIG_START, BigInt(o.start), true);
    dv.setBigUint64(PMEM_CONFIG_SIZE, BigInt(o.size), true);
  }

  features(): bigint {
    return BASE_FEATURES;
  }

  readConfig(offset: number, data: Uint8Array): void {
    data.fill(0);
    if (offset < 0 || offset >= PMEM_CONFIG_BYTES) return;
    data.set(this.#config.subarray(offset, Math.min(PMEM_CONFIG_BYTES, offset + data.length)));
  }

  protected processQueue(_index: number, queue: Queue, active: ActiveState): number {
    return processQueue(
      queue,
      active.interrupt,
      (chain) => this.#request(Reader.of(chain), Writer.of(chain)),
      this.guestLog,
    );
  }

  /** One request: its status goes to the guest only after the flush it asked for has reached the file. */
  #request(reader: Reader, writer: Writer): number {
    const type = reader.readU32("virtio_pmem_req");
    if (writer.available < PMEM_RESP_BYTES)
      throw new Error(
        `no room for the ${PMEM_RESP_BYTES}-byte response (${writer.available} writable bytes)`,
      );
    const status = this.#handle(type);
    const resp = new Uint8Array(PMEM_RESP_BYTES);
    new DataView(resp.buffer).setUint32(0, status, true);
    writer.writeAll(resp, "virtio_pmem_resp");
    return PMEM_RESP_BYTES;
  }

  #handle(type: number): number {
    if (type !== VIRTIO_PMEM_REQ_TYPE_FLUSH) {
      this.guestLog.warn("unknown request", `unknown request type ${type}`);
      return VIRTIO_PMEM_RESP_EIO;
    }
    try {
      this.o.sync();
      return VIRTIO_PMEM_RESP_OK;
    } catch (e) {
      // The host's error, not the guest's doing, but a guest can ask again at will: rate-limited like guest input.
      this.guestLog.warn("flush failed", `flush failed: ${(e as Error).message}`);
      return VIRTIO_PMEM_RESP_EIO;
    }
  }
}
