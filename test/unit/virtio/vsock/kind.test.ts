// The VMM's side of the vsock kind: opening the vhost-vsock device and claiming the CID, where each problem is
// one line naming the option and what to do. (A CID another VM holds, EADDRINUSE, needs the host's vhost-vsock:
// test/e2e/net.test.ts starts a second VM with the first one's CID.)
import { expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openVhostVsock, VsockOptionError } from "../../../../src/devices/virtio/vsock/kind.ts";

test("a missing vhost-vsock device says to load the module", () => {
  const device = join(mkdtempSync(join(tmpdir(), "vsock-")), "vhost-vsock");

  expect(() => openVhostVsock({ cid: 3, device, option: "--vsock" })).toThrow(
    `--vsock: ${device} does not exist: load the host's vhost-vsock module (modprobe vhost_vsock)`,
  );
});

test("a --vhost-vsock-fd that is not open is named as such", () => {
  const open = () =>
    openVhostVsock({ cid: 3, device: "/proc/self/fd/987654", option: "--vhost-vsock-fd 987654" });

  expect(open).toThrow("--vhost-vsock-fd 987654: 987654 is not an open descriptor");
});

test("a device that is not vhost-vsock refuses the CID in one line", () => {
  const open = () => openVhostVsock({ cid: 3, device: "/dev/null", option: "--vsock" });

  expect(open).toThrow(new VsockOptionError("--vsock: /dev/null refused CID 3: ENOTTY"));
});
