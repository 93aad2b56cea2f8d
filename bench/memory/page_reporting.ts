// The page-reporting line of bench/memory (issue 13): after the guest has dirtied then freed 512 MiB, how much
// host memory still holds guest RAM, crosvm with --balloon-page-reporting against QEMU's virtio-balloon with
// free-page-reporting=on. The guest is typed a command on its console shell (the VMM's stdin is a FIFO, see
// nested_vmm.ts): fill a 512 MiB tmpfs file, delete it, print a marker. Linux then reports the freed blocks (at
// least 2 MiB each, some seconds later) and the VMM gives them back; the guest-RAM PSS is read every 2 s until it
// stops falling. Guest-RAM PSS is pss.ts's: crosvm's memfd mappings summed over its processes, QEMU's RAM block.
import { rigLayout } from "../../scripts/guest/rig/outer_image.ts";
import type { OuterVm } from "../boot-time/outer_vm.ts";
import { median, summary } from "../boot-time/stats.ts";
import {
  AGENT_OUT,
  CONSOLE_IN,
  endNestedVmm,
  processPss,
  startNestedVmm,
  waitForGuest,
} from "./nested_vmm.ts";

export const REPORTING_MEM_MIB = 1024;
const DIRTY_MIB = 512;
const kernel = rigLayout.bzImage("generic");
const initrd = rigLayout.initrd("generic");

export type ReportingSetup = "crosvm --balloon-page-reporting" | "qemu free-page-reporting=on";
export const REPORTING_SETUPS: readonly ReportingSetup[] = [
  "crosvm --balloon-page-reporting",
  "qemu free-page-reporting=on",
];

function argv(setup: ReportingSetup): string[] {
  if (setup === "qemu free-page-reporting=on")
    return [
      rigLayout.vmmPath("qemu"),
      ...["-accel", "kvm", "-cpu", "host", "-M", "pc", "-m", `${REPORTING_MEM_MIB}`, "-smp", "1"],
      ...["-nodefaults", "-no-user-config", "-display", "none", "-no-reboot"],
      ...["-kernel", kernel, "-initrd", initrd, "-append", "panic=-1 console=ttyS0 quiet"],
      ...["-serial", "stdio", "-serial", `file:${AGENT_OUT}`],
      ...["-device", "virtio-balloon-pci,free-page-reporting=on"],
    ];
  return [
    rigLayout.vmmPath("crosvm"),
    "run",
    ...["--mem", `${REPORTING_MEM_MIB}`, "--cpus", "1", "--no-rng", "--balloon-page-reporting"],
    ...["--serial", `type=file,path=${AGENT_OUT},num=2`],
    ...["-p", "quiet", "-i", initrd, kernel],
  ];
}

/** The command typed into the guest's console; the marker is computed so that the echoed typing does not match. */
const DIRTY_AND_FREE = [
  `mkdir -p /mnt/fill && mount -t tmpfs -o size=${DIRTY_MIB + 16}m tmpfs /mnt/fill`,
  `dd if=/dev/zero of=/mnt/fill/f bs=1M count=${DIRTY_MIB} 2> /dev/null`,
  "rm /mnt/fill/f && umount /mnt/fill && echo FREED-$((6 * 7))",
].join(" && ");
const FREED = "FREED-42";

async function guestRamMiB(outer: OuterVm, pid: string, setup: ReportingSetup): Promise<number> {
  const procs = await processPss(
    outer,
    pid,
    REPORTING_MEM_MIB,
    setup.startsWith("qemu") ? "qemu" : "crosvm",
    rigLayout.vmmPath("crosvm"),
  );
  return procs.reduce((n, p) => n + p.guestRamPssKiB, 0) / 1024;
}

export interface ReportingResult {
  /** Guest-RAM PSS right after the guest printed the marker (before reporting caught up), MiB. */
  readonly afterFreeMiB: number;
  /** Once it stopped falling (two readings 2 s apart within 2 MiB, or 90 s), MiB. */
  readonly settledMiB: number;
}

export async function measurePageReporting(outer: OuterVm, setup: ReportingSetup): Promise<ReportingResult> {
  const pid = await startNestedVmm(outer, argv(setup), { consoleInput: true });
  try {
    await waitForGuest(outer, pid, setup);
    await outer.run(`echo ${JSON.stringify(DIRTY_AND_FREE).replaceAll("$", "\\$")} > ${CONSOLE_IN}`);
    const deadline = Date.now() + 240_000;
    while ((await outer.exec(`grep -q ${FREED} /run/bench-vmm.out`)).exitCode !== 0) {
      if (Date.now() > deadline) throw new Error(`${setup}: the guest did not finish dirtying in 240 s`);
      await Bun.sleep(2000);
    }
    const afterFreeMiB = await guestRamMiB(outer, pid, setup);
    let last = afterFreeMiB;
    const settleBy = Date.now() + 90_000;
    for (;;) {
      await Bun.sleep(2000);
      const now = await guestRamMiB(outer, pid, setup);
      const settled = Math.abs(last - now) < 2;
      last = now;
      if (settled || Date.now() > settleBy) break;
    }
    return { afterFreeMiB, settledMiB: last };
  } finally {
    await endNestedVmm(outer, pid);
  }
}

/** Prints the line with its ratio and method. */
export function printPageReporting(results: ReadonlyMap<ReportingSetup, number[]>): void {
  const qemu = median(results.get("qemu free-page-reporting=on")!);
  console.log(
    `\nhost memory still holding guest RAM after the guest dirtied then freed ${DIRTY_MIB} MiB, MiB, median (min..max):`,
  );
  for (const setup of REPORTING_SETUPS) {
    const values = results.get(setup)!;
    console.log(
      `  ${setup.padEnd(34)} ${summary(values, 1).padEnd(28)} ratio to qemu ${(median(values) / qemu).toFixed(2)}`,
    );
  }
  console.log(
    `method: guest ${REPORTING_MEM_MIB} MiB, 1 vCPU, no disk; the guest fills a ${DIRTY_MIB} MiB tmpfs file from` +
      ` /dev/zero, deletes it and unmounts the tmpfs; guest-RAM PSS (crosvm: its memfd mappings over all its` +
      ` processes; QEMU: its RAM block) read every 2 s from then until two readings agree within 2 MiB (at most` +
      ` 90 s). crosvm --no-rng --balloon-page-reporting; QEMU -device virtio-balloon-pci,free-page-reporting=on.`,
  );
}
