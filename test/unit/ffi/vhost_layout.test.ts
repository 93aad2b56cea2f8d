// Pins the vhost ioctl numbers and struct layouts of ffi/vhost.ts to the installed uapi headers
// (/usr/include/linux/vhost.h, vhost_types.h): a C program prints what the compiler computes from them.
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import * as vhost from "../../../ffi/vhost.ts";
import { CC, headerValues } from "./header_values.ts";

const HEADER = "/usr/include/linux/vhost.h";

const IOCTLS = [
  "VHOST_GET_FEATURES",
  "VHOST_SET_FEATURES",
  "VHOST_SET_OWNER",
  "VHOST_SET_MEM_TABLE",
  "VHOST_SET_VRING_NUM",
  "VHOST_SET_VRING_ADDR",
  "VHOST_SET_VRING_BASE",
  "VHOST_GET_VRING_BASE",
  "VHOST_SET_VRING_KICK",
  "VHOST_SET_VRING_CALL",
  "VHOST_SET_VRING_ERR",
  "VHOST_NET_SET_BACKEND",
  "VHOST_VSOCK_SET_GUEST_CID",
  "VHOST_VSOCK_SET_RUNNING",
] as const;

/** NAME=value of what the compiler computes from the header. */
function fromHeader(): Map<string, number> {
  return headerValues(["linux/vhost.h"], {
    ...Object.fromEntries(IOCTLS.map((n) => [n, n])),
    VHOST_F_LOG_ALL: "VHOST_F_LOG_ALL",
    sizeof_state: "sizeof(struct vhost_vring_state)",
    sizeof_file: "sizeof(struct vhost_vring_file)",
    sizeof_addr: "sizeof(struct vhost_vring_addr)",
    sizeof_memory: "sizeof(struct vhost_memory)",
    sizeof_region: "sizeof(struct vhost_memory_region)",
    ...Object.fromEntries(
      Object.keys(vhost.VHOST_VRING_ADDR_OFFSETS).map((f) => [
        `addr.${f}`,
        `offsetof(struct vhost_vring_addr, ${f})`,
      ]),
    ),
    ...Object.fromEntries(
      Object.keys(vhost.VHOST_MEMORY_REGION_OFFSETS).map((f) => [
        `region.${f}`,
        `offsetof(struct vhost_memory_region, ${f})`,
      ]),
    ),
    "state.num": "offsetof(struct vhost_vring_state, num)",
    "file.fd": "offsetof(struct vhost_vring_file, fd)",
    "memory.regions": "offsetof(struct vhost_memory, regions)",
  });
}

describe.skipIf(!existsSync(HEADER) || !CC)("vhost uapi against linux/vhost.h", () => {
  const c = fromHeader();

  test("every ioctl number is the header's", () => {
    const ours: [string, number | undefined][] = IOCTLS.map((n) => [n, vhost[n]]);
    expect(ours).toEqual(IOCTLS.map((n) => [n, c.get(n)]));
  });

  test("VHOST_F_LOG_ALL is the header's feature bit", () => {
    expect(vhost.VHOST_F_LOG_ALL).toBe(c.get("VHOST_F_LOG_ALL")!);
  });

  test("struct sizes are the header's", () => {
    expect([
      vhost.VHOST_VRING_STATE_SIZE,
      vhost.VHOST_VRING_FILE_SIZE,
      vhost.VHOST_VRING_ADDR_SIZE,
      vhost.VHOST_MEMORY_SIZE,
      vhost.VHOST_MEMORY_REGION_SIZE,
    ]).toEqual(
      ["sizeof_state", "sizeof_file", "sizeof_addr", "sizeof_memory", "sizeof_region"].map((k) => c.get(k)!),
    );
  });

  test("vhost_vring_addr fields are at the header's offsets", () => {
    for (const [f, at] of Object.entries(vhost.VHOST_VRING_ADDR_OFFSETS))
      expect([f, at as number]).toEqual([f, c.get(`addr.${f}`)!]);
  });

  test("vhost_memory_region fields are at the header's offsets, the regions right after the 8-byte header", () => {
    for (const [f, at] of Object.entries(vhost.VHOST_MEMORY_REGION_OFFSETS))
      expect([f, at as number]).toEqual([f, c.get(`region.${f}`)!]);
    expect(c.get("memory.regions")).toBe(vhost.VHOST_MEMORY_SIZE);
  });

  test("vring state and file carry their second field at offset 4", () => {
    expect([c.get("state.num"), c.get("file.fd")]).toEqual([4, 4]);
  });
});

describe("vhost struct encoders", () => {
  test("vringAddr puts the used ring before the available ring, as the struct does", () => {
    const b = vhost.vringAddr(2, { desc: 0x1000, avail: 0x2000, used: 0x3000 });
    const v = new DataView(b.buffer);
    expect([
      v.getUint32(0, true),
      v.getBigUint64(8, true),
      v.getBigUint64(16, true),
      v.getBigUint64(24, true),
      v.getBigUint64(32, true),
    ]).toEqual([2, 0x1000n, 0x3000n, 0x2000n, 0n]);
  });

  test("memoryTable writes the region count and each region's guest, size and host address", () => {
    const b = vhost.memoryTable([
      { guestAddr: 0, size: 0x1000, hostAddr: 0x7f0000000000 },
      { guestAddr: 0x100000000, size: 0x2000, hostAddr: 0x7f0000100000 },
    ]);
    const v = new DataView(b.buffer);
    expect(b.length).toBe(8 + 2 * 32);
    expect(v.getUint32(0, true)).toBe(2);
    expect([v.getBigUint64(40, true), v.getBigUint64(48, true), v.getBigUint64(56, true)]).toEqual([
      0x100000000n,
      0x2000n,
      0x7f0000100000n,
    ]);
  });

  test("memoryTable refuses more regions than vhost's default max_mem_regions", () => {
    const many = Array.from({ length: 65 }, (_, i) => ({ guestAddr: i * 4096, size: 4096, hostAddr: 0 }));
    expect(() => vhost.memoryTable(many)).toThrow("at most 64");
  });

  test("vringFile carries fd -1 (detach) as a signed int", () => {
    expect(new DataView(vhost.vringFile(1, -1).buffer).getInt32(4, true)).toBe(-1);
  });
});
