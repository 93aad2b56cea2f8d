// The /dev/kvm system handle: opens the device (with a one-line error saying what to do when it is missing or not
// accessible), checks the API version and capabilities, and creates VMs.
import {
  KVM_API_VERSION,
  KVM_CAP_NAMES,
  KVM_CHECK_EXTENSION,
  KVM_CREATE_VM,
  KVM_GET_API_VERSION,
  KVM_GET_SUPPORTED_CPUID,
  KVM_GET_VCPU_MMAP_SIZE,
} from "../../ffi/kvm.ts";
import { cpuid2Buffer, decodeCpuid2 } from "../../ffi/kvm_structs.ts";
import type { KvmCpuidEntry } from "../../ffi/kvm_types.ts";
import { close, ioctl, O_CLOEXEC, O_RDWR, open, SysError } from "../../ffi/libc.ts";
import { Vm } from "./vm.ts";

/** /dev/kvm cannot be used, or lacks something the VMM needs. The message is one line and says what to do. */
export class KvmError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KvmError";
  }
}

/** KVM_MAX_CPUID_ENTRIES in arch/x86/include/asm/kvm_host.h. */
const MAX_CPUID_ENTRIES = 256;

/** The one-line error for a failed open of the KVM device, by errno name. */
export function kvmOpenError(path: string, code: string): KvmError {
  switch (code) {
    case "ENOENT":
      return new KvmError(`${path}: not found (load the kvm module, or run where KVM is available)`);
    case "EACCES":
    case "EPERM":
      return new KvmError(`${path}: permission denied (add the user to the kvm group)`);
    case "ENXIO":
    case "ENODEV":
      return new KvmError(`${path}: no KVM device behind it (is virtualization enabled?)`);
    default:
      return new KvmError(`${path}: cannot open: ${code}`);
  }
}

export class Kvm {
  #closed = false;

  private constructor(
    readonly fd: number,
    readonly path: string,
  ) {}

  /** Opens /dev/kvm (or `path`) and checks that it speaks KVM API 12. */
  static open(path = "/dev/kvm"): Kvm {
    let fd: number;
    try {
      fd = open(path, O_RDWR | O_CLOEXEC);
    } catch (e) {
      if (e instanceof SysError) throw kvmOpenError(path, e.code);
      throw e;
    }
    const kvm = new Kvm(fd, path);
    const version = ioctl(fd, KVM_GET_API_VERSION, 0, "KVM_GET_API_VERSION", path);
    if (version !== KVM_API_VERSION) {
      kvm.close();
      throw new KvmError(`${path}: KVM API version ${version}, expected ${KVM_API_VERSION}`);
    }
    return kvm;
  }

  /** KVM_CHECK_EXTENSION: 0 when absent, otherwise a capability-specific positive value. */
  checkExtension(cap: number): number {
    return ioctl(this.fd, KVM_CHECK_EXTENSION, cap, "KVM_CHECK_EXTENSION", this.path);
  }

  /** Throws a KvmError naming the capability when the kernel lacks it. */
  requireExtension(cap: number, neededFor?: string): void {
    if (this.checkExtension(cap) > 0) return;
    const name = KVM_CAP_NAMES[cap] ?? `capability ${cap}`;
    throw new KvmError(
      `${this.path}: ${name} is not supported by this kernel${neededFor ? ` (needed for ${neededFor})` : ""}`,
    );
  }

  /** Size of each vCPU's kvm_run mapping. */
  vcpuMmapSize(): number {
    return ioctl(this.fd, KVM_GET_VCPU_MMAP_SIZE, 0, "KVM_GET_VCPU_MMAP_SIZE", this.path);
  }

  /** The highest vCPU count a VM may have (KVM_CAP_MAX_VCPUS, falling back to KVM_CAP_NR_VCPUS, then 4). */
  maxVcpus(): number {
    const max = this.checkExtension(66 /* KVM_CAP_MAX_VCPUS */);
    if (max > 0) return max;
    const nr = this.checkExtension(9 /* KVM_CAP_NR_VCPUS */);
    return nr > 0 ? nr : 4;
  }

  /** KVM_GET_SUPPORTED_CPUID. */
  supportedCpuid(): KvmCpuidEntry[] {
    const buf = cpuid2Buffer(MAX_CPUID_ENTRIES);
    ioctl(this.fd, KVM_GET_SUPPORTED_CPUID, buf, "KVM_GET_SUPPORTED_CPUID", this.path);
    return decodeCpuid2(buf);
  }

  createVm(): Vm {
    const vmFd = ioctl(this.fd, KVM_CREATE_VM, 0, "KVM_CREATE_VM", this.path);
    return new Vm(vmFd, this);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    close(this.fd);
  }
}
