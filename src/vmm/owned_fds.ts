// Descriptors the VMM creates or opens for its devices and closes together at teardown (or when start-up fails).
import { close, EFD_CLOEXEC, EFD_NONBLOCK, eventfd } from "../../ffi/libc.ts";

export class OwnedFds {
  readonly #fds: number[] = [];

  /** A new non-blocking, close-on-exec eventfd. */
  eventfd(): number {
    const fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    this.#fds.push(fd);
    return fd;
  }

  /** `count` new eventfds. */
  eventfds(count: number): number[] {
    return Array.from({ length: count }, () => this.eventfd());
  }

  /** Takes ownership of descriptors opened elsewhere. */
  adopt(fds: readonly number[]): void {
    this.#fds.push(...fds);
  }

  /** Closes every descriptor (a failure to close one does not stop the others). */
  closeAll(): void {
    for (const fd of this.#fds.splice(0)) {
      try {
        close(fd);
      } catch {}
    }
  }
}
