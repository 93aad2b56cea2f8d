// Shared setup for device-process tests: memfd-backed guest memory, per-queue ioeventfds and per-vector irqfds
// (plain eventfds here: no VM, so the test plays KVM's part by writing and reading them).
import { afterEach, beforeEach } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { close, EFD_CLOEXEC, EFD_NONBLOCK, eventfd, POLLIN, poll } from "../../../ffi/libc.ts";
import type { GuestMemory } from "../../../src/vm_memory/guest_memory.ts";
import { createGuestRam, releaseGuestRam } from "../../../src/vmm/guest_ram.ts";
import {
  type DeviceProcess,
  type DeviceProcessOptions,
  startDeviceProcess,
} from "../../../src/jail/device_process/spawn.ts";

export const ENTRY = join(import.meta.dir, "test_entry.ts");

export interface Rig {
  readonly mem: GuestMemory;
  readonly queueEvents: number[];
  readonly irqfds: number[];
  readonly pivotRoot: string;
  dispose(): void;
}

export function makeRig(queues = 1, vectors = 2, memBytes = 1 << 20): Rig {
  const mem = createGuestRam([{ guestAddr: 0, size: memBytes }], { name: "jail_test" });
  const queueEvents = Array.from({ length: queues }, () => eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  const irqfds = Array.from({ length: vectors }, () => eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  const pivotRoot = mkdtempSync(join(tmpdir(), "crosvm-pivot-"));
  return {
    mem,
    queueEvents,
    irqfds,
    pivotRoot,
    dispose() {
      for (const fd of [...queueEvents, ...irqfds]) close(fd);
      releaseGuestRam(mem);
      rmSync(pivotRoot, { recursive: true, force: true });
    },
  };
}

export function start(rig: Rig, kind: string, extra: Partial<DeviceProcessOptions> = {}) {
  return startDeviceProcess({
    kind,
    memory: rig.mem,
    queueEvents: rig.queueEvents,
    irqfds: rig.irqfds,
    options: {},
    sandbox: { pivotRoot: rig.pivotRoot },
    command: [process.execPath, ENTRY, "device-process"],
    ...extra,
  });
}

/** Waits up to `ms` for `fd` to become readable. */
export async function readable(fd: number, ms = 5000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (poll([{ fd, events: POLLIN }], 0)[0]! & POLLIN) return true;
    await Bun.sleep(2);
  }
  return false;
}

/**
 * Registers hooks that give each test a fresh Rig (`rig()`) and stop, after it, every device process the test
 * pushed onto `running`.
 */
export function useRig(): { rig: () => Rig; running: DeviceProcess[] } {
  let rig: Rig | undefined;
  const running: DeviceProcess[] = [];
  beforeEach(() => {
    rig = makeRig();
  });
  afterEach(async () => {
    for (const p of running.splice(0)) await p.stop();
    rig?.dispose();
  });
  return { rig: () => rig!, running };
}
