// `crosvm virtio-net add TAP_NAME VM_SOCKET` and `crosvm virtio-net remove BUS VM_SOCKET`: PCI hot-plug of a
// virtio-net device on a VM started with --pci-hotplug-slots (crosvm's NetControlCommand AddTap / RemoveTap).
// `add` prints the bus the device went to, in the book's words: "Tap device TAP plugged to PCI bus N".
import { hotplugNetAdd, hotplugNetRemove } from "../../vm_control/client.ts";
import { defineCrosvmCommand } from "../commands/command.ts";
import { writeOut } from "../output.ts";
import { ControlArgumentError, parseUnsigned, runControl } from "./run_control.ts";

const add = defineCrosvmCommand({
  meta: { name: "add", description: "add a tap device as a virtio-net device" },
  args: {
    TAP_NAME: { type: "positional", description: "name of the tap device", required: true },
    VM_SOCKET: { type: "positional", description: "VM Socket path", required: true },
  },
  run: ({ args }) =>
    runControl("virtio-net add", async () => {
      const bus = await hotplugNetAdd(args.VM_SOCKET, args.TAP_NAME);
      await writeOut(`Tap device ${args.TAP_NAME} plugged to PCI bus ${bus}\n`);
    }),
});

const remove = defineCrosvmCommand({
  meta: { name: "remove", description: "remove a hot-plugged virtio-net device" },
  args: {
    BUS: { type: "positional", description: "PCI bus number of the device", required: true },
    VM_SOCKET: { type: "positional", description: "VM Socket path", required: true },
  },
  run: ({ args }) =>
    runControl("virtio-net remove", async () => {
      const bus = parseUnsigned(args.BUS, "BUS");
      if (bus > 255)
        throw new ControlArgumentError(`BUS: expected a PCI bus number from 0 to 255, got ${bus}`);
      await hotplugNetRemove(args.VM_SOCKET, bus);
    }),
});

export const virtio_net = defineCrosvmCommand({
  meta: { name: "virtio-net", description: "Manage virtio-net devices (PCI hotplug)" },
  subCommands: { add, remove },
});
