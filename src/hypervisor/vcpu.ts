// One KVM vCPU: its register state and its kvm_run page. A Vcpu is a plain fd number plus sizes, so a vCPU Worker
// rebuilds it with `new Vcpu(fd, id, mmapSize)` (fds are process-wide). The run loop itself is in
// src/vmm/vcpu_loop.ts.
import {
  KVM_GET_FPU,
  KVM_GET_LAPIC,
  KVM_GET_MP_STATE,
  KVM_GET_MSRS,
  KVM_GET_REGS,
  KVM_GET_SREGS,
  KVM_SET_CPUID2,
  KVM_SET_FPU,
  KVM_SET_LAPIC,
  KVM_SET_MP_STATE,
  KVM_SET_MSRS,
  KVM_SET_REGS,
  KVM_SET_SIGNAL_MASK,
  KVM_SET_SREGS,
} from "../../ffi/kvm.ts";
import {
  decodeFpu,
  decodeMpState,
  decodeMsrs,
  decodeRegs,
  decodeSregs,
  encodeCpuid2,
  encodeFpu,
  encodeMpState,
  encodeMsrs,
  encodeRegs,
  encodeSignalMask,
  encodeSregs,
  KVM_FPU_SIZE,
  KVM_LAPIC_STATE_SIZE,
  KVM_MP_STATE_SIZE,
  KVM_REGS_SIZE,
  KVM_SREGS_SIZE,
  type KvmFpu,
} from "../../ffi/kvm_structs.ts";
import type { KvmCpuidEntry, KvmMsrEntry, KvmRegs, KvmSregs } from "../../ffi/kvm_types.ts";
import { close, ioctl, MAP_SHARED, mmap, munmap, PROT_READ, PROT_WRITE, viewOf } from "../../ffi/libc.ts";

export interface KvmRunMapping {
  /** Host address of the kvm_run page. */
  readonly addr: number;
  readonly bytes: Uint8Array;
  readonly view: DataView;
}

export class Vcpu {
  #run: KvmRunMapping | undefined;

  constructor(
    readonly fd: number,
    /** vCPU index, which KVM also uses as the initial APIC ID. */
    readonly id: number,
    /** KVM_GET_VCPU_MMAP_SIZE. */
    readonly mmapSize: number,
  ) {}

  get #what(): string {
    return `vCPU ${this.id}`;
  }

  getRegs(): KvmRegs {
    const buf = new Uint8Array(KVM_REGS_SIZE);
    ioctl(this.fd, KVM_GET_REGS, buf, "KVM_GET_REGS", this.#what);
    return decodeRegs(buf);
  }

  setRegs(regs: KvmRegs): void {
    ioctl(this.fd, KVM_SET_REGS, encodeRegs(regs), "KVM_SET_REGS", this.#what);
  }

  getSregs(): KvmSregs {
    const buf = new Uint8Array(KVM_SREGS_SIZE);
    ioctl(this.fd, KVM_GET_SREGS, buf, "KVM_GET_SREGS", this.#what);
    return decodeSregs(buf);
  }

  setSregs(sregs: KvmSregs): void {
    ioctl(this.fd, KVM_SET_SREGS, encodeSregs(sregs), "KVM_SET_SREGS", this.#what);
  }

  getFpu(): KvmFpu {
    const buf = new Uint8Array(KVM_FPU_SIZE);
    ioctl(this.fd, KVM_GET_FPU, buf, "KVM_GET_FPU", this.#what);
    return decodeFpu(buf);
  }

  setFpu(fpu: KvmFpu): void {
    ioctl(this.fd, KVM_SET_FPU, encodeFpu(fpu), "KVM_SET_FPU", this.#what);
  }

  setCpuid(entries: readonly KvmCpuidEntry[]): void {
    ioctl(this.fd, KVM_SET_CPUID2, encodeCpuid2(entries), "KVM_SET_CPUID2", this.#what);
  }

  /** KVM_GET_MSRS for the given indices; the kernel fills in the values it knows (fewer if it stops early). */
  getMsrs(indices: readonly number[]): KvmMsrEntry[] {
    const buf = encodeMsrs(indices.map((index) => ({ index, data: 0n })));
    const n = ioctl(this.fd, KVM_GET_MSRS, buf, "KVM_GET_MSRS", this.#what);
    return decodeMsrs(buf).slice(0, n);
  }

  /** KVM_SET_MSRS; throws when the kernel refuses one of them (naming the first refused index). */
  setMsrs(entries: readonly KvmMsrEntry[]): void {
    const n = ioctl(this.fd, KVM_SET_MSRS, encodeMsrs(entries), "KVM_SET_MSRS", this.#what);
    if (n !== entries.length) {
      const bad = entries[n]!.index;
      throw new Error(`KVM_SET_MSRS on ${this.#what}: MSR 0x${bad.toString(16)} was refused`);
    }
  }

  /** The in-kernel local APIC's register page (struct kvm_lapic_state). */
  getLapic(): Uint8Array {
    const buf = new Uint8Array(KVM_LAPIC_STATE_SIZE);
    ioctl(this.fd, KVM_GET_LAPIC, buf, "KVM_GET_LAPIC", this.#what);
    return buf;
  }

  setLapic(state: Uint8Array): void {
    ioctl(this.fd, KVM_SET_LAPIC, state, "KVM_SET_LAPIC", this.#what);
  }

  getMpState(): number {
    const buf = new Uint8Array(KVM_MP_STATE_SIZE);
    ioctl(this.fd, KVM_GET_MP_STATE, buf, "KVM_GET_MP_STATE", this.#what);
    return decodeMpState(buf);
  }

  setMpState(state: number): void {
    ioctl(this.fd, KVM_SET_MP_STATE, encodeMpState(state), "KVM_SET_MP_STATE", this.#what);
  }

  /** KVM_SET_SIGNAL_MASK: the signal mask in force while this thread is inside KVM_RUN. */
  setSignalMask(sigset: bigint): void {
    ioctl(this.fd, KVM_SET_SIGNAL_MASK, encodeSignalMask(sigset), "KVM_SET_SIGNAL_MASK", this.#what);
  }

  /** Maps (once) and returns the vCPU's kvm_run page. */
  mapRun(): KvmRunMapping {
    if (this.#run) return this.#run;
    const addr = mmap(
      this.mmapSize,
      PROT_READ | PROT_WRITE,
      MAP_SHARED,
      this.fd,
      0,
      `kvm_run of ${this.#what}`,
    );
    const bytes = viewOf(addr, this.mmapSize);
    this.#run = { addr, bytes, view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
    return this.#run;
  }

  /** Unmaps kvm_run and closes the fd. */
  close(): void {
    if (this.#run) {
      munmap(this.#run.addr, this.mmapSize, `kvm_run of ${this.#what}`);
      this.#run = undefined;
    }
    close(this.fd);
  }
}
