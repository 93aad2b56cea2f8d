// The virtio-pci common configuration structure (virtio 1.2 section 4.1.4.3), as registers. Feature and queue
// fields live here; what a device_status write means (reset, FEATURES_OK check, activation) is decided by the
// transport through `onStatusWrite`. Guest writes that break a rule are ignored, never thrown.
import { VIRTIO_MSI_NO_VECTOR, VIRTIO_STATUS_DRIVER_OK, VIRTIO_STATUS_FEATURES_OK } from "./constants.ts";
import type { Queue } from "./split_queue.ts";

/** Field offsets of struct virtio_pci_common_cfg (4.1.4.3). */
export const COMMON_DEVICE_FEATURE_SELECT = 0;
export const COMMON_DEVICE_FEATURE = 4;
export const COMMON_DRIVER_FEATURE_SELECT = 8;
export const COMMON_DRIVER_FEATURE = 12;
export const COMMON_CONFIG_MSIX_VECTOR = 16;
export const COMMON_NUM_QUEUES = 18;
export const COMMON_DEVICE_STATUS = 20;
export const COMMON_CONFIG_GENERATION = 21;
export const COMMON_QUEUE_SELECT = 22;
export const COMMON_QUEUE_SIZE = 24;
export const COMMON_QUEUE_MSIX_VECTOR = 26;
export const COMMON_QUEUE_ENABLE = 28;
export const COMMON_QUEUE_NOTIFY_OFF = 30;
export const COMMON_QUEUE_DESC_LO = 32;
export const COMMON_QUEUE_DESC_HI = 36;
export const COMMON_QUEUE_DRIVER_LO = 40;
export const COMMON_QUEUE_DRIVER_HI = 44;
export const COMMON_QUEUE_DEVICE_LO = 48;
export const COMMON_QUEUE_DEVICE_HI = 52;
/** Length of the structure without the 1.2 queue_notify_data/queue_reset fields (not offered). */
export const COMMON_CONFIG_SIZE = 0x38;

const lo32 = (n: number) => (n % 2 ** 32) >>> 0;
const hi32 = (n: number) => Math.floor(n / 2 ** 32) >>> 0;
// Guest physical addresses above 2^53 cannot be held in a number; keep them at 2^53-ish so validation fails.
const held = (address: number) => Math.min(address, Number.MAX_SAFE_INTEGER);
const withLo = (n: number, v: number) => hi32(n) * 2 ** 32 + (v >>> 0);
const withHi = (n: number, v: number) => held((v >>> 0) * 2 ** 32 + lo32(n));
/** A write of `size` bytes at a ring address's low half: the whole address when 64-bit, else its low 32 bits. */
const withLowWrite = (n: number, size: number, v: number) => (size === 8 ? held(v) : withLo(n, v));

export class VirtioPciCommonConfig {
  deviceFeatureSelect = 0;
  driverFeatureSelect = 0;
  driverFeatures = 0n;
  configMsixVector = VIRTIO_MSI_NO_VECTOR;
  status = 0;
  configGeneration = 0;
  queueSelect = 0;

  constructor(
    readonly queues: readonly Queue[],
    readonly deviceFeatures: bigint,
    /** MSI-X table size; vectors at or above it read back as NO_VECTOR (4.1.5.1.2). */
    readonly msixVectors: number,
    readonly onStatusWrite: (value: number) => void,
  ) {}

  /** Back to the state after a device reset (4.1.4.3.1 / 2.4). */
  reset(): void {
    this.deviceFeatureSelect = 0;
    this.driverFeatureSelect = 0;
    this.driverFeatures = 0n;
    this.configMsixVector = VIRTIO_MSI_NO_VECTOR;
    this.status = 0;
    this.queueSelect = 0;
    for (const q of this.queues) q.reset();
  }

  get #queue(): Queue | undefined {
    return this.queues[this.queueSelect];
  }

  #vector(v: number): number {
    return v < this.msixVectors ? v : VIRTIO_MSI_NO_VECTOR;
  }

  /** Feature bits can only change between DRIVER and FEATURES_OK (3.1.1 steps 4-5). */
  get #featuresLocked(): boolean {
    return (this.status & VIRTIO_STATUS_FEATURES_OK) !== 0;
  }

  /** Queue fields are only written while the device is not live (4.1.4.3.2: the driver MUST configure queues
   * before DRIVER_OK and MUST NOT write them after enabling the queue). */
  #queueWritable(q: Queue | undefined): q is Queue {
    return q !== undefined && !q.ready && (this.status & VIRTIO_STATUS_DRIVER_OK) === 0;
  }

  /** The value of the field at `offset` (its low `size` bytes). Unknown offsets read 0. */
  read(offset: number, size: number): number {
    const q = this.#queue;
    let v: number;
    switch (offset) {
      case COMMON_DEVICE_FEATURE_SELECT:
        v = this.deviceFeatureSelect;
        break;
      case COMMON_DEVICE_FEATURE:
        v =
          this.deviceFeatureSelect < 2
            ? Number((this.deviceFeatures >> BigInt(32 * this.deviceFeatureSelect)) & 0xffffffffn)
            : 0;
        break;
      case COMMON_DRIVER_FEATURE_SELECT:
        v = this.driverFeatureSelect;
        break;
      case COMMON_DRIVER_FEATURE:
        v =
          this.driverFeatureSelect < 2
            ? Number((this.driverFeatures >> BigInt(32 * this.driverFeatureSelect)) & 0xffffffffn)
            : 0;
        break;
      case COMMON_CONFIG_MSIX_VECTOR:
        v = this.configMsixVector;
        break;
      case COMMON_NUM_QUEUES:
        v = this.queues.length;
        break;
      case COMMON_DEVICE_STATUS:
        v = this.status;
        break;
      case COMMON_CONFIG_GENERATION:
        v = this.configGeneration;
        break;
      case COMMON_QUEUE_SELECT:
        v = this.queueSelect;
        break;
      case COMMON_QUEUE_SIZE:
        // 4.1.4.3: queue_size reads 0 for an unavailable queue.
        v = q ? q.size : 0;
        break;
      case COMMON_QUEUE_MSIX_VECTOR:
        v = q ? q.vector : VIRTIO_MSI_NO_VECTOR;
        break;
      case COMMON_QUEUE_ENABLE:
        v = q?.ready ? 1 : 0;
        break;
      case COMMON_QUEUE_NOTIFY_OFF:
        // Each queue gets its own notify address: notify_off = queue index (x notify_off_multiplier).
        v = q ? this.queueSelect : 0;
        break;
      case COMMON_QUEUE_DESC_LO:
        v = q ? (size === 8 ? q.descTable : lo32(q.descTable)) : 0;
        break;
      case COMMON_QUEUE_DESC_HI:
        v = q ? hi32(q.descTable) : 0;
        break;
      case COMMON_QUEUE_DRIVER_LO:
        v = q ? (size === 8 ? q.availRing : lo32(q.availRing)) : 0;
        break;
      case COMMON_QUEUE_DRIVER_HI:
        v = q ? hi32(q.availRing) : 0;
        break;
      case COMMON_QUEUE_DEVICE_LO:
        v = q ? (size === 8 ? q.usedRing : lo32(q.usedRing)) : 0;
        break;
      case COMMON_QUEUE_DEVICE_HI:
        v = q ? hi32(q.usedRing) : 0;
        break;
      default:
        v = 0;
    }
    return size >= 8 ? v : size === 4 ? v >>> 0 : v % 2 ** (8 * size);
  }

  /** A guest write of `value` (`size` bytes) at `offset`. */
  write(offset: number, size: number, value: number): void {
    const q = this.#queue;
    switch (offset) {
      case COMMON_DEVICE_FEATURE_SELECT:
        this.deviceFeatureSelect = value >>> 0;
        break;
      case COMMON_DRIVER_FEATURE_SELECT:
        this.driverFeatureSelect = value >>> 0;
        break;
      case COMMON_DRIVER_FEATURE: {
        if (this.#featuresLocked || this.driverFeatureSelect > 1) break;
        const shift = BigInt(32 * this.driverFeatureSelect);
        this.driverFeatures =
          (this.driverFeatures & ~(0xffffffffn << shift)) | (BigInt(value >>> 0) << shift);
        break;
      }
      case COMMON_CONFIG_MSIX_VECTOR:
        this.configMsixVector = this.#vector(value & 0xffff);
        break;
      case COMMON_DEVICE_STATUS:
        this.onStatusWrite(value & 0xff);
        break;
      case COMMON_QUEUE_SELECT:
        this.queueSelect = value & 0xffff;
        break;
      case COMMON_QUEUE_SIZE:
        if (this.#queueWritable(q)) q.setSize(value & 0xffff);
        break;
      case COMMON_QUEUE_MSIX_VECTOR:
        if (q) q.vector = this.#vector(value & 0xffff);
        break;
      case COMMON_QUEUE_ENABLE:
        // 4.1.4.3.2: the driver MUST NOT write 0 to queue_enable; only 1 has an effect.
        if (this.#queueWritable(q) && (value & 0xffff) === 1) q.ready = true;
        break;
      case COMMON_QUEUE_DESC_LO:
        if (this.#queueWritable(q)) q.descTable = withLowWrite(q.descTable, size, value);
        break;
      case COMMON_QUEUE_DESC_HI:
        if (this.#queueWritable(q)) q.descTable = withHi(q.descTable, value);
        break;
      case COMMON_QUEUE_DRIVER_LO:
        if (this.#queueWritable(q)) q.availRing = withLowWrite(q.availRing, size, value);
        break;
      case COMMON_QUEUE_DRIVER_HI:
        if (this.#queueWritable(q)) q.availRing = withHi(q.availRing, value);
        break;
      case COMMON_QUEUE_DEVICE_LO:
        if (this.#queueWritable(q)) q.usedRing = withLowWrite(q.usedRing, size, value);
        break;
      case COMMON_QUEUE_DEVICE_HI:
        if (this.#queueWritable(q)) q.usedRing = withHi(q.usedRing, value);
        break;
      default:
      // Read-only fields (device_feature, num_queues, config_generation, queue_notify_off) ignore writes.
    }
  }
}
