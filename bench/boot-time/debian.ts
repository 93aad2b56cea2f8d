// Boot-time benchmark of the Debian system (scripts/guest/debian/image.ts): from the exec of the VMM to the
// console getty's login line ("crosvm-debian login:", after systemd has started the getty), our crosvm against
// QEMU (-M pc) with the same kernel, initrd, kernel command line, memory and vCPUs, the raw image as a virtio-blk
// root disk under a fresh qcow2 overlay per run (crosvm create_qcow2 for crosvm, QEMU's snapshot=on for QEMU), so
// every run is the image's first boot. Both run in one outer rig VM that reads the image over 9p (/scratch),
// alternating, timed inside it by boot_timer.ts (markerText). Prints every run, the medians and the ratio.
// Usage (rig runs must not overlap on this machine):
//   flock /tmp/crosvm-rig.lock bun bench/boot-time/debian.ts [RUNS] [--hugepages] [--timeline] [--trace]
// --baseline PATH adds a column for another crosvm build (e.g. the one before a change), run from the outer VM's
// /usr/bin/crosvm-baseline. --hugepages adds a column, crosvm --hugepages, on an outer VM whose shmem_enabled is "advise".
// After each boot's login line (timed by then) the autologin shell is asked for systemd-analyze, the CPU flags and
// the kernel log's milestones (--no-report skips it); each VMM's CPU and memory at the login line are printed too.
// --timeline boots without "quiet" and keeps each VMM's console with every line's arrival (ms after the exec) in
// /tmp/crosvm-bench-timeline/ (the kernel's own [uptime] stamps are in the lines). --trace gives crosvm
// --trace-file and CROSVM_TRACE_EXITS=1 and keeps the trace and its stderr (exit profile, start-up phases) there too.
import { copyFileSync, linkSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { debianImage, ensureDebianImage, HOSTNAME } from "../../scripts/guest/debian/image.ts";
import { rigLayout } from "../../scripts/guest/rig/outer_image.ts";
import { SHMEM_THP_SETTING } from "../../src/vmm/guest_ram.ts";
import { OuterVm } from "./outer_vm.ts";
import { median, summary } from "./stats.ts";

const args = process.argv.slice(2);
const flag = (name: string) => {
  const at = args.indexOf(name);
  if (at >= 0) args.splice(at, 1);
  return at >= 0;
};
const hugepages = flag("--hugepages");
const timeline = flag("--timeline");
const trace = flag("--trace");
const report = !flag("--no-report");
const baselineAt = args.indexOf("--baseline");
const baseline = baselineAt >= 0 ? args.splice(baselineAt, 2)[1] : undefined;
if (baselineAt >= 0 && !baseline) throw new Error("--baseline: expected the path of a crosvm executable");
const BASELINE_PATH = "/usr/bin/crosvm-baseline";
const RUNS = Number(args[0] ?? 3);
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error(`RUNS ${args[0]}: expected a positive integer`);
/** Where --timeline and --trace keep what they collect (on the host). */
const KEEP_DIR = "/tmp/crosvm-bench-timeline";

const MEM_MIB = 512;
const CPUS = 1;
const at = (path: string) => `/scratch/${basename(path)}`;
// crosvm puts "panic=-1 console=ttyS0" before -p and "root=/dev/vda rw" after; QEMU gets the same line whole.
const extraParams = timeline ? "" : "quiet";
const cmdline = `panic=-1 console=ttyS0 ${extraParams} root=/dev/vda rw`.replace("  ", " ");
const MARKER_TEXT = `${HOSTNAME} login:`;
const OVERLAY = "/tmp/bench-overlay.qcow2";

type Vmm = "crosvm" | "qemu" | "crosvm-hugepages" | "crosvm-baseline";

function argv(vmm: Vmm): string[] {
  if (vmm !== "qemu")
    return [
      ...[vmm === "crosvm-baseline" ? BASELINE_PATH : rigLayout.vmmPath("crosvm"), "run"],
      ...["--mem", `${MEM_MIB}`, "--cpus", `${CPUS}`],
      ...["--block", `${OVERLAY},root`],
      ...(vmm === "crosvm-hugepages" ? ["--hugepages"] : []),
      ...(trace ? ["--trace-file", `/scratch/trace-${vmm}.json`] : []),
      ...(extraParams ? ["-p", extraParams] : []),
      ...["-i", at(debianImage.initrd), at(debianImage.kernel)],
    ];
  return [
    rigLayout.vmmPath("qemu"),
    ...["-accel", "kvm", "-cpu", "host", "-M", "pc", "-m", `${MEM_MIB}`, "-smp", `${CPUS}`],
    ...["-nodefaults", "-no-user-config", "-display", "none", "-no-reboot"],
    ...["-kernel", at(debianImage.kernel), "-initrd", at(debianImage.initrd), "-append", cmdline],
    ...["-drive", `file=${at(debianImage.raw)},format=raw,if=virtio,snapshot=on`],
    ...["-serial", "stdio"],
  ];
}

/**
 * Typed at the autologin shell after the login line (the time is taken by then): systemd's own split, the guest's
 * CPU flags, and the kernel log lines of the boot's milestones with their uptime stamps (the log keeps them with
 * `quiet` too). The quotes in the end marker keep the echoed command line from matching it.
 */
const REPORT_COMMAND =
  "systemd-analyze | head -1; grep -m1 '^flags' /proc/cpuinfo; dmesg | grep -E " +
  `'${["Trying to unpack", "PCI: Using ACPI", "Switched to clocksource", "Freeing initrd", "initmem", "Run /init", "virtio_blk", "EXT4-fs .vda.: mounted", "systemd 2", "Queued start job", "Started systemd-journald"].join("|")}'` +
  "; echo BENCH-REPORT''-END";
const reports: string[] = [];

/** The report's lines without the shell's echo and prompt. */
export function summarizeReport(text: string): string {
  return text
    .split(/\r?\n/)
    .filter((l) => l.trim() !== "" && !l.includes("BENCH-REPORT") && !l.includes("# "))
    .map((l) => `    ${l.length > 160 ? `${l.slice(0, 160)}...` : l}`)
    .join("\n");
}

/** boot_timer.ts's `usage`: the VMM's CPU and memory at the login line. */
interface Usage {
  vcpu: { guestS: number; exitsUserS: number; exitsKernelS: number };
  otherS: number;
  processes?: { label: string; cpuS: number }[];
  rssMiB: number;
  hugeMiB: number;
  /** The same processes' CPU when crosvm's vCPU threads were ready (its start-up); absent for QEMU. */
  atFirstRun?: { label: string; cpuS: number }[];
  /** boot_timer.ts guestRamMap: crosvm's guest RAM, one character per 2 MiB, what the guest touched. */
  ramMap?: string;
}
const usages: string[] = [];

function describeUsage(u: Usage): string {
  const s = (n: number) => `${n.toFixed(1)} s`;
  return (
    `vCPU thread: guest ${s(u.vcpu.guestS)}, host kernel ${s(u.vcpu.exitsKernelS)}, user space ` +
    `${s(u.vcpu.exitsUserS)}; other threads and processes ${s(u.otherS)}; RSS ${u.rssMiB.toFixed(0)} MiB, ` +
    `${u.hugeMiB.toFixed(0)} MiB of it in 2 MiB mappings` +
    (u.processes && u.processes.length > 1
      ? `\n      outside the vCPU, by process: ${u.processes.map((p) => `${p.label} ${s(p.cpuS)}`).join("; ")}`
      : "") +
    (u.atFirstRun && u.atFirstRun.length > 1
      ? `\n      of it before the first KVM_RUN: ${u.atFirstRun.map((p) => `${p.label} ${s(p.cpuS)}`).join("; ")}`
      : "") +
    (u.ramMap ? `\n      guest RAM by 2 MiB from 0 (. untouched, 1-9 tenths, # all): ${u.ramMap}` : "")
  );
}

async function runOnce(outer: OuterVm, vmm: Vmm): Promise<number> {
  // A fresh overlay: every run boots the image as built (QEMU's snapshot=on makes its own, under TMPDIR).
  await outer.run(
    `rm -f ${OVERLAY} && ${rigLayout.vmmPath("crosvm")} create_qcow2 ${OVERLAY} --backing-file ${at(debianImage.raw)}`,
  );
  const plan = {
    argv: argv(vmm),
    marker: "/run/bench-console",
    markerText: MARKER_TEXT,
    stdout: `/run/bench-${vmm}.out`,
    stderr: `/run/bench-${vmm}.err`,
    timeoutMs: 600_000,
    stampLines: timeline,
    env: trace && vmm !== "qemu" ? { CROSVM_TRACE_EXITS: "1" } : {},
    ...(report
      ? {
          report: {
            prompt: "# ",
            command: REPORT_COMMAND,
            endText: "BENCH-REPORT-END",
            path: `/run/bench-${vmm}.report`,
            timeoutMs: 120_000,
          },
        }
      : {}),
  };
  await outer.writeFile("/run/bench-plan.json", JSON.stringify(plan));
  const out = await outer.run(
    `TMPDIR=/tmp BUN_BE_BUN=1 ${rigLayout.vmmPath("crosvm")} /run/boot_timer.ts /run/bench-plan.json`,
    660_000,
  );
  const result = JSON.parse(out.trim().split("\n").at(-1)!) as {
    bootMs: number;
    usage?: Usage;
    collapse?: string;
    error?: string;
    output?: string;
  };
  if (result.error) throw new Error(`${vmm}: ${result.error}; its output ends:\n${result.output}`);
  if (result.usage) usages.push(`${vmm.padEnd(16)} ${describeUsage(result.usage)}`);
  if (result.collapse) usages.push(`${vmm.padEnd(16)} ${result.collapse}`);
  if (timeline || trace) await outer.run(`cp ${plan.stdout} ${plan.stderr} /scratch/`);
  if (report) {
    const text = await outer.run(`cat /run/bench-${vmm}.report`);
    reports.push(`${vmm}:\n${summarizeReport(text)}`);
    await outer.run(`cp /run/bench-${vmm}.report /scratch/`);
  }
  return result.bootMs;
}

await ensureDebianImage();
const scratch = mkdtempSync(join(tmpdir(), "crosvm-bench-debian-"));
for (const path of [debianImage.raw, debianImage.kernel, debianImage.initrd])
  linkSync(path, join(scratch, basename(path)));
if (baseline) copyFileSync(baseline, join(scratch, "crosvm-baseline"));
console.log("boot-time debian: starting the outer rig VM (QEMU/TCG, emulated AMD-V) with both nested VMMs");
const outer = await OuterVm.start({ scratchDir: scratch });
try {
  await outer.writeFile("/run/boot_timer.ts", await Bun.file(join(import.meta.dir, "boot_timer.ts")).text());
  // QEMU's snapshot=on keeps its temporary overlay in /var/tmp, which the outer VM's initramfs root lacks.
  await outer.run("mkdir -p /var/tmp");
  if (hugepages) await outer.run(`echo advise > ${SHMEM_THP_SETTING}`);
  // Off the 9p share: its exec would otherwise read the executable over 9p in the first timed run.
  if (baseline)
    await outer.run(`cp /scratch/crosvm-baseline ${BASELINE_PATH} && chmod +x ${BASELINE_PATH}`, 300_000);
  const boot: Record<Vmm, number[]> = { crosvm: [], qemu: [], "crosvm-hugepages": [], "crosvm-baseline": [] };
  const extra: Vmm[] = [
    ...(baseline ? ["crosvm-baseline" as const] : []),
    ...(hugepages ? ["crosvm-hugepages" as const] : []),
  ];
  console.log(`\n run | crosvm ms to login | qemu ms to login${extra.map((v) => ` | ${v} ms`).join("")}`);
  for (let i = 0; i < RUNS; i++) {
    const order: Vmm[] = i % 2 === 0 ? ["crosvm", "qemu"] : ["qemu", "crosvm"];
    order.push(...extra);
    const row: Partial<Record<Vmm, number>> = {};
    try {
      for (const vmm of order) row[vmm] = await runOnce(outer, vmm);
    } catch (error) {
      console.log(
        `${String(i + 1).padStart(4)} | failed: ${(error as Error).message.split("\n").slice(0, 6).join(" / ")}`,
      );
      continue;
    }
    for (const vmm of order) boot[vmm].push(row[vmm]!);
    const huge = extra.map((v) => ` | ${row[v]!.toFixed(0).padStart(v.length + 3)}`).join("");
    console.log(
      `${String(i + 1).padStart(4)} | ${row.crosvm!.toFixed(0).padStart(18)} | ${row.qemu!.toFixed(0).padStart(16)}${huge}`,
    );
  }
  if (boot.crosvm.length === 0) throw new Error("no run finished");
  const ratio = median(boot.crosvm) / median(boot.qemu);
  console.log(`\nexec of the VMM -> "${MARKER_TEXT}" on the console, median (min..max):`);
  console.log(`  crosvm (dist/crosvm)              ${summary(boot.crosvm)} ms`);
  console.log(`  qemu (-M pc, -accel kvm -cpu host) ${summary(boot.qemu)} ms`);
  console.log(`  ratio crosvm/qemu (medians)       ${ratio.toFixed(2)}`);
  for (const v of extra) {
    const label = v === "crosvm-baseline" ? `${v} (${baseline})` : `${v} (shmem advise)`;
    console.log(
      `  ${label} ${summary(boot[v])} ms, ratio to qemu ${(median(boot[v]) / median(boot.qemu)).toFixed(2)}`,
    );
  }
  if (reports.length > 0)
    console.log(`\nthe guests' own account (systemd-analyze, kernel log uptimes):\n${reports.join("\n")}`);
  console.log("\nCPU and memory of each VMM at the login line (every run, in order):");
  for (const line of usages) console.log(`  ${line}`);
  console.log(
    `\nsame for both: Debian bookworm's kernel and initrd, ${MEM_MIB} MiB, ${CPUS} vCPU, cmdline "${cmdline}", the` +
      ` raw image under a qcow2 overlay; inside one QEMU/TCG outer VM (nested KVM on emulated AMD-V).`,
  );
} finally {
  await outer.stop();
  if (timeline || trace) {
    mkdirSync(KEEP_DIR, { recursive: true });
    for (const name of readdirSync(scratch))
      if (/^(bench-|trace-)/.test(name)) renameSync(join(scratch, name), join(KEEP_DIR, name));
    console.log(`consoles, stderr and traces: ${KEEP_DIR}`);
  }
  rmSync(scratch, { recursive: true, force: true });
}
