// Where the control socket lives: `-s/--socket PATH`, or `PATH/crosvm-<pid>.sock` when PATH is a directory
// (crosvm src/crosvm/cmdline.rs, RunCommand -> Config).
import { statSync } from "node:fs";
import { join } from "node:path";

/** The socket file for a --socket argument; `pid` defaults to this process's. */
export function resolveSocketPath(path: string, pid: number = process.pid): string {
  let isDirectory = false;
  try {
    isDirectory = statSync(path).isDirectory();
  } catch {
    // A path that does not exist yet names the socket file itself.
  }
  return isDirectory ? join(path, `crosvm-${pid}.sock`) : path;
}
