// How a sandboxed device process is started inside its namespaces, and the checks that refuse a sandboxed run that
// could not be confined as asked: a missing pivot root or namespaces that cannot be made stop the VMM with one line
// saying what to do, never a weaker sandbox (crosvm book: devices can't be jailed if /var/empty doesn't exist).
//
// Namespaces are entered by util-linux unshare(1) exec'ing the device process (see confine.ts for why Bun cannot
// enter them itself). As root: new mount, network, IPC and PID namespaces. As any other user: the same four inside
// a new user namespace that maps uid and gid 0 to the caller's (--map-root-user), which gives the device process
// the capabilities over its own namespaces that mounting and pivot_root need, and nothing outside them.
import { statSync } from "node:fs";

/** A sandboxed run that cannot be confined as asked; the message is one line naming the remedy. */
export class SandboxError extends Error {
  override name = "SandboxError";
}

/** The namespaces every confined device process gets, in the names confine.ts reports. */
export const DEVICE_NAMESPACES = ["mount", "network", "ipc", "pid"] as const;

const WAYS_OUT = "run crosvm as root, or pass --disable-sandbox";

/** crosvm's default pivot root; DEFAULT_PIVOT_ROOT overrides it (crosvm book, "Launch the VM"). */
export function defaultPivotRoot(): string {
  return process.env.DEFAULT_PIVOT_ROOT ?? "/var/empty";
}

/** Throws SandboxError unless `dir` is a directory the device processes can pivot into. */
export function checkPivotRoot(dir: string): void {
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new SandboxError(
      `sandbox: pivot root ${dir} does not exist: create it (an empty directory), name another with ` +
        `--pivot-root or DEFAULT_PIVOT_ROOT, or pass --disable-sandbox`,
    );
  }
  if (!isDir)
    throw new SandboxError(
      `sandbox: pivot root ${dir} is not a directory: name an empty directory with --pivot-root or ` +
        `DEFAULT_PIVOT_ROOT, or pass --disable-sandbox`,
    );
}

export interface NamespaceLauncher {
  /** The command prefix: unshare(1) with its options, ending in `--`. */
  readonly prefix: readonly string[];
  /** What the device process will be in, for its report: DEVICE_NAMESPACES, plus "user" when not root. */
  readonly namespaces: readonly string[];
}

export interface LauncherHost {
  /** The caller's uid (process.getuid()). */
  readonly uid: number;
  /** unshare(1) on PATH, or undefined. */
  readonly unshare: string | undefined;
}

function currentHost(): LauncherHost {
  return { uid: process.getuid?.() ?? 0, unshare: Bun.which("unshare") ?? undefined };
}

/** The unshare(1) command prefix for `host`, without checking that it works. */
export function launcherFor(host: LauncherHost): NamespaceLauncher {
  if (!host.unshare)
    throw new SandboxError(
      "sandbox: unshare(1) from util-linux is not installed; install util-linux, or pass --disable-sandbox",
    );
  const user = host.uid === 0 ? [] : ["--user", "--map-root-user"];
  return {
    prefix: [host.unshare, ...user, "--mount", "--net", "--ipc", "--pid", "--fork", "--kill-child", "--"],
    namespaces: host.uid === 0 ? [...DEVICE_NAMESPACES] : [...DEVICE_NAMESPACES, "user"],
  };
}

/**
 * Runs the launcher once on unshare(1) itself (`--version`): busybox's unshare lacks --kill-child, and a host
 * without unprivileged user namespaces (or a container without CAP_SYS_ADMIN) refuses the unshare(2).
 */
export function probeLauncher(launcher: NamespaceLauncher): void {
  const unshare = launcher.prefix[0]!;
  const r = Bun.spawnSync([...launcher.prefix, unshare, "--version"], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode === 0 && r.stdout.toString().includes("util-linux")) return;
  const said = `${r.stderr.toString()}${r.stdout.toString()}`.trim().split("\n")[0] || `status ${r.exitCode}`;
  throw new SandboxError(
    `sandbox: cannot create the device processes' namespaces with ${unshare} (${said}): ${WAYS_OUT}` +
      (launcher.namespaces.includes("user") ? " (or allow unprivileged user namespaces on this host)" : ""),
  );
}

let checked: { key: string; launcher: NamespaceLauncher } | undefined;

/**
 * The launcher for this process's device processes, checked once per uid and unshare(1): throws SandboxError
 * when the namespaces cannot be made.
 */
export function deviceNamespaceLauncher(host: LauncherHost = currentHost()): NamespaceLauncher {
  const key = `${host.uid}:${host.unshare}`;
  if (checked?.key === key) return checked.launcher;
  const launcher = launcherFor(host);
  probeLauncher(launcher);
  checked = { key, launcher };
  return launcher;
}
