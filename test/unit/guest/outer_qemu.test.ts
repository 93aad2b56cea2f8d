import { expect, test } from "bun:test";
import { outerQemuCommand, virtioPortArgs } from "../../../scripts/guest/rig/outer_qemu.ts";

test("no virtio-serial device when no ports are asked for", () => {
  expect(virtioPortArgs([])).toEqual([]);
});

test("each virtio-serial port gets a pipe chardev on its FIFO base and its name, numbered from 1", () => {
  const args = virtioPortArgs([
    { name: "rig.control", base: "/tmp/rig/rig.control" },
    { name: "nested.console", base: "/tmp/rig/nested.console" },
  ]);

  expect(args).toEqual([
    ...["-device", "virtio-serial-pci,id=vser"],
    ...["-chardev", "pipe,id=vport1,path=/tmp/rig/rig.control"],
    ...["-device", "virtserialport,bus=vser.0,nr=1,chardev=vport1,name=rig.control"],
    ...["-chardev", "pipe,id=vport2,path=/tmp/rig/nested.console"],
    ...["-device", "virtserialport,bus=vser.0,nr=2,chardev=vport2,name=nested.console"],
  ]);
});

test("the outer VM keeps its serial ports for what is not on a virtio-serial port", () => {
  const cmd = outerQemuCommand({
    image: "/tmp/outer.cpio",
    append: "console=ttyS0",
    serialBases: ["/tmp/rig/ttyS0"],
    virtioPorts: [{ name: "rig.control", base: "/tmp/rig/rig.control" }],
  });

  expect(cmd.filter((_, i) => cmd[i - 1] === "-serial")).toEqual(["chardev:com0"]);
  expect(cmd).toContain("virtserialport,bus=vser.0,nr=1,chardev=vport1,name=rig.control");
});
