// A host event device (/dev/input/eventN) as the source of a virtio-input device: its identity, capabilities and
// axis ranges read with the evdev ioctls (include/uapi/linux/input.h) become the device's configuration, so the
// guest sees the host device as it is; EVIOCGRAB takes it away from the host's other readers while the VM runs.
// The ioctls run before the device process is confined (its policy allows none of them).
import { ioctl, ioctlRaw } from "../../../../ffi/libc.ts";
import { errnoName } from "../../../../ffi/errno.ts";
import { type AbsInfo, hasBit, type InputDeviceConfig } from "./config.ts";
import { EV_ABS, EV_MAX, INPUT_CONFIG_UNION_SIZE } from "./constants.ts";

const IOC_WRITE = 1;
const IOC_READ = 2;
/** The evdev ioctl type, 'E' (input.h). */
const EVDEV_IOC_TYPE = 0x45;

/** _IOC(dir, 'E', nr, size) of include/uapi/asm-generic/ioctl.h (dir << 30 | size << 16 | type << 8 | nr). */
export function evdevIoc(dir: number, nr: number, size: number): number {
  return ((dir << 30) >>> 0) + ((size << 16) | (EVDEV_IOC_TYPE << 8) | nr);
}

/** struct input_id: u16 bustype, vendor, product, version. */
const INPUT_ID_SIZE = 8;
/** struct input_absinfo: s32 value, minimum, maximum, fuzz, flat, resolution. */
const INPUT_ABSINFO_SIZE = 24;

export const EVIOCGVERSION = evdevIoc(IOC_READ, 0x01, 4);
export const EVIOCGID = evdevIoc(IOC_READ, 0x02, INPUT_ID_SIZE);
export const EVIOCGNAME = (len: number) => evdevIoc(IOC_READ, 0x06, len);
export const EVIOCGUNIQ = (len: number) => evdevIoc(IOC_READ, 0x08, len);
export const EVIOCGPROP = (len: number) => evdevIoc(IOC_READ, 0x09, len);
export const EVIOCGBIT = (ev: number, len: number) => evdevIoc(IOC_READ, 0x20 + ev, len);
export const EVIOCGABS = (abs: number) => evdevIoc(IOC_READ, 0x40 + abs, INPUT_ABSINFO_SIZE);
export const EVIOCGRAB = evdevIoc(IOC_WRITE, 0x90, 4);

/** Why `fd` is not an event device (EVIOCGVERSION fails on anything else), or undefined. */
export function notAnEventDevice(fd: number): string | undefined {
  const ret = ioctlRaw(fd, EVIOCGVERSION, new Uint8Array(4));
  return ret < 0 ? `not an input event device (EVIOCGVERSION: ${errnoName(-ret)})` : undefined;
}

/** A string ioctl's answer up to its NUL (EVIOCGNAME, EVIOCGUNIQ); empty when the device has none. */
function stringIoctl(fd: number, request: (len: number) => number): Uint8Array {
  const buf = new Uint8Array(INPUT_CONFIG_UNION_SIZE);
  const n = ioctlRaw(fd, request(buf.length), buf);
  if (n <= 0) return new Uint8Array(0);
  const end = buf.subarray(0, n).indexOf(0);
  return buf.slice(0, end < 0 ? n : end);
}

function bitsIoctl(fd: number, request: number, what: string): Uint8Array {
  const buf = new Uint8Array(INPUT_CONFIG_UNION_SIZE);
  ioctl(fd, request, buf, what, "the evdev device");
  return buf;
}

/** The configuration the guest sees for host event device `fd` (crosvm's VirtioInputConfig::from_evdev). */
export function evdevConfig(fd: number): InputDeviceConfig {
  const ids = new Uint8Array(INPUT_ID_SIZE);
  ioctl(fd, EVIOCGID, ids, "EVIOCGID", "the evdev device");
  const idView = new DataView(ids.buffer);
  const types = bitsIoctl(fd, EVIOCGBIT(0, INPUT_CONFIG_UNION_SIZE), "EVIOCGBIT(0)");
  const events = new Map<number, Uint8Array>();
  // EV_SYN (type 0) is implied; every other type the device has, with its codes.
  for (let type = 1; type <= EV_MAX; type++)
    if (hasBit(types, type))
      events.set(type, bitsIoctl(fd, EVIOCGBIT(type, INPUT_CONFIG_UNION_SIZE), `EVIOCGBIT(${type})`));
  const abs = new Map<number, AbsInfo>();
  const absBits = events.get(EV_ABS);
  if (absBits) {
    const info = new Uint8Array(INPUT_ABSINFO_SIZE);
    const view = new DataView(info.buffer);
    for (let axis = 0; axis < INPUT_CONFIG_UNION_SIZE * 8; axis++) {
      if (!hasBit(absBits, axis)) continue;
      ioctl(fd, EVIOCGABS(axis), info, `EVIOCGABS(${axis})`, "the evdev device");
      abs.set(axis, {
        min: view.getInt32(4, true),
        max: view.getInt32(8, true),
        fuzz: view.getInt32(12, true),
        flat: view.getInt32(16, true),
        res: view.getInt32(20, true),
      });
    }
  }
  return {
    name: stringIoctl(fd, EVIOCGNAME),
    serial: stringIoctl(fd, EVIOCGUNIQ),
    ids: {
      bustype: idView.getUint16(0, true),
      vendor: idView.getUint16(2, true),
      product: idView.getUint16(4, true),
      version: idView.getUint16(6, true),
    },
    properties: bitsIoctl(fd, EVIOCGPROP(INPUT_CONFIG_UNION_SIZE), "EVIOCGPROP"),
    events,
    abs,
  };
}

/** Takes the device away from the host's other readers (EVIOCGRAB 1); released when its last fd closes. */
export function grabEvdev(fd: number): void {
  ioctl(fd, EVIOCGRAB, 1, "EVIOCGRAB", "the evdev device");
}
