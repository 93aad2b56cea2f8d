// The guest kernel command line, assembled in crosvm's order: "panic=-1" (x86_64 get_base_linux_cmdline), console=
// for every console port and earlycon= for the first earlycon port (arch/src/serial.rs get_serial_cmdline), every
// -p parameter in order, then "root=/dev/vdX ro|rw" for the root disk (src/crosvm/cmdline.rs appends it to the
// params after the user's). Only printable ASCII is allowed (crosvm kernel_cmdline valid_char: ' '..='~').
// The serial ports and disks come as plain values (arch sits below the devices layer): their rules (one root disk,
// earlycon only on hardware=serial, ...) were checked when the VM's configuration was built.
import { CMDLINE_MAX_SIZE } from "./layout.ts";

export class CmdlineError extends Error {
  override name = "CmdlineError";
}

/** I/O ports of COM1..COM4, which hardware=serial num=1..4 occupy (crosvm arch/src/serial.rs SERIAL_ADDR). */
export const SERIAL_PORT_ADDRS = [0x3f8, 0x2f8, 0x3e8, 0x2e8] as const;

/** What the command line needs of a serial port. */
export interface CmdlineSerialPort {
  /** "serial" is ttyS{num-1}, "virtio-console" hvc{num-1}; other hardware has no console device in the guest. */
  readonly hardware: string;
  readonly num: number;
  readonly console: boolean;
  readonly earlycon: boolean;
}

/** What the command line needs of a disk; the i-th disk is /dev/vd{a+i}. */
export interface CmdlineDisk {
  readonly root: boolean;
  readonly ro: boolean;
}

function printable(text: string, what: string): void {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) {
      throw new CmdlineError(
        `${what} "${JSON.stringify(text).slice(1, -1)}" contains character code ${c} ` +
          "(the kernel command line takes printable ASCII only)",
      );
    }
  }
}

/** A kernel command line under construction; every piece is checked when added. */
export class Cmdline {
  #line = "";

  /** Appends "key=value"; neither part may contain a space or '='. */
  insert(key: string, value: string): this {
    for (const [part, what] of [
      [key, "key"],
      [value, "value"],
    ] as const) {
      printable(part, `kernel command line ${what}`);
      if (part.includes(" ") || part.includes("=")) {
        throw new CmdlineError(`kernel command line ${what} "${part}" contains a space or '='`);
      }
    }
    return this.insertStr(`${key}=${value}`);
  }

  /** Appends a free-form parameter string (it may hold several space-separated parameters). */
  insertStr(text: string): this {
    printable(text, "kernel command line parameter");
    if (text === "") return this;
    this.#line = this.#line === "" ? text : `${this.#line} ${text}`;
    return this;
  }

  toString(): string {
    return this.#line;
  }

  /** The NUL-terminated bytes to place in guest memory; refuses a line longer than `maxLen` (NUL excluded). */
  toBytes(maxLen: number): Uint8Array {
    const limit = Math.min(maxLen, CMDLINE_MAX_SIZE - 1);
    if (this.#line.length > limit) {
      throw new CmdlineError(
        `kernel command line is ${this.#line.length} bytes; the kernel accepts at most ${limit} ` +
          `(the line starts "${this.#line.slice(0, 40)}...")`,
      );
    }
    const out = new Uint8Array(this.#line.length + 1);
    for (let i = 0; i < this.#line.length; i++) out[i] = this.#line.charCodeAt(i);
    return out;
  }
}

/** "/dev/vda" for index 0, ..., "/dev/vdz", "/dev/vdaa" for 26 (crosvm format_disk_letter). */
export function diskDeviceName(prefix: string, index: number): string {
  let letters = "";
  let i = index;
  for (;;) {
    letters = String.fromCharCode(0x61 + (i % 26)) + letters;
    i = Math.floor(i / 26);
    if (i === 0) break;
    i -= 1;
  }
  return prefix + letters;
}

/**
 * console= for every console port and earlycon= for the first hardware=serial earlycon port, `serials` being in
 * crosvm's port order (by hardware, then num).
 */
export function serialCmdline(cmdline: Cmdline, serials: readonly CmdlineSerialPort[]): void {
  for (const s of serials.filter((p) => p.console)) {
    if (s.hardware === "serial") cmdline.insert("console", `ttyS${s.num - 1}`);
    else if (s.hardware === "virtio-console") cmdline.insert("console", `hvc${s.num - 1}`);
  }
  const early = serials.find((p) => p.earlycon && p.hardware === "serial");
  const port = early && SERIAL_PORT_ADDRS[early.num - 1];
  if (port !== undefined) cmdline.insert("earlycon", `uart8250,io,0x${port.toString(16)}`);
}

/**
 * "root=/dev/vdX ro|rw" for the first disk marked root, else "root=/dev/sdX ro|rw" for the first --scsi-block disk
 * marked root (disk i is target i, which Linux names sd{a+i}), else "root=/dev/pmemN ro|rw" for the first pmem
 * device marked root (there is at most one in all), or undefined.
 */
export function rootParam(
  disks: readonly CmdlineDisk[],
  scsiDisks: readonly CmdlineDisk[] = [],
  pmems: readonly CmdlineDisk[] = [],
): string | undefined {
  for (const [prefix, list] of [
    ["/dev/vd", disks],
    ["/dev/sd", scsiDisks],
  ] as const) {
    const index = list.findIndex((d) => d.root);
    if (index >= 0) return `root=${diskDeviceName(prefix, index)} ${list[index]!.ro ? "ro" : "rw"}`;
  }
  const pmem = pmems.findIndex((d) => d.root);
  return pmem < 0 ? undefined : `root=/dev/pmem${pmem} ${pmems[pmem]!.ro ? "ro" : "rw"}`;
}

export interface CmdlineConfig {
  /** In crosvm's port order (by hardware, then num). */
  readonly serials: readonly CmdlineSerialPort[];
  readonly disks: readonly CmdlineDisk[];
  /** --scsi-block disks, in order (absent: none). */
  readonly scsiDisks?: readonly CmdlineDisk[];
  /** virtio-pmem devices; the i-th is /dev/pmem{i}. */
  readonly pmems?: readonly CmdlineDisk[];
  /** -p/--params, in order. */
  readonly params: readonly string[];
}

/** The full command line crosvm would give this VM. */
export function buildCmdline(cfg: CmdlineConfig): Cmdline {
  const cmdline = new Cmdline().insertStr("panic=-1");
  serialCmdline(cmdline, cfg.serials);
  for (const p of cfg.params) cmdline.insertStr(p);
  const root = rootParam(cfg.disks, cfg.scsiDisks, cfg.pmems);
  if (root !== undefined) cmdline.insertStr(root);
  return cmdline;
}
