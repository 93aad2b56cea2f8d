// Each device kind's option schema, as the VMM checks the options before a launch and the device process checks
// them again before it builds the model: a renamed, missing or mistyped key is refused on both sides with one
// line naming the kind, the side and the key.
import { describe, expect, test } from "bun:test";
import { blockKind } from "../../../src/devices/virtio/block/kind.ts";
import { consoleFiles, consoleKind } from "../../../src/devices/virtio/console_kind.ts";
import { type AnyVirtioDeviceKind, parseDeviceOptions } from "../../../src/devices/virtio/kind.ts";
import { VIRTIO_DEVICE_KINDS } from "../../../src/devices/virtio/kinds.ts";
import { fsKind } from "../../../src/devices/virtio/fs/kind.ts";
import { rngKind } from "../../../src/devices/virtio/rng_kind.ts";
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
    kind: rngKind,
    what: "an unknown key",
    options: { seed: 1 },
    reason: 'unknown key "seed" (known: none)',
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

test("the built-in kinds attach in crosvm's order: block, console, rng, fs", () => {
  expect(VIRTIO_DEVICE_KINDS.map((k) => k.name)).toEqual(["block", "console", "rng", "fs"]);
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

test("rng is selected unless --no-rng", () => {
  expect(rngKind.select({ rng: true })).toEqual([{}]);
  expect(rngKind.select({ rng: false })).toEqual([]);
});

test("a kind the device process does not know is refused, listing the known ones", () => {
  expect(() => buildVirtioDevice("net", {}, [])).toThrow(
    'device kind "net" is unknown (known: block, console, rng, fs)',
  );
});
