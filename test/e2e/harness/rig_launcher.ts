// The rig's launcher for the nested VMM: a busybox sh script the outer VM's control agent runs. It bridges the
// VMM's two serial ports to the rig's virtio-serial ports (/sbin/port-bridge, one per port, for this run only),
// starts the VMM in the background, and when it ends reports its status as an event line on the agent's port.
import { dirname } from "node:path";
import { rigNestedPorts } from "./rig.ts";
import { shellCommand } from "./shell.ts";

/** Where the launcher keeps its files (vmm.pid, vmm.log, vmm.status, ...) and the ports it bridges. */
export interface LaunchLayout {
  run: string;
  ports: readonly { port: string; base: string }[];
}

/** The outer rig VM's layout: /run, and the nested guest's console (serial 1) and agent (serial 2) ports. */
export const rigLaunchLayout: LaunchLayout = {
  run: "/run",
  ports: [rigNestedPorts.console, rigNestedPorts.agent],
};

/**
 * Starts the nested VMM in the background, its serial ports bridged to the rig's virtio-serial ports (port-bridge,
 * rigNestedPorts). When it ends and the bridges have copied its last output, its exit status goes to
 * /run/vmm.status and, as an event line {"vmmExit":N}, to the control port (fd 3 of an agent script: one write,
 * so it does not interleave with agent replies).
 */
export function nestedLaunchScript(argv: readonly string[], layout: LaunchLayout = rigLaunchLayout): string {
  const { run, ports } = layout;
  const ready = ports.map((p) => `[ -e ${p.base}.ready ]`).join(" && ");
  const bridges = ports.map((_, i) => `$b${i}`).join(" ");
  return [
    `rm -f ${run}/vmm.status ${run}/vmm.pid ${run}/launch.failed ${run}/bridge.log`,
    // No ready marker of an earlier run may pass for this run's bridges.
    ...ports.map((p) => `mkdir -p ${dirname(p.base)} && rm -f ${p.base}.*`),
    "(",
    ...ports.map((p, i) => `  port-bridge ${p.port} ${p.base} 2>> ${run}/bridge.log & b${i}=$!`),
    `  for i in $(seq 50); do ${ready} && break; sleep 0.1; done`,
    `  ${ready} || { kill ${bridges}; : > ${run}/launch.failed; exit 1; }`,
    `  sh -c 'echo $$ > ${run}/vmm.pid; exec "$@"' vmm ${shellCommand(argv)} > ${run}/vmm.log 2>&1 < /dev/null`,
    "  status=$?",
    // A VMM that never opened a port's output FIFO leaves its bridge waiting in open(): one read-write open
    // and close lets the bridge see the end of the output. A bridge still running 5 s later is killed, so a
    // stuck bridge cannot hide the VMM's exit.
    ...ports.map((p) => `  : <> ${p.base}.out`),
    `  (sleep 5; kill ${bridges}) 2> /dev/null & watchdog=$!`,
    `  wait ${bridges}`,
    "  kill $watchdog 2> /dev/null",
    `  echo $status > ${run}/vmm.status`,
    '  echo "{\\"vmmExit\\":$status}" >&3',
    ") > /dev/null 2>&1 < /dev/null &",
    `for i in $(seq 80); do [ -s ${run}/vmm.pid ] || [ -e ${run}/launch.failed ] && break; sleep 0.1; done`,
    `[ -s ${run}/vmm.pid ] || { echo port-bridge did not start; cat ${run}/bridge.log; } >&2`,
    `[ -s ${run}/vmm.pid ] || exit 1`,
    `cat ${run}/vmm.pid`,
  ].join("\n");
}
