// The configuration space of a virtio-input device (virtio 1.2 section 5.8.4): the driver writes `select` and
// `subsel`, then reads `size` and the union. What each (select, subsel) answers comes from an InputDeviceConfig:
// the device's name, serial, ids, property bits, the code bitmap of each event type it reports and the range of
// each absolute axis. Every kind builds one (defaults.ts from crosvm's defaults, evdev.ts from a host device).
import {
  INPUT_CONFIG_SELECT,
  INPUT_CONFIG_SIZE,
  INPUT_CONFIG_SIZE_OFFSET,
  INPUT_CONFIG_SUBSEL,
  INPUT_CONFIG_UNION,
  INPUT_CONFIG_UNION_SIZE,
  VIRTIO_INPUT_ABSINFO_SIZE,
  VIRTIO_INPUT_CFG_ABS_INFO,
  VIRTIO_INPUT_CFG_EV_BITS,
  VIRTIO_INPUT_CFG_ID_DEVIDS,
  VIRTIO_INPUT_CFG_ID_NAME,
  VIRTIO_INPUT_CFG_ID_SERIAL,
  VIRTIO_INPUT_CFG_PROP_BITS,
  VIRTIO_INPUT_DEVIDS_SIZE,
} from "./constants.ts";

/** struct virtio_input_absinfo (5.8.4): the range of one absolute axis. */
export interface AbsInfo {
  readonly min: number;
  readonly max: number;
  readonly fuzz: number;
  readonly flat: number;
  readonly res: number;
}

/** struct virtio_input_devids (5.8.4), as struct input_id on the host. */
export interface DeviceIds {
  readonly bustype: number;
  readonly vendor: number;
  readonly product: number;
  readonly version: number;
}

export interface InputDeviceConfig {
  /** ID_NAME: at most 128 bytes. */
  readonly name: Uint8Array;
  /** ID_SERIAL: at most 128 bytes. */
  readonly serial: Uint8Array;
  readonly ids: DeviceIds;
  /** PROP_BITS: a bitmap of INPUT_PROP_* (at most 128 bytes). */
  readonly properties: Uint8Array;
  /** EV_BITS: for each event type the device reports, the bitmap of its codes (at most 128 bytes each). */
  readonly events: ReadonlyMap<number, Uint8Array>;
  /** ABS_INFO: the range of each absolute axis. */
  readonly abs: ReadonlyMap<number, AbsInfo>;
}

/** A bitmap (bit n = byte n / 8, bit n % 8, as the kernel's) with `bits` set. */
export function bitmapOf(bits: Iterable<number>): Uint8Array {
  const map = new Uint8Array(INPUT_CONFIG_UNION_SIZE);
  for (const b of bits) {
    if (!Number.isInteger(b) || b < 0 || b >= INPUT_CONFIG_UNION_SIZE * 8)
      throw new RangeError(`bit ${b} does not fit a ${INPUT_CONFIG_UNION_SIZE}-byte bitmap`);
    map[b >> 3]! |= 1 << (b & 7);
  }
  return map;
}

/** Whether `bit` is set in `bitmap` (bits beyond it are clear). */
export function hasBit(bitmap: Uint8Array, bit: number): boolean {
  return bit >= 0 && bit >> 3 < bitmap.length && (bitmap[bit >> 3]! & (1 << (bit & 7))) !== 0;
}

/** A bitmap's bytes up to its last non-zero one (the `size` the driver reads; 0 for an empty bitmap). */
function trimmed(bitmap: Uint8Array): Uint8Array {
  let end = Math.min(bitmap.length, INPUT_CONFIG_UNION_SIZE);
  while (end > 0 && bitmap[end - 1] === 0) end--;
  return bitmap.subarray(0, end);
}

/** The payload of (select, subsel); empty (size 0) for what the device does not have. */
export function configPayload(config: InputDeviceConfig, select: number, subsel: number): Uint8Array {
  switch (select) {
    case VIRTIO_INPUT_CFG_ID_NAME:
      return subsel === 0 ? config.name.subarray(0, INPUT_CONFIG_UNION_SIZE) : new Uint8Array(0);
    case VIRTIO_INPUT_CFG_ID_SERIAL:
      return subsel === 0 ? config.serial.subarray(0, INPUT_CONFIG_UNION_SIZE) : new Uint8Array(0);
    case VIRTIO_INPUT_CFG_ID_DEVIDS: {
      if (subsel !== 0) return new Uint8Array(0);
      const out = new Uint8Array(VIRTIO_INPUT_DEVIDS_SIZE);
      const view = new DataView(out.buffer);
      const { bustype, vendor, product, version } = config.ids;
      [bustype, vendor, product, version].forEach((v, i) => view.setUint16(2 * i, v, true));
      return out;
    }
    case VIRTIO_INPUT_CFG_PROP_BITS:
      return subsel === 0 ? trimmed(config.properties) : new Uint8Array(0);
    case VIRTIO_INPUT_CFG_EV_BITS: {
      const bits = config.events.get(subsel);
      return bits ? trimmed(bits) : new Uint8Array(0);
    }
    case VIRTIO_INPUT_CFG_ABS_INFO: {
      const info = config.abs.get(subsel);
      if (!info) return new Uint8Array(0);
      const out = new Uint8Array(VIRTIO_INPUT_ABSINFO_SIZE);
      const view = new DataView(out.buffer);
      [info.min, info.max, info.fuzz, info.flat, info.res].forEach((v, i) => view.setInt32(4 * i, v, true));
      return out;
    }
    default:
      return new Uint8Array(0);
  }
}

/** The guest-visible struct virtio_input_config: the driver's select/subsel and what they answer. */
export class InputConfigSpace {
  readonly #bytes = new Uint8Array(INPUT_CONFIG_SIZE);

  constructor(readonly config: InputDeviceConfig) {}

  get select(): number {
    return this.#bytes[INPUT_CONFIG_SELECT]!;
  }

  get subsel(): number {
    return this.#bytes[INPUT_CONFIG_SUBSEL]!;
  }

  read(offset: number, data: Uint8Array): void {
    data.fill(0);
    if (!Number.isInteger(offset) || offset < 0 || offset >= INPUT_CONFIG_SIZE) return;
    const n = Math.min(data.length, INPUT_CONFIG_SIZE - offset);
    data.set(this.#bytes.subarray(offset, offset + n));
  }

  /** Only select and subsel are writable (5.8.4: the rest is read-only); each write recomputes the answer. */
  write(offset: number, data: Uint8Array): void {
    if (!Number.isInteger(offset) || offset < 0) return;
    for (let i = 0; i < data.length; i++) {
      const at = offset + i;
      if (at === INPUT_CONFIG_SELECT || at === INPUT_CONFIG_SUBSEL) this.#bytes[at] = data[i]!;
    }
    const payload = configPayload(this.config, this.select, this.subsel);
    this.#bytes[INPUT_CONFIG_SIZE_OFFSET] = payload.length;
    this.#bytes.fill(0, INPUT_CONFIG_SIZE_OFFSET + 1);
    this.#bytes.set(payload, INPUT_CONFIG_UNION);
  }
}
