// The outer rig VM's initramfs: busybox, /init, the agent, port-bridge, kvm + kvm_amd + 9p + virtio_console modules, and as payload the nested
// VMM (with its libraries) and the guest images under /guest/<flavour>/. Left uncompressed: the kernel then
// only copies it, which under TCG is much faster than inflating ~100 MB.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { writeAtomically } from "../atomic_write.ts";
import { cpioNewc, withParentDirs, type CpioEntry } from "../cpio.ts";
import { modulesDir } from "../debian_kernel.ts";
import { baseEntries, isStale } from "../initramfs.ts";
import { rigModules } from "../modules.ts";
import { flavourPaths, guestSourceDir, kernelFlavours, rigBuildDir } from "../paths.ts";
import { executableWithLibraries, qemuPayload, type PayloadFile } from "./payload.ts";

export type NestedVmmKind = "qemu" | "crosvm";

/** Where the nested VMM and the guest images are inside the outer VM. */
export const rigLayout = {
  vmmPath: (kind: NestedVmmKind) => (kind === "qemu" ? "/usr/bin/qemu-system-x86_64" : "/usr/bin/crosvm"),
  bzImage: (flavour: string) => `/guest/${flavour}/bzImage`,
  initrd: (flavour: string) => `/guest/${flavour}/initrd.img`,
};

/** The nested VMM executable and what it needs at run time, at their places in the outer VM. */
export function nestedVmmPayload(kind: NestedVmmKind, vmmHostPath: string): PayloadFile[] {
  return kind === "qemu"
    ? qemuPayload(vmmHostPath)
    : [
        ...executableWithLibraries(vmmHostPath, rigLayout.vmmPath(kind)),
        // util-linux's unshare(1), which starts sandboxed device processes in their namespaces (busybox's
        // lacks --kill-child); /usr/local/bin comes before busybox's applets on the outer VM's PATH.
        ...executableWithLibraries(Bun.which("unshare") ?? "/usr/bin/unshare", "/usr/local/bin/unshare"),
      ];
}

function guestImagePayload(): PayloadFile[] {
  return kernelFlavours.flatMap((flavour) => [
    { guestPath: rigLayout.bzImage(flavour), hostPath: flavourPaths(flavour).bzImage, mode: 0o644 },
    { guestPath: rigLayout.initrd(flavour), hostPath: flavourPaths(flavour).initrd, mode: 0o644 },
  ]);
}

/**
 * Builds (when missing or older than its inputs) the outer initramfs carrying `vmmHostPath` as the nested VMM.
 * The guest images must exist already (ensureGuestImages). Returns the image path.
 */
export function ensureRigImage(kind: NestedVmmKind, vmmHostPath: string): Promise<string> {
  return ensureRigImageWith(kind, nestedVmmPayload(kind, vmmHostPath));
}

/**
 * The same for any set of nested VMMs (`nestedVmmPayload` of each): build/guest/rig/outer-NAME.cpio. The
 * benchmarks use it to run crosvm and QEMU in one outer VM.
 */
export async function ensureRigImageWith(name: string, vmmPayload: readonly PayloadFile[]): Promise<string> {
  const output = join(rigBuildDir, `outer-${name}.cpio`);
  const byGuestPath = new Map([...vmmPayload, ...guestImagePayload()].map((f) => [f.guestPath, f]));
  const payload = [...byGuestPath.values()];
  if (!isStale(output, [...payload.map((f) => f.hostPath), flavourPaths("generic").packageStamp]))
    return output;

  const { entries, missing } = await baseEntries(
    modulesDir("generic"),
    rigModules,
    join(guestSourceDir, "rig/rc"),
  );
  if (missing.length > 0) throw new Error(`rig kernel lacks modules: ${missing.join(", ")}`);
  const bridge = join(guestSourceDir, "rig/port_bridge");
  entries.push({ kind: "file", path: "sbin/port-bridge", data: await Bun.file(bridge).bytes(), mode: 0o755 });
  const payloadEntries: CpioEntry[] = await Promise.all(
    payload.map(async (f) => ({
      kind: "file" as const,
      path: f.guestPath,
      data: await Bun.file(f.hostPath).bytes(),
      mode: f.mode,
    })),
  );
  mkdirSync(rigBuildDir, { recursive: true });
  await writeAtomically(output, new Blob(cpioNewc(withParentDirs([...entries, ...payloadEntries]))));
  return output;
}
