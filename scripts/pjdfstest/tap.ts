// Counts pjdfstest's TAP output as scripts/pjdfstest/run.sh prints it: a "### DIR/FILE" line per test file, then
// that file's plan ("1..N") and result lines ("ok N", "not ok N - ..."). A "not ok ... # TODO" is a failure the
// suite expects on this system (TAP's TODO directive, which prove does not count as failed), counted apart.

export interface TapFile {
  /** "DIR/FILE", e.g. "chmod/00.t". */
  name: string;
  /** N of the plan line "1..N"; 0 when the file printed none. */
  planned: number;
  ok: number;
  notOk: number;
  /** "not ok ... # TODO": failures the suite expects. */
  todo: number;
  /** The "not ok" lines that are not TODO, as printed (what was tried, expected and got). */
  failures: string[];
}

export function parseRunOutput(text: string): TapFile[] {
  const files: TapFile[] = [];
  let current: TapFile | undefined;
  for (const line of text.split("\n")) {
    const header = /^### (\S+)$/.exec(line);
    if (header) {
      current = { name: header[1]!, planned: 0, ok: 0, notOk: 0, todo: 0, failures: [] };
      files.push(current);
      continue;
    }
    if (!current) continue;
    const plan = /^1\.\.(\d+)$/.exec(line);
    if (plan) current.planned = Number(plan[1]);
    else if (/^ok\b/.test(line)) current.ok++;
    else if (/^not ok\b/.test(line)) {
      if (/#\s*TODO\b/i.test(line)) current.todo++;
      else {
        current.notOk++;
        current.failures.push(line);
      }
    }
  }
  return files;
}

/** Planned cases the file printed no result for (it stopped early, or ran into run.sh's timeout). */
export function missingCases(f: TapFile): number {
  return Math.max(0, f.planned - f.ok - f.notOk - f.todo);
}

/** A file fails when a case is "not ok" (not TODO), a planned case has no result, or it printed no plan. */
export function fileFailed(f: TapFile): boolean {
  return f.notOk > 0 || missingCases(f) > 0 || f.planned === 0;
}

export interface TapSummary {
  files: number;
  ok: number;
  notOk: number;
  todo: number;
  missing: number;
  failingFiles: string[];
}

export function summarize(files: readonly TapFile[]): TapSummary {
  return {
    files: files.length,
    ok: files.reduce((n, f) => n + f.ok, 0),
    notOk: files.reduce((n, f) => n + f.notOk, 0),
    todo: files.reduce((n, f) => n + f.todo, 0),
    missing: files.reduce((n, f) => n + missingCases(f), 0),
    failingFiles: files.filter(fileFailed).map((f) => f.name),
  };
}
