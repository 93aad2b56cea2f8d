import { describe, expect, test } from "bun:test";
import { Cmdline, CmdlineError, buildCmdline, diskDeviceName } from "../../../src/arch/x86_64/cmdline.ts";
import type { SerialParameters } from "../../../src/devices/serial/parameters.ts";
import type { DiskOption } from "../../../src/vmm/config.ts";
import { serialPort } from "../fixtures/serial.ts";

const serial = (p: Partial<SerialParameters>): SerialParameters => serialPort({ type: "stdout", ...p });
function disk(p: Partial<DiskOption>): DiskOption {
  return { path: "/disk.img", ro: false, root: false, sparse: true, blockSize: 512, direct: false, ...p };
}
const build = (serials: SerialParameters[] = [], disks: DiskOption[] = [], params: string[] = []) =>
  buildCmdline({ serials, disks, params }).toString();

describe("buildCmdline", () => {
  test("starts with panic=-1", () => {
    expect(build()).toBe("panic=-1");
  });

  test("a console serial port adds console=ttyS{num-1}", () => {
    expect(build([serial({ num: 2, console: true })])).toBe("panic=-1 console=ttyS1");
  });

  test("a virtio console adds console=hvc{num-1}", () => {
    expect(build([serial({ hardware: "virtio-console", num: 1, console: true })])).toBe(
      "panic=-1 console=hvc0",
    );
  });

  test("a debugcon console adds nothing", () => {
    expect(build([serial({ hardware: "debugcon", console: true })])).toBe("panic=-1");
  });

  test("consoles follow the order of the ports given", () => {
    const line = build([
      serial({ num: 1, console: true }),
      serial({ num: 2, console: true }),
      serial({ hardware: "virtio-console", num: 1, console: true }),
    ]);
    expect(line).toBe("panic=-1 console=ttyS0 console=ttyS1 console=hvc0");
  });

  test("earlycon names the port's I/O address", () => {
    expect(build([serial({ num: 1, console: true, earlycon: true })])).toBe(
      "panic=-1 console=ttyS0 earlycon=uart8250,io,0x3f8",
    );
    expect(build([serial({ num: 2, earlycon: true })])).toBe("panic=-1 earlycon=uart8250,io,0x2f8");
  });

  test("earlycon names only a COM port (the rule refusing it elsewhere is in devices/serial/parameters.ts)", () => {
    expect(build([serial({ hardware: "virtio-console", earlycon: true })])).toBe("panic=-1");
  });

  test("-p parameters follow in order, then root=", () => {
    const line = build(
      [serial({ console: true })],
      [disk({}), disk({ root: true, ro: true })],
      ["init=/bin/sh", "quiet loglevel=3"],
    );
    expect(line).toBe("panic=-1 console=ttyS0 init=/bin/sh quiet loglevel=3 root=/dev/vdb ro");
  });

  test("a writable root disk is mounted rw", () => {
    expect(build([], [disk({ root: true })])).toBe("panic=-1 root=/dev/vda rw");
  });

  test("a --scsi-block root disk is root=/dev/sdX, lettered among the SCSI disks", () => {
    const line = buildCmdline({
      serials: [],
      disks: [disk({})],
      scsiDisks: [disk({}), disk({ root: true, ro: true })],
      params: [],
    });

    expect(line.toString()).toBe("panic=-1 root=/dev/sdb ro");
  });

  test("a parameter with a NUL is refused", () => {
    expect(() => build([], [], ["a\0b"])).toThrow(/character code 0/);
  });

  test("a parameter with non-ASCII text is refused", () => {
    expect(() => build([], [], ["café"])).toThrow(CmdlineError);
  });
});

describe("Cmdline.toBytes", () => {
  test("ends with a NUL", () => {
    expect(new Cmdline().insertStr("a=b").toBytes(2047)).toEqual(Uint8Array.of(0x61, 0x3d, 0x62, 0));
  });

  test("a line at the limit is accepted", () => {
    expect(new Cmdline().insertStr("x".repeat(255)).toBytes(255)).toHaveLength(256);
  });

  test("a line over the limit is refused with its length", () => {
    expect(() => new Cmdline().insertStr("x".repeat(256)).toBytes(255)).toThrow(
      /kernel command line is 256 bytes; the kernel accepts at most 255/,
    );
  });

  test("the 2 KiB command line area caps the limit", () => {
    expect(() => new Cmdline().insertStr("x".repeat(2048)).toBytes(4096)).toThrow(/at most 2047/);
  });

  test("insert refuses a key with '='", () => {
    expect(() => new Cmdline().insert("a=", "b")).toThrow(/contains a space or '='/);
  });
});

describe("diskDeviceName", () => {
  test("counts a..z, then aa", () => {
    expect([0, 1, 25, 26, 27, 701, 702].map((i) => diskDeviceName("/dev/vd", i))).toEqual([
      "/dev/vda",
      "/dev/vdb",
      "/dev/vdz",
      "/dev/vdaa",
      "/dev/vdab",
      "/dev/vdzz",
      "/dev/vdaaa",
    ]);
  });
});
