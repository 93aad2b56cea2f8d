// What the rig benchmarks that set our VMM against QEMU share: a script run where the VMM runs, each set-up
// booted PASSES times in alternating order (the rig is QEMU/TCG on a shared 2-core host, so a busy spell must not
// fall on one VMM only), and the closing table of figures and ours/QEMU ratios.
import { execWhereVmmRuns } from "../test/e2e/harness/test_vm.ts";
import type { VmmKind } from "../test/e2e/harness/vmm_command.ts";

/** Runs `script` where `kind` runs (the outer rig VM, or this host); throws on a non-zero status. */
export async function onHost(kind: VmmKind, script: string, timeoutMs = 180_000): Promise<string> {
  const r = await execWhereVmmRuns(script, { vmm: kind, timeoutMs });
  if (r.exitCode !== 0)
    throw new Error(`VMM host: \`${script}\` exited with ${r.exitCode}: ${r.stderr.trim()}`);
  return r.stdout;
}

/**
 * Measures every set-up once per pass, the order reversed on every second pass (A B C, C B A, ...). A set-up whose
 * measurement throws (a QEMU built without a feature, a stalled transfer) is reported in one line and left out of
 * the later passes; the others still count. Returns the labels of the set-ups that failed.
 */
export async function alternate<S extends { readonly label: string }>(
  passes: number,
  setups: readonly S[],
  measure: (setup: S, pass: number) => Promise<void>,
): Promise<Set<string>> {
  const failed = new Set<string>();
  for (let pass = 1; pass <= passes; pass++) {
    const order = pass % 2 === 0 ? [...setups].reverse() : setups;
    for (const setup of order) {
      if (failed.has(setup.label)) continue;
      try {
        await measure(setup, pass);
      } catch (error) {
        failed.add(setup.label);
        console.log(`${setup.label} pass ${pass}: failed: ${(error as Error).message.split("\n")[0]}`);
      }
    }
  }
  return failed;
}

/** One row of the closing table: our figure and QEMU's (undefined: that set-up failed). */
export interface RatioRow {
  name: string;
  ours: number | undefined;
  qemu: number | undefined;
  /** Throughput: ours/QEMU >= 1.0 is the target; latency (false): ours/QEMU <= 1.0. */
  higherIsBetter: boolean;
  digits?: number;
}

/** The table's lines: a header, then per row both figures, ours/QEMU and whether the target is met. */
export function ratioTable(rows: readonly RatioRow[]): string[] {
  const width = Math.max(24, ...rows.map((r) => r.name.length + 2));
  const cell = (v: number | undefined, digits: number) => (v === undefined ? "failed" : v.toFixed(digits));
  const lines = [`${"".padEnd(width)}${"ours".padStart(10)}${"QEMU".padStart(10)}  ours/QEMU  target`];
  for (const r of rows) {
    const digits = r.digits ?? 2;
    const target = r.higherIsBetter ? ">= 1.0" : "<= 1.0";
    let verdict = "-";
    let ratio = "-";
    if (r.ours !== undefined && r.qemu !== undefined) {
      ratio = `${(r.ours / r.qemu).toFixed(2)}x`;
      verdict = (r.higherIsBetter ? r.ours >= r.qemu : r.ours <= r.qemu) ? "(met)" : "(not met)";
    }
    lines.push(
      `${r.name.padEnd(width)}${cell(r.ours, digits).padStart(10)}${cell(r.qemu, digits).padStart(10)}  ` +
        `${ratio.padStart(9)}  ${target} ${verdict}`,
    );
  }
  return lines;
}
