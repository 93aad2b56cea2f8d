// A device process that stops answering (SIGSTOP) must not hang the VMM (issue 9): a request to it waits at most
// the reply deadline, then the VM stops with status 1 and a line naming the device; and SIGTERM still ends a VMM
// whose device process is stopped.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { REPLY_DEADLINE_MS } from "../../../src/jail/device_process/proxy_device.ts";
import { resizeDisk } from "../../../src/vm_control/client.ts";
import { deviceProcesses } from "./processes.ts";
import { startSpinningVm, useVmFiles } from "./spinning_vm.ts";

const files = useVmFiles("crosvm-silent-");
/** A VMM from source takes several seconds to start inside the nested rig (TCG). */
const VMM_TEST_TIMEOUT_MS = 60_000;

/** Starts a VM with one disk and a control socket, waits for its guest, and SIGSTOPs the block device process. */
async function vmWithStoppedDisk(socket: string) {
  const { disk, pivot } = files();
  const proc = await startSpinningVm(["--block", disk, "-s", socket], { DEFAULT_PIVOT_ROOT: pivot });
  const killer = setTimeout(() => proc.kill("SIGKILL"), 60_000);
  const block = deviceProcesses(proc.pid).find((d) => d.cmdline.includes(" block "));
  if (!block) throw new Error("no block device process");
  process.kill(block.pid, "SIGSTOP");
  const ended = Promise.all([proc.exited, new Response(proc.stderr).text()]).then(([status, stderr]) => {
    clearTimeout(killer);
    return { status, stderr, at: performance.now() };
  });
  return { proc, blockPid: block.pid, ended };
}

describe("a silent device process", () => {
  test(
    "a request it does not answer stops the VM with status 1 within the deadline, naming it",
    async () => {
      const socket = join(files().dir, "resize.sock");
      const vm = await vmWithStoppedDisk(socket);

      const asked = performance.now();
      await resizeDisk(socket, 0, 2 << 20).catch(() => {});
      const { status, stderr, at } = await vm.ended;

      expect(status).toBe(1);
      expect(stderr).toMatch(
        new RegExp(
          `device virtio-blk [^\\n]*\\(pid ${vm.blockPid}\\) did not answer within ${REPLY_DEADLINE_MS} ms; stopping the VM`,
        ),
      );
      expect(at - asked).toBeLessThan(REPLY_DEADLINE_MS + 5000);
    },
    VMM_TEST_TIMEOUT_MS,
  );

  test(
    "SIGTERM still ends the VMM",
    async () => {
      const vm = await vmWithStoppedDisk(join(files().dir, "term.sock"));

      const signalled = performance.now();
      vm.proc.kill("SIGTERM");
      const { status, at } = await vm.ended;

      expect(status).toBe(0);
      expect(at - signalled).toBeLessThan(REPLY_DEADLINE_MS + 5000);
    },
    VMM_TEST_TIMEOUT_MS,
  );
});
