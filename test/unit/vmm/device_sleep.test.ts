// SuspendVm puts every virtio device to sleep through eachDevice (pci_devices.ts): a device process that does not
// answer must not keep the others awake.
import { expect, test } from "bun:test";
import type { VirtioDevice } from "../../../src/devices/virtio/virtio_device.ts";
import { eachDevice } from "../../../src/vmm/pci_devices.ts";

function device(label: string, sleep: () => void): VirtioDevice {
  return { debugLabel: label, sleep } as unknown as VirtioDevice;
}

test("a device whose sleep throws does not stop the devices after it from sleeping", () => {
  const slept: string[] = [];
  const devices = [
    device("a", () => slept.push("a")),
    device("b", () => {
      throw new Error("device process did not answer");
    }),
    device("c", () => slept.push("c")),
  ];

  eachDevice(devices, "sleep", (d) => d.sleep?.());

  expect(slept).toEqual(["a", "c"]);
});
