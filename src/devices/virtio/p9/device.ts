// virtio-9p (virtio 1.2 section 5, "Device Types": device ID 9, the 9P transport): one request queue carrying
// 9P2000.L messages to the server (server.ts), one message per descriptor chain. The configuration space names
// the tag the guest mounts (`mount -t 9p -o trans=virtio TAG DIR`): struct virtio_9p_config { le16 tag_len;
// u8 tag[tag_len]; }, offered with VIRTIO_9P_MOUNT_TAG (include/uapi/linux/virtio_9p.h).
import { logger } from "../../../base/log.ts";
import { featureBit } from "../constants.ts";
import type { ChainBuffers } from "../descriptor_chain.ts";
import { BASE_FEATURES } from "../device_base.ts";
import type { HostFs } from "../fs/host_fs.ts";
import { RequestServerDevice } from "../request_server_device.ts";
import { P9Server } from "./server.ts";

/** VIRTIO_ID_9P (include/uapi/linux/virtio_ids.h). */
export const VIRTIO_ID_9P = 9;
/** VIRTIO_9P_MOUNT_TAG: feature bit 0, the configuration space holds the mount tag. */
export const VIRTIO_9P_MOUNT_TAG = 0;
/** The tag's longest length here (the --shared-dir tag limit; the field itself is le16). */
export const P9_TAG_BYTES = 36;
/** Queue size of the one request queue (crosvm's p9 QUEUE_SIZE; Linux's 9pnet_virtio uses up to 128 buffers). */
export const P9_QUEUE_SIZE = 128;

export class VirtioP9 extends RequestServerDevice {
  readonly debugLabel: string;
  readonly deviceType = VIRTIO_ID_9P;
  readonly queueMaxSizes = [P9_QUEUE_SIZE];
  protected readonly log = logger("devices::virtio::p9");
  readonly #config: Uint8Array;
  readonly server: P9Server;

  constructor(
    readonly tag: string,
    fs: HostFs,
  ) {
    super();
    const bytes = new TextEncoder().encode(tag);
    if (bytes.length === 0 || bytes.length > P9_TAG_BYTES)
      throw new Error(`virtio-9p tag "${tag}" must be 1 to ${P9_TAG_BYTES} bytes`);
    this.#config = new Uint8Array(2 + bytes.length);
    new DataView(this.#config.buffer).setUint16(0, bytes.length, true);
    this.#config.set(bytes, 2);
    this.debugLabel = `virtio-9p ${tag}`;
    this.server = new P9Server(fs, { warn: (reason, message) => this.guestLog.warn(reason, message) });
  }

  features(): bigint {
    return BASE_FEATURES | featureBit(VIRTIO_9P_MOUNT_TAG);
  }

  protected get configBytes(): Uint8Array {
    return this.#config;
  }

  protected handleRequest(chain: ChainBuffers): number {
    return this.server.handle(chain);
  }

  override reset(): void {
    // A reset guest mounts again, starting with Tversion: every fid of the old session goes.
    this.server.reset();
    super.reset();
  }
}
