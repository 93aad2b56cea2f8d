// virtio-vsock benchmark (issue 11): our `--vsock cid=3` (vhost-vsock: the outer VM's kernel moves the data, our
// VMM only sets the rings up and wires kick and call to ioeventfd and irqfd) against QEMU's
// `-device vhost-vsock-pci,guest-cid=3` (the same kernel back end), same guest (Debian kernel, busybox initramfs,
// 256 MiB, 1 vCPU). One AF_VSOCK stream each way with vsock-io (scripts/guest/tools/vsock_io.c; in the guest's
// initramfs, and the same build copied to where the VMM runs):
//   guest -> host   `vsock-io sink PORT` where the VMM runs, `vsock-io send 2 PORT SECONDS` in the guest
//   host -> guest   `vsock-io sink PORT` in the guest, `vsock-io send 3 PORT SECONDS` where the VMM runs
// The sender writes 64 KiB buffers of zeros for STREAM_SECONDS; the figure is the sink's: bytes over the time from
// its first byte to the end of the stream (its own clock), and the sink must have read every byte sent. Beside each
// figure, the CPU time the VMM's processes spent while the host side ran (bench/vmm_cpu.ts): with the data path
// in the kernel, user space outside the guest should stay near zero.
// Each VMM is booted PASSES times, alternating, and the best figure of each is kept. Prints Mbit/s and
// ours/QEMU (target >= 1.0x: the kernel does the work, so anything below means our set-up is wrong).
// Usage: flock /tmp/crosvm-rig.lock bun bench/vsock/run.ts [STREAM_SECONDS] [PASSES]   (default 10 2; needs
// dist/crosvm and gcc)
import { chmodSync, writeFileSync } from "node:fs";
import { guestToolEntries } from "../../scripts/guest/tools.ts";
import { VmmHost } from "../../test/e2e/block_support.ts";
import { shutdownRigs, TestVm, vmmExecutablePath } from "../../test/e2e/harness/test_vm.ts";
import type { VmmKind } from "../../test/e2e/harness/vmm_command.ts";
import { alternate, onHost, ratioTable } from "../compare.ts";
import { type VmmCpu, vmmCpuBetween, vmmCpuScript } from "../vmm_cpu.ts";
import { mbitPerSecond, parseSendReport, parseSinkReport } from "./sink_report.ts";

const STREAM_SECONDS = Number(process.argv[2] ?? 10);
const PASSES = Number(process.argv[3] ?? 2);
/** linux/vm_sockets.h VMADDR_CID_HOST; the guest's CID, the first one a guest may have. */
const HOST_CID = 2;
const GUEST_CID = 3;
const TOOL = "vsock-io";
const EXEC = { timeoutMs: 180_000 };

interface Setup {
  readonly label: string;
  readonly kind: VmmKind;
  best: { g2hMbits: number; h2gMbits: number };
}

function vmmArgs(kind: VmmKind): string[] {
  if (kind === "crosvm") return ["--vsock", `cid=${GUEST_CID}`];
  return ["-device", `vhost-vsock-pci,guest-cid=${GUEST_CID}`];
}

/** What a stream's sink read and how long, checked against what its sender says it sent; in Mbit/s. */
function rate(sinkLine: string, sendLine: string): number {
  const sent = parseSendReport(sendLine);
  const report = parseSinkReport(sinkLine);
  if (report.bytes !== sent) throw new Error(`the sink read ${report.bytes} bytes of ${sent} sent`);
  return mbitPerSecond(report);
}

const cpuText = (c: VmmCpu) =>
  `VMM CPU: user space ${c.userS.toFixed(2)} s, kernel ${c.kernelS.toFixed(2)} s, guest ${c.guestS.toFixed(2)} s`;

async function measure(setup: Setup, pass: number, tool: Uint8Array): Promise<void> {
  const { kind, best } = setup;
  let vmmTool = "";
  const vm = await TestVm.boot({
    vmm: kind,
    cmdline: "quiet",
    vmmArgs: vmmArgs(kind),
    // Made again when a retry runs on a new rig (its /tmp is new).
    beforeAttempt: async () => {
      const files = await VmmHost.open(kind);
      writeFileSync(files.hostPath(TOOL), tool);
      chmodSync(files.hostPath(TOOL), 0o755);
      await files.importImage(TOOL);
      vmmTool = files.vmmPath(TOOL);
    },
  });
  try {
    const cpu = vmmCpuScript(vmmExecutablePath(kind));
    /** `vsock-io ARGS` where the VMM runs: its line, and the VMM's CPU time meanwhile. */
    const host = async (args: string) => {
      const out = await onHost(
        kind,
        `c=$(${cpu}) && ${vmmTool} ${args} && echo "$c" && ${cpu}`,
        EXEC.timeoutMs,
      );
      const [line, before, after] = out.trim().split("\n");
      if (after === undefined)
        throw new Error(`vsock-io ${args} where the VMM runs printed ${JSON.stringify(out)}`);
      return { line: line!, cpu: vmmCpuBetween(before!, after) };
    };
    const guest = (args: string) => vm.execChecked(`${TOOL} ${args}`, EXEC);

    // Each sink is started first; the sender retries its connect until the sink listens.
    const hostSink = host("sink 5201");
    const guestSent = await guest(`send ${HOST_CID} 5201 ${STREAM_SECONDS}`);
    const sunk = await hostSink;
    const g2h = rate(sunk.line, guestSent);

    const guestSink = guest("sink 5202");
    const sent = await host(`send ${GUEST_CID} 5202 ${STREAM_SECONDS}`);
    const h2g = rate(await guestSink, sent.line);
    console.log(
      `${setup.label} pass ${pass}: guest->host ${g2h.toFixed(1)} Mbit/s (${cpuText(sunk.cpu)}), ` +
        `host->guest ${h2g.toFixed(1)} Mbit/s (${cpuText(sent.cpu)})`,
    );
    best.g2hMbits = Math.max(best.g2hMbits, g2h);
    best.h2gMbits = Math.max(best.h2gMbits, h2g);
    await vm.poweroff();
    await vm.waitForExit(60_000);
  } finally {
    await vm.stop();
  }
}

try {
  const entry = (await guestToolEntries()).find((e) => e.path === `usr/bin/${TOOL}`);
  if (entry?.kind !== "file") throw new Error(`scripts/guest/tools.ts built no usr/bin/${TOOL}`);
  const setups: Setup[] = [
    { label: "ours", kind: "crosvm", best: { g2hMbits: 0, h2gMbits: 0 } },
    { label: "QEMU", kind: "qemu", best: { g2hMbits: 0, h2gMbits: 0 } },
  ];
  const failed = await alternate(PASSES, setups, (setup, pass) => measure(setup, pass, entry.data));
  const [ours, qemu] = setups.map((s) => (failed.has(s.label) ? undefined : s.best));
  console.log(`\nvirtio-vsock on vhost-vsock, one stream for ${STREAM_SECONDS} s, best of ${PASSES} boots`);
  for (const line of ratioTable([
    { name: "guest -> host Mbit/s", ours: ours?.g2hMbits, qemu: qemu?.g2hMbits, higherIsBetter: true },
    { name: "host -> guest Mbit/s", ours: ours?.h2gMbits, qemu: qemu?.h2gMbits, higherIsBetter: true },
  ]))
    console.log(line);
} finally {
  await shutdownRigs();
}
