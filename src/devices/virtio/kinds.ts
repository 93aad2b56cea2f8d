// Every virtio device kind the VMM can attach, in crosvm's attach order: block devices as given, the one
// virtio-scsi controller of every --scsi-block (src/crosvm/sys/linux.rs adds it right after the disks), then the
// virtio-console ports, then pmem devices as given (crosvm creates them after block and console), then rng, the
// input devices, the balloon, then the NICs, the vsock device (crosvm's create_virtio_devices adds it after the
// NICs and before the shared directories), then the shared directories (virtio-fs, then virtio-9p). The VMM walks
// this list (src/vmm/virtio_devices.ts); a device process looks its
// KIND up in it (src/jail/device_process/device_kinds.ts). A new virtio device adds its kind here (see
// docs/architecture.md, "Adding a virtio device").
import { balloonKind } from "./balloon/kind.ts";
import { blockKind } from "./block/kind.ts";
import { consoleKind } from "./console_kind.ts";
import { fsKind } from "./fs/kind.ts";
import type { OptionsSchema, VirtioDeviceKind } from "./kind.ts";
import { p9Kind } from "./p9/kind.ts";
import { pmemKind } from "./pmem/kind.ts";
import { inputKind } from "./input/kind.ts";
import { netKind } from "./net/kind.ts";
import { rngKind } from "./rng_kind.ts";
import { scsiKind } from "./scsi/kind.ts";
import { vsockKind } from "./vsock/kind.ts";

// virtio-input devices (--input) come after rng, in the order given, and before the balloon.
export const VIRTIO_DEVICE_KINDS = [
  blockKind,
  scsiKind,
  consoleKind,
  pmemKind,
  rngKind,
  inputKind,
  balloonKind,
  netKind,
  vsockKind,
  fsKind,
  p9Kind,
] as const;

/** Kinds that read no VM configuration, so that any VMM can attach them. */
export type StandaloneDeviceKind = VirtioDeviceKind<OptionsSchema, unknown>;

const added: StandaloneDeviceKind[] = [];

/**
 * Appends a kind after the built-in ones, in this process only. Test entry points add test-only kinds with it
 * (test/kvm/jail/test_kinds.ts); the product adds none, so no test-only device is reachable from its paths.
 */
export function addVirtioDeviceKind(kind: StandaloneDeviceKind): void {
  if ([...VIRTIO_DEVICE_KINDS, ...added].some((k) => k.name === kind.name))
    throw new Error(`device kind "${kind.name}" is already known`);
  added.push(kind);
}

/** The kinds added with addVirtioDeviceKind, in the order added. */
export function addedVirtioDeviceKinds(): readonly StandaloneDeviceKind[] {
  return added;
}
