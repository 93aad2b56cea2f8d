// virtio-blk benchmark: our VMM against QEMU's virtio-blk-pci, same guest (Debian kernel, busybox initramfs,
// 256 MiB, 1 vCPU), same raw image kept in the same place (the outer rig VM's tmpfs, or a host temp folder where
// the host has hardware virtualization), both VMMs on KVM without O_DIRECT on the host side (QEMU's default
// cache=writeback, our default direct=false). In the guest, on /dev/vda:
//   sequential write  dd if=/dev/zero of=/dev/vda bs=1M count=256 oflag=direct
//   sequential read   dd if=/dev/vda of=/dev/null bs=1M count=256 iflag=direct
//   random read       bench/blk/randread.c: 4 KiB preads at random 4 KiB-aligned offsets, O_DIRECT, queue depth 1,
//                     for RANDREAD_SECONDS (the same offset sequence on both VMMs)
//   random read QD32  Debian's fio (from a third disk, test/e2e/fio_image.ts): 4 KiB random reads, O_DIRECT,
//                     libaio at iodepth 32, for RANDREAD_SECONDS: what requests in flight together give
//   random write QD32 the same with random writes
// QEMU runs twice per pass, with aio=threads (its default) and with aio=io_uring (as our raw disks keep their
// requests in flight on an io_uring).
//   (dd's time comes from the guest's /proc/uptime: Debian's busybox dd prints none; each dd also reports the
//   requests the guest's block layer completed and the interrupts on vda's queue, so that unlike request sizes
//   or notification counts between the two VMMs show)
// The rig is QEMU/TCG on a shared 2-core host, so a figure can halve while something else runs there: each VMM is
// booted PASSES times, alternating (ours, QEMU, QEMU, ours, ...: bench/compare.ts) so that a busy spell does not
// fall on one VMM only, and each boot measures ROUNDS rounds; the best of all is kept. Prints MB/s (10^6 bytes),
// IOPS and ours/QEMU.
// Usage: flock /tmp/crosvm-rig.lock bun bench/blk/run.ts [ROUNDS] [PASSES]   (default 2 2; needs gcc with a
// static libc; dist/crosvm)
import { $ } from "bun";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VmmHost } from "../../test/e2e/block_support.ts";
import { buildFioImage } from "../../test/e2e/fio_image.ts";
import { shutdownRigs, TestVm } from "../../test/e2e/harness/test_vm.ts";
import type { VmmKind } from "../../test/e2e/harness/vmm_command.ts";
import { alternate } from "../compare.ts";

const ROUNDS = Number(process.argv[2] ?? 2);
const PASSES = Number(process.argv[3] ?? 2);
const DISK_MIB = 256;
const RANDREAD_SECONDS = 10;
const IMAGE = "bench.img";
const TOOLS = "randread.img";
const FIO_TOOLS = "fio.ext4";
const EXEC = { timeoutMs: 180_000 };

interface Figures {
  seqWriteMBs: number;
  seqReadMBs: number;
  randReadIops: number;
  randReadQd32Iops: number;
  randWriteQd32Iops: number;
}

const noFigures = (): Figures => ({
  seqWriteMBs: 0,
  seqReadMBs: 0,
  randReadIops: 0,
  randReadQd32Iops: 0,
  randWriteQd32Iops: 0,
});

/** One VMM set-up the bench measures. */
interface Setup {
  readonly label: string;
  readonly kind: VmmKind;
  /** QEMU's -drive aio= for the measured disk. */
  readonly aio?: "threads" | "io_uring";
  readonly best: Figures;
}

interface DdResult {
  mbs: number;
  /** Requests the guest's block layer completed (/sys/block/vda/stat), and interrupts on vda's queue. */
  requests: number;
  interrupts: number;
}

/** Completed requests of vda (reads or writes, /sys/block/vda/stat fields 1 and 5) and its queue interrupts. */
const COUNTERS =
  "set -- $(cat /sys/block/vda/stat); d=$(basename $(readlink /sys/block/vda/device)); " +
  'echo $1 $5 $(awk "/$d-req/ { n += \\$2 } END { print n + 0 }" /proc/interrupts)';

/**
 * Runs a dd of DISK_MIB MiB in the guest and returns MB/s, with how many requests and interrupts it took. Debian's
 * busybox dd prints no timing, so the guest's /proc/uptime (10 ms steps, kvmclock) is read before and after.
 */
async function dd(vm: TestVm, command: string, write: boolean): Promise<DdResult> {
  const out = await guest(
    vm,
    `c=$(${COUNTERS}); a=$(cut -d' ' -f1 /proc/uptime); ${command} 2> /dev/null; ` +
      `b=$(cut -d' ' -f1 /proc/uptime); echo "$a $b $c $(${COUNTERS})"`,
  );
  const [a, b, r0, w0, i0, r1, w1, i1] = out
    .trim()
    .split(" ")
    .map((x) => Number(x));
  if (i1 === undefined) throw new Error(`\`${command}\`: unexpected counters (${out.trim()})`);
  if (!(b! > a!)) throw new Error(`\`${command}\` took no measurable time (${out.trim()})`);
  return {
    mbs: (DISK_MIB * 1024 * 1024) / (b! - a!) / 1e6,
    requests: write ? w1! - w0! : r1! - r0!,
    interrupts: i1 - i0!,
  };
}

const perRequest = (r: DdResult) =>
  `${r.requests} requests of ${((DISK_MIB * 1024) / r.requests).toFixed(0)} KiB, ${(r.interrupts / r.requests).toFixed(2)} interrupts each`;

function vmmArgs(setup: Setup, disks: VmmHost): string[] {
  const image = disks.vmmPath(IMAGE);
  const tools = disks.vmmPath(TOOLS);
  const fio = disks.vmmPath(FIO_TOOLS);
  if (setup.kind === "crosvm") return ["--block", image, "--block", `${tools},ro`, "--block", `${fio},ro`];
  return [
    ...["-drive", `file=${image},format=raw,if=none,id=bench,cache=writeback,aio=${setup.aio ?? "threads"}`],
    ...["-device", "virtio-blk-pci,drive=bench"],
    ...["-drive", `file=${tools},format=raw,if=none,id=tools,readonly=on`],
    ...["-device", "virtio-blk-pci,drive=tools"],
    ...["-drive", `file=${fio},format=raw,if=none,id=fio,readonly=on`],
    ...["-device", "virtio-blk-pci,drive=fio"],
  ];
}

const guest = (vm: TestVm, script: string) => vm.execChecked(script, EXEC);

/** Runs fio in the guest: 4 KiB random `rw` (randread or randwrite) on /dev/vda at iodepth 32; returns IOPS. */
async function fioQd32(vm: TestVm, rw: "randread" | "randwrite"): Promise<number> {
  const out = await guest(
    vm,
    `/mnt/fio/run --name=qd32 --filename=/dev/vda --rw=${rw} --bs=4k --direct=1 --ioengine=libaio ` +
      `--iodepth=32 --runtime=${RANDREAD_SECONDS} --time_based --output-format=json`,
  );
  const job = JSON.parse(out.slice(out.indexOf("{"))).jobs[0];
  return Math.round(rw === "randread" ? job.read.iops : job.write.iops);
}

async function measure(
  setup: Setup,
  pass: number,
  toolsHostPath: string,
  toolsBytes: number,
  fioHostPath: string,
): Promise<void> {
  const { kind, best } = setup;
  const disks = await VmmHost.open(kind);
  await $`cp ${toolsHostPath} ${disks.hostPath(TOOLS)}`.quiet();
  await $`cp --sparse=always ${fioHostPath} ${disks.hostPath(FIO_TOOLS)}`.quiet();
  await disks.importImage(TOOLS);
  await disks.importImage(FIO_TOOLS);
  await disks.run(`dd if=/dev/zero of=${disks.vmmPath(IMAGE)} bs=1M count=${DISK_MIB} 2> /dev/null`, 300_000);
  const vm = await TestVm.boot({ vmm: kind, cmdline: "quiet", vmmArgs: vmmArgs(setup, disks) });
  try {
    const sectors = Number(await guest(vm, "cat /sys/block/vda/size"));
    if (sectors * 512 !== DISK_MIB * 1024 * 1024) throw new Error(`${kind}: /dev/vda has ${sectors} sectors`);
    await guest(vm, `head -c ${toolsBytes} /dev/vdb > /tmp/randread && chmod +x /tmp/randread`);
    await guest(vm, "mkdir -p /mnt/fio && mount -o ro /dev/vdc /mnt/fio");
    for (let round = 1; round <= ROUNDS; round++) {
      const w = await dd(vm, `dd if=/dev/zero of=/dev/vda bs=1M count=${DISK_MIB} oflag=direct`, true);
      const r = await dd(vm, `dd if=/dev/vda of=/dev/null bs=1M count=${DISK_MIB} iflag=direct`, false);
      const [write, read] = [w.mbs, r.mbs];
      const rand = await guest(vm, `/tmp/randread /dev/vda ${RANDREAD_SECONDS}`);
      const iops = Number(/iops=(\d+)/.exec(rand)?.[1]);
      const qd32 = await fioQd32(vm, "randread");
      const qd32Write = await fioQd32(vm, "randwrite");
      console.log(
        `${setup.label} pass ${pass} round ${round}: seq write ${write.toFixed(1)} MB/s (${perRequest(w)}), ` +
          `seq read ${read.toFixed(1)} MB/s (${perRequest(r)}), 4 KiB random read ${iops} IOPS (${rand.trim()}), ` +
          `QD32 read ${qd32} IOPS, QD32 write ${qd32Write} IOPS`,
      );
      best.randReadQd32Iops = Math.max(best.randReadQd32Iops, qd32);
      best.randWriteQd32Iops = Math.max(best.randWriteQd32Iops, qd32Write);
      best.seqWriteMBs = Math.max(best.seqWriteMBs, write);
      best.seqReadMBs = Math.max(best.seqReadMBs, read);
      best.randReadIops = Math.max(best.randReadIops, iops);
    }
    await vm.poweroff();
    await vm.waitForExit(60_000);
  } finally {
    await vm.stop();
    await disks.clean().catch(() => {});
  }
}

const work = mkdtempSync(join(tmpdir(), "bench-blk-"));
try {
  const binary = join(work, "randread");
  await $`gcc -O2 -static -o ${binary} ${join(import.meta.dir, "randread.c")}`.quiet();
  const toolsBytes = statSync(binary).size;
  // A disk image is whole sectors: pad the binary; the guest copies out exactly toolsBytes.
  const tools = join(work, TOOLS);
  await $`cp ${binary} ${tools} && truncate -s ${Math.ceil(toolsBytes / 4096) * 4096} ${tools}`.quiet();

  const fioImage = join(work, FIO_TOOLS);
  buildFioImage(fioImage);

  const setups: Setup[] = [
    { label: "ours", kind: "crosvm", best: noFigures() },
    { label: "QEMU aio=threads", kind: "qemu", aio: "threads", best: noFigures() },
    { label: "QEMU aio=io_uring", kind: "qemu", aio: "io_uring", best: noFigures() },
  ];
  // A set-up that cannot run here (a QEMU built without io_uring) is reported; the others still count.
  const failed = await alternate(PASSES, setups, (setup, pass) =>
    measure(setup, pass, tools, toolsBytes, fioImage),
  );

  const rows: [string, keyof Figures, string][] = [
    ["sequential write, 1 MiB O_DIRECT", "seqWriteMBs", "MB/s"],
    ["sequential read, 1 MiB O_DIRECT", "seqReadMBs", "MB/s"],
    ["random read, 4 KiB QD1 O_DIRECT", "randReadIops", "IOPS"],
    ["random read, 4 KiB QD32 (fio, libaio)", "randReadQd32Iops", "IOPS"],
    ["random write, 4 KiB QD32 (fio, libaio)", "randWriteQd32Iops", "IOPS"],
  ];
  const [ours, ...qemus] = setups as [Setup, ...Setup[]];
  console.log(
    `\nvirtio-blk, ${DISK_MIB} MiB raw image, best of ${PASSES} boots x ${ROUNDS} rounds (target: ours >= 1.0x QEMU)`,
  );
  console.log(
    `${"".padEnd(40)}${"ours".padStart(8)}${qemus.map((q) => q.label.padStart(20)).join("")}  ${qemus.map((q) => `ours/${q.label.slice(5)}`).join("  ")}`,
  );
  for (const [name, key, unit] of rows) {
    const digits = unit === "IOPS" ? 0 : 1;
    const cells = qemus.map((q) =>
      (failed.has(q.label) ? "failed" : q.best[key].toFixed(digits)).padStart(20),
    );
    const ratios = qemus.map((q) =>
      failed.has(q.label) ? "-" : `${(ours.best[key] / q.best[key]).toFixed(2)}x`,
    );
    console.log(
      `${name.padEnd(40)}${ours.best[key].toFixed(digits).padStart(8)}${cells.join("")}  ${ratios.join("  ")} (${unit})`,
    );
  }
} finally {
  await shutdownRigs();
  rmSync(work, { recursive: true, force: true });
}
