// The PCI side of the machine: the root (configuration mechanism #1 at 0xCF8 and ECAM at 0xF400_0000), and one
// virtio-pci function per virtio device, in crosvm's order (block devices as given, then virtio-console ports,
// then rng). Each virtio device model runs in its own sandboxed device process, or with --disable-sandbox in a
// Worker of this process (single process mode, src/jail/device_process/device_runner.ts); this side keeps the virtio-pci transport registers and wires the data path around itself:
//   - each queue's notify address gets an ioeventfd that the device process waits on;
//   - each MSI-X vector gets an irqfd that the device process writes, bound by KVM to the vector's MSI route;
//   - events the device raises through the transport (configuration change) arrive on its event socket, which
//     the main thread's wait loop (src/base/wait_loop.ts) watches.
// The transports and the root are reached from the vCPU Workers through the MainThreadHub.
import {
  close,
  dup,
  EFD_CLOEXEC,
  EFD_NONBLOCK,
  eventfd,
  O_APPEND,
  O_CLOEXEC,
  O_CREAT,
  O_RDONLY,
  O_WRONLY,
  open,
  EPOLLERR,
  EPOLLHUP,
} from "../../ffi/libc.ts";
import { logger } from "../base/log.ts";
import { WaitLoop, type Watch } from "../base/wait_loop.ts";
import { writeResetControl } from "../devices/acpi/reset_control.ts";
import type { Bus } from "../devices/bus.ts";
import { EventFdIrq } from "../devices/irq.ts";
import { attachPciDevice } from "../devices/pci/attach.ts";
import { BarAllocator } from "../devices/pci/bar_allocator.ts";
import {
  formatPciAddress,
  PCI_CONFIG_IO_BASE,
  PCI_CONFIG_IO_LEN,
  PCIE_ECAM_BASE,
  PCIE_ECAM_SIZE,
  PciRoot,
} from "../devices/pci/pci_root.ts";
import { PciBarBusDevice, type PciDevice } from "../devices/pci/pci_device.ts";
import { PvPanic } from "../devices/pvpanic.ts";
import { VIRTIO_BAR, VirtioPciDevice } from "../devices/virtio/virtio_pci_device.ts";
import type { Vm } from "../hypervisor/vm.ts";
import { type DeviceProcess, startDeviceProcess } from "../jail/device_process/spawn.ts";
import type { GuestMemory } from "../vm_memory/guest_memory.ts";
import type { DiskOption, SerialParameters, VmConfig } from "./config.ts";
import { GsiRoutes } from "./gsi_routes.ts";
import type { MainThreadHub } from "./main_thread_hub.ts";

const log = logger("vmm::pci");

/** What one virtio device process is asked to run. */
interface VirtioDeviceSpec {
  readonly kind: string;
  readonly label: string;
  readonly options: unknown;
  readonly backing: number[];
  readonly queues: number;
}

export interface PciDevices {
  /** Number of block devices, in --block order (the control socket's DISK_INDEX). */
  readonly diskCount: number;
  /** Resizes disk `index` to `bytes`; rejects with a one-line reason. */
  resizeDisk(index: number, bytes: number): Promise<void>;
  /** Ends every device process (after the vCPUs stopped). */
  close(): Promise<void>;
}

function blockSpec(disk: DiskOption, index: number): VirtioDeviceSpec {
  return {
    kind: "block",
    label: `virtio-blk ${index} (${disk.path})`,
    options: {
      path: disk.path,
      readOnly: disk.ro,
      sparse: disk.sparse,
      blockSize: disk.blockSize,
      id: disk.id,
      direct: disk.direct,
    },
    backing: [],
    queues: 1,
  };
}

/** The output and input descriptors of a virtio-console port, as its --serial option asks. */
function consoleSpec(serial: SerialParameters): VirtioDeviceSpec {
  const backing: number[] = [];
  const options: { output?: number; input?: number } = {};
  if (serial.type === "stdout") options.output = backing.push(dup(1)) - 1;
  else if (serial.type === "file" && serial.path)
    options.output = backing.push(open(serial.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)) - 1;
  else if (serial.type !== "sink")
    log.warn(
      `virtio-console ${serial.num}: type=${serial.type} output is not supported; output is discarded`,
    );
  if (serial.input) options.input = backing.push(open(serial.input, O_RDONLY | O_CLOEXEC)) - 1;
  else if (serial.stdin) options.input = backing.push(dup(0)) - 1;
  return { kind: "console", label: `virtio-console ${serial.num}`, options, backing, queues: 2 };
}

function virtioSpecs(config: VmConfig): VirtioDeviceSpec[] {
  const specs = config.disks.map(blockSpec);
  for (const s of config.serials) if (s.hardware === "virtio-console") specs.push(consoleSpec(s));
  if (config.rng) specs.push({ kind: "rng", label: "virtio-rng", options: {}, backing: [], queues: 1 });
  return specs;
}

interface Attached {
  readonly spec: VirtioDeviceSpec;
  readonly child: DeviceProcess;
  readonly pci: VirtioPciDevice;
}

export async function createPciDevices(opts: {
  config: VmConfig;
  vm: Vm;
  memory: GuestMemory;
  io: Bus;
  mmio: Bus;
  hub: MainThreadHub;
  /** The reset eventfd: a reset-control write (0xCF9, inside the config window) signals it. */
  resetEventFd: number;
  /** Called once when a device process dies; the VM must stop with this message and a failure status. */
  onDeviceDied: (message: string) => void;
  /** With --pvpanic: called when the guest reports a panic through the pvpanic device. */
  onGuestPanic: () => void;
}): Promise<PciDevices> {
  const { config, vm, memory, io, mmio, hub } = opts;
  const root = new PciRoot();
  // Linux sizes every BAR by writing all-ones and then restores it; a BAR that really moves is not followed.
  root.onBarMoved = (d, index, from, to) =>
    log.debug(`${d.debugLabel}: BAR${index} 0x${from.toString(16)} -> 0x${to.toString(16)} (not remapped)`);
  const configIo = root.configIo((data) => writeResetControl(opts.resetEventFd, data));
  io.insert(hub.wrap(configIo), PCI_CONFIG_IO_BASE, PCI_CONFIG_IO_LEN);
  // Both configuration mechanisms answer absent functions in the vCPU thread (their vcpuShare, from the root's
  // presence map); Linux probes every slot of the 64 buses the MCFG announces at boot.
  mmio.insert(hub.wrap(root.ecam()), PCIE_ECAM_BASE, PCIE_ECAM_SIZE);

  const allocator = new BarAllocator(memory.end);
  const routes = new GsiRoutes(vm);
  /** attachPciDevice maps the BARs for this thread; the vCPU Workers reach them through the hub instead. */
  const attachThroughHub = (device: PciDevice) => {
    const at = attachPciDevice(root, allocator, mmio, device);
    for (const bar of at.bars) {
      mmio.remove(bar.addr);
      mmio.insert(hub.wrap(new PciBarBusDevice(device, bar.index)), bar.addr, bar.size);
    }
    return at;
  };
  const fds: number[] = [];
  const attached: Attached[] = [];
  const sandbox = config.disableSandbox
    ? undefined
    : { pivotRoot: config.pivotRoot, logFailures: config.seccompLogFailures };

  const started: DeviceProcess[] = [];
  try {
    const plans = virtioSpecs(config).map((spec) => {
      fds.push(...spec.backing);
      const vectors = spec.queues + 1;
      const queueEvents = Array.from({ length: spec.queues }, () => eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
      const irqfds = Array.from({ length: vectors }, () => eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
      fds.push(...queueEvents, ...irqfds);
      return { spec, vectors, queueEvents, irqfds };
    });
    // Every device process starts at once: each is a runtime of its own that takes a while to come up. They are
    // attached below in spec order, so PCI addresses do not depend on which one is ready first.
    const outcomes = await Promise.allSettled(
      plans.map(({ spec, queueEvents, irqfds }) =>
        startDeviceProcess({
          kind: spec.kind,
          options: spec.options,
          memory,
          queueEvents,
          irqfds,
          backing: spec.backing,
          sandbox,
          inProcess: config.disableSandbox,
          onDeviceDied: opts.onDeviceDied,
        }),
      ),
    );
    for (const o of outcomes) if (o.status === "fulfilled") started.push(o.value);
    const failure = outcomes.find((o) => o.status === "rejected");
    if (failure) throw failure.reason;

    for (const [i, { spec, vectors, queueEvents, irqfds }] of plans.entries()) {
      const child = started[i]!;
      const pci = new VirtioPciDevice(child.device, memory, { msixVectors: vectors });
      pci.msix.vectorIrq = (v) => (irqfds[v] === undefined ? undefined : new EventFdIrq(irqfds[v]));
      const listeners = irqfds.map((fd, v) => routes.addMsiVector(fd, `${spec.label} vector ${v}`));
      pci.msix.onVectorChange = (v, state) => listeners[v]?.(state);

      const at = attachThroughHub(pci);
      const bar0 = at.bars.find((b) => b.index === VIRTIO_BAR);
      if (!bar0) throw new Error(`${spec.label}: BAR${VIRTIO_BAR} was not placed`);
      for (const n of pci.notifyRegisters()) {
        vm.registerIoevent(queueEvents[n.queue]!, { space: "mmio", addr: bar0.addr + n.barOffset }, n.width);
      }
      log.debug(`${spec.label} at ${formatPciAddress(at.address)}, BAR0 0x${bar0.addr.toString(16)}`);
      attached.push({ spec, child, pci });
    }
  } catch (e) {
    await Promise.all(started.map((child) => child.stop()));
    for (const fd of fds) close(fd);
    throw e;
  }

  // Test hook for the sandbox tests: make one device process call a syscall its policy denies.
  const victim =
    process.env.CROSVM_TEST_HOOKS === "1" ? process.env.CROSVM_TEST_DENIED_SYSCALL_DEVICE : undefined;
  for (const a of attached) if (a.spec.kind === victim) a.child.device.triggerDeniedSyscall();

  // Configuration-change and needs-reset events come through the transport, so the main thread drains them when
  // the wait loop says an event socket is readable; a hung-up socket (the device ended) is no longer watched.
  const eventWatches = attached.map(({ spec, child, pci }) => {
    const watch: Watch = WaitLoop.shared().watch(child.device.eventFd, `${spec.label} event socket`, (ev) => {
      child.device.drainEvents(pci.interrupt);
      if (ev & (EPOLLHUP | EPOLLERR)) watch.cancel();
    });
    return watch;
  });

  // crosvm's --pvpanic: after the virtio functions, so their addresses do not depend on it.
  if (config.pvpanic) {
    const at = attachThroughHub(new PvPanic({ onPanic: opts.onGuestPanic }));
    log.debug(`pvpanic at ${formatPciAddress(at.address)}`);
  }

  const disks = attached.filter((a) => a.spec.kind === "block");
  return {
    diskCount: disks.length,
    async resizeDisk(index, bytes) {
      const disk = disks[index];
      if (!disk) throw new Error(`no disk ${index} (the VM has ${disks.length})`);
      if (config.disks[index]?.ro) throw new Error(`disk ${index} is read-only`);
      await disk.child.device.resize(bytes);
    },
    async close() {
      for (const w of eventWatches) w.cancel();
      await Promise.all(attached.map((a) => a.child.stop()));
      for (const fd of fds.splice(0)) {
        try {
          close(fd);
        } catch {}
      }
    },
  };
}
