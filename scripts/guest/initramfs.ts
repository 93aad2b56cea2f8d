// Builds initramfs contents: busybox with its applet links, /init, the agent, and kernel modules
// listed in /etc/modules in load order.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { type CpioEntry } from "./cpio.ts";
import { moduleLoadOrder } from "./modules.ts";
import { guestSourceDir } from "./paths.ts";
import { run } from "./run.ts";

/** Debian's busybox-static: one static binary, so nothing else from the host is needed. */
export const busyboxPath = "/usr/bin/busybox";

export const rootfsDir = join(guestSourceDir, "rootfs");

async function fileEntry(path: string, from: string, mode = 0o644): Promise<CpioEntry> {
  return { kind: "file", path, data: await Bun.file(from).bytes(), mode };
}

function busyboxEntries(): CpioEntry[] {
  // ldd answers "not a dynamic executable" (exit 1) for a static binary.
  const ldd = run(["ldd", busyboxPath], { allowFailure: true });
  if (ldd.exitCode === 0) {
    throw new Error(`${busyboxPath} is not statically linked; install busybox-static`);
  }
  const applets = run([busyboxPath, "--list-full"])
    .stdout.split("\n")
    .filter((line) => line !== "" && line !== "bin/busybox");
  return applets.map((path) => ({ kind: "symlink", path, target: "/bin/busybox" }));
}

/**
 * The entries shared by the guest image and the outer rig image. `init` and `agent.sh` come from
 * scripts/guest/rootfs/; `rc` is an optional image-specific script /init runs after loading modules.
 */
export async function baseEntries(
  modulesDir: string,
  modules: readonly string[],
  rc?: string,
): Promise<{ entries: CpioEntry[]; missing: string[] }> {
  const { order, missing } = await moduleLoadOrder(modulesDir, modules);
  const entries: CpioEntry[] = [
    ...[
      "bin",
      "sbin",
      "usr/bin",
      "usr/sbin",
      "dev",
      "proc",
      "sys",
      "tmp",
      "run",
      "etc",
      "root",
      "lib/modules",
    ].map((path): CpioEntry => ({ kind: "dir", path })),
    // The kernel opens /dev/console for /init before devtmpfs is mounted (init/main.c, console_on_rootfs).
    { kind: "chardev", path: "dev/console", major: 5, minor: 1 },
    await fileEntry("bin/busybox", busyboxPath, 0o755),
    ...busyboxEntries(),
    await fileEntry("init", join(rootfsDir, "init"), 0o755),
    await fileEntry("sbin/agent", join(rootfsDir, "agent.sh"), 0o755),
    // busybox acpid's power-button action (started by /init where the button and evdev modules are loaded).
    await fileEntry("etc/acpi/PWRF/00000080", join(rootfsDir, "acpi/PWRF/00000080"), 0o755),
    ...(await Promise.all(order.map((m) => fileEntry(`lib/modules/${m.name}.ko`, m.path)))),
    {
      kind: "file",
      path: "etc/modules",
      data: new TextEncoder().encode(order.map((m) => `${m.name}\n`).join("")),
    },
  ];
  if (rc !== undefined) entries.push(await fileEntry("etc/rc", rc, 0o755));
  return { entries, missing };
}

/** Newest modification time of the files an image is built from. */
export function newestSourceTime(extra: readonly string[]): number {
  const sources = [
    ...readdirSync(guestSourceDir, { recursive: true, encoding: "utf8" }).map((f) => join(guestSourceDir, f)),
    busyboxPath,
    ...extra,
  ];
  return Math.max(...sources.map((p) => statSync(p).mtimeMs));
}

/** True when `output` is missing or older than any of its sources. */
export function isStale(output: string, extra: readonly string[]): boolean {
  try {
    return statSync(output).mtimeMs < newestSourceTime(extra);
  } catch {
    return true;
  }
}
