// The address forms --net takes: a MAC address (six hex octets separated by colons, as crosvm's MacAddress
// parses it) and dotted-quad IPv4 addresses and netmasks. Each parser returns undefined for a bad value; the
// option schema turns that into "expected ..." naming the key.

/** "aa:bb:cc:dd:ee:ff" -> 6 bytes; undefined unless six two-digit hex octets and a unicast address. */
export function parseMac(text: string): Uint8Array | undefined {
  const parts = text.split(":");
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{2}$/.test(p))) return undefined;
  const mac = Uint8Array.from(parts.map((p) => Number.parseInt(p, 16)));
  // Bit 0 of the first octet marks a group (multicast) address, which no NIC may have as its own.
  if (mac[0]! & 1) return undefined;
  return mac;
}

export const MAC_EXPECTED = "a unicast MAC address such as 52:54:00:12:34:56";

/** "192.168.10.1" -> [192, 168, 10, 1]; undefined unless four decimal octets. */
export function parseIpv4(text: string): number[] | undefined {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p))) return undefined;
  const octets = parts.map(Number);
  return octets.every((o) => o <= 255) ? octets : undefined;
}

/** A netmask: an IPv4 address whose set bits are contiguous from the top (255.255.255.0, not 255.0.255.0). */
export function parseNetmask(text: string): number[] | undefined {
  const octets = parseIpv4(text);
  if (!octets) return undefined;
  const bits = octets.reduce((n, o) => n * 256 + o, 0);
  const inverted = 2 ** 32 - 1 - bits;
  // The host part (the inverted mask) must be of the form 2^k - 1.
  return (inverted & (inverted + 1)) === 0 && inverted < 2 ** 32 ? octets : undefined;
}
