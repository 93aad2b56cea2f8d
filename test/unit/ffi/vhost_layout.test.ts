// Pins the vhost ioctl numbers and struct layouts of ffi/vhost.ts to the installed uapi headers
// (/usr/include/linux/vhost.h, vhost_types.h): a C program prints what the compiler computes from them.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as vhost from "../../../ffi/vhost.ts";

const HEADER = "/usr/include/linux/vhost.h";
const CC = Bun.which("cc");

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

/** NAME=value lines the compiler computes from the header. */
function fromHeader(): Map<string, number> {
  const dir = mkdtempSync(join(tmpdir(), "vhost-layout-"));
  try {
    const lines = [
      ...IOCTLS.map((n) => `P("${n}", ${n});`),
      `P("VHOST_F_LOG_ALL", VHOST_F_LOG_ALL);`,
      `P("sizeof_state", sizeof(struct vhost_vring_state));`,
      `P("sizeof_file", sizeof(struct vhost_vring_file));`,
      `P("sizeof_addr", sizeof(struct vhost_vring_addr));`,
      `P("sizeof_memory", sizeof(struct vhost_memory));`,
      `P("sizeof_region", sizeof(struct vhost_memory_region));`,
      ...Object.keys(vhost.VHOST_VRING_ADDR_OFFSETS).map(
        (f) => `P("addr.${f}", offsetof(struct vhost_vring_addr, ${f}));`,
      ),
      ...Object.keys(vhost.VHOST_MEMORY_REGION_OFFSETS).map(
        (f) => `P("region.${f}", offsetof(struct vhost_memory_region, ${f}));`,
      ),
      `P("state.num", offsetof(struct vhost_vring_state, num));`,
      `P("file.fd", offsetof(struct vhost_vring_file, fd));`,
      `P("memory.regions", offsetof(struct vhost_memory, regions));`,
    ];
    const src = join(dir, "v.c");
    writeFileSync(
      src,
      `#include <stdio.h>\n#include <stddef.h>\n#include <linux/vhost.h>\n` +
        `#define P(n, v) printf("%s=%llu\\n", n, (unsigned long long)(v))\n` +
        `int main(void) {\n${lines.join("\n")}\nreturn 0;\n}\n`,
    );
    const exe = join(dir, "v");
    const cc = Bun.spawnSync([CC!, "-o", exe, src]);
    if (cc.exitCode !== 0) throw new Error(`cc failed: ${cc.stderr.toString()}`);
    const out = Bun.spawnSync([exe]).stdout.toString();
    return new Map(
      out
        .trim()
        .split("\n")
        .map((l) => {
          const [k, val] = l.split("=");
          return [k!, Number(val)] as const;
        }),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
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
