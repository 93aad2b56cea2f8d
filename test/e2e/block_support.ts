// Disk images for the block e2e tests and the blk benchmark, kept where the VMM under test runs.
// In the rig, the VMM sees the host's scratch folder over 9p, which cannot punch holes (discard) and adds its
// own caching; so images are copied into the outer VM's tmpfs (/tmp) before the boot and back to the scratch
// folder after it. In direct mode the VMM is a host process and the scratch folder is used as it is.
import { join } from "node:path";
import { e2eMode, execWhereVmmRuns, scratchDir } from "./harness/test_vm.ts";
import type { VmmKind } from "./harness/vmm_command.ts";

/** Where the VMM under test keeps its images, and a shell on that machine. */
export class VmmHost {
  private constructor(
    /** Host folder the test writes images into (the scratch folder). */
    readonly hostDir: string,
    /** The same folder as the VMM's machine sees it. */
    readonly scratchVmmDir: string,
    /** Folder on the VMM's machine that images live in during a boot. */
    readonly workDir: string,
    private readonly kind: VmmKind,
  ) {}

  static async open(kind: VmmKind): Promise<VmmHost> {
    const scratch = await scratchDir(kind);
    if (e2eMode() !== "rig") return new VmmHost(scratch.hostDir, scratch.vmmDir, scratch.vmmDir, kind);
    const host = new VmmHost(scratch.hostDir, scratch.vmmDir, "/tmp/disks", kind);
    await host.run("mkdir -p /tmp/disks");
    return host;
  }

  /** Runs a shell script on the VMM's machine (the outer rig VM, or this host); throws on a non-zero status. */
  async run(script: string, timeoutMs = 60_000): Promise<string> {
    const result = await execWhereVmmRuns(script, { vmm: this.kind, timeoutMs });
    if (result.exitCode !== 0)
      throw new Error(`VMM host: \`${script}\` exited with ${result.exitCode}: ${result.stderr.trim()}`);
    return result.stdout;
  }

  /** Path the VMM opens for image `name`. */
  vmmPath(name: string): string {
    return join(this.workDir, name);
  }

  /** Host path of image `name` in the scratch folder. */
  hostPath(name: string): string {
    return join(this.hostDir, name);
  }

  /** Makes the scratch folder's `name` available to the VMM at vmmPath(name). */
  async importImage(name: string): Promise<void> {
    if (this.workDir !== this.scratchVmmDir)
      await this.run(`cp ${this.scratchVmmDir}/${name} ${this.vmmPath(name)}`, 120_000);
  }

  /** Copies the VMM's `name` back to the scratch folder, so host tools can read it at hostPath(name). */
  async exportImage(name: string): Promise<void> {
    if (this.workDir !== this.scratchVmmDir)
      await this.run(`cp ${this.vmmPath(name)} ${this.scratchVmmDir}/${name} && sync`, 120_000);
  }

  /** 512-byte blocks the file system has allocated for the VMM's `name` (stat %b). */
  async allocatedBlocks(name: string): Promise<number> {
    return Number((await this.run(`stat -c %b ${this.vmmPath(name)}`)).trim());
  }

  /** Removes the VMM-side copies. */
  async clean(): Promise<void> {
    if (this.workDir !== this.scratchVmmDir) await this.run(`rm -rf ${this.workDir}/*`);
  }
}

/** Runs a host command; throws with its stderr on failure. */
export function host(cmd: string[]): string {
  const proc = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
  if (proc.exitCode !== 0) throw new Error(`${cmd.join(" ")} exited with ${proc.exitCode}: ${proc.stderr}`);
  return proc.stdout.toString();
}
