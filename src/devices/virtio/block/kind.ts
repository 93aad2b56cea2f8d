// The virtio-blk device kind (kind.ts): one device per --block, in the order given. The device process opens the
// image itself, by path, before it confines itself: a qcow2 image names its backing files inside, so handing the
// chain over as descriptors needs an openDisk that takes fds. `disk resize` reaches it as the "disk" control group.
import * as v from "valibot";
import { openDisk } from "../../../disk/open.ts";
import { defineDeviceKind } from "../kind.ts";
import { BlockOptionError, BLOCK_QUEUE_SIZE, VirtioBlock } from "./device.ts";

/** The part of one --block option the device uses (the VMM's DiskOption has these fields). */
export interface BlockDiskConfig {
  readonly path: string;
  readonly ro: boolean;
  readonly sparse: boolean;
  readonly blockSize: number;
  readonly id?: string;
  readonly direct: boolean;
  /** crosvm's `lock` key: flock the image and its backing files (absent: true). */
  readonly lock?: boolean;
}

const bool = v.boolean("a boolean");

export const blockOptionsSchema = v.strictObject(
  {
    path: v.pipe(v.string("a file path"), v.nonEmpty("a file path")),
    readOnly: bool,
    sparse: bool,
    /** Checked further (a power of two >= 512) by VirtioBlock, which reports it with the --block option. */
    blockSize: v.pipe(v.number("an integer block size"), v.integer("an integer block size")),
    id: v.optional(v.string("a string")),
    direct: bool,
    lock: bool,
  },
  "an object",
);

export type BlockDeviceOptions = v.InferOutput<typeof blockOptionsSchema>;

export const blockKind = defineDeviceKind({
  name: "block",
  policy: "block_device",
  schema: blockOptionsSchema,
  queueSizes: [BLOCK_QUEUE_SIZE],
  select: (config: { readonly disks: readonly BlockDiskConfig[] }) =>
    config.disks.map((d) => ({
      path: d.path,
      readOnly: d.ro,
      sparse: d.sparse,
      blockSize: d.blockSize,
      ...(d.id === undefined ? {} : { id: d.id }),
      direct: d.direct,
      lock: d.lock !== false,
    })),
  prepare: (o, index) => ({ label: `virtio-blk ${index} (${o.path})`, backing: [] }),
  build(o) {
    // The image lock is taken here, where the fd is opened (before confinement: no flock in the policy).
    const disk = openDisk(o.path, { readOnly: o.readOnly, direct: o.direct, lock: o.lock });
    const device = new VirtioBlock({
      disk,
      readOnly: o.readOnly,
      sparse: o.sparse,
      blockSize: o.blockSize,
      id: o.id,
      // The ring is made here, before confinement: the policy then needs io_uring_enter alone.
      inFlight: true,
    });
    return { device };
  },
  control: {
    group: "disk",
    handle(o, request, device) {
      if (request.type !== "resize") throw new BlockOptionError(o.path, `a disk cannot ${request.type}`);
      if (o.readOnly) throw new BlockOptionError(o.path, "a read-only (ro) disk cannot be resized");
      device.resize(request.bytes);
    },
  },
});
