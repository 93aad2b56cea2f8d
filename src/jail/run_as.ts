// The identity a sandboxed device process runs as: crosvm's RunAsUser::Specified(uid, gid) (jail/src/helpers.rs
// create_sandbox_minijail), which a --shared-dir's uid and gid keys ask for. minijail changes to them after the
// pivot, inside the device's user namespace (change_uid / change_gid: "if uid != 0", "if gid != 0"), so a device
// with a non-zero uid works on the host as that user, with no capabilities left.
//
// Ours differs in where the ids come from, not in what the process ends up as: the kind hands over host ids (the
// guest ids of the keys mapped by the share's uidmap/gidmap, which our server applies itself), and this module
// finds what they are called in the device process's own user namespace from /proc/self/uid_map and gid_map:
//   - a VMM run as root makes no user namespace (the maps are the identity): any host id can be taken;
//   - a VMM run as another user makes one mapping only 0 to its own uid and gid (sandbox_launcher.ts): the one host
//     uid it can run a device as is its own, where namespace uid 0 stays and the capabilities are dropped instead.
// planRunAs reads the maps while /proc is still in reach (before the pivot); applyRunAs changes the ids after it
// (the pivot needs CAP_SYS_ADMIN, which the change gives up), gid before uid (the uid change takes the right to
// change gids with it), keeps the launcher's parent-death signal, and checks what the thread ended up with.
import { readFileSync } from "node:fs";
import {
  clearCapabilities,
  clearSupplementaryGroups,
  emptyBoundingSet,
  getResGid,
  getResUid,
  hasNoCapabilities,
  parentDeathSignal,
  setAllGids,
  setAllUids,
  setParentDeathSignal,
} from "../../ffi/credentials.ts";
import { SandboxError } from "./sandbox_launcher.ts";

/** What a device asks to run as (BuiltDevice.runAs): host ids, absent when that id stays as the launcher made it. */
export interface RunAs {
  readonly uid?: number;
  readonly gid?: number;
  /** The option that asked, for errors: "--shared-dir uid=1000 gid=1000". */
  readonly what: string;
}

/** The ids to set, as the device process's user namespace calls them. */
export interface RunAsPlan {
  readonly uid?: number;
  readonly gid?: number;
  /** setgroups(2) is allowed here (not in a user namespace whose setgroups file says "deny"). */
  readonly clearGroups: boolean;
  readonly what: string;
}

/** The files planRunAs reads: /proc/self/uid_map, gid_map and setgroups. */
export interface IdMapFiles {
  readonly uidMap: string;
  readonly gidMap: string;
  readonly setgroups: string;
}

function readProcIdFiles(): IdMapFiles {
  const read = (name: string) => readFileSync(`/proc/self/${name}`, "utf8");
  return { uidMap: read("uid_map"), gidMap: read("gid_map"), setgroups: read("setgroups") };
}

/**
 * The id that host id `outer` has in the namespace whose /proc/PID/uid_map (or gid_map) is `map` (user_namespaces(7):
 * lines of "ID-inside-ns ID-outside-ns length"), or undefined when no line maps it.
 */
export function idInNamespace(map: string, outer: number): number | undefined {
  for (const line of map.split("\n")) {
    const words = line.trim().split(/\s+/);
    if (words.length !== 3) continue;
    const [inner, start, count] = words.map(Number) as [number, number, number];
    if (outer >= start && outer - start < count) return inner + (outer - start);
  }
  return undefined;
}

/** The namespace ids for `runAs`; throws SandboxError, naming the option, for a host id the namespace lacks. */
export function planRunAs(runAs: RunAs, files: IdMapFiles = readProcIdFiles()): RunAsPlan {
  const inner = (kind: "uid" | "gid", map: string, host: number | undefined) => {
    if (host === undefined) return undefined;
    const id = idInNamespace(map, host);
    if (id === undefined)
      throw new SandboxError(
        `sandbox: ${runAs.what}: the device process cannot run as host ${kind} ${host}: its user namespace ` +
          `maps only ${describeMap(map)} (a crosvm not run as root can run its devices only as its own ${kind}): ` +
          `run crosvm as root, or pass --disable-sandbox`,
      );
    return id;
  };
  const uid = inner("uid", files.uidMap, runAs.uid);
  const gid = inner("gid", files.gidMap, runAs.gid);
  return {
    ...(uid !== undefined ? { uid } : {}),
    ...(gid !== undefined ? { gid } : {}),
    clearGroups: files.setgroups.trim() !== "deny",
    what: runAs.what,
  };
}

function describeMap(map: string): string {
  const lines = map
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .filter((w) => w.length === 3)
    .map(([inner, outer, count]) => (count === "1" ? `host id ${outer}` : `host ids ${outer}+${count}`));
  return lines.length ? lines.join(", ") : "no ids";
}

/**
 * Changes the process's ids as planned: supplementary groups cleared (where allowed) and the gid set on every
 * thread, then the uid; a uid change also leaves the calling thread without any capability (a non-zero namespace
 * uid loses them on every thread by itself; namespace uid 0 keeps them unless dropped, which capset does for this
 * thread only). Throws SandboxError when a step fails or the thread's ids are not what was asked; returns what
 * was applied, for the confinement report.
 */
export function applyRunAs(plan: RunAsPlan): string {
  const done: string[] = [];
  try {
    // An id change clears the parent-death signal (kernel/cred.c commit_creds), by which unshare --kill-child
    // makes the device die with its launcher: it is set again afterwards.
    const deathSignal = parentDeathSignal();
    if (plan.clearGroups) clearSupplementaryGroups();
    if (plan.gid !== undefined) {
      setAllGids(plan.gid);
      done.push(`gid ${plan.gid}`);
    }
    if (plan.uid !== undefined) {
      // The bounding set first (that needs CAP_SETPCAP), then the uid (CAP_SETUID), then the rest.
      emptyBoundingSet();
      setAllUids(plan.uid);
      clearCapabilities();
      done.push(`uid ${plan.uid}`, "no capabilities");
    }
    setParentDeathSignal(deathSignal);
  } catch (e) {
    throw new SandboxError(`sandbox: ${plan.what}: ${(e as Error).message}`);
  }
  const uids = getResUid();
  const gids = getResGid();
  const wrong =
    (plan.uid !== undefined && uids.some((id) => id !== plan.uid)) ||
    (plan.gid !== undefined && gids.some((id) => id !== plan.gid)) ||
    (plan.uid !== undefined && !hasNoCapabilities());
  if (wrong)
    throw new SandboxError(
      `sandbox: ${plan.what}: after the change the device process has uids ${uids.join("/")}, gids ` +
        `${gids.join("/")}${hasNoCapabilities() ? "" : " and capabilities"}`,
    );
  return `run as ${done.join(", ")}`;
}
