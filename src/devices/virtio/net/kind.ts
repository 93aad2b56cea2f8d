// The virtio-net device kind (../kind.ts): one device per --net (and per deprecated --tap-name/--tap-fd/--host-ip),
// in the order given, after the block devices (crosvm's order: block, then net). The VMM opens and configures the
// TAP queues (open_tap.ts) and hands them over; the device process only reads and writes them, so it needs no
// CAP_NET_ADMIN, and drops that capability from all its sets before it confines itself.
import * as v from "valibot";
import { isMainThread } from "node:worker_threads";
import { defineDeviceKind, type PollSource } from "../kind.ts";
import { MAC_EXPECTED, parseIpv4, parseMac, parseNetmask } from "./address.ts";
import { dropNetAdmin } from "./capabilities.ts";
import { MAX_VQ_PAIRS } from "./constants.ts";
import { netQueueSizes, VirtioNet } from "./device.ts";
import { openTapQueues, type TapSource } from "./open_tap.ts";
import { FdTapQueue } from "./tap_queue.ts";

/** One NIC as the VMM's configuration has it (src/vmm/config.ts NetOption has these fields). */
export interface NetDeviceConfig {
  readonly tapName?: string;
  readonly tapFd?: number;
  readonly hostIp?: string;
  readonly netmask?: string;
  readonly mac?: string;
  readonly vqPairs: number;
}

const text = (what: string, ok: (s: string) => boolean) => v.pipe(v.string(what), v.check(ok, what));

export const netOptionsSchema = v.pipe(
  v.strictObject(
    {
      tapName: v.optional(v.pipe(v.string("a TAP name"), v.nonEmpty("a TAP name"))),
      tapFd: v.optional(
        v.pipe(v.number("a descriptor"), v.integer("a descriptor"), v.minValue(0, "a descriptor")),
      ),
      hostIp: v.optional(text("an IPv4 address", (s) => parseIpv4(s) !== undefined)),
      netmask: v.optional(text("an IPv4 netmask", (s) => parseNetmask(s) !== undefined)),
      mac: v.optional(text(MAC_EXPECTED, (s) => parseMac(s) !== undefined)),
      vqPairs: v.pipe(
        v.number(`a pair count from 1 to ${MAX_VQ_PAIRS}`),
        v.integer(`a pair count from 1 to ${MAX_VQ_PAIRS}`),
        v.minValue(1, `a pair count from 1 to ${MAX_VQ_PAIRS}`),
        v.maxValue(MAX_VQ_PAIRS, `a pair count from 1 to ${MAX_VQ_PAIRS}`),
      ),
    },
    "an object",
  ),
  v.check(
    (o) => [o.tapName, o.tapFd, o.hostIp].filter((x) => x !== undefined).length === 1,
    "exactly one of tapName, tapFd, hostIp",
  ),
  v.check((o) => (o.hostIp === undefined) === (o.netmask === undefined), "netmask exactly with hostIp"),
);

export type NetDeviceOptions = v.InferOutput<typeof netOptionsSchema>;

function sourceOf(o: NetDeviceOptions): TapSource {
  if (o.tapName !== undefined) return { kind: "name", name: o.tapName };
  if (o.tapFd !== undefined) return { kind: "fd", fd: o.tapFd };
  return { kind: "host-ip", hostIp: o.hostIp!, netmask: o.netmask! };
}

export const netKind = defineDeviceKind({
  name: "net",
  policy: "net_device",
  schema: netOptionsSchema,
  queueSizes: (o) => netQueueSizes(o.vqPairs),
  select: (config: { readonly nets: readonly NetDeviceConfig[] }) =>
    config.nets.map((n) => ({
      ...(n.tapName === undefined ? {} : { tapName: n.tapName }),
      ...(n.tapFd === undefined ? {} : { tapFd: n.tapFd }),
      ...(n.hostIp === undefined ? {} : { hostIp: n.hostIp }),
      ...(n.netmask === undefined ? {} : { netmask: n.netmask }),
      ...(n.mac === undefined ? {} : { mac: n.mac }),
      vqPairs: n.vqPairs,
    })),
  prepare(o, index) {
    const { fds, name } = openTapQueues(sourceOf(o), o.vqPairs);
    return { label: `virtio-net ${index} (${name})`, backing: fds };
  },
  build(o, backing) {
    if (backing.length !== o.vqPairs)
      throw new Error(`virtio-net: got ${backing.length} TAP queues, expected ${o.vqPairs}`);
    // A device process (its main thread) gives up CAP_NET_ADMIN for good; a device Worker of the VMM
    // (--disable-sandbox) is not confined at all and leaves the VMM's capabilities alone.
    if (isMainThread) dropNetAdmin();
    const label = `virtio-net (${o.tapName ?? (o.tapFd !== undefined ? `tap-fd ${o.tapFd}` : "host-ip")})`;
    const taps = backing.map((fd, i) => new FdTapQueue(fd, `TAP queue ${i}`));
    const mac = o.mac === undefined ? undefined : parseMac(o.mac);
    const device = new VirtioNet({ taps, label, ...(mac ? { mac } : {}) });
    const pollSources: PollSource[] = taps.map((tap, i) => ({
      fd: tap.fd,
      wanted: () => device.wantsRx(i),
      onReadable: () => device.rxReady(i),
    }));
    return { device, pollSources };
  },
});
