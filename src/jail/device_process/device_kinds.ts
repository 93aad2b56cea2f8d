// The virtio device models a device process can run, by kind: each factory turns the kind's JSON options and the
// backing descriptors it was handed into a VirtioDevice, and names the seccomp policy (policy/NAME.policy) that
// confines it. The same factories build the device in-process under --disable-sandbox, so both modes run one model.
import { read } from "../../../ffi/libc.ts";
import { FdConsoleOutput, VirtioConsole } from "../../devices/virtio/console.ts";
import { VirtioBlock } from "../../devices/virtio/block/device.ts";
import { VirtioRng } from "../../devices/virtio/rng.ts";
import type { VirtioDevice } from "../../devices/virtio/virtio_device.ts";
import { openDisk } from "../../disk/open.ts";

/** An fd the device process waits on besides its socket and queue eventfds (e.g. console input). */
export interface PollSource {
  readonly fd: number;
  /** Called when `fd` is readable; returns false once the source is exhausted (EOF) and must be dropped. */
  onReadable(): boolean;
}

export interface BuiltDevice {
  readonly device: VirtioDevice;
  /** policy/NAME.policy (without the suffix). */
  readonly policy: string;
  readonly pollSources?: readonly PollSource[];
}

/** `backing` holds the descriptors given for the device's files, in the order the VMM listed them. */
export type VirtioDeviceFactory = (options: unknown, backing: readonly number[]) => BuiltDevice;

export class DeviceOptionsError extends Error {
  override name = "DeviceOptionsError";
}

const factories = new Map<string, VirtioDeviceFactory>();

export function registerVirtioDeviceKind(kind: string, factory: VirtioDeviceFactory): void {
  factories.set(kind, factory);
}

export function buildVirtioDevice(kind: string, options: unknown, backing: readonly number[]): BuiltDevice {
  const factory = factories.get(kind);
  if (!factory)
    throw new DeviceOptionsError(
      `device kind "${kind}" is unknown (known: ${[...factories.keys()].join(", ")})`,
    );
  return factory(options, backing);
}

function record(kind: string, options: unknown): Record<string, unknown> {
  if (options === undefined || options === null) return {};
  if (typeof options !== "object" || Array.isArray(options))
    throw new DeviceOptionsError(`${kind} options: expected an object, got ${JSON.stringify(options)}`);
  return options as Record<string, unknown>;
}

function optionalFdIndex(kind: string, o: Record<string, unknown>, key: string, backing: readonly number[]) {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v >= backing.length)
    throw new DeviceOptionsError(
      `${kind} option ${key}: expected an index into ${backing.length} backing fds`,
    );
  return backing[v]!;
}

registerVirtioDeviceKind("rng", () => ({ device: new VirtioRng(), policy: "rng_device" }));

/** Options: { output?: backing index, input?: backing index }. */
registerVirtioDeviceKind("console", (options, backing) => {
  const o = record("console", options);
  const out = optionalFdIndex("console", o, "output", backing);
  const input = optionalFdIndex("console", o, "input", backing);
  const device = new VirtioConsole(out === undefined ? undefined : new FdConsoleOutput(out));
  const pollSources: PollSource[] = [];
  if (input !== undefined) {
    const buf = new Uint8Array(4096);
    pollSources.push({
      fd: input,
      onReadable: () => {
        const n = readSome(input, buf);
        if (n <= 0) return false;
        device.pushInput(buf.subarray(0, n));
        return true;
      },
    });
  }
  return { device, policy: "serial_device", pollSources };
});

/**
 * Options: { path, readOnly?, sparse?, blockSize?, id?, direct?, lock? }. The image (and any qcow2 backing chain) is
 * opened by path before the process confines itself: handing the chain over as descriptors needs an openDisk
 * that takes fds.
 */
registerVirtioDeviceKind("block", (options) => {
  const o = record("block", options);
  if (typeof o.path !== "string" || o.path === "")
    throw new DeviceOptionsError(`block option path: expected a file path`);
  const readOnly = o.readOnly === true;
  // The image lock is taken here, where the fd is opened (before confinement: no flock in the policy).
  const disk = openDisk(o.path, { readOnly, direct: o.direct === true, lock: o.lock === true });
  const device = new VirtioBlock({
    disk,
    readOnly,
    sparse: o.sparse !== false,
    blockSize: typeof o.blockSize === "number" ? o.blockSize : 512,
    id: typeof o.id === "string" ? o.id : undefined,
  });
  return { device, policy: "block_device" };
});

function readSome(fd: number, buf: Uint8Array): number {
  try {
    return read(fd, buf, `console input fd ${fd}`);
  } catch {
    return -1;
  }
}
