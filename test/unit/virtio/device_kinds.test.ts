// Each device kind's option schema, as the VMM checks the options before a launch and the device process checks
// them again before it builds the model: a renamed, missing or mistyped key is refused on both sides with one
// line naming the kind, the side and the key.
import { describe, expect, test } from "bun:test";
import { balloonKind } from "../../../src/devices/virtio/balloon/kind.ts";
import { blockKind } from "../../../src/devices/virtio/block/kind.ts";
import { consoleFiles, consoleKind } from "../../../src/devices/virtio/console_kind.ts";
import { type AnyVirtioDeviceKind, parseDeviceOptions } from "../../../src/devices/virtio/kind.ts";
import { VIRTIO_DEVICE_KINDS } from "../../../src/devices/virtio/kinds.ts";
import { pmemKind } from "../../../src/devices/virtio/pmem/kind.ts";
import { inputKind } from "../../../src/devices/virtio/input/kind.ts";
import { netKind } from "../../../src/devices/virtio/net/kind.ts";
import { fsKind } from "../../../src/devices/virtio/fs/kind.ts";
import { p9Kind } from "../../../src/devices/virtio/p9/kind.ts";
import { rngKind } from "../../../src/devices/virtio/rng_kind.ts";
import { scsiKind } from "../../../src/devices/virtio/scsi/kind.ts";
import { vsockKind } from "../../../src/devices/virtio/vsock/kind.ts";
import { buildVirtioDevice } from "../../../src/jail/device_process/device_kinds.ts";

const goodBlock = {
  path: "/x.img",
  readOnly: false,
  sparse: true,
  blockSize: 512,
  direct: false,
  lock: true,
};
const goodConsole = { num: 1, type: "sink", stdin: false };
const goodBalloon = { pageReporting: false, initialPages: 0, memoryPages: 65536 };
const goodFs = {
  path: "/tmp",
  tag: "t",
  cache: "auto",
  timeout: 5,
  writeback: false,
  rewriteSecurityXattrs: false,
  asciiCasefold: false,
  posixAcl: true,
};

interface BadCase {
  readonly kind: AnyVirtioDeviceKind;
  readonly what: string;
  readonly options: unknown;
  /** The part of the message after "KIND device options (SIDE): ". */
  readonly reason: string;
}

const { blockSize: _, ...blockWithoutBlockSize } = goodBlock;
const { path: __, ...blockWithoutPath } = goodBlock;
const { num: ___, ...consoleWithoutNum } = goodConsole;
const goodInput = { type: "keyboard", path: "/tmp/kbd", index: 0 };

const cases: BadCase[] = [
  {
    kind: blockKind,
    what: "a renamed key",
    options: { ...blockWithoutBlockSize, block_size: 512 },
    reason:
      'unknown key "block_size" (known: path, readOnly, sparse, blockSize, id, direct, lock); key "blockSize" is missing',
  },
  { kind: blockKind, what: "a missing key", options: blockWithoutPath, reason: 'key "path" is missing' },
  {
    kind: blockKind,
    what: "a mistyped key",
    options: { ...goodBlock, blockSize: "4k" },
    reason: 'key "blockSize": expected an integer block size, got "4k"',
  },
  {
    kind: consoleKind,
    what: "a renamed key",
    options: { ...goodConsole, port: 1 },
    reason: 'unknown key "port" (known: num, type, path, input, stdin)',
  },
  { kind: consoleKind, what: "a missing key", options: consoleWithoutNum, reason: 'key "num" is missing' },
  {
    kind: consoleKind,
    what: "a mistyped key",
    options: { ...goodConsole, stdin: "yes" },
    reason: 'key "stdin": expected a boolean, got "yes"',
  },
  {
    kind: pmemKind,
    what: "a renamed key",
    options: { path: "/p.img", ro: false },
    reason: 'unknown key "ro" (known: path, readOnly, vmaSize); key "readOnly" is missing',
  },
  {
    kind: pmemKind,
    what: "a vma size of zero",
    options: { path: "/p.img", readOnly: false, vmaSize: 0 },
    reason: 'key "vmaSize": expected a positive integer, got 0',
  },
  {
    kind: scsiKind,
    what: "a renamed key",
    options: { disks: [{ path: "/x.img", readOnly: false, block_size: 512, lock: true }] },
    reason: 'unknown key "disks.0.block_size" (known: disks); key "disks.0.blockSize" is missing',
  },
  {
    kind: scsiKind,
    what: "a block size that is not a power of two",
    options: { disks: [{ path: "/x.img", readOnly: false, blockSize: 1000, lock: true }] },
    reason: 'key "disks.0.blockSize": expected a power of two >= 512, got 1000',
  },
  {
    kind: scsiKind,
    what: "no disks",
    options: { disks: [] },
    reason: 'key "disks": expected at least one disk, got []',
  },
  {
    kind: rngKind,
    what: "an unknown key",
    options: { seed: 1 },
    reason: 'unknown key "seed" (known: none)',
  },
  {
    kind: balloonKind,
    what: "a renamed key",
    options: { ...goodBalloon, page_reporting: true },
    reason: 'unknown key "page_reporting" (known: pageReporting, initialPages, memoryPages)',
  },
  {
    kind: balloonKind,
    what: "an initial size past a u32 of pages",
    options: { ...goodBalloon, initialPages: 2 ** 32 },
    reason: 'key "initialPages": expected a page count (u32), got 4294967296',
  },
  {
    kind: inputKind,
    what: "an unknown type",
    options: { ...goodInput, type: "joystick" },
    reason:
      'key "type": expected one of evdev, keyboard, mouse, multi-touch, rotary, single-touch, switches, trackpad, got "joystick"',
  },
  {
    kind: inputKind,
    what: "a width of 0",
    options: { ...goodInput, type: "multi-touch", width: 0 },
    reason: 'key "width": expected an integer from 1 to 2147483647, got 0',
  },
  {
    kind: netKind,
    what: "a renamed key",
    options: { tap: "tap0", vqPairs: 1 },
    reason: 'unknown key "tap" (known: tapName, tapFd, hostIp, netmask, mac, vqPairs, vhostNet)',
  },
  { kind: netKind, what: "a missing key", options: { tapName: "tap0" }, reason: 'key "vqPairs" is missing' },
  {
    kind: netKind,
    what: "a mistyped key",
    options: { tapName: "tap0", vqPairs: 1, mac: "01:00:5e:00:00:01" },
    reason: 'key "mac": expected a unicast MAC address such as 52:54:00:12:34:56, got "01:00:5e:00:00:01"',
  },
  {
    kind: netKind,
    what: "two TAP sources",
    options: { tapName: "tap0", tapFd: 3, vqPairs: 1 },
    reason: 'expected exactly one of tapName, tapFd, hostIp, got {"tapName":"tap0","tapFd":3,"vqPairs":1}',
  },
  {
    kind: fsKind,
    what: "a tag longer than 36 bytes",
    options: { ...goodFs, tag: "x".repeat(37) },
    reason: `key "tag": expected a tag of 1 to 36 bytes, got "${"x".repeat(37)}"`,
  },
  {
    kind: fsKind,
    what: "an unknown cache mode",
    options: { ...goodFs, cache: "sometimes" },
    reason: 'key "cache": expected never, auto or always, got "sometimes"',
  },
  {
    kind: fsKind,
    what: "a negative uid",
    options: { ...goodFs, uid: -1 },
    reason: 'key "uid": expected an id, got -1',
  },
  {
    kind: p9Kind,
    what: "a gid of (gid_t)-1",
    options: { path: "/tmp", tag: "t", asciiCasefold: false, gid: 2 ** 32 - 1 },
    reason: 'key "gid": expected an id, got 4294967295',
  },
  {
    kind: p9Kind,
    what: "a FUSE cache key",
    options: { path: "/tmp", tag: "t", asciiCasefold: false, cache: "auto" },
    reason: 'unknown key "cache" (known: path, tag, asciiCasefold, uidmap, gidmap, uid, gid)',
  },
  {
    kind: p9Kind,
    what: "an empty tag",
    options: { path: "/tmp", tag: "", asciiCasefold: false },
    reason: 'key "tag": expected a tag of 1 to 36 bytes, got ""',
  },
  {
    kind: vsockKind,
    what: "a reserved CID",
    options: { cid: 2, device: "/dev/vhost-vsock", option: "--vsock" },
    reason: 'key "cid": expected a CID from 3 to 4294967294 (0-2 are reserved, 2 is the host), got 2',
  },
  {
    kind: vsockKind,
    what: "a missing device",
    options: { cid: 3, option: "--vsock" },
    reason: 'key "device" is missing',
  },
  {
    kind: rngKind,
    what: "no options at all",
    options: undefined,
    reason: "expected an object, got undefined",
  },
];

describe.each(cases)("$kind.name options with $what", ({ kind, options, reason }) => {
  test("are refused in the VMM, naming the key", () => {
    expect(() => parseDeviceOptions(kind, options, "VMM")).toThrow(
      `${kind.name} device options (VMM): ${reason}`,
    );
  });

  test("are refused in the device process with the same reason", () => {
    expect(() => buildVirtioDevice(kind.name, options, [])).toThrow(
      `${kind.name} device options (device process): ${reason}`,
    );
  });
});

test("the built-in kinds attach in crosvm's order: block, scsi, console, pmem, rng, input, balloon, net, vsock, fs, p9", () => {
  expect(VIRTIO_DEVICE_KINDS.map((k) => k.name)).toEqual([
    "block",
    "scsi",
    "console",
    "pmem",
    "rng",
    "input",
    "balloon",
    "net",
    "vsock",
    "fs",
    "p9",
  ]);
});

test("each built-in kind names a seccomp policy file that exists", async () => {
  for (const kind of VIRTIO_DEVICE_KINDS) {
    const file = Bun.file(`${import.meta.dir}/../../../policy/${kind.policy}.policy`);

    expect(await file.exists()).toBe(true);
  }
});

test("the block kind selects one device per --block, in order, with the device's option names", () => {
  const disk = { path: "a.img", ro: true, root: true, sparse: false, blockSize: 4096, id: "d", direct: true };

  const selected = blockKind.select({
    disks: [disk, { ...disk, path: "b.img", id: undefined, lock: false }],
  });

  expect(selected).toEqual([
    { path: "a.img", readOnly: true, sparse: false, blockSize: 4096, id: "d", direct: true, lock: true },
    { path: "b.img", readOnly: true, sparse: false, blockSize: 4096, direct: true, lock: false },
  ]);
});

test("the console kind selects only virtio-console ports", () => {
  const port = { type: "sink", num: 1, stdin: false } as const;

  const selected = consoleKind.select({
    serials: [
      { ...port, hardware: "serial" },
      { ...port, hardware: "virtio-console", num: 2 },
    ],
  });

  expect(selected).toEqual([{ num: 2, type: "sink", stdin: false }]);
});

test("a console port's files are its output then its input, as both sides count them", () => {
  expect(consoleFiles({ num: 1, type: "stdout", stdin: true })).toEqual({ output: true, input: true });
  expect(consoleFiles({ num: 1, type: "file", stdin: false })).toEqual({ output: false, input: false });
  expect(consoleFiles({ num: 1, type: "sink", input: "in.txt", stdin: false })).toEqual({
    output: false,
    input: true,
  });
});

test("a console device given fewer descriptors than its options name is refused", () => {
  expect(() => buildVirtioDevice("console", { num: 3, type: "stdout", stdin: true }, [7])).toThrow(
    "virtio-console 3: got 1 descriptors, expected 2",
  );
});

test("the scsi kind selects one controller holding every --scsi-block, in order, or none", () => {
  const disk = { path: "a.img", ro: true, root: false, blockSize: 4096 };

  const selected = scsiKind.select({ scsiDisks: [disk, { ...disk, path: "b.img", ro: false, lock: false }] });

  expect(selected).toEqual([
    {
      disks: [
        { path: "a.img", readOnly: true, blockSize: 4096, lock: true },
        { path: "b.img", readOnly: false, blockSize: 4096, lock: false },
      ],
    },
  ]);
  expect(scsiKind.select({})).toEqual([]);
});

test("rng is selected unless --no-rng", () => {
  expect(rngKind.select({ rng: true })).toEqual([{}]);
  expect(rngKind.select({ rng: false })).toEqual([]);
});

test("a kind the device process does not know is refused, listing the known ones", () => {
  expect(() => buildVirtioDevice("gpu", {}, [])).toThrow(
    'device kind "gpu" is unknown (known: block, scsi, console, pmem, rng, input, balloon, net, vsock, fs, p9)',
  );
});

test("shared directories go to the fs or the p9 kind by their type, in the order given", () => {
  const dir = (tag: string, type: "fs" | "p9") => ({ ...goodFs, tag, type, cache: "auto" as const });
  const config = { sharedDirs: [dir("a", "p9"), dir("b", "fs"), dir("c", "p9")] };

  const fs = fsKind.select(config).map((o) => o.tag);
  const p9 = p9Kind.select(config);

  expect(fs).toEqual(["b"]);
  expect(p9).toEqual([
    { path: "/tmp", tag: "a", asciiCasefold: false },
    { path: "/tmp", tag: "c", asciiCasefold: false },
  ]);
});

test("a shared directory's uid and gid go to its kind with its id maps", () => {
  const uidmap = [{ inner: 1000, outer: 5000, count: 1 }];
  const dir = { ...goodFs, type: "p9" as const, cache: "auto" as const, uidmap, uid: 1000, gid: 100 };

  expect(p9Kind.select({ sharedDirs: [dir] })).toEqual([
    { path: "/tmp", tag: "t", asciiCasefold: false, uidmap, uid: 1000, gid: 100 },
  ]);
});

describe.each([fsKind, p9Kind])("the $name device's process identity", (kind) => {
  const base = kind === fsKind ? goodFs : { path: "/tmp", tag: "t", asciiCasefold: false };

  test("uid and gid run it as the host ids the share's maps give them", () => {
    const options = {
      ...base,
      uidmap: [{ inner: 1000, outer: 5000, count: 10 }],
      gidmap: [{ inner: 100, outer: 600, count: 1 }],
      uid: 1003,
      gid: 100,
    };

    const built = buildVirtioDevice(kind.name, options, []);

    expect(built.runAs).toEqual({ uid: 5003, gid: 600, what: "--shared-dir t uid=1003:gid=100" });
  });

  test("without maps the ids are the host's, and a gid alone changes only the gid", () => {
    const built = buildVirtioDevice(kind.name, { ...base, gid: 4321 }, []);

    expect(built.runAs).toEqual({ gid: 4321, what: "--shared-dir t gid=4321" });
  });

  test("without uid and gid the device keeps the launcher's ids", () => {
    expect(buildVirtioDevice(kind.name, base, []).runAs).toBeUndefined();
  });

  test("a uid the uidmap does not map is refused where the model is built", () => {
    const options = { ...base, uidmap: [{ inner: 0, outer: 5000, count: 1 }], uid: 7 };

    expect(() => buildVirtioDevice(kind.name, options, [])).toThrow(
      "uid 7 is not mapped by the share's uidmap",
    );
  });
});

test("the balloon is selected unless --no-balloon, starting at --mem minus --init-mem", () => {
  const vm = { balloon: true, balloonPageReporting: true, memMib: 1024 };

  expect(balloonKind.select({ ...vm, initMemMib: 256 })).toEqual([
    { pageReporting: true, initialPages: 768 * 256, memoryPages: 1024 * 256 },
  ]);
  expect(balloonKind.select({ ...vm, balloon: false })).toEqual([]);
});

test("vsock is selected only when the VM has a CID, with its device and the option that gave it", () => {
  const vsock = { cid: 5, device: "/dev/vhost-vsock", option: "--cid" };

  expect([vsockKind.select({}), vsockKind.select({ vsock })]).toEqual([[], [vsock]]);
});
