// KVM ioctl request numbers and constants, from the kernel's include/uapi/linux/kvm.h (generic ioctls, exit
// reasons, capabilities) and arch/x86/include/uapi/asm/kvm.h (x86 structs). Request numbers are the kernel's
// _IO/_IOR/_IOW/_IOWR encodings with KVMIO = 0xAE; sizes inside them are those of the structs in kvm_structs.ts.
// Also the dedicated KVM_RUN binding used by the vCPU loop.
import { dlopen, FFIType } from "bun:ffi";

const KVMIO = 0xae;
const IOC_WRITE = 1;
const IOC_READ = 2;

/** _IOC(dir, type, nr, size) from include/uapi/asm-generic/ioctl.h (dir << 30 | size << 16 | type << 8 | nr). */
function ioc(dir: number, nr: number, size: number): number {
  return ((dir << 30) >>> 0) + ((size << 16) | (KVMIO << 8) | nr);
}
const io = (nr: number) => ioc(0, nr, 0);
const ior = (nr: number, size: number) => ioc(IOC_READ, nr, size);
const iow = (nr: number, size: number) => ioc(IOC_WRITE, nr, size);
const iowr = (nr: number, size: number) => ioc(IOC_READ | IOC_WRITE, nr, size);

/** KVM_API_VERSION: the only version the kernel has reported since 2.6.22. */
export const KVM_API_VERSION = 12;

// System ioctls (on the /dev/kvm fd).
export const KVM_GET_API_VERSION = io(0x00);
export const KVM_CREATE_VM = io(0x01);
export const KVM_GET_MSR_INDEX_LIST = iowr(0x02, 4); // struct kvm_msr_list header
export const KVM_CHECK_EXTENSION = io(0x03);
export const KVM_GET_VCPU_MMAP_SIZE = io(0x04);
export const KVM_GET_SUPPORTED_CPUID = iowr(0x05, 8); // struct kvm_cpuid2 header

// VM ioctls.
export const KVM_CREATE_VCPU = io(0x41);
export const KVM_SET_USER_MEMORY_REGION = iow(0x46, 32);
export const KVM_SET_TSS_ADDR = io(0x47);
export const KVM_SET_IDENTITY_MAP_ADDR = iow(0x48, 8);
export const KVM_CREATE_IRQCHIP = io(0x60);
export const KVM_IRQ_LINE = iow(0x61, 8);
export const KVM_SET_GSI_ROUTING = iow(0x6a, 8); // struct kvm_irq_routing header
export const KVM_IRQFD = iow(0x76, 32);
export const KVM_CREATE_PIT2 = iow(0x77, 64);
export const KVM_IOEVENTFD = iow(0x79, 64);
export const KVM_ENABLE_CAP = iow(0xa3, 104);
export const KVM_SIGNAL_MSI = iow(0xa5, 32);

// vCPU ioctls.
export const KVM_RUN = io(0x80);
export const KVM_GET_REGS = ior(0x81, 144);
export const KVM_SET_REGS = iow(0x82, 144);
export const KVM_GET_SREGS = ior(0x83, 312);
export const KVM_SET_SREGS = iow(0x84, 312);
export const KVM_GET_MSRS = iowr(0x88, 8); // struct kvm_msrs header
export const KVM_SET_MSRS = iow(0x89, 8);
export const KVM_SET_SIGNAL_MASK = iow(0x8b, 4); // struct kvm_signal_mask header
export const KVM_GET_FPU = ior(0x8c, 416);
export const KVM_SET_FPU = iow(0x8d, 416);
export const KVM_GET_LAPIC = ior(0x8e, 1024);
export const KVM_SET_LAPIC = iow(0x8f, 1024);
export const KVM_SET_CPUID2 = iow(0x90, 8); // struct kvm_cpuid2 header
export const KVM_GET_MP_STATE = ior(0x98, 4);
export const KVM_SET_MP_STATE = iow(0x99, 4);

// Capabilities (KVM_CHECK_EXTENSION arguments).
export const KVM_CAP_IRQCHIP = 0;
export const KVM_CAP_USER_MEMORY = 3;
export const KVM_CAP_SET_TSS_ADDR = 4;
export const KVM_CAP_EXT_CPUID = 7;
export const KVM_CAP_NR_VCPUS = 9;
export const KVM_CAP_MP_STATE = 14;
export const KVM_CAP_IRQ_ROUTING = 25;
export const KVM_CAP_READONLY_MEM = 31;
export const KVM_CAP_IRQFD = 32;
export const KVM_CAP_PIT2 = 33;
export const KVM_CAP_IOEVENTFD = 36;
export const KVM_CAP_SET_IDENTITY_MAP_ADDR = 37;
export const KVM_CAP_MAX_VCPUS = 66;
export const KVM_CAP_TSC_DEADLINE_TIMER = 72;
export const KVM_CAP_SIGNAL_MSI = 77;
export const KVM_CAP_IMMEDIATE_EXIT = 136;

/** Capability names for error messages ("KVM_CAP_IRQFD is not supported by /dev/kvm"). */
export const KVM_CAP_NAMES: Readonly<Record<number, string>> = {
  [KVM_CAP_IRQCHIP]: "KVM_CAP_IRQCHIP",
  [KVM_CAP_TSC_DEADLINE_TIMER]: "KVM_CAP_TSC_DEADLINE_TIMER",
  [KVM_CAP_USER_MEMORY]: "KVM_CAP_USER_MEMORY",
  [KVM_CAP_SET_TSS_ADDR]: "KVM_CAP_SET_TSS_ADDR",
  [KVM_CAP_EXT_CPUID]: "KVM_CAP_EXT_CPUID",
  [KVM_CAP_NR_VCPUS]: "KVM_CAP_NR_VCPUS",
  [KVM_CAP_MP_STATE]: "KVM_CAP_MP_STATE",
  [KVM_CAP_IRQ_ROUTING]: "KVM_CAP_IRQ_ROUTING",
  [KVM_CAP_READONLY_MEM]: "KVM_CAP_READONLY_MEM",
  [KVM_CAP_IRQFD]: "KVM_CAP_IRQFD",
  [KVM_CAP_PIT2]: "KVM_CAP_PIT2",
  [KVM_CAP_IOEVENTFD]: "KVM_CAP_IOEVENTFD",
  [KVM_CAP_SET_IDENTITY_MAP_ADDR]: "KVM_CAP_SET_IDENTITY_MAP_ADDR",
  [KVM_CAP_MAX_VCPUS]: "KVM_CAP_MAX_VCPUS",
  [KVM_CAP_SIGNAL_MSI]: "KVM_CAP_SIGNAL_MSI",
  [KVM_CAP_IMMEDIATE_EXIT]: "KVM_CAP_IMMEDIATE_EXIT",
};

// kvm_run.exit_reason values.
export const KVM_EXIT_UNKNOWN = 0;
export const KVM_EXIT_EXCEPTION = 1;
export const KVM_EXIT_IO = 2;
export const KVM_EXIT_HYPERCALL = 3;
export const KVM_EXIT_DEBUG = 4;
export const KVM_EXIT_HLT = 5;
export const KVM_EXIT_MMIO = 6;
export const KVM_EXIT_IRQ_WINDOW_OPEN = 7;
export const KVM_EXIT_SHUTDOWN = 8;
export const KVM_EXIT_FAIL_ENTRY = 9;
export const KVM_EXIT_INTR = 10;
export const KVM_EXIT_SET_TPR = 11;
export const KVM_EXIT_TPR_ACCESS = 12;
export const KVM_EXIT_NMI = 16;
export const KVM_EXIT_INTERNAL_ERROR = 17;
export const KVM_EXIT_SYSTEM_EVENT = 24;
export const KVM_EXIT_IOAPIC_EOI = 26;
export const KVM_EXIT_X86_RDMSR = 29;
export const KVM_EXIT_X86_WRMSR = 30;

export const KVM_EXIT_NAMES: Readonly<Record<number, string>> = {
  0: "KVM_EXIT_UNKNOWN",
  1: "KVM_EXIT_EXCEPTION",
  2: "KVM_EXIT_IO",
  3: "KVM_EXIT_HYPERCALL",
  4: "KVM_EXIT_DEBUG",
  5: "KVM_EXIT_HLT",
  6: "KVM_EXIT_MMIO",
  7: "KVM_EXIT_IRQ_WINDOW_OPEN",
  8: "KVM_EXIT_SHUTDOWN",
  9: "KVM_EXIT_FAIL_ENTRY",
  10: "KVM_EXIT_INTR",
  11: "KVM_EXIT_SET_TPR",
  12: "KVM_EXIT_TPR_ACCESS",
  16: "KVM_EXIT_NMI",
  17: "KVM_EXIT_INTERNAL_ERROR",
  24: "KVM_EXIT_SYSTEM_EVENT",
  26: "KVM_EXIT_IOAPIC_EOI",
  29: "KVM_EXIT_X86_RDMSR",
  30: "KVM_EXIT_X86_WRMSR",
};

// kvm_run.io.direction.
export const KVM_EXIT_IO_IN = 0;
export const KVM_EXIT_IO_OUT = 1;

// kvm_run.internal.suberror.
export const KVM_INTERNAL_ERROR_EMULATION = 1;
export const KVM_INTERNAL_ERROR_SIMUL_EX = 2;
export const KVM_INTERNAL_ERROR_DELIVERY_EV = 3;
export const KVM_INTERNAL_ERROR_NAMES: Readonly<Record<number, string>> = {
  1: "emulation failure",
  2: "exception while delivering an exception",
  3: "event delivery failed",
};

// kvm_run.system_event.type.
export const KVM_SYSTEM_EVENT_SHUTDOWN = 1;
export const KVM_SYSTEM_EVENT_RESET = 2;
export const KVM_SYSTEM_EVENT_CRASH = 3;

// struct kvm_userspace_memory_region.flags.
export const KVM_MEM_LOG_DIRTY_PAGES = 1;
export const KVM_MEM_READONLY = 2;

// struct kvm_pit_config.flags.
export const KVM_PIT_SPEAKER_DUMMY = 1;

// struct kvm_ioeventfd.flags (bits of enum kvm_ioeventfd_flag_nr_*).
export const KVM_IOEVENTFD_FLAG_DATAMATCH = 1;
export const KVM_IOEVENTFD_FLAG_PIO = 2;
export const KVM_IOEVENTFD_FLAG_DEASSIGN = 4;

// struct kvm_irqfd.flags.
export const KVM_IRQFD_FLAG_DEASSIGN = 1;
export const KVM_IRQFD_FLAG_RESAMPLE = 2;

// struct kvm_irq_routing_entry.type and the irqchip numbers of arch/x86/include/uapi/asm/kvm.h.
export const KVM_IRQ_ROUTING_IRQCHIP = 1;
export const KVM_IRQ_ROUTING_MSI = 2;
export const KVM_IRQCHIP_PIC_MASTER = 0;
export const KVM_IRQCHIP_PIC_SLAVE = 1;
export const KVM_IRQCHIP_IOAPIC = 2;

// struct kvm_mp_state.mp_state.
export const KVM_MP_STATE_RUNNABLE = 0;
export const KVM_MP_STATE_UNINITIALIZED = 1;
export const KVM_MP_STATE_INIT_RECEIVED = 2;
export const KVM_MP_STATE_HALTED = 3;
export const KVM_MP_STATE_SIPI_RECEIVED = 4;

// The vCPU loop calls KVM_RUN through its own symbol whose arguments are all 32-bit integers, the cheapest
// signature for bun:ffi to marshal (KVM_RUN = 0xAE80 and its argument is 0, so nothing is lost; the kernel reads
// the request as an unsigned int).
const runLib = dlopen("libc.so.6", {
  ioctl: { args: [FFIType.i32, FFIType.u32, FFIType.i32], returns: FFIType.i32 },
});

/** ioctl(vcpuFd, KVM_RUN, 0): returns 0, or -1 with errno set (read it with libc.ts `errno()`). */
export const kvmRunIoctl: (vcpuFd: number, request: number, arg: number) => number = runLib.symbols.ioctl;

// kvmclock control (include/uapi/linux/kvm.h): the VM-wide kvmclock value (struct kvm_clock_data, 48 bytes, in
// kvm_structs.ts) and the per-vCPU "paused by the host" flag the guest's soft-lockup watchdog reads.
export const KVM_SET_CLOCK = iow(0x7b, 48);
export const KVM_GET_CLOCK = ior(0x7c, 48);
export const KVM_KVMCLOCK_CTRL = io(0xad);

// struct kvm_clock_data.flags.
export const KVM_CLOCK_TSC_STABLE = 2;
export const KVM_CLOCK_REALTIME = 1 << 2;
export const KVM_CLOCK_HOST_TSC = 1 << 3;
