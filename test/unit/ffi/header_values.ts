// What the C compiler computes from installed uapi headers: the layout tests of ffi/ pin their constants to it.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The C compiler on PATH, if any (the layout tests skip without one). */
export const CC = Bun.which("cc");

/**
 * Compiles and runs a program that includes `includes` and evaluates each `values` entry (a C expression, by
 * name); returns name -> value. Values are printed as unsigned long long, so they must fit in 2^53.
 */
export function headerValues(
  includes: readonly string[],
  values: Readonly<Record<string, string>>,
): Map<string, number> {
  if (!CC) throw new Error("no C compiler (cc) on PATH");
  const dir = mkdtempSync(join(tmpdir(), "header-values-"));
  try {
    const src = join(dir, "v.c");
    const exe = join(dir, "v");
    const prints = Object.entries(values).map(([name, expr]) => `P("${name}", ${expr});`);
    writeFileSync(
      src,
      ["stdio.h", "stddef.h", ...includes].map((h) => `#include <${h}>\n`).join("") +
        `#define P(n, v) printf("%s=%llu\\n", n, (unsigned long long)(v))\n` +
        `int main(void) {\n${prints.join("\n")}\nreturn 0;\n}\n`,
    );
    const cc = Bun.spawnSync([CC, "-o", exe, src]);
    if (cc.exitCode !== 0) throw new Error(`cc failed: ${cc.stderr.toString()}`);
    const out = Bun.spawnSync([exe]).stdout.toString();
    return new Map(
      out
        .trim()
        .split("\n")
        .map((l) => {
          const [k, val] = l.split("=");
          return [k!, Number(val)] as const;
        }),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
