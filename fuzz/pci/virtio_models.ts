// The device models the PCI transport target puts behind virtio-pci: one to four queues, no configuration space,
// a read-only one, and ones the driver writes (virtio-input's select, the balloon's actual, virtio-scsi's sizes).
// Their back ends are in memory and discard what they are given.
import { VirtioBalloon } from "../../src/devices/virtio/balloon/device.ts";
import { VirtioBlock } from "../../src/devices/virtio/block/device.ts";
import { VirtioConsole } from "../../src/devices/virtio/console.ts";
import { defaultInputConfig, SOCKET_INPUT_KINDS } from "../../src/devices/virtio/input/defaults.ts";
import { VirtioInput } from "../../src/devices/virtio/input/device.ts";
import { VirtioRng } from "../../src/devices/virtio/rng.ts";
import { VirtioScsi } from "../../src/devices/virtio/scsi/device.ts";
import { LogicalUnit } from "../../src/devices/virtio/scsi/logical_unit.ts";
import type { VirtioDevice } from "../../src/devices/virtio/virtio_device.ts";
import {
  BALLOON_EXPECTED_FAILURES,
  BLOCK_EXPECTED_FAILURES,
  SCSI_EXPECTED_FAILURES,
} from "../expected_failures.ts";
import { MemoryDisk } from "../memory_disk.ts";
import type { Rng } from "../random.ts";

const DISK_SIZE = 1 << 20;

export interface VirtioModel {
  /** The logger the model logs through (device_log.ts checks its records). */
  readonly log: string;
  /** How a request's failure may begin when the guest's chain is to blame. */
  readonly expectedFailures: readonly (string | RegExp)[];
  make(rng: Rng): VirtioDevice;
}

export const VIRTIO_MODELS: readonly VirtioModel[] = [
  {
    log: "devices::virtio::rng",
    expectedFailures: [],
    make: () => new VirtioRng((bytes) => bytes.fill(0x77)),
  },
  {
    log: "devices::virtio::block",
    expectedFailures: BLOCK_EXPECTED_FAILURES,
    make: (rng) =>
      new VirtioBlock({
        disk: new MemoryDisk(DISK_SIZE),
        readOnly: rng.chance(0.3),
        sparse: true,
        blockSize: 512,
      }),
  },
  {
    log: "devices::virtio::console",
    expectedFailures: [],
    make: () => new VirtioConsole({ write: () => {} }),
  },
  {
    log: "devices::virtio::input",
    expectedFailures: [],
    make: (rng) =>
      new VirtioInput(
        "virtio-input 0",
        defaultInputConfig({ kind: rng.pick(SOCKET_INPUT_KINDS), index: 0 }),
        { write: () => {} },
      ),
  },
  {
    log: "devices::virtio::balloon",
    expectedFailures: BALLOON_EXPECTED_FAILURES,
    make: (rng) => new VirtioBalloon({ pageReporting: rng.chance(0.5), initialPages: 0, release: () => {} }),
  },
  {
    log: "devices::virtio::scsi",
    expectedFailures: SCSI_EXPECTED_FAILURES,
    make: () =>
      new VirtioScsi([
        new LogicalUnit({ disk: new MemoryDisk(DISK_SIZE), readOnly: false, blockSize: 512, target: 0 }),
      ]),
  },
];
