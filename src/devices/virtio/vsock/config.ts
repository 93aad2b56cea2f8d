// What the command line and the VM configuration know about the vsock device, without the device itself (so that
// src/cli needs no FFI): crosvm's VsockConfig (devices/src/virtio/vsock/mod.rs) and the CID rules.
import * as v from "valibot";

/** crosvm's VHOST_VSOCK_DEFAULT_PATH. */
export const DEFAULT_VHOST_VSOCK_DEVICE = "/dev/vhost-vsock";

/**
 * 5.10.4 / linux/vm_sockets.h: CIDs 0 (hypervisor), 1 (local) and 2 (host) are reserved and 0xffffffff is
 * VMADDR_CID_ANY; vhost-vsock refuses those and anything above 32 bits (drivers/vhost/vsock.c vhost_vsock_set_cid).
 */
export const MIN_GUEST_CID = 3;
export const MAX_GUEST_CID = 0xfffffffe;

export const CID_EXPECTED = `a CID from ${MIN_GUEST_CID} to ${MAX_GUEST_CID} (0-2 are reserved, 2 is the host)`;

export const cidSchema = v.pipe(
  v.number(CID_EXPECTED),
  v.integer(CID_EXPECTED),
  v.minValue(MIN_GUEST_CID, CID_EXPECTED),
  v.maxValue(MAX_GUEST_CID, CID_EXPECTED),
);

/** The VM's vsock device as the configuration holds it. */
export interface VsockOption {
  readonly cid: number;
  /** The vhost-vsock device node (or /proc/self/fd/N for --vhost-vsock-fd N). */
  readonly device: string;
  /** How the user asked for it, for error lines: "--vsock", "--cid", "--vhost-vsock-fd 5", a --cfg file. */
  readonly option: string;
}
