// The shared directory of the file-server targets (9P, FUSE), two levels down in a fresh temporary directory
// (TMP/parent/share, so that "../.." from it still lands in TMP): the share holds a directory "d" and a file "f",
// and beside it is a directory holding a secret file. Everything in TMP but the share is recorded when it is made
// (each entry's type, mode, owner, link count, size, inode, times but the access time, and a file's bytes);
// afterwards the fixture names every entry a guest made, removed or changed there.
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { O_DIRECTORY, O_PATH } from "../ffi/fs_calls.ts";
import { close, O_CLOEXEC, open } from "../ffi/libc.ts";

const SECRET = "host secret";

/** Every entry below `dir` but the tree at `skip`, keyed by its path relative to `dir`. */
function describeTree(dir: string, skip: string): Map<string, string> {
  const entries = new Map<string, string>();
  const visit = (path: string, relative: string) => {
    const s = lstatSync(path, { bigint: true });
    const bytes = s.isFile() ? ` bytes ${readFileSync(path).toString("hex")}` : "";
    entries.set(
      relative,
      `mode ${s.mode.toString(8)} uid ${s.uid} gid ${s.gid} nlink ${s.nlink} size ${s.size} ino ${s.ino} ` +
        `mtime ${s.mtimeNs} ctime ${s.ctimeNs}${bytes}`,
    );
    if (!s.isDirectory()) return;
    for (const name of readdirSync(path))
      if (join(path, name) !== skip) visit(join(path, name), join(relative, name));
  };
  visit(dir, ".");
  return entries;
}

export class ShareFixture {
  /** The fresh temporary directory everything is in. */
  readonly dir: string;
  readonly share: string;
  /** The directory beside the share, with the secret in it. */
  readonly outside: string;
  /** O_PATH descriptors of the share and of /proc/self/fd, as a device process opens them. */
  readonly shareFd: number;
  readonly procFd: number;
  readonly #beside: Map<string, string>;

  /** `prefix` names the temporary directory. */
  constructor(prefix: string) {
    this.dir = mkdtempSync(join(tmpdir(), prefix));
    this.share = join(this.dir, "parent", "share");
    this.outside = join(this.dir, "parent", "outside");
    mkdirSync(this.share, { recursive: true });
    mkdirSync(this.outside);
    mkdirSync(join(this.share, "d"));
    writeFileSync(join(this.share, "f"), "file in the share");
    writeFileSync(join(this.outside, "secret"), SECRET);
    this.#beside = describeTree(this.dir, this.share);
    this.shareFd = open(this.share, O_PATH | O_DIRECTORY | O_CLOEXEC);
    this.procFd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
  }

  /** The entries beside the share that were made, removed or changed since it was made; empty when none. */
  changesBeside(): string[] {
    const now = describeTree(this.dir, this.share);
    const changed = [...now.keys()].filter((path) => this.#beside.get(path) !== now.get(path));
    const removed = [...this.#beside.keys()].filter((path) => !now.has(path));
    return [...changed, ...removed];
  }

  /** How many names the share holds at its top. */
  namesInShare(): number {
    return readdirSync(this.share).length;
  }

  remove(): void {
    close(this.shareFd);
    close(this.procFd);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
