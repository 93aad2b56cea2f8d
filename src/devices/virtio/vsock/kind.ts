// The virtio-vsock device kind (../kind.ts): at most one device (a guest has one CID), after the NICs and shared
// directories. The VMM opens the vhost-vsock device (--vsock device=PATH, /dev/vhost-vsock by default) and claims
// the CID with VHOST_VSOCK_SET_GUEST_CID before any device process starts, so a missing module, a CID another VM
// holds or a device it may not open is one line before the VM runs. The device process calls VHOST_SET_OWNER
// (binding the kernel's worker to its own address space, where it maps guest RAM) and serves the event queue;
// the kernel serves rx and tx (docs/architecture.md, "vhost devices").
import * as v from "valibot";
import {
  close,
  eventfd,
  EFD_CLOEXEC,
  EFD_NONBLOCK,
  O_CLOEXEC,
  O_RDWR,
  open,
  SysError,
} from "../../../../ffi/libc.ts";
import { errnoName } from "../../../../ffi/errno.ts";
import { VhostFd } from "../../../../ffi/vhost.ts";
import { defineDeviceKind } from "../kind.ts";
import { vhostErrorSource } from "../vhost/error_source.ts";
import { cidSchema, type VsockOption } from "./config.ts";
import { VirtioVsock, VSOCK_QUEUE_SIZE } from "./device.ts";

export const vsockOptionsSchema = v.strictObject(
  {
    cid: cidSchema,
    device: v.pipe(v.string("a path"), v.nonEmpty("a path")),
    option: v.string("the option's name"),
  },
  "an object",
);

export type VsockDeviceOptions = v.InferOutput<typeof vsockOptionsSchema>;

/** A vsock device the host cannot give this VM: one line naming the option and what to do. */
export class VsockOptionError extends Error {
  override name = "VsockOptionError";
}

const ENOENT = 2;
const EACCES = 13;
const ENODEV = 19;
const EADDRINUSE = 98;

/** Opens the vhost-vsock device and claims the CID; returns the descriptor. */
export function openVhostVsock(o: VsockDeviceOptions): number {
  let fd: number;
  try {
    fd = open(o.device, O_RDWR | O_CLOEXEC);
  } catch (e) {
    if (!(e instanceof SysError)) throw e;
    if (o.device.startsWith("/proc/self/fd/") && e.errno === ENOENT)
      throw new VsockOptionError(`${o.option}: ${o.device.slice(14)} is not an open descriptor`);
    if (e.errno === ENOENT || e.errno === ENODEV)
      throw new VsockOptionError(
        `${o.option}: ${o.device} does not exist: load the host's vhost-vsock module (modprobe vhost_vsock)`,
      );
    if (e.errno === EACCES)
      throw new VsockOptionError(
        `${o.option}: cannot open ${o.device}: permission denied (the VMM needs read and write access)`,
      );
    throw new VsockOptionError(`${o.option}: cannot open ${o.device}: ${errnoName(e.errno)}`);
  }
  try {
    new VhostFd(fd, o.device).vsockSetGuestCid(BigInt(o.cid));
    return fd;
  } catch (e) {
    close(fd);
    if (!(e instanceof SysError)) throw e;
    if (e.errno === EADDRINUSE)
      throw new VsockOptionError(
        `${o.option}: CID ${o.cid} is already in use by another VM or by this host; choose another cid`,
      );
    throw new VsockOptionError(`${o.option}: ${o.device} refused CID ${o.cid}: ${errnoName(e.errno)}`);
  }
}

export const vsockKind = defineDeviceKind({
  name: "vsock",
  policy: "vsock_device",
  schema: vsockOptionsSchema,
  queueSizes: [VSOCK_QUEUE_SIZE, VSOCK_QUEUE_SIZE, VSOCK_QUEUE_SIZE],
  select: (config: { readonly vsock?: VsockOption }) =>
    config.vsock ? [{ cid: config.vsock.cid, device: config.vsock.device, option: config.vsock.option }] : [],
  prepare: (o) => ({ label: `virtio-vsock (cid ${o.cid})`, backing: [openVhostVsock(o)] }),
  build(o, backing, _mapping, events) {
    const fd = backing[0];
    if (fd === undefined || !events)
      throw new Error(`virtio-vsock: the VMM gave no vhost-vsock descriptor or no eventfds`);
    const vhost = new VhostFd(fd, o.device);
    // The owner's mm is where the kernel resolves the memory table: this process's mapping of guest RAM.
    vhost.setOwner();
    const kernelFeatures = vhost.getFeatures();
    const errorFd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    const device = new VirtioVsock({ cid: o.cid, vhost, kernelFeatures, events, errorFd });
    return {
      device,
      kernelQueues: VirtioVsock.KERNEL_QUEUES,
      pollSources: [vhostErrorSource(errorFd, () => device.kernelRingError()), ...device.relaySources()],
    };
  },
});
