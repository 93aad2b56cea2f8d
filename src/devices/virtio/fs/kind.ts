// The virtio-fs device kind (kind.ts): one device per --shared-dir with type=fs, in the order given. The device
// process opens the shared directory (O_PATH) and /proc/self/fd before it confines itself, and pivots into the
// shared directory rather than the empty pivot root (as crosvm's fs device jail does).
import * as v from "valibot";
import { open, O_CLOEXEC } from "../../../../ffi/libc.ts";
import { O_DIRECTORY, O_PATH } from "../../../../ffi/fs_calls.ts";
import { defineDeviceKind } from "../kind.ts";
import { FsContext } from "./context.ts";
import { FS_QUEUE_SIZE, FS_REQUEST_QUEUES, FS_TAG_BYTES, VirtioFs } from "./device.ts";
import { IdMap, type IdRange } from "./id_map.ts";
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
}

const bool = v.boolean("a boolean");
const range = v.strictObject({
  inner: v.number("an id"),
  outer: v.number("an id"),
  count: v.number("a count"),
});

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
        ...(d.uidmap ? { uidmap: [...d.uidmap] } : {}),
        ...(d.gidmap ? { gidmap: [...d.gidmap] } : {}),
      })),
  prepare: (o, index) => ({ label: `virtio-fs ${index} (${o.tag}: ${o.path})`, backing: [] }),
  build(o) {
    const root = open(o.path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    const procFd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
    const ctx = new FsContext(
      {
        cache: o.cache,
        timeout: o.timeout,
        writeback: o.writeback,
        posixAcl: o.posixAcl,
        rewriteSecurityXattrs: o.rewriteSecurityXattrs,
        asciiCasefold: o.asciiCasefold,
        uidMap: new IdMap(o.uidmap),
        gidMap: new IdMap(o.gidmap),
      },
      root,
      new HandleTable(),
      procFd,
    );
    return { device: new VirtioFs(o.tag, ctx), pivotRoot: o.path };
  },
});
