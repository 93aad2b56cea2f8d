// Puts the VMM's terminal in raw mode while a serial port reads stdin, as crosvm does (base set_raw_mode: clear
// ICANON, ECHO and ISIG): keys reach the guest as typed, are not echoed by the host, and Ctrl-C, Ctrl-Z and Ctrl-\
// become bytes for the guest instead of signals for the VMM. The saved attributes are restored exactly.
import {
  ECHO,
  ICANON,
  isatty,
  ISIG,
  tcgetattr,
  tcsetattr,
  TCSANOW,
  TERMIOS_LFLAG_OFFSET,
} from "../../../ffi/libc.ts";

export class RawTerminal {
  #saved: Uint8Array | undefined;

  private constructor(
    readonly fd: number,
    saved: Uint8Array,
  ) {
    this.#saved = saved;
  }

  /** Switches `fd` to raw mode; returns undefined (and changes nothing) when `fd` is not a terminal. */
  static enter(fd = 0): RawTerminal | undefined {
    if (!isatty(fd)) return undefined;
    const saved = tcgetattr(fd, "the terminal");
    const raw = saved.slice();
    const view = new DataView(raw.buffer);
    const lflag = view.getUint32(TERMIOS_LFLAG_OFFSET, true);
    view.setUint32(TERMIOS_LFLAG_OFFSET, lflag & ~(ICANON | ECHO | ISIG), true);
    tcsetattr(fd, TCSANOW, raw, "the terminal");
    return new RawTerminal(fd, saved);
  }

  /** Puts back the attributes saved by enter(); idempotent, never throws (it runs on exit paths). */
  restore(): void {
    const saved = this.#saved;
    if (!saved) return;
    this.#saved = undefined;
    try {
      tcsetattr(this.fd, TCSANOW, saved, "the terminal");
    } catch {
      // The terminal may be gone (hangup); nothing is left to restore.
    }
  }
}
