// The contract between a virtio device model and its transport (virtio-pci here; a device process proxy later).
//
// Lifecycle (a state machine; the transport drives it, the device never calls back into the transport):
//
//   new ──activate()──▶ active ──reset()──▶ reset ──activate()──▶ active ...
//                        │  ▲
//                 sleep()│  │wake()
//                        ▼  │
//                       asleep
//
// - new: constructed from options; only device_type, queue_max_sizes, features and the config space are used.
// - activate(mem, interrupt, queues): the driver set DRIVER_OK. The device takes ownership of the ready queues
//   (already checked against guest memory) and from then on handles `queueNotify(index)` calls, each of which
//   processes that queue (pop chains -> handle -> add_used -> at most one interrupt). Throwing here refuses
//   activation; the transport then sets DEVICE_NEEDS_RESET.
// - reset(): the driver wrote 0 to device_status. The device drops its queues and interrupt and is ready to be
//   activated again with fresh ones; its backends (disk file, console output) stay open.
// - sleep()/wake(): pause queue processing without losing queue state (for snapshots); notifications that arrive
//   while asleep are processed on wake.
//
// A device never depends on vCPU threads: it gets guest memory, an Interrupt and queue-notify calls, so the same
// code runs in a device process driven by one eventfd per queue (an ioeventfd on its notify address).
import type { GuestMemory } from "../../vm_memory/guest_memory.ts";
import type { Interrupt } from "./interrupt.ts";
import type { Queue } from "./split_queue.ts";

export interface VirtioDevice {
  /** For logs: e.g. "virtio-blk /path/disk.img". */
  readonly debugLabel: string;
  /** Device ID (virtio 1.2 section 5). */
  readonly deviceType: number;
  /** Maximum size of each queue, one entry per queue. */
  readonly queueMaxSizes: readonly number[];
  /** Feature bits the device offers, including VIRTIO_F_VERSION_1 and ring features. */
  features(): bigint;
  /** The features the driver accepted (a subset of features()), told once before activate. */
  ackFeatures(features: bigint): void;
  /** Device-specific configuration space (4.1.4.6); out-of-range bytes read as 0. */
  readConfig(offset: number, data: Uint8Array): void;
  /** Writes to the configuration space; read-only fields ignore them. */
  writeConfig(offset: number, data: Uint8Array): void;
  /** new/reset -> active. `queues` maps queue index to each queue the driver enabled. */
  activate(mem: GuestMemory, interrupt: Interrupt, queues: ReadonlyMap<number, Queue>): void;
  /** The driver (or its ioeventfd) notified queue `index`. Never throws. */
  queueNotify(index: number): void;
  /** active -> reset. */
  reset(): void;
  sleep?(): void;
  wake?(): void;
  /**
   * A kind-specific request from the kind's control hook in the VMM (opaque bytes, e.g. balloon/control.ts);
   * returns the reply bytes, throws to refuse. Devices without control requests leave it out.
   */
  controlRequest?(request: Uint8Array): Uint8Array;
}

/** Where a device is in the lifecycle above; devices keep one of these. */
export type DeviceLifecycle = "new" | "active" | "asleep" | "reset";
