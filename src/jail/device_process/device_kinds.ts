// The device process's side of the device kinds (src/devices/virtio/kind.ts): finds the kind named on its command
// line, checks the options the VMM sent with the kind's own schema (the one the VMM checked them with before the
// launch) and builds the model. The same call builds a device in-process where no device process is wanted.
import {
  type AnyVirtioDeviceKind,
  type BuiltDevice,
  type DeviceEventFds,
  DeviceOptionsError,
  type GuestMapping,
  parseDeviceOptions,
} from "../../devices/virtio/kind.ts";
import { addedVirtioDeviceKinds, VIRTIO_DEVICE_KINDS } from "../../devices/virtio/kinds.ts";

export { DeviceOptionsError };
export type { BuiltDevice, PollSource } from "../../devices/virtio/kind.ts";

/** The kind called `name`; throws DeviceOptionsError listing the known ones. */
export function deviceKind(name: string): AnyVirtioDeviceKind {
  const kinds: readonly AnyVirtioDeviceKind[] = [...VIRTIO_DEVICE_KINDS, ...addedVirtioDeviceKinds()];
  const kind = kinds.find((k) => k.name === name);
  if (!kind)
    throw new DeviceOptionsError(
      `device kind "${name}" is unknown (known: ${kinds.map((k) => k.name).join(", ")})`,
    );
  return kind;
}

/** Builds a device of kind `name` from the options the VMM sent and the descriptors of its files. */
export function buildVirtioDevice(
  name: string,
  options: unknown,
  backing: readonly number[],
  mapping?: GuestMapping,
  events?: DeviceEventFds,
): BuiltDevice & { readonly policy: string } {
  const kind = deviceKind(name);
  const built = kind.build(parseDeviceOptions(kind, options, "device process"), backing, mapping, events);
  return { ...built, policy: kind.policy };
}
