// `bun run demo`: builds dist/crosvm and the guest images when missing, then boots a guest on this terminal.
// Default: the Debian bookworm system (scripts/guest/debian/image.ts: Debian's kernel, its initrd and an ext4
// root disk; built with mmdebstrap the first time, which takes minutes) to its console's root login, the crosvm
// book's Example Usage on our binary; its writes go to a qcow2 overlay, so the cached image stays as built.
// `systemctl poweroff` (or `poweroff`) in the guest ends crosvm with status 0.
// `bun run demo --minimal`: Debian's kernel with our busybox initramfs, to a busybox shell; `poweroff -f` ends it.
// Where the host has hardware virtualization (vmx/svm), crosvm runs directly with COM1 on stdin/stdout (its
// default serial). Elsewhere it runs inside the nested rig: an outer QEMU/TCG VM with emulated AMD-V whose
// /etc/rc, seeing rig.demo=..., runs crosvm (scripts/guest/rig/rc). The minimal guest's console is the outer
// console; the Debian system's is a virtio-serial port (its output through the outer 8250 stalls the outer VM),
// the outer console going to build/demo-outer-console.log. QEMU puts the guest's console on this terminal;
// Ctrl-A X quits QEMU at any time. CROSVM_DEMO_MODE=rig forces the nested rig where crosvm could run directly.
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ensureGuestImages } from "./guest/build.ts";
import { debianDir, ensureDebianImage } from "./guest/debian/image.ts";
import { flavourPaths, repoRoot } from "./guest/paths.ts";
import { ensureRigImage } from "./guest/rig/outer_image.ts";

const crosvm = join(repoRoot, "dist/crosvm");
const minimal = process.argv.includes("--minimal");

function hostHasHardwareVirtualization(): boolean {
  return /^flags\s*:.*\b(vmx|svm)\b/m.test(readFileSync("/proc/cpuinfo", "utf8"));
}

async function run(cmd: string[]): Promise<number> {
  const proc = Bun.spawn(cmd, { stdio: ["inherit", "inherit", "inherit"] });
  return await proc.exited;
}

const outerQemu = (image: string, append: string) => [
  "qemu-system-x86_64",
  ...["-accel", "tcg", "-cpu", "EPYC,+svm", "-M", "q35", "-m", "2048", "-smp", "2"],
  ...["-nodefaults", "-no-user-config", "-nographic", "-no-reboot"],
  ...["-kernel", flavourPaths("generic").bzImage, "-initrd", image],
  ...["-append", `console=ttyS0 panic=-1 quiet agent=none ${append}`],
];

/** The busybox guest (--minimal). */
async function runMinimal(): Promise<number> {
  const guest = flavourPaths("generic");
  if (hostHasHardwareVirtualization() && process.env.CROSVM_DEMO_MODE !== "rig") {
    console.log("demo: booting the guest with dist/crosvm; `poweroff -f` in the guest ends it");
    return run([crosvm, "run", "-p", "agent=none", "-i", guest.initrd, guest.bzImage]);
  }
  console.log("no hardware virtualization here: booting inside a nested QEMU/TCG VM (slow); Ctrl-A X quits");
  const image = await ensureRigImage("crosvm", crosvm);
  return run([...outerQemu(image, "rig.demo=1"), "-serial", "mon:stdio"]);
}

/** The Debian system (default). */
async function runDebian(): Promise<number> {
  const image = await ensureDebianImage();
  if (hostHasHardwareVirtualization() && process.env.CROSVM_DEMO_MODE !== "rig") {
    const overlay = join(debianDir, "demo-overlay.qcow2");
    rmSync(overlay, { force: true });
    if ((await run([crosvm, "create_qcow2", overlay, "--backing-file", image.raw])) !== 0) return 1;
    console.log("demo: booting Debian with dist/crosvm; `systemctl poweroff` in the guest ends it");
    return run([
      ...[crosvm, "run", "--mem", "1024", "--block", `${overlay},root`],
      ...["-i", image.initrd, "-p", "console=ttyS0", image.kernel],
    ]);
  }
  const outerLog = join(repoRoot, "build/demo-outer-console.log");
  console.log(
    "no hardware virtualization here: booting Debian inside a nested QEMU/TCG VM (slow: a few minutes to the " +
      `login); Ctrl-A X quits; the outer VM's console goes to ${outerLog}`,
  );
  const rigImage = await ensureRigImage("crosvm", crosvm);
  return run([
    ...outerQemu(rigImage, "rig.demo=debian rig.ports=1"),
    ...["-serial", `file:${outerLog}`],
    ...["-virtfs", `local,path=${debianDir},mount_tag=scratch,security_model=none,readonly=on`],
    // The terminal: the guest's console (a virtio-serial port) multiplexed with QEMU's monitor (Ctrl-A c, Ctrl-A X).
    ...["-chardev", "stdio,id=term,mux=on,signal=off", "-mon", "chardev=term"],
    ...["-device", "virtio-serial-pci,id=vser"],
    ...["-device", "virtserialport,bus=vser.0,nr=1,chardev=term,name=demo.console"],
  ]);
}

if (!existsSync(crosvm)) {
  console.log("demo: building dist/crosvm");
  if ((await run(["bun", "run", "build"])) !== 0) process.exit(1);
}
await ensureGuestImages();
process.exit(minimal ? await runMinimal() : await runDebian());
