// The Linux virtio-pci modern driver against one virtio function (virtio_pci_modern.c, virtio_pci_common.c,
// virtio.c), as Script operations: reset and status read back; ACKNOWLEDGE, DRIVER; both words of the device
// features; the driver's features (offered ones, VERSION_1 always) in both words; FEATURES_OK and its read back;
// MSI-X on with the function masked, each entry programmed and unmasked, the function unmasked (vp_find_vqs: a vector
// per queue when the table has room, else one shared by the queues, else INTx and no vectors); config_msix_vector
// written and read back; each queue selected, its size read (sometimes halved), its vector written and read back,
// its rings written in two halves each (low RAM, apart per function and queue), queue_enable; DRIVER_OK. Then
// traffic: chains published and notified, the ISR read under INTx, device configuration read between two reads of
// config_generation and written (virtio-input's select, the balloon's actual); sometimes a removal (reset, MSI-X off).
import { PCI_COMMAND, PCI_COMMAND_MASTER, PCI_COMMAND_MEMORY } from "../../src/devices/pci/config_space.ts";
import { MSI_CONTROL } from "../../src/devices/pci/msi.ts";
import {
  MSIX_ENABLE,
  MSIX_ENTRY_ADDRESS_HI,
  MSIX_ENTRY_ADDRESS_LO,
  MSIX_ENTRY_DATA,
  MSIX_ENTRY_VECTOR_CONTROL,
  MSIX_FUNCTION_MASK,
  MSIX_TABLE_ENTRY_SIZE,
  MSIX_VECTOR_CTL_MASKED,
  PCI_CAP_ID_MSIX,
} from "../../src/devices/pci/msix.ts";
import {
  VIRTIO_F_VERSION_1,
  VIRTIO_MSI_NO_VECTOR,
  VIRTIO_STATUS_ACKNOWLEDGE,
  VIRTIO_STATUS_DRIVER,
  VIRTIO_STATUS_DRIVER_OK,
  VIRTIO_STATUS_FEATURES_OK,
  featureBit,
} from "../../src/devices/virtio/constants.ts";
import { availRingSize, descTableSize, USED_ALIGN } from "../../src/devices/virtio/split_queue.ts";
import {
  COMMON_CONFIG_GENERATION,
  COMMON_CONFIG_MSIX_VECTOR,
  COMMON_DEVICE_FEATURE,
  COMMON_DEVICE_FEATURE_SELECT,
  COMMON_DEVICE_STATUS,
  COMMON_DRIVER_FEATURE,
  COMMON_DRIVER_FEATURE_SELECT,
  COMMON_NUM_QUEUES,
  COMMON_QUEUE_DESC_HI,
  COMMON_QUEUE_DESC_LO,
  COMMON_QUEUE_DEVICE_HI,
  COMMON_QUEUE_DEVICE_LO,
  COMMON_QUEUE_DRIVER_HI,
  COMMON_QUEUE_DRIVER_LO,
  COMMON_QUEUE_ENABLE,
  COMMON_QUEUE_MSIX_VECTOR,
  COMMON_QUEUE_NOTIFY_OFF,
  COMMON_QUEUE_SELECT,
  COMMON_QUEUE_SIZE,
} from "../../src/devices/virtio/virtio_pci_common_config.ts";
import {
  DEVICE_CONFIG_OFFSET,
  ISR_OFFSET,
  MSIX_TABLE_OFFSET,
  NOTIFY_OFF_MULTIPLIER,
  NOTIFY_OFFSET,
} from "../../src/devices/virtio/virtio_pci_device.ts";
import { capabilities, configBytes } from "./capabilities.ts";
import { MSI_ADDRESS } from "./enumeration.ts";
import { NARROW_SIZES } from "./guest_access.ts";
import { driverBar0, type VirtioFunction } from "./pci_machine.ts";
import type { Script } from "./script.ts";

/** Where the driver puts its rings: one RING_STRIDE slot per function and queue from RING_AREA (low RAM). */
const RING_AREA = 0x10000;
const RING_STRIDE = 0x4000;
const RING_SLOTS_PER_FUNCTION = 8;
/** Message Control sits at the same offset in the MSI-X capability as in MSI's (PCI 3.0 section 6.8.2.3). */
const MSIX_CONTROL = MSI_CONTROL;
/** The IDT vector the first MSI-X message names (Linux picks any free one). */
const MSI_DATA_BASE = 0x40;
/** Bytes of device configuration the traffic reads and writes: every device's fields fit. */
const DEVICE_CONFIG_SPAN = 64;

/** The rings of queue `queue` of size `size` as the driver lays them out for function `fn`. */
export function ringsFor(
  fn: number,
  queue: number,
  size: number,
): { desc: number; avail: number; used: number } {
  const desc = RING_AREA + (fn * RING_SLOTS_PER_FUNCTION + queue) * RING_STRIDE;
  const avail = desc + descTableSize(size);
  const used = Math.ceil((avail + availRingSize(size)) / USED_ALIGN) * USED_ALIGN;
  return { desc, avail, used };
}

interface Probe {
  readonly s: Script;
  readonly f: VirtioFunction;
  readonly fn: number;
  readonly bar: number;
}

function setStatus(p: Probe, status: number): void {
  p.s.write(p.bar + COMMON_DEVICE_STATUS, 1, status);
  p.s.read(p.bar + COMMON_DEVICE_STATUS, 1);
}

function negotiate(p: Probe): number {
  const { s, bar } = p;
  setStatus(p, 0);
  let status = VIRTIO_STATUS_ACKNOWLEDGE;
  setStatus(p, status);
  status |= VIRTIO_STATUS_DRIVER;
  setStatus(p, status);
  const offered = p.f.pci.common.deviceFeatures;
  const wanted = (offered & BigInt.asUintN(64, s.rng.u64())) | featureBit(VIRTIO_F_VERSION_1);
  for (const select of [0, 1]) {
    s.write(bar + COMMON_DEVICE_FEATURE_SELECT, 4, select);
    s.read(bar + COMMON_DEVICE_FEATURE, 4);
  }
  for (const select of [0, 1]) {
    s.write(bar + COMMON_DRIVER_FEATURE_SELECT, 4, select);
    s.write(bar + COMMON_DRIVER_FEATURE, 4, (wanted >> BigInt(32 * select)) & 0xffff_ffffn);
  }
  status |= VIRTIO_STATUS_FEATURES_OK;
  setStatus(p, status);
  return status;
}

const msixCapability = (f: VirtioFunction) =>
  capabilities(configBytes((reg) => f.pci.readConfigRegister(reg))).find((c) => c.id === PCI_CAP_ID_MSIX);

/** MSI-X on with the entries it uses programmed: the vector of the configuration and of each queue. */
function enableMsix(p: Probe, queues: number): { config: number; queue: (q: number) => number } {
  const { s, f, bar } = p;
  const table = f.pci.msix.tableSize;
  const none = { config: VIRTIO_MSI_NO_VECTOR, queue: () => VIRTIO_MSI_NO_VECTOR };
  if (table < 2) return none;
  const perQueue = table >= queues + 1;
  const cap = msixCapability(f);
  if (!cap) return none;
  s.configWrite(f.address, cap.offset + MSIX_CONTROL, 2, MSIX_ENABLE | MSIX_FUNCTION_MASK);
  for (let v = 0; v < (perQueue ? queues + 1 : 2); v++) {
    const entry = bar + MSIX_TABLE_OFFSET + v * MSIX_TABLE_ENTRY_SIZE;
    s.write(entry + MSIX_ENTRY_VECTOR_CONTROL, 4, MSIX_VECTOR_CTL_MASKED);
    s.write(entry + MSIX_ENTRY_ADDRESS_LO, 4, MSI_ADDRESS);
    s.write(entry + MSIX_ENTRY_ADDRESS_HI, 4, 0);
    s.write(entry + MSIX_ENTRY_DATA, 4, MSI_DATA_BASE + v);
    s.write(entry + MSIX_ENTRY_VECTOR_CONTROL, 4, 0);
  }
  s.configWrite(f.address, cap.offset + MSIX_CONTROL, 2, MSIX_ENABLE);
  return { config: 0, queue: (q) => (perQueue ? q + 1 : 1) };
}

function setUpQueue(p: Probe, q: number, vector: number): void {
  const { s, f, bar } = p;
  s.write(bar + COMMON_QUEUE_SELECT, 2, q);
  s.read(bar + COMMON_QUEUE_SIZE, 2);
  const max = f.model.queueMaxSizes[q] ?? 0;
  const size = s.rng.chance(0.2) ? max >> 1 : max;
  s.write(bar + COMMON_QUEUE_SIZE, 2, size);
  s.write(bar + COMMON_QUEUE_MSIX_VECTOR, 2, vector);
  s.read(bar + COMMON_QUEUE_MSIX_VECTOR, 2);
  const rings = ringsFor(p.fn, q, size);
  for (const [lo, hi, addr] of [
    [COMMON_QUEUE_DESC_LO, COMMON_QUEUE_DESC_HI, rings.desc],
    [COMMON_QUEUE_DRIVER_LO, COMMON_QUEUE_DRIVER_HI, rings.avail],
    [COMMON_QUEUE_DEVICE_LO, COMMON_QUEUE_DEVICE_HI, rings.used],
  ] as const) {
    s.write(bar + lo, 4, addr);
    s.write(bar + hi, 4, 0);
  }
  s.read(bar + COMMON_QUEUE_NOTIFY_OFF, 2);
  s.write(bar + COMMON_QUEUE_ENABLE, 2, 1);
}

function traffic(p: Probe, queues: number, readIsr: boolean): void {
  const { s, bar } = p;
  for (let n = s.rng.int(8); n > 0; n--) {
    const q = s.rng.int(queues);
    s.chain(p.fn, q);
    s.write(bar + NOTIFY_OFFSET + NOTIFY_OFF_MULTIPLIER * q, 2, q);
    if (readIsr) s.read(bar + ISR_OFFSET, 1);
  }
  if (s.rng.chance(0.5)) {
    const at = bar + DEVICE_CONFIG_OFFSET + s.rng.int(DEVICE_CONFIG_SPAN);
    s.read(bar + COMMON_CONFIG_GENERATION, 1);
    if (s.rng.chance(0.3)) s.write(at, s.rng.pick(NARROW_SIZES), s.rng.u32());
    s.read(at, s.rng.pick(NARROW_SIZES));
    s.read(bar + COMMON_CONFIG_GENERATION, 1);
  }
}

/** The driver's probe of virtio function `fn` of the machine, then traffic, sometimes its removal. */
export function probeVirtio(s: Script, f: VirtioFunction, fn: number): void {
  const p: Probe = { s, f, fn, bar: driverBar0(f) };
  const queues = f.model.queueMaxSizes.length;
  s.configWrite(f.address, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
  let status = negotiate(p);
  s.read(p.bar + COMMON_NUM_QUEUES, 2);
  const vectors = enableMsix(p, queues);
  s.write(p.bar + COMMON_CONFIG_MSIX_VECTOR, 2, vectors.config);
  s.read(p.bar + COMMON_CONFIG_MSIX_VECTOR, 2);
  for (let q = 0; q < queues; q++) if (s.rng.chance(0.9)) setUpQueue(p, q, vectors.queue(q));
  status |= VIRTIO_STATUS_DRIVER_OK;
  setStatus(p, status);
  traffic(p, queues, vectors.config === VIRTIO_MSI_NO_VECTOR);
  if (s.rng.chance(0.2)) {
    setStatus(p, 0);
    const cap = msixCapability(f);
    if (cap) s.configWrite(f.address, cap.offset + MSIX_CONTROL, 2, 0);
  }
}
