// Records the --trace-file of one real boot, for the README's picture (docs/boot-trace.svg, drawn from it by
// scripts/trace_picture.ts). In one outer rig VM (bench/boot-time/outer_vm.ts: QEMU/TCG with emulated AMD-V),
// dist/crosvm boots Debian's kernel with the generic test initramfs (scripts/guest/rootfs/init), 2 vCPUs, a
// 16 MiB virtio-blk disk and a control socket; once /init is done, the guest's console shell reads the whole disk,
// and then `crosvm stop` ends the VM, which writes the trace. The trace comes back over the rig's 9p scratch folder.
// Usage (rig runs must not overlap on this machine):
//   flock /tmp/crosvm-rig.lock bun scripts/boot_trace.ts [OUT.json]    (default build/boot-trace.json; needs dist/crosvm)
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { OuterVm } from "../bench/boot-time/outer_vm.ts";
import { rigLayout } from "./guest/rig/outer_image.ts";

const out = resolve(process.argv[2] ?? join(import.meta.dir, "../build/boot-trace.json"));
const crosvm = rigLayout.vmmPath("crosvm");
/** Files in the outer VM. */
const at = {
  disk: "/run/disk.img",
  consoleIn: "/run/console-in",
  console: "/run/console.log",
  stderr: "/run/crosvm.err",
  socket: "/run/vm.sock",
  trace: "/run/boot.json",
  pid: "/run/crosvm.pid",
};
/** /init's last line with agent=none (scripts/guest/rootfs/init), just before it starts the console shell. */
const INIT_DONE = "agent not started";
/** Printed by the command the console shell runs; "$((1+1))" keeps the echoed command line from matching. */
const READ_DONE = "disk-read-2";
const READ_COMMAND = "dd if=/dev/vda of=/dev/null bs=64k && echo disk-read-$((1+1))";

/** Polls `grep -q TEXT FILE` in the outer VM until it matches; throws with the console and stderr if not. */
async function waitFor(outer: OuterVm, text: string, file: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await outer.exec(`grep -q '${text}' ${file}`)).exitCode === 0) return;
    await Bun.sleep(1000);
  }
  const logs = await outer.exec(`tail -n 20 ${at.console}; echo ---; tail -n 20 ${at.stderr}`);
  throw new Error(`"${text}" did not appear in ${file} within ${timeoutMs} ms:\n${logs.stdout}`);
}

const scratch = mkdtempSync(join(tmpdir(), "crosvm-boot-trace-"));
console.log("boot-trace: starting the outer rig VM (QEMU/TCG, emulated AMD-V)");
const outer = await OuterVm.start({ scratchDir: scratch });
try {
  await outer.run(`dd if=/dev/urandom of=${at.disk} bs=1M count=16 2> /dev/null && mkfifo ${at.consoleIn}`);
  // The console's input is a FIFO that a sleeping writer holds open, so the guest's shell sees no end of input
  // and one command can be written to it later.
  const argv = [
    ...[crosvm, "run", "--cpus", "2", "--mem", "256", "-s", at.socket, "--trace-file", at.trace],
    ...["--block", at.disk, "-p", "quiet", "-p", "agent=none"],
    ...["-i", rigLayout.initrd("generic"), rigLayout.bzImage("generic")],
  ].join(" "); // no argument holds a space or a quote
  await outer.run(
    `setsid sh -c 'sleep 3600 > ${at.consoleIn}' < /dev/null > /dev/null 2>&1 &\n` +
      `setsid sh -c 'echo $$ > ${at.pid}; exec ${argv} < ${at.consoleIn} > ${at.console} 2> ${at.stderr}' ` +
      `< /dev/null > /dev/null 2>&1 &`,
  );
  const started = performance.now();
  await waitFor(outer, INIT_DONE, at.console, 300_000);
  console.log(`boot-trace: /init done after ${((performance.now() - started) / 1000).toFixed(1)} s`);
  await outer.run(`echo '${READ_COMMAND}' > ${at.consoleIn}`);
  await waitFor(outer, READ_DONE, at.console, 120_000);
  await outer.run(`${crosvm} stop ${at.socket}`);
  // The VMM writes the trace as it ends.
  await outer.run(
    `n=0; while kill -0 $(cat ${at.pid}) 2> /dev/null && [ $n -lt 60 ]; do sleep 1; n=$((n+1)); done; ` +
      `kill -0 $(cat ${at.pid}) 2> /dev/null && exit 1; cp ${at.trace} /scratch/boot.json`,
    90_000,
  );
  mkdirSync(dirname(out), { recursive: true });
  copyFileSync(join(scratch, "boot.json"), out);
  console.log(`boot-trace: wrote ${out}`);
} finally {
  await outer.stop();
  rmSync(scratch, { recursive: true, force: true });
}
