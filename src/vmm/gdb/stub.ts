// The GDB stub's protocol side (gdb manual, "Remote Protocol" > "Packets", "General Query Packets", "Stop Reply
// Packets"): decodes one debugger's packets, answers them from a DebugTarget and reports stops. All-stop mode:
// every vCPU stops when one does; threads are vCPUs, numbered from 1. What the target cannot do is answered with
// an error (`E..`) or, for a packet we do not implement, the empty reply gdb takes as "unsupported".
import {
  G_PACKET_BYTES,
  REGISTERS,
  REGISTER_OFFSETS,
  RegisterWriteError,
  targetXml,
} from "./x86_64_registers.ts";
import { fromHex, toHex } from "./rsp_codec.ts";

/** Why the VM stopped, as the stop reply says it. */
export type StopReason = "initial" | "interrupt" | "swbreak" | "hwbreak" | "step";

export interface DebugTarget {
  readonly cpuCount: number;
  /** The `g` layout (x86_64_registers.ts) of a stopped vCPU. */
  readRegisters(cpu: number): Uint8Array;
  /** Throws RegisterWriteError for a value the vCPU cannot take. */
  writeRegisters(cpu: number, bytes: Uint8Array): void;
  /** Guest virtual memory through `cpu`'s page tables; fewer bytes than asked when the range runs into a hole. */
  readMemory(cpu: number, addr: bigint, length: number): Uint8Array;
  /** Returns false when some byte is not writable guest RAM (nothing is written then). */
  writeMemory(cpu: number, addr: bigint, data: Uint8Array): boolean;
  insertBreakpoint(type: "sw" | "hw", cpu: number, addr: bigint): boolean;
  removeBreakpoint(type: "sw" | "hw", cpu: number, addr: bigint): boolean;
  /** Lets every vCPU run; `stepCpu` executes one instruction and stops the VM again. */
  resume(stepCpu?: number): void;
  /** Stops every vCPU (resolves once all are stopped); the target then reports the stop (onStop). */
  interrupt(): Promise<void>;
  /** Removes every breakpoint and lets the VM run on. */
  detach(): void;
  /** Ends the VM. */
  kill(): void;
}

/** A guest virtual memory read or write longer than this is refused (one packet is at most 16 KiB). */
export const MAX_MEMORY_BYTES = 0x1000;
const PACKET_SIZE = 0x4000;

const OK = "OK";
const E_BAD_ARGS = "E01";
const E_NO_MEMORY = "E14"; // EFAULT, as gdbserver answers for unreadable memory
const E_REFUSED = "E16";

/** One debugger's session with the target. `send` writes a reply or stop packet's data (the server frames it). */
export class GdbStub {
  /** Hg's vCPU (registers and memory) and Hc's (single step); 0-based. */
  #gCpu = 0;
  #cCpu = 0;
  #running = false;
  #lastStop: { cpu: number; reason: StopReason } = { cpu: 0, reason: "initial" };

  constructor(
    readonly target: DebugTarget,
    readonly send: (data: string) => void,
  ) {}

  get running(): boolean {
    return this.#running;
  }

  /** The target stopped (all vCPUs): report it if the debugger is waiting for a stop. */
  stopped(cpu: number, reason: StopReason): void {
    this.#lastStop = { cpu, reason };
    this.#gCpu = cpu;
    this.#cCpu = cpu;
    if (!this.#running) return;
    this.#running = false;
    this.send(this.#stopReply());
  }

  /** Ctrl-C from the debugger. */
  async interrupt(): Promise<void> {
    if (this.#running) await this.target.interrupt();
  }

  #stopReply(): string {
    const { cpu, reason } = this.#lastStop;
    const signal = reason === "interrupt" ? "02" : "05";
    const extra = reason === "swbreak" ? "swbreak:;" : reason === "hwbreak" ? "hwbreak:;" : "";
    return `T${signal}thread:${(cpu + 1).toString(16)};${extra}`;
  }

  /** Answers one packet; returns the reply, or undefined when none is due now (resume, kill). */
  handle(packet: string): string | undefined {
    const cmd = packet[0];
    const rest = packet.slice(1);
    switch (cmd) {
      case "?":
        return this.#stopReply();
      case "q":
        return this.#query(rest);
      case "Q":
        return "";
      case "H":
        return this.#setThread(rest);
      case "T":
        return this.#cpuOf(rest) !== undefined ? OK : E_BAD_ARGS;
      case "g":
        return toHex(this.target.readRegisters(this.#gCpu));
      case "G":
        return this.#writeRegisters(rest);
      case "p":
        return this.#readRegister(rest);
      case "P":
        return this.#writeRegister(rest);
      case "m":
        return this.#readMemory(rest);
      case "M":
        return this.#writeMemory(rest);
      case "Z":
      case "z":
        return this.#breakpoint(cmd === "Z", rest);
      case "c":
      case "s":
        if (rest !== "") return E_BAD_ARGS; // resuming at another address is not supported
        this.#running = true;
        this.target.resume(cmd === "s" ? this.#cCpu : undefined);
        return undefined;
      case "D":
        this.target.detach();
        return OK;
      case "k":
        this.target.kill();
        return undefined;
      case "v":
        // vCont is left out on purpose: gdb then steps with Hc + s. vMustReplyEmpty and the rest: unsupported.
        return "";
      default:
        return "";
    }
  }

  #query(q: string): string {
    if (q.startsWith("Supported"))
      return `PacketSize=${PACKET_SIZE.toString(16)};qXfer:features:read+;swbreak+;hwbreak+`;
    if (q === "Attached") return "1";
    if (q === "C") return `QC${(this.#gCpu + 1).toString(16)}`;
    if (q === "fThreadInfo")
      return `m${Array.from({ length: this.target.cpuCount }, (_, i) => (i + 1).toString(16)).join(",")}`;
    if (q === "sThreadInfo") return "l";
    if (q.startsWith("Symbol")) return OK;
    if (q.startsWith("Xfer:features:read:")) return this.#features(q.slice("Xfer:features:read:".length));
    return "";
  }

  #features(args: string): string {
    const m = /^([^:]+):([0-9a-fA-F]+),([0-9a-fA-F]+)$/.exec(args);
    if (!m) return E_BAD_ARGS;
    if (m[1] !== "target.xml") return "E00";
    const xml = targetXml();
    const offset = parseInt(m[2]!, 16);
    const length = Math.min(parseInt(m[3]!, 16), PACKET_SIZE - 16);
    const chunk = xml.slice(offset, offset + length);
    return `${offset + length >= xml.length ? "l" : "m"}${chunk}`;
  }

  /** A thread id (hex, 1-based; 0 = any, -1 = all) to a vCPU index, or undefined if there is no such vCPU. */
  #cpuOf(id: string): number | undefined {
    if (id === "-1" || id === "0") return -1;
    if (!/^[0-9a-fA-F]+$/.test(id)) return undefined;
    const n = parseInt(id, 16);
    return n >= 1 && n <= this.target.cpuCount ? n - 1 : undefined;
  }

  #setThread(rest: string): string {
    const cpu = this.#cpuOf(rest.slice(1));
    if (cpu === undefined || (rest[0] !== "g" && rest[0] !== "c")) return E_BAD_ARGS;
    if (cpu >= 0) {
      if (rest[0] === "g") this.#gCpu = cpu;
      else this.#cCpu = cpu;
    }
    return OK;
  }

  #writeRegisters(hex: string): string {
    const bytes = fromHex(hex);
    if (!bytes || bytes.length !== G_PACKET_BYTES) return E_BAD_ARGS;
    return this.#applyRegisters(bytes);
  }

  #applyRegisters(bytes: Uint8Array): string {
    try {
      this.target.writeRegisters(this.#gCpu, bytes);
      return OK;
    } catch (e) {
      if (e instanceof RegisterWriteError) return E_REFUSED;
      throw e;
    }
  }

  #register(text: string): number | undefined {
    if (!/^[0-9a-fA-F]+$/.test(text)) return undefined;
    const n = parseInt(text, 16);
    return n < REGISTERS.length ? n : undefined;
  }

  #readRegister(rest: string): string {
    const n = this.#register(rest);
    if (n === undefined) return E_BAD_ARGS;
    const all = this.target.readRegisters(this.#gCpu);
    return toHex(all.subarray(REGISTER_OFFSETS[n]!, REGISTER_OFFSETS[n]! + REGISTERS[n]!.bytes));
  }

  #writeRegister(rest: string): string {
    const [reg, value] = rest.split("=");
    const n = this.#register(reg ?? "");
    const bytes = fromHex(value ?? "");
    if (n === undefined || !bytes || bytes.length !== REGISTERS[n]!.bytes) return E_BAD_ARGS;
    const all = this.target.readRegisters(this.#gCpu);
    all.set(bytes, REGISTER_OFFSETS[n]!);
    return this.#applyRegisters(all);
  }

  #addressLength(text: string): { addr: bigint; length: number } | undefined {
    const m = /^([0-9a-fA-F]{1,16}),([0-9a-fA-F]{1,8})$/.exec(text);
    if (!m) return undefined;
    const length = parseInt(m[2]!, 16);
    if (length > MAX_MEMORY_BYTES) return undefined;
    return { addr: BigInt(`0x${m[1]}`), length };
  }

  #readMemory(rest: string): string {
    const range = this.#addressLength(rest);
    if (!range) return E_BAD_ARGS;
    const bytes = this.target.readMemory(this.#gCpu, range.addr, range.length);
    return bytes.length === 0 && range.length > 0 ? E_NO_MEMORY : toHex(bytes);
  }

  #writeMemory(rest: string): string {
    const colon = rest.indexOf(":");
    const range = this.#addressLength(rest.slice(0, colon));
    const data = fromHex(rest.slice(colon + 1));
    if (colon < 0 || !range || !data || data.length !== range.length) return E_BAD_ARGS;
    return this.target.writeMemory(this.#gCpu, range.addr, data) ? OK : E_NO_MEMORY;
  }

  #breakpoint(insert: boolean, rest: string): string {
    const m = /^([0-4]),([0-9a-fA-F]{1,16}),([0-9a-fA-F]+)$/.exec(rest);
    if (!m) return E_BAD_ARGS;
    // Z2-Z4 (watchpoints) are not implemented: the empty reply tells gdb so.
    const type = m[1] === "0" ? "sw" : m[1] === "1" ? "hw" : undefined;
    if (!type) return "";
    const addr = BigInt(`0x${m[2]}`);
    const done = insert
      ? this.target.insertBreakpoint(type, this.#gCpu, addr)
      : this.target.removeBreakpoint(type, this.#gCpu, addr);
    return done ? OK : E_REFUSED;
  }
}
