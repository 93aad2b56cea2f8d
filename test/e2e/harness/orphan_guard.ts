// A VMM the harness starts must not outlive the test process, even one killed with SIGKILL: util-linux's
// setpriv sets PR_SET_PDEATHSIG (prctl(2)) before exec'ing it, so the kernel kills it when bun dies.

export function diesWithParent(cmd: readonly string[]): string[] {
  return ["setpriv", "--pdeathsig", "KILL", "--", ...cmd];
}
