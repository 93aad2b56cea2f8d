// The net device kind: one device per NIC of the VmConfig with the device's option names, and queues and MSI-X
// vectors that follow vq-pairs.
import { expect, test } from "bun:test";
import {
  kindQueueSizes,
  msixVectorCount,
  type AnyVirtioDeviceKind,
} from "../../../../src/devices/virtio/kind.ts";
import { netKind } from "../../../../src/devices/virtio/net/kind.ts";

const kind = netKind as unknown as AnyVirtioDeviceKind;

test("the net kind selects one device per NIC, in order, with the device's option names", () => {
  const nets = [
    { tapName: "tap0", mac: "52:54:00:12:34:56", vqPairs: 2 },
    { hostIp: "10.0.0.1", netmask: "255.0.0.0", mac: "52:54:00:12:34:57", vqPairs: 1 },
  ];
  expect(netKind.select({ nets })).toEqual(nets);
});

test("a NIC has rx and tx queues per pair plus the control queue, and one MSI-X vector more", () => {
  expect([kindQueueSizes(kind, { vqPairs: 1 }).length, msixVectorCount(kind, { vqPairs: 1 })]).toEqual([
    3, 4,
  ]);
  expect([kindQueueSizes(kind, { vqPairs: 4 }).length, msixVectorCount(kind, { vqPairs: 4 })]).toEqual([
    9, 10,
  ]);
});

test("the device process refuses fewer TAP queues than vq-pairs", () => {
  expect(() => netKind.build({ tapName: "tap0", vqPairs: 2 }, [5])).toThrow("got 1 TAP queues, expected 2");
});
