// `bun run demo`: builds dist/crosvm and the guest images when missing, then boots the default guest (Debian's
// kernel, our busybox initramfs) into an interactive shell on this terminal. Where the host has hardware
// virtualization (vmx/svm), crosvm runs directly with COM1 on stdin/stdout (its default serial). Elsewhere it runs
// inside the nested rig: an outer QEMU/TCG VM with emulated AMD-V whose /etc/rc, seeing rig.demo=1, runs crosvm
// on the outer console (scripts/guest/rig/rc), which QEMU puts on this terminal (-serial mon:stdio).
// `poweroff -f` in the guest ends crosvm (and then the outer VM); Ctrl-A X quits QEMU at any time.
// CROSVM_DEMO_MODE=rig forces the nested rig where the host could run crosvm directly.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ensureGuestImages } from "./guest/build.ts";
import { flavourPaths, repoRoot } from "./guest/paths.ts";
import { ensureRigImage } from "./guest/rig/outer_image.ts";

const crosvm = join(repoRoot, "dist/crosvm");

function hostHasHardwareVirtualization(): boolean {
  return /^flags\s*:.*\b(vmx|svm)\b/m.test(readFileSync("/proc/cpuinfo", "utf8"));
}

async function run(cmd: string[]): Promise<number> {
  const proc = Bun.spawn(cmd, { stdio: ["inherit", "inherit", "inherit"] });
  return await proc.exited;
}

if (!existsSync(crosvm)) {
  console.log("demo: building dist/crosvm");
  if ((await run(["bun", "run", "build"])) !== 0) process.exit(1);
}
await ensureGuestImages();
const guest = flavourPaths("generic");

let status: number;
if (hostHasHardwareVirtualization() && process.env.CROSVM_DEMO_MODE !== "rig") {
  console.log("demo: booting the guest with dist/crosvm; `poweroff -f` in the guest ends it");
  status = await run([crosvm, "run", "-p", "agent=none", "-i", guest.initrd, guest.bzImage]);
} else {
  console.log("no hardware virtualization here: booting inside a nested QEMU/TCG VM (slow); Ctrl-A X quits");
  const image = await ensureRigImage("crosvm", crosvm);
  status = await run([
    "qemu-system-x86_64",
    ...["-accel", "tcg", "-cpu", "EPYC,+svm", "-M", "q35", "-m", "2048", "-smp", "2"],
    ...["-nodefaults", "-no-user-config", "-nographic", "-no-reboot"],
    ...["-kernel", guest.bzImage, "-initrd", image],
    ...["-append", "console=ttyS0 panic=-1 quiet agent=none rig.demo=1"],
    ...["-serial", "mon:stdio"],
  ]);
}
process.exit(status);
