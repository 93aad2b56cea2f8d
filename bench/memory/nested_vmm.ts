// Starting and ending one nested VMM in the bench's outer rig VM (used by run.ts and page_reporting.ts): the VMM
// runs in the background with its output in /run/bench-vmm.out and its pid in /run/bench-vmm.pid; ending it
// sends SIGTERM, then SIGKILLs whatever is left of its process tree.
import type { OuterVm } from "../boot-time/outer_vm.ts";

export const AGENT_OUT = "/run/bench-agent.out";
/** A FIFO the VMM reads as stdin (its first serial port's input), for typing into the guest's console shell. */
export const CONSOLE_IN = "/run/bench-console.in";

export const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/**
 * Starts `argv` in the background; returns its pid. With `consoleInput` its stdin is CONSOLE_IN, opened
 * read-write so the VMM never sees an end of input; otherwise /dev/null.
 */
export async function startNestedVmm(
  outer: OuterVm,
  argv: readonly string[],
  o: { consoleInput?: boolean } = {},
): Promise<string> {
  const stdin = o.consoleInput ? `<> ${CONSOLE_IN}` : "< /dev/null";
  await outer.run(
    [
      `rm -f /run/bench-vmm.pid ${CONSOLE_IN}; : > ${AGENT_OUT}`,
      ...(o.consoleInput ? [`mkfifo ${CONSOLE_IN}`] : []),
      `(sh -c 'echo $$ > /run/bench-vmm.pid; exec "$@"' vmm ${argv.map(quote).join(" ")} > /run/bench-vmm.out 2>&1 ${stdin} &)`,
      "for i in 1 2 3 4 5 6 7 8 9 10; do [ -s /run/bench-vmm.pid ] && break; sleep 0.1; done",
    ].join("\n"),
  );
  return (await outer.run("cat /run/bench-vmm.pid")).trim();
}

/** Waits for the guest agent's ready line (init has loaded its modules); throws if the VMM exits first. */
export async function waitForGuest(outer: OuterVm, pid: string, what: string): Promise<void> {
  const deadline = Date.now() + 240_000;
  while ((await outer.exec(`grep -q ready ${AGENT_OUT}`)).exitCode !== 0) {
    if (Date.now() > deadline) throw new Error(`${what}: the guest agent was not ready in 240 s`);
    if ((await outer.exec(`[ -d /proc/${pid} ]`)).exitCode !== 0)
      throw new Error(`${what}: the VMM exited:\n${await outer.run("tail -20 /run/bench-vmm.out")}`);
    await Bun.sleep(2000);
  }
}

/** The VMM and every process under it (kill -9 on the VMM alone would leave device processes to notice). */
export async function endNestedVmm(outer: OuterVm, pid: string): Promise<void> {
  await outer.exec(
    [
      // SIGTERM first, so the VMM stops its vCPUs and device processes itself; then SIGKILL what is left.
      `kill -TERM ${pid}; for i in $(seq 1 50); do [ -d /proc/${pid} ] || break; sleep 0.2; done`,
      `killtree() { for c in $(awk -v p=$1 '$4 == p { print $1 }' /proc/[0-9]*/stat); do killtree $c; done; kill -9 $1; }`,
      `killtree ${pid} 2> /dev/null; sleep 1`,
    ].join("\n"),
  );
}

/** One process of a nested VMM as bench/memory/pss.ts reports it. */
export interface ProcessPss {
  pid: number;
  comm: string;
  role: string;
  pssKiB: number;
  pssAnonKiB: number;
  pssFileKiB: number;
  pssShmemKiB: number;
  guestRamPssKiB: number;
}

/** Runs pss.ts (written to /run/pss.ts by the caller) on the VMM `pid` and its descendants. */
export async function processPss(
  outer: OuterVm,
  pid: string,
  memMiB: number,
  vmm: "crosvm" | "qemu",
  crosvmPath: string,
): Promise<ProcessPss[]> {
  const out = await outer.run(`BUN_BE_BUN=1 ${crosvmPath} /run/pss.ts ${pid} ${memMiB * 1024} ${vmm}`);
  return (JSON.parse(out.trim().split("\n").at(-1)!) as { processes: ProcessPss[] }).processes;
}
