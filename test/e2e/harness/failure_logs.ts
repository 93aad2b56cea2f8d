// Keeps the full logs of a failed boot under build/e2e-logs/ (error messages carry only their tails).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../../../scripts/guest/paths.ts";

/** Writes each named log to build/e2e-logs/<time>-<label>/<name>.log and returns that folder. */
export function saveFailureLogs(label: string, logs: Record<string, string>): string {
  const dir = join(repoRoot, "build/e2e-logs", `${new Date().toISOString().replace(/[:.]/g, "-")}-${label}`);
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(logs)) writeFileSync(join(dir, `${name}.log`), text);
  return dir;
}
