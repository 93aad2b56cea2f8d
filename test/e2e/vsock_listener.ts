// The host side of a vsock e2e test, where the VMM runs: vsock_host_helper.ts `listen`, run by the VMM executable
// itself (BUN_BE_BUN=1), and the wait until it listens (Bun starts slowly under TCG).
import { vmmExecutablePath } from "./harness/test_vm.ts";

/** Runs a shell script where the VMM runs; throws on a non-zero status. */
type RunWhereVmmRuns = (script: string, timeoutMs?: number) => Promise<string>;

/**
 * Starts `listen PORT SEND OUT` of the helper at `helperPath` in the background (its output in OUT.log) and
 * resolves once it listens (it touches OUT.ready).
 */
export async function startVsockListener(
  run: RunWhereVmmRuns,
  helperPath: string,
  port: number,
  send: string,
  out: string,
): Promise<void> {
  await run(
    `{ BUN_BE_BUN=1 ${vmmExecutablePath()} ${helperPath} listen ${port} ${send} ${out} > ${out}.log 2>&1 < /dev/null & }`,
  );
  await run(
    `for i in $(seq 2400); do [ -e ${out}.ready ] && exit 0; sleep 0.1; done; cat ${out}.log >&2; exit 1`,
    300_000,
  );
}
