// The VMM's control socket from a test: where to put it and how to run `crosvm <subcommand> ... SOCKET` where the
// VMM runs (the outer rig VM, or the host in direct mode; see execWhereVmmRuns).
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ExecResult } from "./agent_client.ts";
import { shellCommand } from "./shell.ts";
import { e2eMode, execWhereVmmRuns, vmmExecutablePath } from "./test_vm.ts";

/**
 * A fresh path for a control socket, on a local filesystem of the machine the VMM runs on (a socket cannot be
 * bound on the rig's 9p scratch folder): /tmp of the outer VM in the rig, a new host temporary folder otherwise.
 */
export function controlSocketPath(name = "vm.sock"): string {
  if (e2eMode() === "rig") return `/tmp/${name}`;
  return join(mkdtempSync(join(tmpdir(), "crosvm-e2e-sock-")), name);
}

/** Runs `crosvm ARGS...` (e.g. ["stop", socket]) where the VMM runs and returns its output and status. */
export function crosvmControl(args: readonly string[], timeoutMs = 30_000): Promise<ExecResult> {
  return execWhereVmmRuns(shellCommand([vmmExecutablePath("crosvm"), ...args]), { timeoutMs });
}

/** True when `path` exists where the VMM runs. */
export async function existsWhereVmmRuns(path: string): Promise<boolean> {
  const { exitCode } = await execWhereVmmRuns(`test -e ${shellCommand([path])}`, { timeoutMs: 10_000 });
  return exitCode === 0;
}
