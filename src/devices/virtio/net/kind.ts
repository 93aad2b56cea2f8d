// The virtio-net device kind (../kind.ts): one device per --net (and per deprecated --tap-name/--tap-fd/--host-ip),
// in the order given, after the block devices (crosvm's order: block, then net). The VMM opens and configures the
// TAP queues (open_tap.ts) and hands them over; the device process only reads and writes them, so it needs no
// CAP_NET_ADMIN, and drops that capability from all its sets before it confines itself.
import * as v from "valibot";
import { isMainThread } from "node:worker_threads";
import { close, EFD_CLOEXEC, EFD_NONBLOCK, eventfd } from "../../../../ffi/libc.ts";
import { VhostFd } from "../../../../ffi/vhost.ts";
import { type BuiltDevice, type DeviceEventFds, defineDeviceKind, type PollSource } from "../kind.ts";
import { vhostErrorSource } from "../vhost/error_source.ts";
import { MAC_EXPECTED, parseIpv4, parseMac, parseNetmask } from "./address.ts";
import { dropNetAdmin } from "./capabilities.ts";
import { MAX_VQ_PAIRS } from "./constants.ts";
import { netQueueSizes, VirtioNet } from "./device.ts";
import { openTapQueues, type TapSource } from "./open_tap.ts";
import { FdTapQueue } from "./tap_queue.ts";
import { openVhostNet, VhostNetBackend, vhostNetKernelQueues } from "./vhost_net.ts";

/** One NIC as the VMM's configuration has it (src/vmm/config.ts NetOption has these fields). */
export interface NetDeviceConfig {
  readonly tapName?: string;
  readonly tapFd?: number;
  readonly hostIp?: string;
  readonly netmask?: string;
  readonly mac?: string;
  readonly vqPairs: number;
  readonly vhostNet?: boolean;
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
      vhostNet: v.optional(v.boolean("a boolean")),
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

/** How the option named the TAP, for error lines: "tap-name=crosvm_tap". */
function describeTap(o: NetDeviceOptions): string {
  if (o.tapName !== undefined) return `tap-name=${o.tapName}`;
  if (o.tapFd !== undefined) return `tap-fd=${o.tapFd}`;
  return `host-ip=${o.hostIp}`;
}

function labelOf(o: NetDeviceOptions): string {
  return `virtio-net (${o.tapName ?? (o.tapFd !== undefined ? `tap-fd ${o.tapFd}` : "host-ip")})`;
}

/**
 * The device process's vhost-net NIC: each pair's vhost-net fd gets this process as its owner (before
 * confinement: the memory table is in this process's address space), and the TAP queues are read by the kernel
 * only, so the device polls none of them.
 */
function buildVhostNet(
  o: NetDeviceOptions,
  backing: readonly number[],
  events?: DeviceEventFds,
): BuiltDevice {
  if (!events) throw new Error("virtio-net: vhost-net needs the device's eventfds");
  if (isMainThread) dropNetAdmin();
  const tapFds = backing.slice(0, o.vqPairs);
  const vhosts = backing.slice(o.vqPairs).map((fd, i) => new VhostFd(fd, `vhost-net (pair ${i})`));
  for (const vhost of vhosts) vhost.setOwner();
  const kernelFeatures = vhosts.reduce((f, vhost) => f & vhost.getFeatures(), ~0n);
  const errorFd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  const backend = new VhostNetBackend(vhosts, tapFds, kernelFeatures, events, errorFd);
  const taps = tapFds.map((fd, i) => new FdTapQueue(fd, `TAP queue ${i}`));
  const mac = o.mac === undefined ? undefined : parseMac(o.mac);
  const device = new VirtioNet({
    taps,
    label: `${labelOf(o)} vhost-net`,
    vhost: backend,
    ...(mac ? { mac } : {}),
  });
  return {
    device,
    kernelQueues: vhostNetKernelQueues(o.vqPairs),
    pollSources: [vhostErrorSource(errorFd, () => device.kernelRingError()), ...device.relaySources()],
  };
}

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
      ...(n.vhostNet ? { vhostNet: true } : {}),
    })),
  prepare(o, index) {
    const { fds, name } = openTapQueues(sourceOf(o), o.vqPairs);
    if (!o.vhostNet) return { label: `virtio-net ${index} (${name})`, backing: fds };
    // One vhost-net instance per queue pair, after the TAP queues.
    const vhost: number[] = [];
    try {
      for (let i = 0; i < fds.length; i++) vhost.push(openVhostNet(`--net ${describeTap(o)}`));
      return { label: `virtio-net ${index} (${name}, vhost-net)`, backing: [...fds, ...vhost] };
    } catch (e) {
      for (const fd of [...fds, ...vhost]) close(fd);
      throw e;
    }
  },
  build(o, backing, _mapping, events) {
    const expected = o.vhostNet ? 2 * o.vqPairs : o.vqPairs;
    if (backing.length !== expected)
      throw new Error(
        o.vhostNet
          ? `virtio-net: got ${backing.length} descriptors, expected ${expected} (a TAP queue and a vhost-net fd per pair)`
          : `virtio-net: got ${backing.length} TAP queues, expected ${expected}`,
      );
    if (o.vhostNet) return buildVhostNet(o, backing, events);
    // A device process (its main thread) gives up CAP_NET_ADMIN for good; a device Worker of the VMM
    // (--disable-sandbox) is not confined at all and leaves the VMM's capabilities alone.
    if (isMainThread) dropNetAdmin();
    const label = labelOf(o);
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
