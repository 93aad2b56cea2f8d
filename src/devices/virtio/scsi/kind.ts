// The virtio-scsi device kind (kind.ts): one controller for all --scsi-block disks, disk i at target i, LUN 0
// (crosvm attaches one virtio-scsi device holding every --scsi-block). Its device process opens the images itself,
// by path, before it confines itself, through the same disk layer as virtio-blk (src/disk: format detection,
// backing files, locks).
import * as v from "valibot";
import { openDisk } from "../../../disk/open.ts";
import type { DiskFile } from "../../../disk/disk_file.ts";
import { defineDeviceKind } from "../kind.ts";
import { MAX_TARGET, SCSI_QUEUE_SIZE } from "./constants.ts";
import { VirtioScsi } from "./device.ts";
import { LogicalUnit } from "./logical_unit.ts";

/** The part of one --scsi-block option the device uses (the VMM's ScsiDiskOption has these fields). */
export interface ScsiDiskConfig {
  readonly path: string;
  readonly ro: boolean;
  readonly blockSize: number;
  /** crosvm's `lock` key: flock the image and its backing files (absent: true). */
  readonly lock?: boolean;
}

const bool = v.boolean("a boolean");

const scsiDiskSchema = v.strictObject(
  {
    path: v.pipe(v.string("a file path"), v.nonEmpty("a file path")),
    readOnly: bool,
    blockSize: v.pipe(
      v.number("a power of two >= 512"),
      v.check(
        (n) => Number.isInteger(n) && n >= 512 && n <= 2 ** 31 && (n & (n - 1)) === 0,
        "a power of two >= 512",
      ),
    ),
    lock: bool,
  },
  "an object",
);

export const scsiOptionsSchema = v.strictObject(
  {
    disks: v.pipe(
      v.array(scsiDiskSchema, "a list of disks"),
      v.minLength(1, "at least one disk"),
      v.maxLength(MAX_TARGET + 1, `at most ${MAX_TARGET + 1} disks`),
    ),
  },
  "an object",
);

export type ScsiDeviceOptions = v.InferOutput<typeof scsiOptionsSchema>;

export const scsiKind = defineDeviceKind({
  name: "scsi",
  policy: "scsi_device",
  schema: scsiOptionsSchema,
  queueSizes: [SCSI_QUEUE_SIZE, SCSI_QUEUE_SIZE, SCSI_QUEUE_SIZE],
  select: (config: { readonly scsiDisks?: readonly ScsiDiskConfig[] }) => {
    const disks = config.scsiDisks ?? [];
    if (disks.length === 0) return [];
    return [
      {
        disks: disks.map((d) => ({
          path: d.path,
          readOnly: d.ro,
          blockSize: d.blockSize,
          lock: d.lock !== false,
        })),
      },
    ];
  },
  prepare: (o) => ({ label: `virtio-scsi (${o.disks.map((d) => d.path).join(", ")})`, backing: [] }),
  build(o) {
    const opened: DiskFile[] = [];
    try {
      // Image locks are taken here, where the fds are opened (before confinement: no flock in the policy).
      for (const d of o.disks) opened.push(openDisk(d.path, { readOnly: d.readOnly, lock: d.lock }));
      const units = o.disks.map(
        (d, target) =>
          new LogicalUnit({ disk: opened[target]!, readOnly: d.readOnly, blockSize: d.blockSize, target }),
      );
      return { device: new VirtioScsi(units) };
    } catch (e) {
      for (const disk of opened) disk.close();
      throw e;
    }
  },
});
