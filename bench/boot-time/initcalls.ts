// Where a guest's boot time goes: boots the rig's generic kernel once with our crosvm and once with QEMU (the e2e
// harness, so in the nested rig here), with `initcall_debug` and `quiet` (the initcall lines then go to the log
// buffer only, not through the serial port), reads `dmesg` back through the guest agent and prints, for each
// VMM, the slowest initcalls, the PCI configuration lines (which access method Linux chose, MMCONFIG) and the
// guest uptime at the first and last log line. For crosvm it also prints the VMM's setup phases and its exit
// profile (CROSVM_TRACE_STARTUP=1 and CROSVM_TRACE_EXITS=1, set by a wrapper around the rig's /usr/bin/crosvm).
// The e2e harness runs dist/crosvm, or CROSVM_E2E_BINARY.
// Usage: flock /tmp/crosvm-rig.lock bun bench/boot-time/initcalls.ts [TOP] [--dmesg] [--crosvm-only]
import { execWhereVmmRuns, shutdownRigs, TestVm } from "../../test/e2e/harness/test_vm.ts";
import { rigLayout } from "../../scripts/guest/rig/outer_image.ts";

const args = process.argv.slice(2);
const printDmesg = args.includes("--dmesg");
const vmms = args.includes("--crosvm-only") ? (["crosvm"] as const) : (["crosvm", "qemu"] as const);
const top = Number(args.find((a) => !a.startsWith("--")) ?? 15);

interface Initcall {
  readonly name: string;
  readonly usecs: number;
}

/** "[    1.234567] initcall pci_subsys_init+0x0/0x80 returned 0 after 2400000 usecs" */
export function parseInitcalls(dmesg: string): Initcall[] {
  return [
    ...dmesg.matchAll(
      /initcall (\S+?)(?:\+0x[0-9a-f]+\/0x[0-9a-f]+)?(?: \[\S+\])? returned -?\d+ after (\d+) usecs/g,
    ),
  ].map((m) => ({ name: m[1]!, usecs: Number(m[2]) }));
}

const DMESG_KEEP = "returned|PCI|pci|MMCONFIG|MCFG|Run /init|clocksource|Linux version";
const PCI_LINE = /MMCONFIG|MCFG|configuration type|ECAM|pci_bus 0000:00|PCI: Using|PCI host bridge/;

/** Replaces the rig's crosvm by a script that runs it with the tracing variables set (once per rig). */
async function traceCrosvm(): Promise<void> {
  const path = rigLayout.vmmPath("crosvm");
  const script = `#!/bin/sh\nCROSVM_TRACE_STARTUP=1 CROSVM_TRACE_EXITS=1 exec ${path}.real "$@"\n`;
  const r = await execWhereVmmRuns(
    `[ -e ${path}.real ] || { mv ${path} ${path}.real && printf '${script}' > ${path} && chmod +x ${path}; }`,
  );
  if (r.exitCode !== 0) throw new Error(`wrapping ${path} failed: ${r.stderr}`);
}

async function profile(vmm: "crosvm" | "qemu"): Promise<{ dmesg: string; vmmLog: string }> {
  if (vmm === "crosvm") await traceCrosvm();
  const vm = await TestVm.boot({ vmm, cmdline: "quiet initcall_debug" });
  try {
    // The whole log is ~130 KB, a long transfer over the agent's serial port; keep what is read below.
    const { stdout } = await vm.exec(`dmesg | grep -E '${DMESG_KEEP}'`, { timeoutMs: 180_000 });
    await vm.poweroff();
    await vm.waitForExit(60_000);
    return { dmesg: stdout, vmmLog: await vm.vmmLog() };
  } finally {
    await vm.stop();
  }
}

try {
  for (const vmm of vmms) {
    const { dmesg, vmmLog } = await profile(vmm);
    if (printDmesg) console.log(dmesg);
    const calls = parseInitcalls(dmesg).sort((a, b) => b.usecs - a.usecs);
    const total = calls.reduce((s, c) => s + c.usecs, 0);
    const stamps = [...dmesg.matchAll(/^\[\s*([\d.]+)\]/gm)].map((m) => Number(m[1]));
    console.log(
      `\n== ${vmm}: ${calls.length} initcalls, ${(total / 1000).toFixed(0)} ms in them; log ends at ${stamps.at(-1)} s uptime`,
    );
    for (const c of calls.slice(0, top))
      console.log(`  ${(c.usecs / 1000).toFixed(1).padStart(9)} ms  ${c.name}`);
    console.log("  PCI lines:");
    for (const line of dmesg.split("\n")) if (PCI_LINE.test(line)) console.log(`    ${line}`);
    for (const line of vmmLog.split("\n")) if (/^(exits|startup): /.test(line)) console.log(`  ${line}`);
  }
} finally {
  await shutdownRigs();
}
