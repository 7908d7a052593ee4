import { isIP } from 'node:net';
import { defaultAllowedPorts, isPublicAddress } from '@curator/safe-fetch';

/** The address rules webhook URLs share with article fetches (FETCH_ALLOW_PRIVATE, FETCH_ALLOWED_PORTS). */
export interface WebhookUrlRules {
  /** Loopback and private hosts allowed, on any port (tests only). */
  allowPrivate: boolean;
  /** Ports public hosts may be reached on. */
  allowedPorts?: readonly number[];
}

const effectivePort = (url: URL) => (url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80);

/** RFC 6761: these names always mean this machine, whatever a resolver says. */
const isLocalhostName = (host: string) => host === 'localhost' || host.endsWith('.localhost');

/**
 * Why a webhook URL can never be delivered to under these rules, or null when it might be. Only what
 * the URL itself says is judged here (scheme, credentials, port, an IP literal or `localhost`); a host
 * name is judged at delivery, on the addresses it resolves to when the connection is made.
 */
export function webhookUrlProblem(raw: string, rules: WebhookUrlRules): string | null {
  const url = URL.parse(raw);
  if (!url) return 'is not a valid URL';
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must be an http(s) URL';
  if (url.username || url.password) return 'may not carry credentials (user:password@)';
  if (rules.allowPrivate) return null;
  // WHATWG URL parsing already turned every IPv4 spelling (0x7f.1, 2130706433) into dotted quads.
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isLocalhostName(host.toLowerCase().replace(/\.$/, ''))) return 'names this machine (localhost)';
  if (isIP(host) !== 0 && !isPublicAddress(host)) return 'is a private, loopback or otherwise reserved address';
  const allowedPorts = rules.allowedPorts ?? defaultAllowedPorts;
  if (!allowedPorts.includes(effectivePort(url))) return `port ${effectivePort(url)} is not allowed (allowed: ${allowedPorts.join(', ')})`;
  return null;
}
