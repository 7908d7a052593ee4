import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/** Cloud instance metadata services: named apart so the rule survives any change in range tables. */
const metadataAddresses = new Set(['169.254.169.254', 'fd00:ec2::254', '100.100.100.200']);

/**
 * Whether a page fetch may connect to `address` (an IP literal, IPv4 or IPv6, brackets allowed).
 *
 * An allow-list: only ranges ipaddr.js classifies as global `unicast` pass. Everything special is refused:
 * private, loopback, link-local, CGNAT, multicast, unspecified, broadcast, reserved/documentation,
 * unique-local, and the IPv6 forms that embed an IPv4 address (mapped addresses are unwrapped and judged
 * as IPv4; NAT64, 6to4 and Teredo are refused outright because they can route to any IPv4 host).
 * Anything but a strict dotted-quad or IPv6 literal (what DNS and sockets report) is refused: ipaddr.js
 * would also read legacy forms like `1.2.3` or `0x7f.1`.
 */
export function isPublicAddress(address: string): boolean {
  const literal = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  // Zone ids (fe80::1%eth0) only occur on link-local addresses.
  if (literal.includes('%')) return false;
  if (isIP(literal) === 0) return false;
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    // process() turns ::ffff:a.b.c.d into a.b.c.d, so mapped loopback is judged as loopback.
    parsed = ipaddr.process(literal);
  } catch {
    return false;
  }
  if (metadataAddresses.has(parsed.toNormalizedString()) || metadataAddresses.has(parsed.toString())) return false;
  return parsed.range() === 'unicast';
}

/** One spelling per address (mapped IPv6 unwrapped, IPv6 compressed), for comparing addresses. */
export function canonicalAddress(address: string): string {
  const literal = address.replace(/^\[|\]$/g, '');
  if (!ipaddr.isValid(literal)) return literal;
  return ipaddr.process(literal).toString();
}
