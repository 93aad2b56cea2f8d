// Writer for the "newc" cpio format the kernel unpacks as an initramfs.
// Format: Linux Documentation/driver-api/early-userspace/buffer-format.rst — a 110-byte ASCII header
// ("070701" then 13 fields of 8 hex digits), the NUL-terminated name, padding to 4 bytes, the data,
// padding to 4 bytes; the archive ends with an entry named "TRAILER!!!".

export type CpioEntry =
  | { kind: "dir"; path: string; mode?: number }
  | { kind: "file"; path: string; data: Uint8Array; mode?: number }
  | { kind: "symlink"; path: string; target: string }
  | { kind: "chardev"; path: string; major: number; minor: number; mode?: number };

const NEWC_MAGIC = "070701";
const HEADER_LENGTH = 110;
const TRAILER_NAME = "TRAILER!!!";

// File type bits of st_mode (include/uapi/linux/stat.h).
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

const encoder = new TextEncoder();

function hex8(value: number): string {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new Error(`cpio field ${value} does not fit in 8 hex digits`);
  }
  return value.toString(16).padStart(8, "0");
}

function padding(length: number): Uint8Array {
  return new Uint8Array((4 - (length % 4)) % 4);
}

function header(
  ino: number,
  mode: number,
  nlink: number,
  size: number,
  rdev: [number, number],
  name: string,
) {
  const nameBytes = encoder.encode(`${name}\0`);
  const fields = [ino, mode, 0, 0, nlink, 0, size, 0, 0, rdev[0], rdev[1], nameBytes.length, 0];
  const text = NEWC_MAGIC + fields.map(hex8).join("");
  const head = encoder.encode(text);
  return [head, nameBytes, padding(HEADER_LENGTH + nameBytes.length)];
}

function entryParts(
  entry: CpioEntry,
  ino: number,
): { mode: number; data: Uint8Array; rdev: [number, number] } {
  switch (entry.kind) {
    case "dir":
      return { mode: S_IFDIR | (entry.mode ?? 0o755), data: new Uint8Array(0), rdev: [0, 0] };
    case "file":
      return { mode: S_IFREG | (entry.mode ?? 0o644), data: entry.data, rdev: [0, 0] };
    case "symlink":
      return { mode: S_IFLNK | 0o777, data: encoder.encode(entry.target), rdev: [0, 0] };
    case "chardev":
      return {
        mode: S_IFCHR | (entry.mode ?? 0o600),
        data: new Uint8Array(0),
        rdev: [entry.major, entry.minor],
      };
    default:
      throw new Error(`cpio entry ${ino} has an unknown kind`);
  }
}

/** Serializes entries into a newc archive, returned as chunks so large files are not copied again. */
export function cpioNewc(entries: readonly CpioEntry[]): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  entries.forEach((entry, index) => {
    const name = entry.path.replace(/^\/+/, "");
    if (name === "" || name === TRAILER_NAME)
      throw new Error(`cpio entry name "${entry.path}" is not allowed`);
    const { mode, data, rdev } = entryParts(entry, index + 1);
    chunks.push(...header(index + 1, mode, entry.kind === "dir" ? 2 : 1, data.length, rdev, name));
    chunks.push(data, padding(data.length));
  });
  chunks.push(...header(0, 0, 1, 0, [0, 0], TRAILER_NAME));
  return chunks;
}

/** Adds the parent directories of every path that no entry declares, parents first. */
export function withParentDirs(entries: readonly CpioEntry[]): CpioEntry[] {
  const declared = new Set(entries.filter((e) => e.kind === "dir").map((e) => e.path.replace(/^\/+/, "")));
  const result: CpioEntry[] = [];
  for (const entry of entries) {
    const parts = entry.path.replace(/^\/+/, "").split("/");
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join("/");
      if (!declared.has(dir)) {
        declared.add(dir);
        result.push({ kind: "dir", path: dir });
      }
    }
    result.push(entry);
  }
  return result;
}
