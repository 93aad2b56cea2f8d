// The FUSE wire format as the Linux virtiofs driver speaks it: struct layouts, opcodes and flags from
// include/uapi/linux/fuse.h (protocol 7.31+; we answer as 7.31). Every struct is a list of little-endian fields;
// test/unit/virtio/fs/layout.test.ts parses the installed uapi header and checks each one's offsets and size.
export type FieldType = "u64" | "u32" | "i32" | "u16";

const SIZES: Record<FieldType, number> = { u64: 8, u32: 4, i32: 4, u16: 2 };

export interface Struct<K extends string> {
  /** The C struct name in fuse.h. */
  readonly name: string;
  readonly size: number;
  readonly fields: readonly (readonly [K, FieldType])[];
  /** Byte offset of each field. */
  readonly at: Readonly<Record<K, number>>;
}

/** Lays out fields in order with C alignment (each field aligned to its size; total to the largest). */
export function struct<K extends string>(
  name: string,
  fields: readonly (readonly [K, FieldType])[],
): Struct<K> {
  let off = 0;
  let align = 1;
  const at = {} as Record<K, number>;
  for (const [k, t] of fields) {
    const s = SIZES[t];
    off = Math.ceil(off / s) * s;
    at[k] = off;
    off += s;
    align = Math.max(align, s);
  }
  return { name, size: Math.ceil(off / align) * align, fields, at };
}

const u64 = "u64" as const;
const u32 = "u32" as const;
const i32 = "i32" as const;
const u16 = "u16" as const;

export const IN_HEADER = struct("fuse_in_header", [
  ["len", u32],
  ["opcode", u32],
  ["unique", u64],
  ["nodeid", u64],
  ["uid", u32],
  ["gid", u32],
  ["pid", u32],
  ["total_extlen", u16],
  ["padding", u16],
]);
export const OUT_HEADER = struct("fuse_out_header", [
  ["len", u32],
  ["error", i32],
  ["unique", u64],
]);
export const ATTR = struct("fuse_attr", [
  ["ino", u64],
  ["size", u64],
  ["blocks", u64],
  ["atime", u64],
  ["mtime", u64],
  ["ctime", u64],
  ["atimensec", u32],
  ["mtimensec", u32],
  ["ctimensec", u32],
  ["mode", u32],
  ["nlink", u32],
  ["uid", u32],
  ["gid", u32],
  ["rdev", u32],
  ["blksize", u32],
  ["flags", u32],
]);
/** fuse_entry_out: these fields, then a fuse_attr at ENTRY_ATTR_OFFSET. */
export const ENTRY_OUT_HEAD = struct("fuse_entry_out", [
  ["nodeid", u64],
  ["generation", u64],
  ["entry_valid", u64],
  ["attr_valid", u64],
  ["entry_valid_nsec", u32],
  ["attr_valid_nsec", u32],
]);
export const ENTRY_ATTR_OFFSET = ENTRY_OUT_HEAD.size;
export const ENTRY_OUT_SIZE = ENTRY_OUT_HEAD.size + ATTR.size;
export const ATTR_OUT_HEAD = struct("fuse_attr_out", [
  ["attr_valid", u64],
  ["attr_valid_nsec", u32],
  ["dummy", u32],
]);
export const ATTR_OUT_ATTR_OFFSET = ATTR_OUT_HEAD.size;
export const ATTR_OUT_SIZE = ATTR_OUT_HEAD.size + ATTR.size;
export const INIT_IN = struct("fuse_init_in", [
  ["major", u32],
  ["minor", u32],
  ["max_readahead", u32],
  ["flags", u32],
]);
export const INIT_OUT = struct("fuse_init_out", [
  ["major", u32],
  ["minor", u32],
  ["max_readahead", u32],
  ["flags", u32],
  ["max_background", u16],
  ["congestion_threshold", u16],
  ["max_write", u32],
  ["time_gran", u32],
  ["max_pages", u16],
  ["map_alignment", u16],
  ["flags2", u32],
]);
/** fuse_init_out ends in unused[7] after flags2 (64 bytes in all). */
export const INIT_OUT_SIZE = 64;
export const FORGET_IN = struct("fuse_forget_in", [["nlookup", u64]]);
export const BATCH_FORGET_IN = struct("fuse_batch_forget_in", [
  ["count", u32],
  ["dummy", u32],
]);
export const FORGET_ONE = struct("fuse_forget_one", [
  ["nodeid", u64],
  ["nlookup", u64],
]);
export const GETATTR_IN = struct("fuse_getattr_in", [
  ["getattr_flags", u32],
  ["dummy", u32],
  ["fh", u64],
]);
export const SETATTR_IN = struct("fuse_setattr_in", [
  ["valid", u32],
  ["padding", u32],
  ["fh", u64],
  ["size", u64],
  ["lock_owner", u64],
  ["atime", u64],
  ["mtime", u64],
  ["ctime", u64],
  ["atimensec", u32],
  ["mtimensec", u32],
  ["ctimensec", u32],
  ["mode", u32],
  ["unused4", u32],
  ["uid", u32],
  ["gid", u32],
  ["unused5", u32],
]);
export const MKNOD_IN = struct("fuse_mknod_in", [
  ["mode", u32],
  ["rdev", u32],
  ["umask", u32],
  ["padding", u32],
]);
export const MKDIR_IN = struct("fuse_mkdir_in", [
  ["mode", u32],
  ["umask", u32],
]);
export const RENAME_IN = struct("fuse_rename_in", [["newdir", u64]]);
export const RENAME2_IN = struct("fuse_rename2_in", [
  ["newdir", u64],
  ["flags", u32],
  ["padding", u32],
]);
export const LINK_IN = struct("fuse_link_in", [["oldnodeid", u64]]);
export const OPEN_IN = struct("fuse_open_in", [
  ["flags", u32],
  ["open_flags", u32],
]);
export const OPEN_OUT = struct("fuse_open_out", [
  ["fh", u64],
  ["open_flags", u32],
  ["padding", u32],
]);
export const CREATE_IN = struct("fuse_create_in", [
  ["flags", u32],
  ["mode", u32],
  ["umask", u32],
  ["open_flags", u32],
]);
export const RELEASE_IN = struct("fuse_release_in", [
  ["fh", u64],
  ["flags", u32],
  ["release_flags", u32],
  ["lock_owner", u64],
]);
export const FLUSH_IN = struct("fuse_flush_in", [
  ["fh", u64],
  ["unused", u32],
  ["padding", u32],
  ["lock_owner", u64],
]);
export const READ_IN = struct("fuse_read_in", [
  ["fh", u64],
  ["offset", u64],
  ["size", u32],
  ["read_flags", u32],
  ["lock_owner", u64],
  ["flags", u32],
  ["padding", u32],
]);
export const WRITE_IN = struct("fuse_write_in", [
  ["fh", u64],
  ["offset", u64],
  ["size", u32],
  ["write_flags", u32],
  ["lock_owner", u64],
  ["flags", u32],
  ["padding", u32],
]);
export const WRITE_OUT = struct("fuse_write_out", [
  ["size", u32],
  ["padding", u32],
]);
export const KSTATFS = struct("fuse_kstatfs", [
  ["blocks", u64],
  ["bfree", u64],
  ["bavail", u64],
  ["files", u64],
  ["ffree", u64],
  ["bsize", u32],
  ["namelen", u32],
  ["frsize", u32],
  ["padding", u32],
]);
/** fuse_statfs_out is one fuse_kstatfs, which ends in spare[6] (80 bytes in all). */
export const STATFS_OUT_SIZE = 80;
export const FSYNC_IN = struct("fuse_fsync_in", [
  ["fh", u64],
  ["fsync_flags", u32],
  ["padding", u32],
]);
/** The setxattr header without FUSE_SETXATTR_EXT (FUSE_COMPAT_SETXATTR_IN_SIZE), which we do not negotiate. */
export const SETXATTR_IN = struct("fuse_setxattr_in", [
  ["size", u32],
  ["flags", u32],
]);
export const GETXATTR_IN = struct("fuse_getxattr_in", [
  ["size", u32],
  ["padding", u32],
]);
export const GETXATTR_OUT = struct("fuse_getxattr_out", [
  ["size", u32],
  ["padding", u32],
]);
export const ACCESS_IN = struct("fuse_access_in", [
  ["mask", u32],
  ["padding", u32],
]);
export const FALLOCATE_IN = struct("fuse_fallocate_in", [
  ["fh", u64],
  ["offset", u64],
  ["length", u64],
  ["mode", u32],
  ["padding", u32],
]);
export const LSEEK_IN = struct("fuse_lseek_in", [
  ["fh", u64],
  ["offset", u64],
  ["whence", u32],
  ["padding", u32],
]);
export const LSEEK_OUT = struct("fuse_lseek_out", [["offset", u64]]);
export const COPY_FILE_RANGE_IN = struct("fuse_copy_file_range_in", [
  ["fh_in", u64],
  ["off_in", u64],
  ["nodeid_out", u64],
  ["fh_out", u64],
  ["off_out", u64],
  ["len", u64],
  ["flags", u64],
]);
/** fuse_dirent without its name (FUSE_NAME_OFFSET); entries are padded to 8 bytes (FUSE_DIRENT_ALIGN). */
export const DIRENT = struct("fuse_dirent", [
  ["ino", u64],
  ["off", u64],
  ["namelen", u32],
  ["type", u32],
]);

/** Every struct above whose layout the unit test checks against fuse.h (the prefix ones by their fields). */
export const CHECKED_STRUCTS: readonly Struct<string>[] = [
  IN_HEADER,
  OUT_HEADER,
  ATTR,
  ENTRY_OUT_HEAD,
  ATTR_OUT_HEAD,
  INIT_IN,
  INIT_OUT,
  FORGET_IN,
  BATCH_FORGET_IN,
  FORGET_ONE,
  GETATTR_IN,
  SETATTR_IN,
  MKNOD_IN,
  MKDIR_IN,
  RENAME_IN,
  RENAME2_IN,
  LINK_IN,
  OPEN_IN,
  OPEN_OUT,
  CREATE_IN,
  RELEASE_IN,
  FLUSH_IN,
  READ_IN,
  WRITE_IN,
  WRITE_OUT,
  KSTATFS,
  FSYNC_IN,
  SETXATTR_IN,
  GETXATTR_IN,
  GETXATTR_OUT,
  ACCESS_IN,
  FALLOCATE_IN,
  LSEEK_IN,
  LSEEK_OUT,
  COPY_FILE_RANGE_IN,
  DIRENT,
];

/** enum fuse_opcode. */
export const OP = {
  LOOKUP: 1,
  FORGET: 2,
  GETATTR: 3,
  SETATTR: 4,
  READLINK: 5,
  SYMLINK: 6,
  MKNOD: 8,
  MKDIR: 9,
  UNLINK: 10,
  RMDIR: 11,
  RENAME: 12,
  LINK: 13,
  OPEN: 14,
  READ: 15,
  WRITE: 16,
  STATFS: 17,
  RELEASE: 18,
  FSYNC: 20,
  SETXATTR: 21,
  GETXATTR: 22,
  LISTXATTR: 23,
  REMOVEXATTR: 24,
  FLUSH: 25,
  INIT: 26,
  OPENDIR: 27,
  READDIR: 28,
  RELEASEDIR: 29,
  FSYNCDIR: 30,
  ACCESS: 34,
  CREATE: 35,
  INTERRUPT: 36,
  DESTROY: 38,
  BATCH_FORGET: 42,
  FALLOCATE: 43,
  READDIRPLUS: 44,
  RENAME2: 45,
  LSEEK: 46,
  COPY_FILE_RANGE: 47,
} as const;

export const FUSE_KERNEL_VERSION = 7;
/** The minor version we answer with: 7.31 (virtiofs's first), whose layouts above we use. */
export const FUSE_KERNEL_MINOR_VERSION = 31;
export const FUSE_ROOT_ID = 1;

// fuse_init_in/out flags.
export const FUSE_ASYNC_READ = 1 << 0;
export const FUSE_ATOMIC_O_TRUNC = 1 << 3;
export const FUSE_BIG_WRITES = 1 << 5;
export const FUSE_DO_READDIRPLUS = 1 << 13;
export const FUSE_READDIRPLUS_AUTO = 1 << 14;
export const FUSE_WRITEBACK_CACHE = 1 << 16;
export const FUSE_PARALLEL_DIROPS = 1 << 18;
export const FUSE_POSIX_ACL = 1 << 20;
export const FUSE_MAX_PAGES = 1 << 22;
export const FUSE_CACHE_SYMLINKS = 1 << 23;

// fuse_setattr_in.valid
export const FATTR_MODE = 1 << 0;
export const FATTR_UID = 1 << 1;
export const FATTR_GID = 1 << 2;
export const FATTR_SIZE = 1 << 3;
export const FATTR_ATIME = 1 << 4;
export const FATTR_MTIME = 1 << 5;
export const FATTR_FH = 1 << 6;
export const FATTR_ATIME_NOW = 1 << 7;
export const FATTR_MTIME_NOW = 1 << 8;

// fuse_open_out.open_flags
export const FOPEN_DIRECT_IO = 1 << 0;
export const FOPEN_KEEP_CACHE = 1 << 1;
export const FOPEN_CACHE_DIR = 1 << 3;

// fuse_getattr_in.getattr_flags, fuse_fsync_in.fsync_flags
export const FUSE_GETATTR_FH = 1 << 0;
export const FUSE_FSYNC_FDATASYNC = 1 << 0;

/** Largest FUSE_WRITE payload we accept (max_write) and its page count (max_pages). */
export const MAX_WRITE = 1 << 20;
export const MAX_PAGES = MAX_WRITE / 4096;
