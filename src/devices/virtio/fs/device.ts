// virtio-fs (virtio 1.2 section 5.11): a hiprio queue and one request queue, both carrying FUSE requests to the
// server (server.ts); the configuration space names the tag the guest mounts (`mount -t virtiofs TAG DIR`).
import { logger } from "../../../base/log.ts";
import type { ChainBuffers } from "../descriptor_chain.ts";
import { BASE_FEATURES } from "../device_base.ts";
import { RequestServerDevice } from "../request_server_device.ts";
import type { FsContext } from "./context.ts";
import { FuseServer } from "./server.ts";

/** VIRTIO_ID_FS (virtio 1.2 section 5, "Device Types"). */
export const VIRTIO_ID_FS = 26;
/** struct virtio_fs_config (5.11.4): char tag[36]; le32 num_request_queues. */
export const FS_TAG_BYTES = 36;
export const FS_CONFIG_SIZE = FS_TAG_BYTES + 4;
/** Queue size of the hiprio and request queues (crosvm's fs QUEUE_SIZE). */
export const FS_QUEUE_SIZE = 1024;
export const FS_REQUEST_QUEUES = 1;

export class VirtioFs extends RequestServerDevice {
  readonly debugLabel: string;
  readonly deviceType = VIRTIO_ID_FS;
  readonly queueMaxSizes = [FS_QUEUE_SIZE, ...Array<number>(FS_REQUEST_QUEUES).fill(FS_QUEUE_SIZE)];
  protected readonly log = logger("devices::virtio::fs");
  readonly #config = new Uint8Array(FS_CONFIG_SIZE);
  readonly server: FuseServer;

  constructor(
    readonly tag: string,
    readonly ctx: FsContext,
  ) {
    super();
    const bytes = new TextEncoder().encode(tag);
    if (bytes.length === 0 || bytes.length > FS_TAG_BYTES)
      throw new Error(`virtio-fs tag "${tag}" must be 1 to ${FS_TAG_BYTES} bytes`);
    this.#config.set(bytes);
    new DataView(this.#config.buffer).setUint32(FS_TAG_BYTES, FS_REQUEST_QUEUES, true);
    this.debugLabel = `virtio-fs ${tag}`;
    this.server = new FuseServer(ctx, { warn: (reason, message) => this.guestLog.warn(reason, message) });
  }

  features(): bigint {
    return BASE_FEATURES;
  }

  protected get configBytes(): Uint8Array {
    return this.#config;
  }

  protected handleRequest(chain: ChainBuffers): number {
    return this.server.handle(chain);
  }

  override reset(): void {
    // The guest's kernel forgets everything on reset: so does the server (a new mount starts with INIT).
    this.ctx.handles.clear();
    this.ctx.inodes.clear();
    this.ctx.initialized = false;
    super.reset();
  }
}
