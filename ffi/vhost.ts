// Kernel vhost ioctls and their argument structs (include/uapi/linux/vhost.h, include/uapi/linux/vhost_types.h).
// Every number is _IO/_IOR/_IOW/_IOWR(VHOST_VIRTIO = 0xAF, nr, type) with the size of the struct below; both are
// checked against the installed uapi headers by compiling them (test/unit/ffi/vhost_layout.test.ts).
import { ioctl } from "./libc.ts";

/** vhost.h: #define VHOST_VIRTIO 0xAF */
export const VHOST_VIRTIO = 0xaf;

/** _IOR(VHOST_VIRTIO, 0x00, __u64) */
export const VHOST_GET_FEATURES = 0x8008af00;
/** _IOW(VHOST_VIRTIO, 0x00, __u64) */
export const VHOST_SET_FEATURES = 0x4008af00;
/** _IO(VHOST_VIRTIO, 0x01): binds the device to the caller's mm (userspace_addr below is in its address space). */
export const VHOST_SET_OWNER = 0xaf01;
/** _IOW(VHOST_VIRTIO, 0x03, struct vhost_memory) */
export const VHOST_SET_MEM_TABLE = 0x4008af03;
/** _IOW(VHOST_VIRTIO, 0x10, struct vhost_vring_state) */
export const VHOST_SET_VRING_NUM = 0x4008af10;
/** _IOW(VHOST_VIRTIO, 0x11, struct vhost_vring_addr) */
export const VHOST_SET_VRING_ADDR = 0x4028af11;
/** _IOW(VHOST_VIRTIO, 0x12, struct vhost_vring_state) */
export const VHOST_SET_VRING_BASE = 0x4008af12;
/** _IOWR(VHOST_VIRTIO, 0x12, struct vhost_vring_state) */
export const VHOST_GET_VRING_BASE = 0xc008af12;
/** _IOW(VHOST_VIRTIO, 0x20, struct vhost_vring_file): the eventfd the kernel polls for the guest's kicks. */
export const VHOST_SET_VRING_KICK = 0x4008af20;
/** _IOW(VHOST_VIRTIO, 0x21, struct vhost_vring_file): the eventfd the kernel signals for a used-buffer interrupt. */
export const VHOST_SET_VRING_CALL = 0x4008af21;
/** _IOW(VHOST_VIRTIO, 0x22, struct vhost_vring_file): the eventfd the kernel signals when a ring access fails. */
export const VHOST_SET_VRING_ERR = 0x4008af22;
/** _IOW(VHOST_VIRTIO, 0x30, struct vhost_vring_file): the TAP (or socket) behind one vring of vhost-net. */
export const VHOST_NET_SET_BACKEND = 0x4008af30;
/** _IOW(VHOST_VIRTIO, 0x60, __u64) */
export const VHOST_VSOCK_SET_GUEST_CID = 0x4008af60;
/** _IOW(VHOST_VIRTIO, 0x61, int) */
export const VHOST_VSOCK_SET_RUNNING = 0x4004af61;

/** vhost_types.h: VHOST_F_LOG_ALL, the dirty-log feature (never offered: we do not migrate). */
export const VHOST_F_LOG_ALL = 26;

/** struct vhost_vring_state { unsigned int index; unsigned int num; } */
export const VHOST_VRING_STATE_SIZE = 8;
/** struct vhost_vring_file { unsigned int index; int fd; } (fd -1 detaches) */
export const VHOST_VRING_FILE_SIZE = 8;
/**
 * struct vhost_vring_addr { unsigned int index; unsigned int flags; __u64 desc_user_addr; __u64 used_user_addr;
 * __u64 avail_user_addr; __u64 log_guest_addr; } (used before avail)
 */
export const VHOST_VRING_ADDR_SIZE = 40;
export const VHOST_VRING_ADDR_OFFSETS = {
  index: 0,
  flags: 4,
  desc_user_addr: 8,
  used_user_addr: 16,
  avail_user_addr: 24,
  log_guest_addr: 32,
} as const;
/** struct vhost_memory { __u32 nregions; __u32 padding; struct vhost_memory_region regions[0]; } */
export const VHOST_MEMORY_SIZE = 8;
/** struct vhost_memory_region { __u64 guest_phys_addr; __u64 memory_size; __u64 userspace_addr; __u64 flags_padding; } */
export const VHOST_MEMORY_REGION_SIZE = 32;
export const VHOST_MEMORY_REGION_OFFSETS = {
  guest_phys_addr: 0,
  memory_size: 8,
  userspace_addr: 16,
  flags_padding: 24,
} as const;
/** drivers/vhost/vhost.c: the module parameter max_mem_regions defaults to 64. */
export const VHOST_MAX_MEM_REGIONS = 64;

/** One region of guest RAM as the vhost memory table describes it. */
export interface VhostMemoryRegion {
  readonly guestAddr: number;
  readonly size: number;
  /** Where the region is mapped in the process that called VHOST_SET_OWNER. */
  readonly hostAddr: number;
}

export function vringState(index: number, num: number): Uint8Array {
  const b = new Uint8Array(VHOST_VRING_STATE_SIZE);
  const v = new DataView(b.buffer);
  v.setUint32(0, index, true);
  v.setUint32(4, num, true);
  return b;
}

export function vringFile(index: number, fd: number): Uint8Array {
  const b = new Uint8Array(VHOST_VRING_FILE_SIZE);
  const v = new DataView(b.buffer);
  v.setUint32(0, index, true);
  v.setInt32(4, fd, true);
  return b;
}

/** A struct vhost_vring_addr with host addresses of the three rings and no dirty log (flags 0). */
export function vringAddr(
  index: number,
  rings: { readonly desc: number; readonly avail: number; readonly used: number },
): Uint8Array {
  const b = new Uint8Array(VHOST_VRING_ADDR_SIZE);
  const v = new DataView(b.buffer);
  const o = VHOST_VRING_ADDR_OFFSETS;
  v.setUint32(o.index, index, true);
  v.setUint32(o.flags, 0, true);
  v.setBigUint64(o.desc_user_addr, BigInt(rings.desc), true);
  v.setBigUint64(o.used_user_addr, BigInt(rings.used), true);
  v.setBigUint64(o.avail_user_addr, BigInt(rings.avail), true);
  v.setBigUint64(o.log_guest_addr, 0n, true);
  return b;
}

/** A struct vhost_memory followed by its regions. */
export function memoryTable(regions: readonly VhostMemoryRegion[]): Uint8Array {
  if (regions.length > VHOST_MAX_MEM_REGIONS)
    throw new Error(`${regions.length} memory regions: vhost takes at most ${VHOST_MAX_MEM_REGIONS}`);
  const b = new Uint8Array(VHOST_MEMORY_SIZE + VHOST_MEMORY_REGION_SIZE * regions.length);
  const v = new DataView(b.buffer);
  v.setUint32(0, regions.length, true);
  const o = VHOST_MEMORY_REGION_OFFSETS;
  regions.forEach((r, i) => {
    const at = VHOST_MEMORY_SIZE + VHOST_MEMORY_REGION_SIZE * i;
    v.setBigUint64(at + o.guest_phys_addr, BigInt(r.guestAddr), true);
    v.setBigUint64(at + o.memory_size, BigInt(r.size), true);
    v.setBigUint64(at + o.userspace_addr, BigInt(r.hostAddr), true);
  });
  return b;
}

/** The ioctls of one vhost device fd; each throws SysError naming the call and `what` (e.g. "/dev/vhost-vsock"). */
export class VhostFd {
  readonly #u64 = new BigUint64Array(1);

  constructor(
    readonly fd: number,
    readonly what: string,
  ) {}

  #call(request: number, arg: NodeJS.TypedArray | number, name: string): void {
    ioctl(this.fd, request, arg, name, this.what);
  }

  setOwner(): void {
    this.#call(VHOST_SET_OWNER, 0, "VHOST_SET_OWNER");
  }

  getFeatures(): bigint {
    this.#call(VHOST_GET_FEATURES, this.#u64, "VHOST_GET_FEATURES");
    return this.#u64[0]!;
  }

  setFeatures(features: bigint): void {
    this.#u64[0] = features;
    this.#call(VHOST_SET_FEATURES, this.#u64, "VHOST_SET_FEATURES");
  }

  setMemTable(regions: readonly VhostMemoryRegion[]): void {
    this.#call(VHOST_SET_MEM_TABLE, memoryTable(regions), "VHOST_SET_MEM_TABLE");
  }

  setVringNum(index: number, num: number): void {
    this.#call(VHOST_SET_VRING_NUM, vringState(index, num), "VHOST_SET_VRING_NUM");
  }

  setVringAddr(index: number, rings: { desc: number; avail: number; used: number }): void {
    this.#call(VHOST_SET_VRING_ADDR, vringAddr(index, rings), "VHOST_SET_VRING_ADDR");
  }

  setVringBase(index: number, base: number): void {
    this.#call(VHOST_SET_VRING_BASE, vringState(index, base), "VHOST_SET_VRING_BASE");
  }

  /** The next available index the kernel would process (valid once the vring is stopped). */
  getVringBase(index: number): number {
    const state = vringState(index, 0);
    this.#call(VHOST_GET_VRING_BASE, state, "VHOST_GET_VRING_BASE");
    return new DataView(state.buffer).getUint32(4, true);
  }

  setVringKick(index: number, fd: number): void {
    this.#call(VHOST_SET_VRING_KICK, vringFile(index, fd), "VHOST_SET_VRING_KICK");
  }

  setVringCall(index: number, fd: number): void {
    this.#call(VHOST_SET_VRING_CALL, vringFile(index, fd), "VHOST_SET_VRING_CALL");
  }

  setVringErr(index: number, fd: number): void {
    this.#call(VHOST_SET_VRING_ERR, vringFile(index, fd), "VHOST_SET_VRING_ERR");
  }

  netSetBackend(index: number, fd: number): void {
    this.#call(VHOST_NET_SET_BACKEND, vringFile(index, fd), "VHOST_NET_SET_BACKEND");
  }

  vsockSetGuestCid(cid: bigint): void {
    this.#u64[0] = cid;
    this.#call(VHOST_VSOCK_SET_GUEST_CID, this.#u64, "VHOST_VSOCK_SET_GUEST_CID");
  }

  vsockSetRunning(running: boolean): void {
    this.#call(VHOST_VSOCK_SET_RUNNING, new Int32Array([running ? 1 : 0]), "VHOST_VSOCK_SET_RUNNING");
  }
}
