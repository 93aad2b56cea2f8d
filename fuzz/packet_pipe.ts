// Both ends of a SOCK_SEQPACKET socketpair, read as the control server reads its connections (recvPacket with the
// message limit), so a fuzz target sends packets through the kernel's framing instead of handing bytes over.
import * as libc from "../ffi/libc.ts";
import { type Received, recvPacket, sendPacket, type SendResult } from "../src/vm_control/seqpacket.ts";

export class PacketPipe {
  readonly #client: number;
  readonly #server: number;

  constructor(private readonly maxSize: number) {
    [this.#client, this.#server] = libc.socketpair(
      libc.AF_UNIX,
      libc.SOCK_SEQPACKET | libc.SOCK_CLOEXEC | libc.SOCK_NONBLOCK,
      0,
      "a fuzz target's packet pipe",
    );
  }

  /** Sends one packet from the client's end. */
  send(bytes: Uint8Array): SendResult {
    return sendPacket(this.#client, bytes, "the fuzz client");
  }

  /** Reads one packet at the server's end, as the control server does. */
  receive(): Received {
    return recvPacket(this.#server, this.maxSize, "the fuzz server");
  }

  close(): void {
    libc.close(this.#client);
    libc.close(this.#server);
  }
}
