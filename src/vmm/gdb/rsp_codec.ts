// GDB Remote Serial Protocol framing (gdb manual, "Remote Protocol" > "Overview"): `$data#xx` packets with a
// two-digit hex checksum (sum of the data bytes mod 256), `+`/`-` acknowledgements, `}` escapes (the next byte
// XOR 0x20) and a bare 0x03 byte for an interrupt (Ctrl-C) outside packets. Bytes from gdb are bounded: a packet
// longer than MAX_PACKET_BYTES is dropped (and nacked) without being buffered.
export const MAX_PACKET_BYTES = 64 * 1024;

export type RspEvent =
  | { readonly kind: "packet"; readonly data: Uint8Array }
  /** A packet whose checksum did not match (the sender should send it again after our `-`). */
  | { readonly kind: "bad-packet" }
  | { readonly kind: "interrupt" };

const DOLLAR = 0x24;
const HASH = 0x23;
const ESCAPE = 0x7d;
const INTERRUPT = 0x03;

const hexDigit = (b: number): number =>
  b >= 0x30 && b <= 0x39
    ? b - 0x30
    : b >= 0x61 && b <= 0x66
      ? b - 0x57
      : b >= 0x41 && b <= 0x46
        ? b - 0x37
        : -1;

/** Incremental decoder: feed() any chunk of the TCP stream, get the complete events in it. */
export class RspDecoder {
  #state: "idle" | "data" | "escape" | "sum1" | "sum2" = "idle";
  #data: number[] = [];
  #sum = 0;
  #given = 0;
  #overflow = false;

  feed(chunk: Uint8Array): RspEvent[] {
    const events: RspEvent[] = [];
    for (const b of chunk) {
      switch (this.#state) {
        case "idle":
          if (b === DOLLAR) {
            this.#state = "data";
            this.#data = [];
            this.#sum = 0;
            this.#overflow = false;
          } else if (b === INTERRUPT) events.push({ kind: "interrupt" });
          // `+`, `-` and noise between packets are ignored (we never resend).
          break;
        case "data":
        case "escape":
          if (b === HASH && this.#state === "data") {
            this.#state = "sum1";
            break;
          }
          this.#sum = (this.#sum + b) & 0xff;
          if (this.#state === "escape") {
            this.#push(b ^ 0x20);
            this.#state = "data";
          } else if (b === ESCAPE) this.#state = "escape";
          else this.#push(b);
          break;
        case "sum1":
          this.#given = hexDigit(b) << 4;
          this.#state = "sum2";
          break;
        case "sum2": {
          const digit = hexDigit(b);
          this.#state = "idle";
          if (digit < 0 || this.#given < 0 || (this.#given | digit) !== this.#sum || this.#overflow)
            events.push({ kind: "bad-packet" });
          else events.push({ kind: "packet", data: Uint8Array.from(this.#data) });
          this.#data = [];
          break;
        }
      }
    }
    return events;
  }

  #push(b: number): void {
    if (this.#data.length < MAX_PACKET_BYTES) this.#data.push(b);
    else this.#overflow = true;
  }
}

/** `$data#xx` with `$`, `#`, `}` and `*` escaped. */
export function encodePacket(data: string | Uint8Array): Uint8Array {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const out: number[] = [DOLLAR];
  let sum = 0;
  for (const b of bytes) {
    if (b === DOLLAR || b === HASH || b === ESCAPE || b === 0x2a) {
      out.push(ESCAPE, b ^ 0x20);
      sum += ESCAPE + (b ^ 0x20);
    } else {
      out.push(b);
      sum += b;
    }
  }
  const hex = (sum & 0xff).toString(16).padStart(2, "0");
  out.push(HASH, hex.charCodeAt(0), hex.charCodeAt(1));
  return Uint8Array.from(out);
}

export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

/** Hex text to bytes; undefined when it is not an even number of hex digits. */
export function fromHex(text: string): Uint8Array | undefined {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) return undefined;
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(i * 2, i * 2 + 2), 16);
  return out;
}
