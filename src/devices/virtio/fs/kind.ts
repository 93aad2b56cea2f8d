// The virtio-fs device kind (kind.ts): one device per --shared-dir with type=fs, in the order given. The device
// process opens the shared directory (O_PATH) and /proc/self/fd before it confines itself, and pivots into the
// shared directory rather than the empty pivot root (as crosvm's fs device jail does).
import * as v from "valibot";
import { open, O_CLOEXEC } from "../../../../ffi/libc.ts";
import { O_DIRECTORY, O_PATH } from "../../../../ffi/fs_calls.ts";
import { raiseOpenFileLimit } from "../../../jail/open_files.ts";
import { type BuiltDevice, defineDeviceKind, DeviceOptionsError } from "../kind.ts";
import { FsContext } from "./context.ts";
import { FS_QUEUE_SIZE, FS_REQUEST_QUEUES, FS_TAG_BYTES, VirtioFs } from "./device.ts";
import { IdMap, type IdRange, MAX_VALID_ID } from "./id_map.ts";
import { HandleTable } from "./inodes.ts";

/** The part of one --shared-dir the device uses (the VMM's SharedDirOption has these fields). */
export interface SharedDirConfig {
  readonly path: string;
  readonly tag: string;
  readonly type: "fs" | "p9";
  readonly cache: "never" | "auto" | "always";
  readonly timeout: number;
  readonly writeback: boolean;
  readonly rewriteSecurityXattrs: boolean;
  readonly asciiCasefold: boolean;
  readonly posixAcl: boolean;
  readonly uidmap?: readonly IdRange[];
  readonly gidmap?: readonly IdRange[];
  /** The guest uid the device process runs as (crosvm's uid key; the uidmap maps it); absent: 0, it keeps its own. */
  readonly uid?: number;
  /** The guest gid the device process runs as (the gidmap maps it); absent: 0. */
  readonly gid?: number;
}

const bool = v.boolean("a boolean");
const range = v.strictObject({
  inner: v.number("an id"),
  outer: v.number("an id"),
  count: v.number("a count"),
});

/** A guest uid or gid: uid_t, without (uid_t)-1. */
const id = v.pipe(
  v.number("an id"),
  v.integer("an id"),
  v.minValue(0, "an id"),
  v.maxValue(MAX_VALID_ID, "an id"),
);

/** The keys of a shared directory's device that say what its process runs as (crosvm's uid and gid). */
export const runAsKeys = { uid: v.optional(id), gid: v.optional(id) };

/** The --shared-dir keys the fs and p9 kinds pass on about ids, from a VmConfig entry. */
export function idKeysOf(d: SharedDirConfig) {
  return {
    ...(d.uidmap ? { uidmap: [...d.uidmap] } : {}),
    ...(d.gidmap ? { gidmap: [...d.gidmap] } : {}),
    ...(d.uid ? { uid: d.uid } : {}),
    ...(d.gid ? { gid: d.gid } : {}),
  };
}

/**
 * The host ids a shared directory's device process runs as (BuiltDevice.runAs): the guest uid and gid keys through
 * the share's maps. Undefined when both are 0 (crosvm changes only a non-zero id). Throws DeviceOptionsError for an
 * id the map does not cover (the VMM refused it already).
 */
export function runAsOf(
  o: { tag: string; uid?: number; gid?: number },
  uidMap: IdMap,
  gidMap: IdMap,
): BuiltDevice["runAs"] {
  if (!o.uid && !o.gid) return undefined;
  const host = (key: "uid" | "gid", map: IdMap, guest: number | undefined) => {
    if (!guest) return undefined;
    const h = map.toHost(guest);
    if (h < 0) throw new DeviceOptionsError(`${key} ${guest} is not mapped by the share's ${key}map`);
    return h;
  };
  const uid = host("uid", uidMap, o.uid);
  const gid = host("gid", gidMap, o.gid);
  const keys = [o.uid ? `uid=${o.uid}` : "", o.gid ? `gid=${o.gid}` : ""].filter(Boolean).join(":");
  return {
    ...(uid !== undefined ? { uid } : {}),
    ...(gid !== undefined ? { gid } : {}),
    what: `--shared-dir ${o.tag} ${keys}`,
  };
}

export const fsOptionsSchema = v.strictObject(
  {
    path: v.pipe(v.string("a directory path"), v.nonEmpty("a directory path")),
    tag: v.pipe(
      v.string("a tag"),
      v.check((t) => {
        const n = new TextEncoder().encode(t).length;
        return n >= 1 && n <= FS_TAG_BYTES;
      }, `a tag of 1 to ${FS_TAG_BYTES} bytes`),
    ),
    cache: v.picklist(["never", "auto", "always"], "never, auto or always"),
    timeout: v.pipe(v.number("seconds"), v.integer("seconds"), v.minValue(0, "seconds")),
    writeback: bool,
    rewriteSecurityXattrs: bool,
    asciiCasefold: bool,
    posixAcl: bool,
    uidmap: v.optional(v.array(range, "a list of id ranges")),
    gidmap: v.optional(v.array(range, "a list of id ranges")),
    ...runAsKeys,
  },
  "an object",
);

export const fsKind = defineDeviceKind({
  name: "fs",
  policy: "fs_device",
  schema: fsOptionsSchema,
  queueSizes: [FS_QUEUE_SIZE, ...Array<number>(FS_REQUEST_QUEUES).fill(FS_QUEUE_SIZE)],
  select: (config: { readonly sharedDirs: readonly SharedDirConfig[] }) =>
    config.sharedDirs
      .filter((d) => d.type === "fs")
      .map((d) => ({
        path: d.path,
        tag: d.tag,
        cache: d.cache,
        timeout: d.timeout,
        writeback: d.writeback,
        rewriteSecurityXattrs: d.rewriteSecurityXattrs,
        asciiCasefold: d.asciiCasefold,
        posixAcl: d.posixAcl,
        ...idKeysOf(d),
      })),
  prepare: (o, index) => ({ label: `virtio-fs ${index} (${o.tag}: ${o.path})`, backing: [] }),
  build(o) {
    // One descriptor per inode the guest holds: before confinement, as crosvm's fs jail and virtiofsd do.
    raiseOpenFileLimit();
    const root = open(o.path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    const procFd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
    const uidMap = new IdMap(o.uidmap);
    const gidMap = new IdMap(o.gidmap);
    const runAs = runAsOf(o, uidMap, gidMap);
    const ctx = new FsContext(
      {
        cache: o.cache,
        timeout: o.timeout,
        writeback: o.writeback,
        posixAcl: o.posixAcl,
        rewriteSecurityXattrs: o.rewriteSecurityXattrs,
        asciiCasefold: o.asciiCasefold,
        uidMap,
        gidMap,
      },
      root,
      new HandleTable(),
      procFd,
    );
    return { device: new VirtioFs(o.tag, ctx), pivotRoot: o.path, ...(runAs ? { runAs } : {}) };
  },
});
