import { expect, test } from "bun:test";
import { guestCmdline, vmmCommand, type VmmLaunch } from "../../e2e/harness/vmm_command.ts";

const base: VmmLaunch = {
  kind: "crosvm",
  executable: "/usr/bin/crosvm",
  kernel: "/guest/generic/bzImage",
  initrd: "/guest/generic/initrd.img",
  cmdline: "console=ttyS0",
  memMiB: 256,
  cpus: 2,
  console: { kind: "fifo", base: "/run/nested/console" },
  agent: { kind: "fifo", base: "/run/nested/agent" },
  qemuAccel: "kvm",
  extraArgs: ["--disable-sandbox"],
};

test("crosvm gets its serial ports as file output BASE.out and input BASE.in, kernel last", () => {
  expect(vmmCommand(base)).toEqual([
    "/usr/bin/crosvm",
    "run",
    ...["--mem", "256", "--cpus", "2"],
    ...["--serial", "type=file,path=/run/nested/console.out,input=/run/nested/console.in,num=1,console=true"],
    ...["--serial", "type=file,path=/run/nested/agent.out,input=/run/nested/agent.in,num=2"],
    ...["-p", "console=ttyS0", "-i", "/guest/generic/initrd.img"],
    "--disable-sandbox",
    "/guest/generic/bzImage",
  ]);
});

test("QEMU takes the FIFO pairs as -serial pipe devices, console first", () => {
  const cmd = vmmCommand({ ...base, kind: "qemu" });

  expect(cmd.filter((_, i) => cmd[i - 1] === "-serial")).toEqual([
    "pipe:/run/nested/console",
    "pipe:/run/nested/agent",
  ]);
});

test("guest command line names the console and the agent port, then the extras", () => {
  expect(guestCmdline("loglevel=4")).toBe("console=ttyS0 panic=-1 agent=ttyS1 loglevel=4");
});
