// Command lines for the VMM under test. The harness adds the kernel, the initramfs and two serial ports:
// COM1 (guest ttyS0) for the console and COM2 (guest ttyS1) for the agent.

export type VmmKind = "qemu" | "crosvm";

/**
 * Where a guest serial port goes: a FIFO pair BASE.in/BASE.out (on the host in direct mode; inside the outer rig
 * VM, bridged to a virtio-serial port, in rig mode).
 */
export type SerialEndpoint = { kind: "fifo"; base: string };

export interface VmmLaunch {
  kind: VmmKind;
  executable: string;
  kernel: string;
  initrd: string;
  /** Kernel command line (console=ttyS0 and the harness's parameters are already in it). */
  cmdline: string;
  memMiB: number;
  cpus: number;
  console: SerialEndpoint;
  agent: SerialEndpoint;
  /** QEMU accelerator: kvm where the VMM has hardware virtualization. */
  qemuAccel: "kvm" | "tcg";
  extraArgs: readonly string[];
  /** crosvm options that go before `run` (e.g. --extended-status). */
  globalArgs?: readonly string[];
}

/** The kernel parameters every test guest gets; `agent=ttyS1` is read by scripts/guest/rootfs/init. */
export function guestCmdline(extra: string | undefined): string {
  return ["console=ttyS0", "panic=-1", "agent=ttyS1", extra].filter((p) => p).join(" ");
}

function qemuSerial(endpoint: SerialEndpoint): string {
  return `pipe:${endpoint.base}`;
}

function crosvmSerial(endpoint: SerialEndpoint, num: number, console: boolean): string {
  const [out, input] = [`${endpoint.base}.out`, `${endpoint.base}.in`];
  return `type=file,path=${out},input=${input},num=${num}${console ? ",console=true" : ""}`;
}

export function vmmCommand(l: VmmLaunch): string[] {
  if (l.kind === "qemu") {
    return [
      l.executable,
      ...["-accel", l.qemuAccel, "-cpu", l.qemuAccel === "kvm" ? "host" : "max", "-M", "pc"],
      ...["-m", `${l.memMiB}`, "-smp", `${l.cpus}`],
      ...["-nodefaults", "-no-user-config", "-display", "none", "-no-reboot"],
      ...["-kernel", l.kernel, "-initrd", l.initrd, "-append", l.cmdline],
      ...["-serial", qemuSerial(l.console), "-serial", qemuSerial(l.agent)],
      ...l.extraArgs,
    ];
  }
  return [
    l.executable,
    ...(l.globalArgs ?? []),
    "run",
    ...["--mem", `${l.memMiB}`, "--cpus", `${l.cpus}`],
    ...["--serial", crosvmSerial(l.console, 1, true), "--serial", crosvmSerial(l.agent, 2, false)],
    ...["-p", l.cmdline, "-i", l.initrd],
    // The whole e2e tier runs a second time in single process mode (scripts/check.ts): no device processes.
    ...(process.env.CROSVM_E2E_DISABLE_SANDBOX === "1" ? ["--disable-sandbox"] : []),
    ...l.extraArgs,
    l.kernel,
  ];
}
