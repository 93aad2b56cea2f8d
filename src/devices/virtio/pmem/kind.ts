// The virtio-pmem device kind (kind.ts): one device per --pmem, in the order given, after the block devices
// (crosvm's create_virtio_devices order: block, then pmem). The VMM opens the file (raw only: it is mapped into
// guest physical memory as it is, so a qcow2 image is refused), locks it like a --block image, and asks for a guest
// mapping of it (crosvm create_pmem_device: the file's size rounded up to 2 MiB, the rest anonymous); the device
// process gets the same file for its flushes. With vma-size (crosvm's experimental key) no file is opened: an
// anonymous memfd of that size, named after PATH, backs the device.
import { fstatSync } from "node:fs";
import * as v from "valibot";
import {
  close,
  F_ADD_SEALS,
  F_SEAL_GROW,
  F_SEAL_SHRINK,
  fcntl,
  ftruncate,
  memfdCreate,
  MFD_ALLOW_SEALING,
  MFD_CLOEXEC,
  O_RDONLY,
  O_RDWR,
} from "../../../../ffi/libc.ts";
import { DiskError } from "../../../disk/disk_file.ts";
import { DiskLockedError, detectFormat, lockFd, openFd } from "../../../disk/open.ts";
import { defineDeviceKind, type GuestMappingRequest } from "../kind.ts";
import { fileSync, PMEM_QUEUE_SIZE, VirtioPmem } from "./device.ts";

/**
 * Linux needs pmem regions in 2 MiB units; the part past the file is anonymous padding, since an access past
 * the file's last page would fault (crosvm create_pmem_device).
 */
export const PMEM_SIZE_ALIGN = 2 * 1024 * 1024;

/** The part of one --pmem option the device uses (the VMM's PmemOption has these fields). */
export interface PmemConfig {
  readonly path: string;
  readonly ro: boolean;
  readonly vmaSize?: number;
}

/** A --pmem file that cannot back a device: one line naming the option and the file. */
export class PmemOptionError extends Error {
  override name = "PmemOptionError";
  constructor(path: string, problem: string) {
    super(`--pmem ${path}: ${problem}`);
  }
}

export const pmemOptionsSchema = v.strictObject(
  {
    path: v.pipe(v.string("a file path"), v.nonEmpty("a file path")),
    readOnly: v.boolean("a boolean"),
    vmaSize: v.optional(
      v.pipe(
        v.number("a positive integer"),
        v.safeInteger("a positive integer"),
        v.minValue(1, "a positive integer"),
      ),
    ),
  },
  "an object",
);

export type PmemDeviceOptions = v.InferOutput<typeof pmemOptionsSchema>;

/** Guest physical bytes a device of `contentBytes` takes: rounded up to PMEM_SIZE_ALIGN. */
export function pmemMappingSize(contentBytes: number): number {
  return Math.ceil(contentBytes / PMEM_SIZE_ALIGN) * PMEM_SIZE_ALIGN;
}

/** Opens, checks and locks the raw file of a --pmem; returns its descriptor and size. */
function openPmemFile(path: string, readOnly: boolean): { fd: number; bytes: number } {
  let fd = -1;
  try {
    fd = openFd(path, readOnly ? O_RDONLY : O_RDWR);
    const st = fstatSync(fd);
    if (!st.isFile()) throw new DiskError(path, "is not a regular file (a pmem device maps a file)");
    if (st.size === 0) throw new DiskError(path, "is empty (a pmem device needs at least one byte)");
    if (detectFormat(fd, path) !== "raw")
      throw new DiskError(path, "is a qcow2 image; a pmem device maps the file as it is, so it must be raw");
    lockFd(fd, path, !readOnly);
    return { fd, bytes: st.size };
  } catch (e) {
    if (fd >= 0) close(fd);
    // --pmem has no lock key: the file is always locked, as crosvm's --block is by default.
    if (e instanceof DiskLockedError)
      throw new PmemOptionError(
        path,
        "is locked by another user of the file (a VM, a --block or another --pmem)",
      );
    if (e instanceof DiskError) throw new PmemOptionError(path, e.problem);
    throw e;
  }
}

/** An anonymous memfd of `bytes`, sealed against resizing (crosvm create_anonymous_file). */
function anonymousArea(name: string, bytes: number): number {
  const fd = memfdCreate(`crosvm_pmem_${name}`.slice(0, 200), MFD_CLOEXEC | MFD_ALLOW_SEALING);
  try {
    ftruncate(fd, bytes, `--pmem ${name} (vma-size ${bytes})`);
    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW, `--pmem ${name} (sealing its size)`);
    return fd;
  } catch (e) {
    close(fd);
    throw e;
  }
}

export const pmemKind = defineDeviceKind({
  name: "pmem",
  policy: "pmem_device",
  schema: pmemOptionsSchema,
  queueSizes: [PMEM_QUEUE_SIZE],
  select: (config: { readonly pmems: readonly PmemConfig[] }) =>
    config.pmems.map((p) => ({
      path: p.path,
      readOnly: p.ro,
      ...(p.vmaSize === undefined ? {} : { vmaSize: p.vmaSize }),
    })),
  prepare(o, index) {
    const { fd, bytes } =
      o.vmaSize === undefined
        ? openPmemFile(o.path, o.readOnly)
        : { fd: anonymousArea(o.path, o.vmaSize), bytes: o.vmaSize };
    const guestMapping: GuestMappingRequest = {
      fd,
      fileBytes: bytes,
      size: pmemMappingSize(bytes),
      readOnly: o.readOnly,
    };
    return { label: `virtio-pmem ${index} (${o.path})`, backing: [fd], guestMapping };
  },
  build(o, backing, mapping) {
    const fd = backing[0];
    if (fd === undefined || !mapping)
      throw new Error(`virtio-pmem ${o.path}: the VMM gave no file descriptor or no guest mapping`);
    return {
      device: new VirtioPmem({ start: mapping.start, size: mapping.size, sync: fileSync(fd, o.path) }),
    };
  },
});
