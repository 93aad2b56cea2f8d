// Boot-time benchmark: from the exec of the VMM to the guest's /init writing a marker byte to the debugcon port
// 0x402 (scripts/guest/rootfs/init with boot_marker=1), our crosvm against QEMU with the same kernel, initramfs,
// kernel command line, memory and vCPUs. Both run in one outer rig VM (bench/boot-time/outer_vm.ts), alternating,
// timed inside it by bench/boot-time/boot_timer.ts; prints every run, the medians with their spread, the ratio,
// and crosvm's own setup phases (exec to first KVM_RUN, from CROSVM_TRACE_STARTUP=1).
// Usage (rig runs must not overlap on this machine):
//   flock /tmp/crosvm-rig.lock bun bench/boot-time/run.ts [RUNS] [--qemu-machine pc|microvm] [--hugepages]
// --hugepages runs crosvm with --hugepages on an outer VM whose shmem_enabled is "advise" (a host set up for huge
// pages on shared memory; Debian's default "never" gives a memfd none).
// CROSVM_BENCH_BINARY=PATH runs that crosvm instead of dist/crosvm (see outer_vm.ts about touching it first).
// Where the guest's time goes, initcall by initcall, and crosvm's exits: bench/boot-time/initcalls.ts.
import { join } from "node:path";
import { rigLayout } from "../../scripts/guest/rig/outer_image.ts";
import { SHMEM_THP_SETTING } from "../../src/vmm/guest_ram.ts";
import { OuterVm } from "./outer_vm.ts";
import { median, summary } from "./stats.ts";

const args = process.argv.slice(2);
const machineAt = args.indexOf("--qemu-machine");
const qemuMachine = machineAt >= 0 ? (args.splice(machineAt, 2)[1] ?? "") : "pc";
if (qemuMachine !== "pc" && qemuMachine !== "microvm")
  throw new Error(`--qemu-machine ${qemuMachine}: expected pc or microvm`);
const hugepagesAt = args.indexOf("--hugepages");
const hugepages = hugepagesAt >= 0;
if (hugepages) args.splice(hugepagesAt, 1);
const RUNS = Number(args[0] ?? 10);
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error(`RUNS ${args[0]}: expected a positive integer`);

const MEM_MIB = 256;
const CPUS = 1;
const kernel = rigLayout.bzImage("generic");
const initrd = rigLayout.initrd("generic");
// crosvm puts "panic=-1 console=ttyS0" (its console port) before -p; QEMU gets the same line whole.
const extraParams = "quiet agent=none boot_marker=1";
const cmdline = `panic=-1 console=ttyS0 ${extraParams}`;
const MARKER = "/run/bench-marker";

type Vmm = "crosvm" | "qemu";

function argv(vmm: Vmm): string[] {
  if (vmm === "crosvm")
    return [
      rigLayout.vmmPath("crosvm"),
      "run",
      ...["--mem", `${MEM_MIB}`, "--cpus", `${CPUS}`],
      // COM1 stays crosvm's default (stdout, console); the marker port is a debugcon at 0x402.
      ...["--serial", `type=file,path=${MARKER},hardware=debugcon`],
      ...(hugepages ? ["--hugepages"] : []),
      ...["-p", extraParams, "-i", initrd, kernel],
    ];
  return [
    rigLayout.vmmPath("qemu"),
    ...["-accel", "kvm", "-cpu", "host", "-M", qemuMachine],
    ...["-m", `${MEM_MIB}`, "-smp", `${CPUS}`],
    ...["-nodefaults", "-no-user-config", "-display", "none", "-no-reboot"],
    ...["-kernel", kernel, "-initrd", initrd, "-append", cmdline],
    ...["-serial", "stdio"],
    ...["-chardev", `file,id=marker,path=${MARKER}`, "-device", "isa-debugcon,iobase=0x402,chardev=marker"],
  ];
}

interface RunResult {
  bootMs: number;
  startup: Record<string, number>;
}

async function runOnce(outer: OuterVm, vmm: Vmm): Promise<RunResult> {
  const plan = {
    argv: argv(vmm),
    marker: MARKER,
    stdout: `/run/bench-${vmm}.out`,
    stderr: `/run/bench-${vmm}.err`,
    timeoutMs: 120_000,
  };
  await outer.writeFile("/run/bench-plan.json", JSON.stringify(plan));
  const out = await outer.run(
    `BUN_BE_BUN=1 ${rigLayout.vmmPath("crosvm")} /run/boot_timer.ts /run/bench-plan.json`,
    180_000,
  );
  const result = JSON.parse(out.trim().split("\n").at(-1)!) as RunResult & {
    error?: string;
    output?: string;
  };
  if (result.error) throw new Error(`${vmm}: ${result.error}; its output ends:\n${result.output}`);
  return result;
}

async function startOuter(): Promise<OuterVm> {
  console.log(`boot-time: starting the outer rig VM (QEMU/TCG, emulated AMD-V) with both nested VMMs`);
  const vm = await OuterVm.start();
  console.log(`boot-time: outer VM ready after ${vm.startMs.toFixed(0)} ms`);
  await vm.writeFile("/run/boot_timer.ts", await Bun.file(join(import.meta.dir, "boot_timer.ts")).text());
  if (hugepages) await vm.run(`echo advise > ${SHMEM_THP_SETTING}`);
  return vm;
}

let outer = await startOuter();
try {
  const vmmsOf = (i: number): Vmm[] => (i % 2 === 0 ? ["crosvm", "qemu"] : ["qemu", "crosvm"]);

  console.log("boot-time: one warm-up run each (not counted)");
  for (const vmm of vmmsOf(0)) {
    const r = await runOnce(outer, vmm);
    console.log(`  warm-up ${vmm}: ${r.bootMs.toFixed(0)} ms`);
  }

  const boot: Record<Vmm, number[]> = { crosvm: [], qemu: [] };
  const phases = new Map<string, number[]>();
  const failures: string[] = [];
  console.log(`\n run | crosvm boot ms | qemu boot ms | crosvm exec->first KVM_RUN ms`);
  for (let i = 0; i < RUNS; i++) {
    const row: Partial<Record<Vmm, RunResult>> = {};
    try {
      for (const vmm of vmmsOf(i)) row[vmm] = await runOnce(outer, vmm);
    } catch (error) {
      // A failed boot is reported and its pair left out; the medians say how many pairs they are over.
      failures.push(`run ${i + 1}: ${(error as Error).message}\nouter console:\n${outer.consoleTail()}`);
      console.log(`${String(i + 1).padStart(4)} | failed: ${(error as Error).message.split("\n")[0]}`);
      if (!(await outer.responsive())) {
        // The outer VM no longer answers (seen once: a nested boot that never ended): start a fresh one.
        await outer.stop();
        outer = await startOuter();
      }
      continue;
    }
    boot.crosvm.push(row.crosvm!.bootMs);
    boot.qemu.push(row.qemu!.bootMs);
    for (const [phase, ms] of Object.entries(row.crosvm!.startup)) {
      if (!phases.has(phase)) phases.set(phase, []);
      phases.get(phase)!.push(ms);
    }
    const setup = row.crosvm!.startup["first KVM_RUN"];
    console.log(
      `${String(i + 1).padStart(4)} | ${row.crosvm!.bootMs.toFixed(0).padStart(14)} | ${row.qemu!.bootMs.toFixed(0).padStart(12)} | ${setup === undefined ? "-" : setup.toFixed(0)}`,
    );
  }

  for (const f of failures) console.log(`\nFAILED ${f}`);
  const ratio = median(boot.crosvm) / median(boot.qemu);
  console.log(`\nexec of the VMM -> guest /init marker (debugcon 0x402), median (min..max):`);
  const binary = process.env.CROSVM_BENCH_BINARY ? "CROSVM_BENCH_BINARY" : "dist/crosvm";
  console.log(
    `  crosvm (${binary}, default devices${hugepages ? ", --hugepages" : ""})${" ".repeat(Math.max(1, 18 - binary.length))}${summary(boot.crosvm)} ms`,
  );
  console.log(
    `  qemu (-M ${qemuMachine}, -accel kvm -cpu host)${" ".repeat(Math.max(0, 9 - qemuMachine.length))}${summary(boot.qemu)} ms`,
  );
  console.log(
    `  ratio crosvm/qemu (medians)                 ${ratio.toFixed(2)} (target <= 1.00: ${ratio <= 1 ? "met" : "NOT met"})`,
  );
  console.log(`\ncrosvm setup phases, ms after the exec (CROSVM_TRACE_STARTUP=1), median (min..max):`);
  for (const [phase, ms] of phases) console.log(`  ${phase.padEnd(30)} ${summary(ms)}`);
  console.log(
    `\nsame for both: kernel ${kernel}, initramfs ${initrd}, ${MEM_MIB} MiB, ${CPUS} vCPU, cmdline "${cmdline}";` +
      ` inside one QEMU/TCG outer VM (nested KVM on emulated AMD-V), so absolute times are far above bare metal.`,
  );
} finally {
  await outer.stop();
}
