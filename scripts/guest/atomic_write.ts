// Writes build outputs through a temporary file and rename(2), so a test process that reads an image while
// another process rebuilds it never sees a partial file.
import { renameSync } from "node:fs";

export async function writeAtomically(path: string, data: Blob | Uint8Array): Promise<void> {
  const temporary = `${path}.tmp-${process.pid}`;
  await Bun.write(temporary, data);
  renameSync(temporary, path);
}
