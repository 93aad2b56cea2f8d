// Checks every --block and --scsi-block image in the VMM before any device process starts, so that a missing,
// unreadable, read-only, malformed or locked image (or a bad backing chain) is one line naming the option and file:
//   --block data.img: cannot open: No such file or directory
// Each image is opened exactly as its device process will open it (same access, format detection, backing chain
// and locks). All of them stay open until the last one is checked, so two --block options naming one writable
// image conflict here too; then every one is closed and each device process takes its own lock.
import { DiskError, type DiskFile } from "./disk_file.ts";
import { openDisk } from "./open.ts";

/** What validation needs of a --block option (the VMM's DiskOption has these fields). */
export interface BlockImageOption {
  readonly path: string;
  readonly ro: boolean;
  /** Absent means false. */
  readonly direct?: boolean;
  /** Absent means true, as crosvm's default. */
  readonly lock?: boolean;
  /** The option that named the image, for messages (absent: "--block"). */
  readonly option?: string;
}

export class BlockImageError extends Error {
  constructor(path: string, problem: string, option = "--block") {
    super(`${option} ${path}: ${problem}`);
    this.name = "BlockImageError";
  }
}

/** Opens and closes every image of `disks`; throws BlockImageError for the first one that cannot be used. */
export function validateBlockImages(disks: readonly BlockImageOption[]): void {
  const opened: DiskFile[] = [];
  try {
    for (const d of disks) {
      try {
        opened.push(openDisk(d.path, { readOnly: d.ro, direct: d.direct ?? false, lock: d.lock !== false }));
      } catch (e) {
        if (e instanceof DiskError) throw new BlockImageError(d.path, e.problem, d.option);
        throw e;
      }
    }
  } finally {
    for (const disk of opened) disk.close();
  }
}
