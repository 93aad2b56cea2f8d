// Test entry for device processes (what `crosvm device-process` runs), plus a device kind of the tests' own
// with a writable configuration space, for ReadConfig/WriteConfig round trips.
import { BASE_FEATURES } from "../../../src/devices/virtio/device_base.ts";
import { VirtioRng } from "../../../src/devices/virtio/rng.ts";
import { registerVirtioDeviceKind } from "../../../src/jail/device_process/device_kinds.ts";
import { runDeviceProcess } from "../../../src/jail/device_process/host.ts";

/** An rng whose 16-byte config space keeps what the driver writes. */
class ConfigEchoDevice extends VirtioRng {
  override readonly debugLabel = "config-echo" as "virtio-rng";
  readonly space = new Uint8Array(16);
  override features(): bigint {
    return BASE_FEATURES;
  }
  override readConfig(offset: number, data: Uint8Array): void {
    for (let i = 0; i < data.length; i++) data[i] = this.space[offset + i] ?? 0;
  }
  override writeConfig(offset: number, data: Uint8Array): void {
    for (let i = 0; i < data.length && offset + i < this.space.length; i++) this.space[offset + i] = data[i]!;
  }
}

registerVirtioDeviceKind("config-echo", () => ({ device: new ConfigEchoDevice(), policy: "rng_device" }));

process.exit(await runDeviceProcess(process.argv.slice(2)));
