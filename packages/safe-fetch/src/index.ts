export { safeFetch, defaultAllowedPorts } from './safe-fetch.ts';
export type { NetworkPolicy, SafeFetchInit, SafeResponse, HostResolver, ResolvedAddress } from './safe-fetch.ts';
export { isPublicAddress, canonicalAddress } from './address-policy.ts';
