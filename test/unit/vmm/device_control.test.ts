// Control-socket requests reach a device through its kind's control hook: the block kind answers the "disk"
// group (DISK_INDEX counts block devices in attach order) and refuses to resize a read-only disk.
import { expect, test } from "bun:test";
import { blockKind } from "../../../src/devices/virtio/block/kind.ts";
import { DeviceControlGroups } from "../../../src/vmm/device_control.ts";

/** The block kind has a control hook (group "disk"). */
const hook = blockKind.control!;
const options = { path: "a.img", readOnly: false, sparse: true, blockSize: 512, direct: false };

function resizable() {
  const sizes: number[] = [];
  return {
    sizes,
    resize: (bytes: number) => void sizes.push(bytes),
    deviceRequest: (): Uint8Array => {
      throw new Error("a block device takes no device requests");
    },
    onDeviceEvent: undefined,
  };
}

test("a resize of disk 1 reaches the second block device", async () => {
  const groups = new DeviceControlGroups();
  const first = resizable();
  const second = resizable();
  groups.add(hook, options, first);
  groups.add(hook, { ...options, path: "b.img" }, second);

  await groups.request("disk", 1, { type: "resize", bytes: 1 << 30 });

  expect(first.sizes).toEqual([]);
  expect(second.sizes).toEqual([1 << 30]);
});

test("a disk index past the last disk is refused with the count", async () => {
  const groups = new DeviceControlGroups();
  groups.add(hook, options, resizable());

  await expect(groups.request("disk", 1, { type: "resize", bytes: 4096 })).rejects.toThrow(
    "no disk 1 (the VM has 1)",
  );
});

test("the block kind refuses to resize a read-only disk without asking the device", async () => {
  const groups = new DeviceControlGroups();
  const device = resizable();
  groups.add(hook, { ...options, readOnly: true }, device);

  await expect(groups.request("disk", 0, { type: "resize", bytes: 4096 })).rejects.toThrow(
    "--block a.img: a read-only (ro) disk cannot be resized",
  );
  expect(device.sizes).toEqual([]);
});
