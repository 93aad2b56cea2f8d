// Worker side of the "proxy works from another thread" test: revives the shared proxy and reads config space.
import { type ProxyShare, ProxyVirtioDevice } from "../../../src/jail/device_process/proxy_device.ts";

declare const self: Worker;

self.onmessage = (e: MessageEvent<ProxyShare>) => {
  const device = ProxyVirtioDevice.revive(e.data);
  const out = new Uint8Array(4);
  device.readConfig(0, out);
  self.postMessage([...out]);
};
