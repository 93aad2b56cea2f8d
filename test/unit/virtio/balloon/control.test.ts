// The balloon's control hook (kind.ts) against a model wired as the device process would wire it: requests go to
// controlRequest, events the model raises come back through onDeviceEvent.
import { describe, expect, test } from "bun:test";
import { balloonKind, type BalloonOptions } from "../../../../src/devices/virtio/balloon/kind.ts";
import {
  BalloonEvent,
  BalloonStatsReply,
  decodeAdjust,
  decodeReport,
  encodeActualEvent,
  encodeReport,
} from "../../../../src/devices/virtio/balloon/control.ts";
import { emptyBalloonStats } from "../../../../src/devices/virtio/balloon/stats.ts";
import type { ControlledDevice, DeviceControlRequest } from "../../../../src/devices/virtio/kind.ts";

const hook = balloonKind.control!;
const options: BalloonOptions = { pageReporting: false, initialPages: 0, memoryPages: 65536 };

/** A device that records requests and answers each with `answer(request)`. */
function fakeDevice(answer: (request: Uint8Array) => Uint8Array = () => new Uint8Array(0)) {
  const requests: Uint8Array[] = [];
  const device: ControlledDevice = {
    resize() {
      throw new Error("not a disk");
    },
    deviceRequest(payload) {
      requests.push(payload);
      return answer(payload);
    },
    onDeviceEvent: undefined,
  };
  return { device, requests };
}

async function handle(request: DeviceControlRequest, device: ControlledDevice) {
  return await hook.handle(options, request, device);
}

describe("balloon SIZE", () => {
  test("sets the target in 4 KiB pages, rounding down", async () => {
    const { device, requests } = fakeDevice();

    await handle({ type: "balloon-adjust", bytes: 128 * 2 ** 20 + 100, wait: false }, device);

    expect(requests.map(decodeAdjust)).toEqual([32768]);
  });

  test("a size above the guest's memory is refused without asking the device", async () => {
    const { device, requests } = fakeDevice();

    await expect(handle({ type: "balloon-adjust", bytes: 2 ** 40, wait: false }, device)).rejects.toThrow(
      "balloon size 1099511627776 bytes is more than the guest's memory (268435456 bytes)",
    );
    expect(requests).toEqual([]);
  });

  test("--wait resolves once the driver reports the target reached, not before", async () => {
    const { device } = fakeDevice();
    let done = false;

    const pending = handle({ type: "balloon-adjust", bytes: 8192, wait: true }, device).then(() => {
      done = true;
    });
    device.onDeviceEvent!(encodeActualEvent(1));
    await Bun.sleep(1);
    const before = done;
    device.onDeviceEvent!(encodeActualEvent(2));
    await pending;

    expect([before, done]).toEqual([false, true]);
  });
});

describe("balloon_stats", () => {
  test("an answer the device has at once is the reply, with the size in bytes", async () => {
    const stats = { ...emptyBalloonStats(), totalMemory: 1000 };
    const { device } = fakeDevice(() => encodeReport(BalloonStatsReply.Now, { actualPages: 3, stats }));

    const reply = await handle({ type: "balloon-stats" }, device);

    expect(reply).toEqual({ actualBytes: 3 * 4096, stats });
  });

  test("a pending answer is the device's next stats event", async () => {
    const stats = { ...emptyBalloonStats(), freeMemory: 42 };
    const { device } = fakeDevice(() => Uint8Array.of(BalloonStatsReply.Pending));

    const reply = handle({ type: "balloon-stats" }, device);
    device.onDeviceEvent!(encodeActualEvent(9));
    device.onDeviceEvent!(encodeReport(BalloonEvent.Stats, { actualPages: 9, stats }));

    expect(await reply).toEqual({ actualBytes: 9 * 4096, stats });
  });

  test("the report codec keeps reported zeros apart from unreported values", () => {
    const stats = { ...emptyBalloonStats(), swapIn: 0, hugetlbFailures: 2 ** 40 };

    const back = decodeReport(encodeReport(BalloonEvent.Stats, { actualPages: 0xffff_ffff, stats }));

    expect(back).toEqual({ actualPages: 0xffff_ffff, stats });
  });
});

test("the balloon group refuses a disk request", async () => {
  const { device } = fakeDevice();

  expect(() => hook.handle(options, { type: "resize", bytes: 1 }, device)).toThrow(
    "the balloon cannot resize",
  );
});
