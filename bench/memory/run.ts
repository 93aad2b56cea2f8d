// Memory benchmark (then the page-reporting line, page_reporting.ts): once the guest has reached init with block, rng and console devices (its agent is up, so
// /init has loaded the virtio modules), the summed PSS of all VMM processes with guest RAM excluded, for crosvm
// sandboxed (one process per device), crosvm in single process mode (--disable-sandbox: every device model in a
// Worker of the VMM) and QEMU with the same devices, in one outer rig VM (same kernel, same
// environment). Method in bench/memory/pss.ts; the output repeats it.
// Usage (rig runs must not overlap on this machine):
//   flock /tmp/crosvm-rig.lock bun bench/memory/run.ts [RUNS]     (default 3 runs of each, alternating)
import { join } from "node:path";
import { rigLayout } from "../../scripts/guest/rig/outer_image.ts";
import { OuterVm } from "../boot-time/outer_vm.ts";
import { median, summary } from "../boot-time/stats.ts";
import {
  AGENT_OUT,
  endNestedVmm,
  processPss,
  type ProcessPss,
  startNestedVmm,
  waitForGuest,
} from "./nested_vmm.ts";
import { measurePageReporting, printPageReporting, REPORTING_SETUPS } from "./page_reporting.ts";

const RUNS = Number(process.argv[2] ?? 3);
if (!Number.isInteger(RUNS) || RUNS < 1)
  throw new Error(`RUNS ${process.argv[2]}: expected a positive integer`);
const MEM_MIB = 256;
const DISK = "/run/bench-disk.img";
const kernel = rigLayout.bzImage("generic");
const initrd = rigLayout.initrd("generic");

type Setup = "crosvm sandboxed" | "crosvm single process" | "qemu";
const setups: Setup[] = ["crosvm sandboxed", "crosvm single process", "qemu"];

function argv(setup: Setup): string[] {
  if (setup === "qemu")
    return [
      rigLayout.vmmPath("qemu"),
      ...["-accel", "kvm", "-cpu", "host", "-M", "pc", "-m", `${MEM_MIB}`, "-smp", "1"],
      ...["-nodefaults", "-no-user-config", "-display", "none", "-no-reboot"],
      ...["-kernel", kernel, "-initrd", initrd, "-append", "panic=-1 console=ttyS0 quiet"],
      ...["-serial", "stdio", "-serial", `file:${AGENT_OUT}`],
      ...["-drive", `file=${DISK},format=raw,if=virtio`],
      ...["-device", "virtio-rng-pci", "-device", "virtio-balloon-pci"],
      ...["-device", "virtio-serial-pci", "-chardev", "null,id=vcon", "-device", "virtconsole,chardev=vcon"],
    ];
  return [
    rigLayout.vmmPath("crosvm"),
    "run",
    // Single process mode: the device models run in Workers of the VMM, so the VMM is the only process.
    ...(setup === "crosvm single process" ? ["--disable-sandbox"] : []),
    ...["--mem", `${MEM_MIB}`, "--cpus", "1"],
    ...["--serial", `type=file,path=${AGENT_OUT},num=2`],
    ...["--serial", "type=sink,hardware=virtio-console,num=1"],
    ...["--block", DISK],
    // virtio-rng and virtio-balloon are on by default.
    ...["-p", "quiet", "-i", initrd, kernel],
  ];
}

async function measure(outer: OuterVm, setup: Setup): Promise<ProcessPss[]> {
  const pid = await startNestedVmm(outer, argv(setup));
  try {
    await waitForGuest(outer, pid, setup);
    await Bun.sleep(3000); // let the guest settle after its init started the agent
    return await processPss(
      outer,
      pid,
      MEM_MIB,
      setup === "qemu" ? "qemu" : "crosvm",
      rigLayout.vmmPath("crosvm"),
    );
  } finally {
    await endNestedVmm(outer, pid);
  }
}

async function startOuter(): Promise<OuterVm> {
  console.log("memory: starting the outer rig VM (QEMU/TCG, emulated AMD-V) with both nested VMMs");
  const vm = await OuterVm.start();
  await vm.writeFile("/run/pss.ts", await Bun.file(join(import.meta.dir, "pss.ts")).text());
  await vm.run(`dd if=/dev/zero of=${DISK} bs=1M count=64 2> /dev/null`);
  return vm;
}

const mib = (kib: number, width = 6) => (kib / 1024).toFixed(1).padStart(width);
function printProcesses(procs: readonly ProcessPss[]): void {
  for (const p of procs)
    console.log(
      `    ${String(p.pid).padStart(6)} ${p.role.padEnd(16)} pss ${mib(p.pssKiB, 7)}  anon ${mib(p.pssAnonKiB)}` +
        `  file ${mib(p.pssFileKiB)}  shmem ${mib(p.pssShmemKiB)}  guest RAM ${mib(p.guestRamPssKiB)}` +
        `  counted ${mib(p.pssKiB - p.guestRamPssKiB)}`,
    );
}

let outer = await startOuter();
try {
  const failures: string[] = [];
  const totals = new Map<Setup, number[]>(setups.map((s) => [s, []]));
  for (let i = 0; i < RUNS; i++) {
    const order = i % 2 === 0 ? setups : [...setups].reverse();
    for (const setup of order) {
      let procs: ProcessPss[];
      try {
        procs = await measure(outer, setup);
      } catch (error) {
        failures.push(
          `run ${i + 1} ${setup}: ${(error as Error).message}\nouter console:\n${outer.consoleTail()}`,
        );
        console.log(`run ${i + 1} ${setup}: failed: ${(error as Error).message.split("\n")[0]}`);
        if (!(await outer.responsive())) {
          // The outer VM no longer answers (seen once, while a nested VMM was being killed): start a fresh one.
          await outer.stop();
          outer = await startOuter();
        }
        continue;
      }
      const total = procs.reduce((n, p) => n + p.pssKiB - p.guestRamPssKiB, 0);
      totals.get(setup)!.push(total / 1024);
      console.log(`run ${i + 1} ${setup}: ${(total / 1024).toFixed(1)} MiB over ${procs.length} processes`);
      printProcesses(procs);
    }
  }

  for (const f of failures) console.log(`\nFAILED ${f}`);
  const qemu = median(totals.get("qemu")!);
  console.log(`\nsummed PSS of the VMM's processes, guest RAM excluded, MiB, median (min..max):`);
  for (const setup of setups) {
    const ratio = median(totals.get(setup)!) / qemu;
    console.log(
      `  ${setup.padEnd(26)} ${summary(totals.get(setup)!, 1).padEnd(28)} ratio to qemu ${ratio.toFixed(2)}`,
    );
  }
  const sandboxed = median(totals.get("crosvm sandboxed")!) / qemu;
  console.log(`  target: crosvm sandboxed <= qemu: ${sandboxed <= 1 ? "met" : "NOT met"}`);
  console.log(
    `\nmethod: the VMM's process and all its descendants (crosvm: device processes and their unshare(1) parents);` +
      ` for each, Pss from /proc/PID/smaps_rollup minus the Pss of its guest-RAM mappings in /proc/PID/smaps` +
      ` (crosvm: the "/memfd:crosvm_guest" mappings, in the VMM and every device process; QEMU: its anonymous` +
      ` RAM block of ${MEM_MIB} MiB, found by size; its small ROM blocks stay counted). Measured 3 s after the` +
      ` guest agent's ready line (init loaded virtio_blk, virtio_console, virtio-rng). Guest: ${MEM_MIB} MiB, 1 vCPU,` +
      ` 64 MiB raw disk on tmpfs; devices: crosvm --block, --serial hardware=virtio-console (sink), default rng` +
      ` and balloon; QEMU -M pc -drive if=virtio, virtio-rng-pci, virtio-balloon-pci, virtio-serial-pci +` +
      ` virtconsole (null).`,
  );

  // Issue 13: host memory kept after the guest frees memory, with free page reporting on both sides.
  const reporting = new Map(REPORTING_SETUPS.map((s) => [s, [] as number[]]));
  for (let i = 0; i < RUNS; i++) {
    const order = i % 2 === 0 ? REPORTING_SETUPS : [...REPORTING_SETUPS].reverse();
    for (const setup of order) {
      try {
        const r = await measurePageReporting(outer, setup);
        reporting.get(setup)!.push(r.settledMiB);
        console.log(
          `page reporting run ${i + 1} ${setup}: ${r.afterFreeMiB.toFixed(1)} MiB after the free,` +
            ` ${r.settledMiB.toFixed(1)} MiB settled`,
        );
      } catch (error) {
        console.log(
          `page reporting run ${i + 1} ${setup}: failed: ${(error as Error).message.split("\n")[0]}`,
        );
        if (!(await outer.responsive())) {
          await outer.stop();
          outer = await startOuter();
        }
      }
    }
  }
  if ([...reporting.values()].every((v) => v.length > 0)) printPageReporting(reporting);
} finally {
  await outer.stop();
}
