// The VMM's checks of a --net TAP source that need no privilege: a missing interface, one that is not a TAP, and
// tap-fd descriptors that are closed or are not TAPs. Each is one line naming the --net value.
import { afterAll, expect, test } from "bun:test";
import { close, O_RDWR, open } from "../../../../ffi/libc.ts";
import { openTapQueues } from "../../../../src/devices/virtio/net/open_tap.ts";

const devNull = open("/dev/null", O_RDWR);
afterAll(() => close(devNull));

test("a tap-name naming no interface is refused with the way to make one", () => {
  expect(() => openTapQueues({ kind: "name", name: "nosuchtap9" }, 1)).toThrow(
    "--net tap-name=nosuchtap9: no such TAP interface (create it first, e.g. ip tuntap add nosuchtap9 mode tap)",
  );
});

test("a tap-name naming an interface that is not a TAP is refused", () => {
  expect(() => openTapQueues({ kind: "name", name: "lo" }, 1)).toThrow(
    "--net tap-name=lo: lo is not a TAP interface",
  );
});

test("a tap-fd that is not a TAP is refused, naming the descriptor", () => {
  expect(() => openTapQueues({ kind: "fd", fd: devNull }, 1)).toThrow(
    `--net tap-fd=${devNull}: descriptor ${devNull} is not a TAP (TUNGETIFF: ENOTTY)`,
  );
});

test("a tap-fd that is not open is refused", () => {
  expect(() => openTapQueues({ kind: "fd", fd: 987 }, 1)).toThrow(
    "--net tap-fd=987: descriptor 987 is not open",
  );
});

test("a tap-fd with vq-pairs above 1 is refused: one descriptor is one TAP queue", () => {
  expect(() => openTapQueues({ kind: "fd", fd: devNull }, 2)).toThrow(
    "vq-pairs=2 needs one TAP queue per pair",
  );
});
