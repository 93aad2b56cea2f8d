// Shared-directory benchmark (issue 12): our virtio-fs against QEMU's vhost-user-fs-pci with Debian's virtiofsd
// (/usr/lib/qemu/virtiofsd, started in the outer rig VM next to QEMU; vhost-user needs QEMU's guest memory in a
// shared memfd), and our virtio-9p against QEMU's `-virtfs local,security_model=passthrough`. Same guest (Debian
// kernel, busybox initramfs, 256 MiB, 1 vCPU), same shared directories (/tmp/disks/fs_share and p9_share in the
// outer VM's tmpfs, or a host temp folder where the host has hardware virtualization), same cache mode: virtio-fs
// cache=auto with a 1 s attribute timeout on both (virtiofsd's cache=auto default, set on ours with timeout=1), 9p
// mounted with the guest's default (cache=none) on both. In the guest, on each mount:
//   sequential write   dd if=/dev/zero of=MNT/big bs=1M count=MIB conv=fsync
//   sequential read    dd if=MNT/big of=/dev/null bs=1M
//   small files        file-churn (scripts/guest/tools/file_churn.c) create, stat, unlink of FILES files in one
//                      directory: one open+close / stat / unlink per file, timed in the guest without a process per
//                      file (a busybox shell loop would time fork and exec instead)
// with the guest's caches dropped (sync; drop_caches) before each step, so that every step reaches the device.
// dd's time comes from the guest's /proc/uptime (Debian's busybox dd prints none; 10 ms steps). The rig is
// QEMU/TCG on a shared 2-core host: each VMM is booted PASSES times, alternating, and the best figure is kept.
// Prints MB/s (10^6 bytes), operations per second and ours/QEMU (target >= 1.0x).
// Usage: flock /tmp/crosvm-rig.lock bun bench/fs/run.ts [MIB] [FILES] [PASSES]   (default 256 10000 1; needs
// dist/crosvm and /usr/lib/qemu/virtiofsd from qemu-system-common)
import { existsSync } from "node:fs";
import { virtiofsdPath } from "../../scripts/guest/rig/payload.ts";
import { VmmHost } from "../../test/e2e/block_support.ts";
import { shutdownRigs, TestVm } from "../../test/e2e/harness/test_vm.ts";
import type { VmmKind } from "../../test/e2e/harness/vmm_command.ts";

const MIB = Number(process.argv[2] ?? 256);
const FILES = Number(process.argv[3] ?? 10_000);
const PASSES = Number(process.argv[4] ?? 1);
const MEM_MIB = 256;
const EXEC = { timeoutMs: 900_000 };
const FS_TAG = "bench_fs";
const P9_TAG = "bench_p9";
const FS_SHARE = "fs_share";
const P9_SHARE = "p9_share";
const VIRTIOFSD_SOCKET = "virtiofsd.sock";

type Device = "virtio-fs" | "virtio-9p";
const MOUNTS: Record<Device, string> = { "virtio-fs": "/mnt/fs", "virtio-9p": "/mnt/p9" };

interface Figures {
  writeMBs: number;
  readMBs: number;
  createPerS: number;
  statPerS: number;
  unlinkPerS: number;
}

const DROP_CACHES = "sync && echo 3 > /proc/sys/vm/drop_caches";

/** Seconds `command` takes in the guest after its caches are dropped, from /proc/uptime before and after. */
async function guestSeconds(vm: TestVm, command: string): Promise<number> {
  const out = await vm.execChecked(
    `${DROP_CACHES} && a=$(cut -d' ' -f1 /proc/uptime) && ${command} && echo "$a $(cut -d' ' -f1 /proc/uptime)"`,
    EXEC,
  );
  const [a, b] = out.trim().split(" ").map(Number);
  if (!(b! > a!)) throw new Error(`\`${command}\` took no measurable time (${out.trim()})`);
  return b! - a!;
}

/** Operations per second of one file-churn phase over FILES files in `dir` (it times itself). */
async function churn(vm: TestVm, phase: "create" | "stat" | "unlink", dir: string): Promise<number> {
  const out = await vm.execChecked(`${DROP_CACHES} && file-churn ${phase} ${dir} ${FILES}`, EXEC);
  const m = new RegExp(`^${phase} ${FILES} (\\d+)$`).exec(out.trim());
  if (!m) throw new Error(`file-churn ${phase}: unexpected output ${out.trim()}`);
  return FILES / (Number(m[1]) / 1e9);
}

async function measureMount(vm: TestVm, mnt: string): Promise<Figures> {
  const bytes = MIB * 1024 * 1024;
  const write = await guestSeconds(
    vm,
    `dd if=/dev/zero of=${mnt}/big bs=1M count=${MIB} conv=fsync 2> /dev/null`,
  );
  const read = await guestSeconds(vm, `dd if=${mnt}/big of=/dev/null bs=1M 2> /dev/null`);
  await vm.execChecked(`rm ${mnt}/big && mkdir ${mnt}/files`, EXEC);
  const createPerS = await churn(vm, "create", `${mnt}/files`);
  const statPerS = await churn(vm, "stat", `${mnt}/files`);
  const unlinkPerS = await churn(vm, "unlink", `${mnt}/files`);
  await vm.execChecked(`rmdir ${mnt}/files`, EXEC);
  return { writeMBs: bytes / write / 1e6, readMBs: bytes / read / 1e6, createPerS, statPerS, unlinkPerS };
}

function vmmArgs(kind: VmmKind, where: VmmHost): string[] {
  const [fs, p9] = [where.vmmPath(FS_SHARE), where.vmmPath(P9_SHARE)];
  if (kind === "crosvm")
    return [
      ...["--shared-dir", `${fs}:${FS_TAG}:type=fs:cache=auto:timeout=1`],
      ...["--shared-dir", `${p9}:${P9_TAG}:type=p9`],
    ];
  return [
    // vhost-user: virtiofsd maps the guest's memory, so it must be a shared memfd (docs/system/devices/vhost-user).
    ...["-object", `memory-backend-memfd,id=mem,size=${MEM_MIB}M,share=on`, "-numa", "node,memdev=mem"],
    ...["-chardev", `socket,id=vfs,path=${where.vmmPath(VIRTIOFSD_SOCKET)}`],
    ...["-device", `vhost-user-fs-pci,chardev=vfs,tag=${FS_TAG}`],
    ...["-virtfs", `local,path=${p9},mount_tag=${P9_TAG},security_model=passthrough,id=p9`],
  ];
}

/** Starts virtiofsd on the fs share where QEMU runs (it serves one connection, then exits). */
async function startVirtiofsd(where: VmmHost): Promise<void> {
  const socket = where.vmmPath(VIRTIOFSD_SOCKET);
  await where.run(
    [
      `rm -f ${socket}`,
      `setsid ${virtiofsdPath} --socket-path=${socket} -o source=${where.vmmPath(FS_SHARE)} -o cache=auto ` +
        `-o sandbox=chroot < /dev/null > ${where.vmmPath("virtiofsd.log")} 2>&1 &`,
      `echo $! > ${where.vmmPath("virtiofsd.pid")}`,
      `for i in $(seq 100); do [ -S ${socket} ] && exit 0; sleep 0.1; done`,
      `echo "virtiofsd made no socket: $(cat ${where.vmmPath("virtiofsd.log")})" >&2; exit 1`,
    ].join("\n"),
  );
}

async function measure(kind: VmmKind, pass: number, best: Record<Device, Figures>): Promise<void> {
  const where = await VmmHost.open(kind);
  await where.run(
    `rm -rf ${where.vmmPath(FS_SHARE)} ${where.vmmPath(P9_SHARE)} && mkdir -p ${where.vmmPath(FS_SHARE)} ${where.vmmPath(P9_SHARE)}`,
  );
  if (kind === "qemu") await startVirtiofsd(where);
  const vm = await TestVm.boot({ vmm: kind, cmdline: "quiet", mem: MEM_MIB, vmmArgs: vmmArgs(kind, where) });
  try {
    await vm.execChecked(
      `mkdir -p ${MOUNTS["virtio-fs"]} ${MOUNTS["virtio-9p"]} && mount -t virtiofs ${FS_TAG} ${MOUNTS["virtio-fs"]} && ` +
        `mount -t 9p -o trans=virtio,version=9p2000.L ${P9_TAG} ${MOUNTS["virtio-9p"]}`,
      { timeoutMs: 120_000 },
    );
    for (const device of ["virtio-fs", "virtio-9p"] as const) {
      const f = await measureMount(vm, MOUNTS[device]);
      console.log(
        `${kind} pass ${pass} ${device}: write ${f.writeMBs.toFixed(1)} MB/s, read ${f.readMBs.toFixed(1)} MB/s, ` +
          `create ${f.createPerS.toFixed(0)}/s, stat ${f.statPerS.toFixed(0)}/s, unlink ${f.unlinkPerS.toFixed(0)}/s`,
      );
      const b = best[device];
      for (const key of Object.keys(f) as (keyof Figures)[]) b[key] = Math.max(b[key], f[key]);
    }
    await vm.poweroff();
    await vm.waitForExit(60_000);
  } finally {
    await vm.stop();
    // virtiofsd ends with QEMU's connection; one that did not (a failed boot) is ended here.
    const pid = where.vmmPath("virtiofsd.pid");
    await where
      .run(`[ -f ${pid} ] && kill $(cat ${pid}) 2> /dev/null; rm -rf ${where.workDir}/*`)
      .catch(() => {});
  }
}

const zero = (): Figures => ({ writeMBs: 0, readMBs: 0, createPerS: 0, statPerS: 0, unlinkPerS: 0 });

if (!(MIB > 0 && FILES > 0 && PASSES > 0)) {
  console.error("usage: bun bench/fs/run.ts [MIB] [FILES] [PASSES] (positive integers)");
  process.exit(2);
}
if (!existsSync(virtiofsdPath)) {
  console.error(`${virtiofsdPath} is missing: install Debian's qemu-system-common`);
  process.exit(1);
}
try {
  const ours: Record<Device, Figures> = { "virtio-fs": zero(), "virtio-9p": zero() };
  const qemu: Record<Device, Figures> = { "virtio-fs": zero(), "virtio-9p": zero() };
  for (let pass = 1; pass <= PASSES; pass++) {
    const order: [VmmKind, Record<Device, Figures>][] = [
      ["crosvm", ours],
      ["qemu", qemu],
    ];
    if (pass % 2 === 0) order.reverse();
    for (const [kind, best] of order) await measure(kind, pass, best);
  }
  console.log(
    `\nshared directories, ${MIB} MiB file, ${FILES} small files, best of ${PASSES} boots (target: ours >= 1.0x QEMU)`,
  );
  console.log(`${"".padEnd(40)}${"ours".padStart(10)}${"QEMU".padStart(10)}  ours/QEMU`);
  const rows: [string, keyof Figures, string][] = [
    ["sequential write (dd 1 MiB, fsync)", "writeMBs", "MB/s"],
    ["sequential read (dd 1 MiB)", "readMBs", "MB/s"],
    ["create (open O_CREAT + close)", "createPerS", "/s"],
    ["stat", "statPerS", "/s"],
    ["unlink", "unlinkPerS", "/s"],
  ];
  for (const device of ["virtio-fs", "virtio-9p"] as const) {
    const against = device === "virtio-fs" ? "vhost-user-fs + virtiofsd" : "-virtfs local, passthrough";
    console.log(`${device} (QEMU: ${against})`);
    for (const [name, key, unit] of rows) {
      const [a, b] = [ours[device][key], qemu[device][key]];
      const digits = unit === "/s" ? 0 : 1;
      console.log(
        `  ${name.padEnd(38)}${a.toFixed(digits).padStart(10)}${b.toFixed(digits).padStart(10)}  ${(a / b).toFixed(2)}x ${unit}${a >= b ? "" : "  (below 1.0x)"}`,
      );
    }
  }
} finally {
  await shutdownRigs();
}
