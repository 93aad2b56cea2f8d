// The virtio-9p device kind: one device per --shared-dir with type=p9, in the order given. Like virtio-fs, the
// device process opens the shared directory (O_PATH) and /proc/self/fd before it confines itself and pivots into
// the shared directory. Of --shared-dir's keys the 9P server uses the id maps and ascii_casefold; the others
// configure the FUSE protocol's caching (the 9P guest chooses its own with the mount's cache= option).
import * as v from "valibot";
import { O_DIRECTORY, O_PATH } from "../../../../ffi/fs_calls.ts";
import { O_CLOEXEC, open } from "../../../../ffi/libc.ts";
import { HostFs } from "../fs/host_fs.ts";
import { IdMap } from "../fs/id_map.ts";
import { idKeysOf, runAsKeys, runAsOf, type SharedDirConfig } from "../fs/kind.ts";
import { raiseOpenFileLimit } from "../../../jail/open_files.ts";
import { defineDeviceKind } from "../kind.ts";
import { P9_QUEUE_SIZE, P9_TAG_BYTES, VirtioP9 } from "./device.ts";

const range = v.strictObject({
  inner: v.number("an id"),
  outer: v.number("an id"),
  count: v.number("a count"),
});

export const p9OptionsSchema = v.strictObject(
  {
    path: v.pipe(v.string("a directory path"), v.nonEmpty("a directory path")),
    tag: v.pipe(
      v.string("a tag"),
      v.check((t) => {
        const n = new TextEncoder().encode(t).length;
        return n >= 1 && n <= P9_TAG_BYTES;
      }, `a tag of 1 to ${P9_TAG_BYTES} bytes`),
    ),
    asciiCasefold: v.boolean("a boolean"),
    uidmap: v.optional(v.array(range, "a list of id ranges")),
    gidmap: v.optional(v.array(range, "a list of id ranges")),
    ...runAsKeys,
  },
  "an object",
);

export const p9Kind = defineDeviceKind({
  name: "p9",
  policy: "p9_device",
  schema: p9OptionsSchema,
  queueSizes: [P9_QUEUE_SIZE],
  select: (config: { readonly sharedDirs: readonly SharedDirConfig[] }) =>
    config.sharedDirs
      .filter((d) => d.type === "p9")
      .map((d) => ({
        path: d.path,
        tag: d.tag,
        asciiCasefold: d.asciiCasefold,
        ...idKeysOf(d),
      })),
  prepare: (o, index) => ({ label: `virtio-9p ${index} (${o.tag}: ${o.path})`, backing: [] }),
  build(o) {
    // One descriptor per inode the guest holds: before confinement, as crosvm's fs jail and virtiofsd do.
    raiseOpenFileLimit();
    const root = open(o.path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    const procFd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
    const uidMap = new IdMap(o.uidmap);
    const gidMap = new IdMap(o.gidmap);
    const runAs = runAsOf(o, uidMap, gidMap);
    const fs = new HostFs({ asciiCasefold: o.asciiCasefold, uidMap, gidMap }, root, procFd);
    return { device: new VirtioP9(o.tag, fs), pivotRoot: o.path, ...(runAs ? { runAs } : {}) };
  },
});
