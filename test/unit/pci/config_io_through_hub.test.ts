import { afterEach, describe, expect, test } from "bun:test";
import { PciConfigIo, PciRoot } from "../../../src/devices/pci/pci_root.ts";
import { MainThreadHub } from "../../../src/vmm/main_thread_hub.ts";
import { testDevice } from "./fixture.ts";

// A vCPU Worker's view: it revives the configuration window from the hub's share (as vcpu_worker.ts does) and
// reads the vendor ID of function 0 of every slot of buses 0..3, the way Linux's peer-bus scan does.
const workerSource = `
  import "${import.meta.dir}/../../../src/vmm/device_kinds.ts";
  import { reviveDevice } from "${import.meta.dir}/../../../src/devices/shared_device.ts";
  self.onmessage = (e) => {
    const dev = reviveDevice(e.data);
    const address = new Uint8Array(4);
    const vendor = new Uint8Array(2);
    const found = [];
    for (let bus = 0; bus < 4; bus++)
      for (let slot = 0; slot < 32; slot++) {
        new DataView(address.buffer).setUint32(0, (0x80000000 | (bus << 16) | (slot << 11)) >>> 0, true);
        dev.write(0, address);
        dev.read(4, vendor);
        const id = vendor[0] | (vendor[1] << 8);
        if (id !== 0xffff) found.push([bus, slot, id]);
      }
    postMessage(found);
  };`;

class CountingConfigIo extends PciConfigIo {
  calls = 0;
  override read(offset: number, data: Uint8Array): void {
    this.calls++;
    super.read(offset, data);
  }
  override write(offset: number, data: Uint8Array): void {
    this.calls++;
    super.write(offset, data);
  }
}

let hub: MainThreadHub | undefined;
let worker: Worker | undefined;
afterEach(() => {
  worker?.terminate();
  hub?.close();
});

describe("0xCF8/0xCFC from a vCPU Worker through the main-thread hub", () => {
  test("a scan finds the present functions and only their reads reach the main thread", async () => {
    const root = new PciRoot();
    root.add(testDevice(0x1af4, false), { bus: 0, device: 1, function: 0 });
    root.add(testDevice(0x1b36, false), { bus: 2, device: 5, function: 0 });
    const window = new CountingConfigIo(root);
    hub = new MainThreadHub();
    const shared = hub.wrap(window);
    hub.start();
    worker = new Worker(URL.createObjectURL(new Blob([workerSource], { type: "application/typescript" })));

    const found = await new Promise<number[][]>((resolve) => {
      worker!.onmessage = (e) => resolve(e.data);
      worker!.postMessage(shared.share());
    });

    expect(found).toEqual([
      [0, 0, 0x8086],
      [0, 1, 0x1af4],
      [2, 5, 0x1b36],
    ]);
    expect(window.calls).toBe(3);
  });
});
