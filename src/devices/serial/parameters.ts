// What one serial device is (crosvm's SerialParameters, devices/src/serial_device.rs) and the rules a set of them
// follows: the per-port checks of crosvm's validate_serial_parameters (src/crosvm/config.rs) and the serial device
// constructors, the set-wide checks of crosvm's cmdline.rs (one console, one stdin, one earlycon, num unique per
// hardware), and set_default_serial_parameters (arch/src/serial.rs). Each rule lives only here: the command line
// applies them when it builds a VmConfig, and the devices and the kernel command line trust a VmConfig's ports.

export const SERIAL_TYPES = ["stdout", "file", "sink", "syslog", "unix"] as const;
export type SerialType = (typeof SERIAL_TYPES)[number];

/** In the order of crosvm's `SerialHardware` enum, which orders its serial BTreeMap. */
export const SERIAL_HARDWARE = ["serial", "virtio-console", "debugcon"] as const;
export type SerialHardware = (typeof SERIAL_HARDWARE)[number];

/** The PC has four COM ports (COM1-COM4). */
export const COM_PORT_COUNT = 4;
/** OVMF's debugcon port, crosvm's default for hardware=debugcon. */
export const DEFAULT_DEBUGCON_PORT = 0x402;

export interface SerialParameters {
  type: SerialType;
  hardware: SerialHardware;
  /** 1-based port number: COM1..COM4 for hardware=serial, hvc0.. for virtio-console. */
  num: number;
  /** Output file (type=file) or socket path (type=unix). */
  path?: string;
  /** File to read guest input from instead of stdin. */
  input?: string;
  /** This port is the guest's console (console=ttyS0 / hvc0 on the kernel command line). */
  console: boolean;
  /** This port carries early boot output (earlycon=uart8250,io,0x3f8). */
  earlycon: boolean;
  /** Guest input comes from the VMM's stdin. */
  stdin: boolean;
  /** I/O port of a debugcon device (hardware=debugcon); crosvm's default is 0x402. */
  debugconPort: number;
}

/** A rule a serial port breaks: the parameter at fault and what it should have been. */
export interface SerialProblem {
  readonly key: "input" | "num" | "path" | "earlycon";
  readonly expected: string;
}

/** The fields the per-port rules read (the same names in SerialParameters and in the --serial option's keys). */
type PortFields = Pick<SerialParameters, "type" | "num" | "path" | "input" | "earlycon" | "stdin"> & {
  hardware: string;
};

/** crosvm validate_serial_parameters and the device constructors' checks; `undefined` when the port is valid. */
export function serialPortProblem(s: PortFields): SerialProblem | undefined {
  if (s.stdin && s.input !== undefined) return { key: "input", expected: "no input file when stdin is set" };
  if (s.hardware === "serial" && s.num > COM_PORT_COUNT)
    return { key: "num", expected: "1 to 4 for hardware=serial (COM1-COM4)" };
  if ((s.type === "file" || s.type === "unix") && s.path === undefined)
    return { key: "path", expected: `a path for type=${s.type}` };
  if (s.earlycon && s.hardware !== "serial")
    return { key: "earlycon", expected: "false unless hardware=serial" };
  return undefined;
}

const describe = (s: SerialParameters) => `${s.hardware} device ${s.num}`;

/**
 * crosvm's set-wide checks (cmdline.rs): the first port of `ports` that conflicts with an earlier one, with the
 * reason; `undefined` when the set is valid.
 */
export function serialSetProblem(
  ports: readonly SerialParameters[],
): { index: number; message: string } | undefined {
  for (const [index, s] of ports.entries()) {
    const earlier = ports.slice(0, index);
    const same = earlier.find((p) => p.hardware === s.hardware && p.num === s.num);
    if (same)
      return { index, message: `${describe(s)} is given more than once (num must be unique per hardware)` };
    const earlycon = earlier.find((p) => p.earlycon);
    if (s.earlycon && earlycon) return { index, message: `${describe(earlycon)} already set as earlycon` };
    const stdin = earlier.find((p) => p.stdin);
    if (s.stdin && stdin) return { index, message: `${describe(stdin)} already connected to standard input` };
    const console = earlier.find((p) => p.console);
    if (s.console && console) return { index, message: `${describe(console)} is already the console` };
  }
  return undefined;
}

function sinkPort(num: number): SerialParameters {
  return {
    type: "sink",
    hardware: "serial",
    num,
    console: false,
    earlycon: false,
    stdin: false,
    debugconPort: DEFAULT_DEBUGCON_PORT,
  };
}

/**
 * crosvm's set_default_serial_parameters: when no port is the console and COM1 is not configured, COM1 becomes a
 * stdout console reading stdin; every COM port not configured becomes a sink. Returns a new list in crosvm's order
 * (by hardware, then num). A list that already went through it comes back unchanged.
 */
export function withDefaultSerialParameters(serials: readonly SerialParameters[]): SerialParameters[] {
  const out = [...serials];
  const has = (num: number) => out.some((p) => p.hardware === "serial" && p.num === num);
  if (!out.some((p) => p.console) && !has(1))
    out.push({ ...sinkPort(1), type: "stdout", console: true, stdin: true });
  for (let num = 1; num <= COM_PORT_COUNT; num++) if (!has(num)) out.push(sinkPort(num));
  return out.sort(
    (a, b) => SERIAL_HARDWARE.indexOf(a.hardware) - SERIAL_HARDWARE.indexOf(b.hardware) || a.num - b.num,
  );
}
