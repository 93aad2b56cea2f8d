// The outer rig VM's initramfs: busybox, /init, the agent, kvm + kvm_amd + 9p modules, and as payload the nested
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

function payloadFiles(kind: NestedVmmKind, vmmHostPath: string): PayloadFile[] {
  const vmm =
    kind === "qemu"
      ? qemuPayload(vmmHostPath)
      : [
          ...executableWithLibraries(vmmHostPath, rigLayout.vmmPath(kind)),
          // util-linux's unshare(1), which starts sandboxed device processes in their namespaces (busybox's
          // lacks --kill-child); /usr/local/bin comes before busybox's applets on the outer VM's PATH.
          ...executableWithLibraries(Bun.which("unshare") ?? "/usr/bin/unshare", "/usr/local/bin/unshare"),
        ];
  const images = kernelFlavours.flatMap((flavour) => [
    { guestPath: rigLayout.bzImage(flavour), hostPath: flavourPaths(flavour).bzImage, mode: 0o644 },
    { guestPath: rigLayout.initrd(flavour), hostPath: flavourPaths(flavour).initrd, mode: 0o644 },
  ]);
  return [...vmm, ...images];
}

/**
 * Builds (when missing or older than its inputs) the outer initramfs carrying `vmmHostPath` as the nested VMM.
 * The guest images must exist already (ensureGuestImages). Returns the image path.
 */
export async function ensureRigImage(kind: NestedVmmKind, vmmHostPath: string): Promise<string> {
  const output = join(rigBuildDir, `outer-${kind}.cpio`);
  const payload = payloadFiles(kind, vmmHostPath);
  if (!isStale(output, [...payload.map((f) => f.hostPath), flavourPaths("generic").packageStamp]))
    return output;

  const { entries, missing } = await baseEntries(
    modulesDir("generic"),
    rigModules,
    join(guestSourceDir, "rig/rc"),
  );
  if (missing.length > 0) throw new Error(`rig kernel lacks modules: ${missing.join(", ")}`);
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
