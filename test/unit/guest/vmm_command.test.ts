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
  console: { kind: "tty", path: "/dev/ttyS2" },
  agent: { kind: "tty", path: "/dev/ttyS3" },
  qemuAccel: "kvm",
  extraArgs: ["--disable-sandbox"],
};

test("crosvm gets its serial ports as file input/output on the outer ttys, kernel last", () => {
  expect(vmmCommand(base)).toEqual([
    "/usr/bin/crosvm",
    "run",
    ...["--mem", "256", "--cpus", "2"],
    ...["--serial", "type=file,path=/dev/ttyS2,input=/dev/ttyS2,num=1,console=true"],
    ...["--serial", "type=file,path=/dev/ttyS3,input=/dev/ttyS3,num=2"],
    ...["-p", "console=ttyS0", "-i", "/guest/generic/initrd.img"],
    "--disable-sandbox",
    "/guest/generic/bzImage",
  ]);
});

test("crosvm on host FIFOs writes BASE.out and reads BASE.in", () => {
  const cmd = vmmCommand({ ...base, agent: { kind: "fifo", base: "/tmp/vm/agent" } });

  expect(cmd).toContain("type=file,path=/tmp/vm/agent.out,input=/tmp/vm/agent.in,num=2");
});

test("QEMU takes the tty paths and FIFO pairs as -serial devices", () => {
  const cmd = vmmCommand({ ...base, kind: "qemu", agent: { kind: "fifo", base: "/tmp/vm/agent" } });

  expect(cmd.filter((_, i) => cmd[i - 1] === "-serial")).toEqual(["/dev/ttyS2", "pipe:/tmp/vm/agent"]);
});

test("guest command line names the console and the agent port, then the extras", () => {
  expect(guestCmdline("loglevel=4")).toBe("console=ttyS0 panic=-1 agent=ttyS1 loglevel=4");
});
