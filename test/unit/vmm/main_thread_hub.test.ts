import { afterEach, describe, expect, test } from "bun:test";
import type { BusDevice } from "../../../src/devices/bus.ts";
import type { DeviceShare } from "../../../src/devices/shared_device.ts";
import { MAIN_THREAD_DEVICE_KIND, MainThreadHub } from "../../../src/vmm/main_thread_hub.ts";

class RegisterFile implements BusDevice {
  readonly debugLabel = "registers";
  readonly bytes = new Uint8Array(16);
  readonly threads: string[] = [];
  read(offset: number, data: Uint8Array): void {
    data.set(this.bytes.subarray(offset, offset + data.length));
  }
  write(offset: number, data: Uint8Array): void {
    this.bytes.set(data, offset);
  }
}

const workerSource = `
  import "${import.meta.dir}/../../../src/vmm/main_thread_hub.ts";
  import { reviveDevice } from "${import.meta.dir}/../../../src/devices/shared_device.ts";
  self.onmessage = (e) => {
    const dev = reviveDevice(e.data);
    dev.write(4, Uint8Array.of(0x11, 0x22, 0x33, 0x44));
    const back = new Uint8Array(2);
    dev.read(5, back);
    postMessage([...back]);
  };`;

let hub: MainThreadHub | undefined;
let worker: Worker | undefined;
afterEach(() => {
  worker?.terminate();
  hub?.close();
});

describe("MainThreadHub", () => {
  test("a Worker's accesses reach the main-thread device and reads come back", async () => {
    hub = new MainThreadHub();
    const device = new RegisterFile();
    const shared = hub.wrap(device);
    hub.start();
    worker = new Worker(URL.createObjectURL(new Blob([workerSource], { type: "application/typescript" })));

    const reply = await new Promise<number[]>((resolve) => {
      worker!.onmessage = (e) => resolve(e.data);
      worker!.postMessage(shared.share());
    });

    expect([...device.bytes.subarray(4, 8)]).toEqual([0x11, 0x22, 0x33, 0x44]);
    expect(reply).toEqual([0x22, 0x33]);
  });

  test("the main thread uses the wrapped device directly", () => {
    hub = new MainThreadHub();
    const device = new RegisterFile();
    const shared = hub.wrap(device);

    shared.write(0, Uint8Array.of(7));

    expect(device.bytes[0]).toBe(7);
  });
});

describe("MainThreadHub with a device that has a vCPU side", () => {
  test("the Workers get the device's vCPU share, wrapped around the hub client", () => {
    hub = new MainThreadHub();
    const device = Object.assign(new RegisterFile(), {
      vcpuShare: (forward: DeviceShare): DeviceShare => ({ kind: "vcpu-side", state: forward }),
    });

    const share = hub.wrap(device).share();

    expect(share.kind).toBe("vcpu-side");
    expect((share.state as DeviceShare).kind).toBe(MAIN_THREAD_DEVICE_KIND);
  });
});
