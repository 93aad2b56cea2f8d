// Device memory (virtio-pmem's file in guest physical memory): placement in the high MMIO area, the memory slot
// each mapping gets, and the host mapping KVM reads and writes through (checked here without KVM).
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KVM_CAP_READONLY_MEM, KVM_MEM_READONLY } from "../../../ffi/kvm.ts";
import { close, O_CLOEXEC, O_RDONLY, O_RDWR, open, viewOf } from "../../../ffi/libc.ts";
import { DEVICE_MEMORY_ALIGN, DeviceMemoryArea, type MemorySlots } from "../../../src/vmm/device_memory.ts";
import { OwnedFds } from "../../../src/vmm/owned_fds.ts";
import { planVirtioDevices } from "../../../src/vmm/virtio_devices.ts";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const dir = mkdtempSync(join(tmpdir(), "crosvm-devmem-"));

interface Slot {
  guestAddr: number;
  size: number;
  hostAddr: number;
  flags: number;
}

function fakeVm(readonlyMem = 1): MemorySlots & { slots: Slot[] } {
  const slots: Slot[] = [];
  return {
    slots,
    addMemoryRegion(guestAddr, size, hostAddr, flags = 0) {
      slots.push({ guestAddr, size, hostAddr, flags });
      return slots.length - 1;
    },
    kvm: { checkExtension: (cap: number) => (cap === KVM_CAP_READONLY_MEM ? readonlyMem : 0) },
  };
}

const areas: DeviceMemoryArea[] = [];
const fds: number[] = [];
afterEach(() => {
  for (const a of areas.splice(0)) a.close();
  for (const fd of fds.splice(0)) close(fd);
});

function area(vm: MemorySlots, start = 4 * GiB + 2 * MiB, end = 2 ** 40): DeviceMemoryArea {
  const a = new DeviceMemoryArea(vm, start, end);
  areas.push(a);
  return a;
}

/** A file of `bytes` whose first bytes are `head`, opened read-write (or read-only). */
function file(name: string, bytes: number, head = "", readOnly = false): { path: string; fd: number } {
  const path = join(dir, name);
  const data = new Uint8Array(bytes);
  data.set(new TextEncoder().encode(head));
  writeFileSync(path, data);
  const fd = open(path, (readOnly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
  fds.push(fd);
  return { path, fd };
}

describe("placement", () => {
  test("the first mapping starts at the first 128 MiB boundary of the area", () => {
    const { fd } = file("a.img", 4096);

    const at = area(fakeVm()).map({ fd, fileBytes: 4096, size: 2 * MiB, readOnly: false }, "pmem 0");

    expect(at).toEqual({ start: 4 * GiB + DEVICE_MEMORY_ALIGN, size: 2 * MiB });
  });

  test("a second mapping starts at the next 128 MiB boundary after the first", () => {
    const { fd } = file("b.img", 4096);
    const a = area(fakeVm());
    a.map({ fd, fileBytes: 4096, size: 130 * MiB, readOnly: false }, "pmem 0");

    const second = a.map({ fd, fileBytes: 4096, size: 2 * MiB, readOnly: false }, "pmem 1");

    expect(second.start).toBe(4 * GiB + 3 * DEVICE_MEMORY_ALIGN);
    expect(a.used).toBe(second.start + 2 * MiB);
  });

  test("a mapping past the end of the area is refused with one line naming the device", () => {
    const { fd } = file("c.img", 4096);
    const a = area(fakeVm(), 4 * GiB + 2 * MiB, 4 * GiB + 256 * MiB);

    expect(() =>
      a.map({ fd, fileBytes: 4096, size: 256 * MiB, readOnly: false }, "virtio-pmem 0 (c.img)"),
    ).toThrow("virtio-pmem 0 (c.img): 268435456 bytes do not fit in guest physical memory");
  });

  test("a size that is not whole pages is refused", () => {
    const { fd } = file("d.img", 4096);

    expect(() => area(fakeVm()).map({ fd, fileBytes: 4096, size: 5000, readOnly: false }, "pmem")).toThrow(
      "pmem: bad guest mapping",
    );
  });
});

describe("memory slots", () => {
  test("a writable device gets a slot of its whole size over its host mapping, without flags", () => {
    const vm = fakeVm();
    const { fd } = file("e.img", 4096);
    const a = area(vm);

    const at = a.map({ fd, fileBytes: 4096, size: 2 * MiB, readOnly: false }, "pmem 0");

    expect(vm.slots).toEqual([{ guestAddr: at.start, size: 2 * MiB, hostAddr: a.hostAddress(0), flags: 0 }]);
  });

  test("a read-only device gets a KVM_MEM_READONLY slot", () => {
    const vm = fakeVm();
    const { fd } = file("f.img", 4096, "", true);

    area(vm).map({ fd, fileBytes: 4096, size: 2 * MiB, readOnly: true }, "pmem 0");

    expect(vm.slots[0]!.flags).toBe(KVM_MEM_READONLY);
  });

  test("a read-only device on a KVM without read-only slots is refused", () => {
    const { fd } = file("g.img", 4096, "", true);

    expect(() =>
      area(fakeVm(0)).map({ fd, fileBytes: 4096, size: 2 * MiB, readOnly: true }, "pmem 0"),
    ).toThrow("pmem 0: /dev/kvm has no read-only memory slots (KVM_CAP_READONLY_MEM)");
  });
});

describe("the host mapping", () => {
  test("shows the file's bytes, then zeros up to the mapping's size", () => {
    const { fd } = file("h.img", 6000, "pmem-contents");
    const a = area(fakeVm());
    a.map({ fd, fileBytes: 6000, size: 2 * MiB, readOnly: false }, "pmem 0");

    const view = viewOf(a.hostAddress(0), 2 * MiB);

    expect(new TextDecoder().decode(view.subarray(0, 13))).toBe("pmem-contents");
    expect(view.subarray(13).every((b) => b === 0)).toBe(true);
  });

  test("a write through it (what the guest does through its slot) is in the file", () => {
    const { path, fd } = file("i.img", 8192);
    const a = area(fakeVm());
    a.map({ fd, fileBytes: 8192, size: 2 * MiB, readOnly: false }, "pmem 0");

    viewOf(a.hostAddress(0) + 4096, 5).set(new TextEncoder().encode("hello"));

    expect(new TextDecoder().decode(readFileSync(path).subarray(4096, 4101))).toBe("hello");
  });

  test("a write to the padding past the file does not grow the file", () => {
    const { path, fd } = file("j.img", 4096);
    const a = area(fakeVm());
    a.map({ fd, fileBytes: 4096, size: 2 * MiB, readOnly: false }, "pmem 0");

    viewOf(a.hostAddress(0) + MiB, 1)[0] = 1;

    expect(readFileSync(path).length).toBe(4096);
  });
});

describe("planning virtio devices", () => {
  const base = {
    params: [],
    memMib: 16,
    cpus: 1,
    disks: [],
    serials: [],
    rng: false,
    pvpanic: false,
    disableSandbox: false,
    hugepages: false,
    seccompLogFailures: false,
    extendedStatus: false,
    balloon: false,
    balloonPageReporting: false,
    balloonBiasMib: 0,
    nets: [],
    sharedDirs: [],
  };

  test("a --pmem device's guest mapping is placed and its plan says where", () => {
    const { path } = file("plan.img", 4096);
    const owned = new OwnedFds();
    const placed: string[] = [];

    const plans = planVirtioDevices(
      { ...base, pmems: [{ path, ro: false, root: false }] },
      owned,
      undefined,
      (req, label) => {
        placed.push(`${label}: ${req.size}`);
        return { start: 0x2_0000_0000, size: req.size };
      },
    );
    owned.closeAll();

    expect(placed).toEqual([`virtio-pmem 0 (${path}): ${2 * MiB}`]);
    expect(plans[0]!.mapping).toEqual({ start: 0x2_0000_0000, size: 2 * MiB });
  });

  test("without a way to place it, a device that needs a guest mapping is refused", () => {
    const { path } = file("plan2.img", 4096);
    const owned = new OwnedFds();

    expect(() => planVirtioDevices({ ...base, pmems: [{ path, ro: true, root: false }] }, owned)).toThrow(
      "places no guest mappings",
    );
    owned.closeAll();
  });
});
