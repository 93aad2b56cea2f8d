// A small ACPI Machine Language encoder: the few objects the DSDT needs (ACPI 6.4 §20.2 "AML Grammar Definition";
// resource descriptors from §6.4 "Resource Data Types for ACPI"). Each function returns the encoded bytes.

const ZERO_OP = 0x00;
const ONE_OP = 0x01;
const NAME_OP = 0x08;
const BYTE_PREFIX = 0x0a;
const WORD_PREFIX = 0x0b;
const DWORD_PREFIX = 0x0c;
const STRING_PREFIX = 0x0d;
const QWORD_PREFIX = 0x0e;
const SCOPE_OP = 0x10;
const BUFFER_OP = 0x11;
const PACKAGE_OP = 0x12;
const METHOD_OP = 0x14;
const ARG0_OP = 0x68;
const RETURN_OP = 0xa4;
const EXT_OP_PREFIX = 0x5b;
const DEVICE_OP = 0x82;
const ROOT_CHAR = 0x5c;
const DUAL_NAME_PREFIX = 0x2e;
const MULTI_NAME_PREFIX = 0x2f;

export class AmlError extends Error {
  override name = "AmlError";
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * PkgLength for `contentLength` bytes of content (§20.2.4): the encoded length counts its own bytes. One byte holds
 * up to 63; otherwise bits 7:6 of the lead byte give 1-3 following bytes, its bits 3:0 the low nibble.
 */
export function pkgLength(contentLength: number): Uint8Array {
  if (contentLength + 1 <= 0x3f) return Uint8Array.of(contentLength + 1);
  for (let extra = 1; extra <= 3; extra++) {
    const total = contentLength + 1 + extra;
    if (total < 2 ** (4 + 8 * extra)) {
      const out = new Uint8Array(1 + extra);
      out[0] = (extra << 6) | (total & 0xf);
      for (let i = 1; i <= extra; i++) out[i] = Math.floor(total / 2 ** (4 + 8 * (i - 1))) & 0xff;
      return out;
    }
  }
  throw new AmlError(`AML package of ${contentLength} bytes is too long`);
}

function nameSeg(seg: string): number[] {
  if (!/^[A-Z_][A-Z0-9_]{0,3}$/.test(seg)) throw new AmlError(`"${seg}" is not an ACPI name segment`);
  return [...seg.padEnd(4, "_")].map((c) => c.charCodeAt(0));
}

/** A NameString: "\\_SB_.PC00" (absolute) or "_S5_" (relative); segments shorter than 4 are padded with '_'. */
export function nameString(path: string): Uint8Array {
  const root = path.startsWith("\\");
  const segs = (root ? path.slice(1) : path).split(".").filter((s) => s !== "");
  const out: number[] = root ? [ROOT_CHAR] : [];
  if (segs.length === 2) out.push(DUAL_NAME_PREFIX);
  else if (segs.length > 2) out.push(MULTI_NAME_PREFIX, segs.length);
  for (const s of segs) out.push(...nameSeg(s));
  if (segs.length === 0) out.push(ZERO_OP); // NullName
  return Uint8Array.from(out);
}

/** An integer constant in its shortest encoding (ZeroOp, OneOp, Byte/Word/DWord/QWordConst). */
export function int(value: number | bigint): Uint8Array {
  const v = BigInt(value);
  if (v < 0n || v > 0xffff_ffff_ffff_ffffn) throw new AmlError(`${v} is not an AML integer`);
  if (v === 0n) return Uint8Array.of(ZERO_OP);
  if (v === 1n) return Uint8Array.of(ONE_OP);
  const [prefix, size] =
    v <= 0xffn
      ? [BYTE_PREFIX, 1]
      : v <= 0xffffn
        ? [WORD_PREFIX, 2]
        : v <= 0xffff_ffffn
          ? [DWORD_PREFIX, 4]
          : [QWORD_PREFIX, 8];
  const out = new Uint8Array(1 + size);
  out[0] = prefix;
  for (let i = 0; i < size; i++) out[1 + i] = Number((v >> BigInt(8 * i)) & 0xffn);
  return out;
}

/** A NUL-terminated ASCII string constant. */
export function string(text: string): Uint8Array {
  return Uint8Array.from([STRING_PREFIX, ...[...text].map((c) => c.charCodeAt(0) & 0x7f), 0]);
}

/** EISAID("PNP0A08"): three compressed letters and four hex digits, stored big-endian as a DWordConst. */
export function eisaId(id: string): Uint8Array {
  if (!/^[A-Z]{3}[0-9A-F]{4}$/.test(id)) throw new AmlError(`"${id}" is not an EISA id`);
  const letters = [0, 1, 2].map((i) => (id.charCodeAt(i) - 0x40) & 0x1f);
  const value =
    ((letters[0]! << 26) | (letters[1]! << 21) | (letters[2]! << 16) | parseInt(id.slice(3), 16)) >>> 0;
  const swapped =
    ((value >>> 24) | ((value >>> 8) & 0xff00) | ((value << 8) & 0xff_0000) | (value << 24)) >>> 0;
  return Uint8Array.of(DWORD_PREFIX, ...u32le(swapped));
}

function u32le(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}

/** Name(path, value). */
export function name(path: string, value: Uint8Array): Uint8Array {
  return concat([Uint8Array.of(NAME_OP), nameString(path), value]);
}

/** Package() { elements } with its element count. */
export function pkg(elements: readonly Uint8Array[]): Uint8Array {
  if (elements.length > 0xff) throw new AmlError("AML package has more than 255 elements");
  const body = concat([Uint8Array.of(elements.length), ...elements]);
  return concat([Uint8Array.of(PACKAGE_OP), pkgLength(body.length), body]);
}

/** Scope(path) { body }. */
export function scope(path: string, body: readonly Uint8Array[]): Uint8Array {
  const content = concat([nameString(path), ...body]);
  return concat([Uint8Array.of(SCOPE_OP), pkgLength(content.length), content]);
}

/** Device(path) { body }. */
export function device(path: string, body: readonly Uint8Array[]): Uint8Array {
  const content = concat([nameString(path), ...body]);
  return concat([Uint8Array.of(EXT_OP_PREFIX, DEVICE_OP), pkgLength(content.length), content]);
}

/** Method(path, argCount, NotSerialized) { body } (§20.2.5.2 DefMethod: MethodFlags bits 2:0 = ArgCount). */
export function method(path: string, argCount: number, body: readonly Uint8Array[]): Uint8Array {
  if (!Number.isInteger(argCount) || argCount < 0 || argCount > 7)
    throw new AmlError(`AML method ${path}: ${argCount} arguments is not between 0 and 7`);
  const content = concat([nameString(path), Uint8Array.of(argCount), ...body]);
  return concat([Uint8Array.of(METHOD_OP), pkgLength(content.length), content]);
}

/** ArgN (§20.2.6.1 ArgObj: Arg0Op 0x68 ... Arg6Op 0x6E). */
export function arg(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > 6) throw new AmlError(`AML Arg${n} does not exist`);
  return Uint8Array.of(ARG0_OP + n);
}

/** Return(value) (§20.2.5.3 DefReturn). */
export function ret(value: Uint8Array): Uint8Array {
  return concat([Uint8Array.of(RETURN_OP), value]);
}

/** Buffer() { bytes }. */
export function buffer(bytes: Uint8Array): Uint8Array {
  const content = concat([int(bytes.length), bytes]);
  return concat([Uint8Array.of(BUFFER_OP), pkgLength(content.length), content]);
}

// --- Resource descriptors (§6.4) ---

/** ResourceTemplate() { descriptors }: a Buffer ending with an End Tag whose checksum 0 means "not checked". */
export function resourceTemplate(descriptors: readonly Uint8Array[]): Uint8Array {
  return buffer(concat([...descriptors, Uint8Array.of(0x79, 0x00)]));
}

/** IO(Decode16, min, max, align, length): I/O Port Descriptor (§6.4.2.5). */
export function ioPort(min: number, max: number, align: number, length: number): Uint8Array {
  return Uint8Array.of(0x47, 0x01, min & 0xff, min >> 8, max & 0xff, max >> 8, align, length);
}

/** Address space resource types and flags (§6.4.3.5.1-3). */
const RESOURCE_TYPE_MEMORY = 0;
const RESOURCE_TYPE_BUS = 2;
/** General flags: MaxFixed (bit 3) | MinFixed (bit 2); producer (bit 0 clear), positive decode. */
const GENERAL_FLAGS_FIXED = 0x0c;
/** Memory type-specific flags: read/write (bit 0); bits 2:1 = 0 non-cacheable, 1 cacheable. */
const MEM_READ_WRITE = 0x01;

function addressSpace(
  tag: number,
  width: 2 | 4 | 8,
  type: number,
  typeFlags: number,
  min: bigint,
  max: bigint,
): Uint8Array {
  const body = [type, GENERAL_FLAGS_FIXED, typeFlags];
  for (const v of [0n, min, max, 0n, max - min + 1n]) {
    for (let i = 0; i < width; i++) body.push(Number((v >> BigInt(8 * i)) & 0xffn));
  }
  return Uint8Array.from([tag, body.length & 0xff, body.length >> 8, ...body]);
}

/** WordBusNumber(ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, min, max, 0, count) (§6.4.3.5.3). */
export function wordBusNumber(min: number, max: number): Uint8Array {
  return addressSpace(0x88, 2, RESOURCE_TYPE_BUS, 0, BigInt(min), BigInt(max));
}

/** DWordMemory(ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite, ...) (§6.4.3.5.2). */
export function dwordMemory(min: number, max: number): Uint8Array {
  return addressSpace(0x87, 4, RESOURCE_TYPE_MEMORY, MEM_READ_WRITE, BigInt(min), BigInt(max));
}

/** QWordMemory(ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite, ...) (§6.4.3.5.1). */
export function qwordMemory(min: bigint, max: bigint): Uint8Array {
  return addressSpace(0x8a, 8, RESOURCE_TYPE_MEMORY, MEM_READ_WRITE, min, max);
}

/** Memory32Fixed(ReadWrite, base, length) (§6.4.3.4). */
export function memory32Fixed(base: number, length: number): Uint8Array {
  return Uint8Array.of(0x86, 0x09, 0x00, MEM_READ_WRITE, ...u32le(base), ...u32le(length));
}
