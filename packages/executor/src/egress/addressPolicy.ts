import { BlockList, isIP } from 'node:net';

/**
 * Ranges an http.request step may not reach unless `HTTP_STEP_ALLOW` lists them: every
 * address that is not a public unicast address on the internet. IPv4-mapped IPv6
 * addresses (`::ffff:10.0.0.1`) are matched against the IPv4 ranges by `BlockList`
 * itself. Prefixes that embed an IPv4 address (NAT64, 6to4, Teredo) are denied whole,
 * because the embedded address may be a private one. Checked in order: the first match
 * names the range in the refusal.
 */
const deniedRanges: readonly { label: string; v: 'ipv4' | 'ipv6'; net: string; prefix: number }[] = [
  { label: 'a cloud metadata address', v: 'ipv4', net: '169.254.169.254', prefix: 32 },
  { label: 'a cloud metadata address', v: 'ipv4', net: '169.254.170.2', prefix: 32 },
  { label: 'a cloud metadata address', v: 'ipv6', net: 'fd00:ec2::254', prefix: 128 },
  { label: 'a cloud metadata address', v: 'ipv4', net: '100.100.100.200', prefix: 32 },
  { label: 'an unspecified address', v: 'ipv4', net: '0.0.0.0', prefix: 8 },
  { label: 'a loopback address', v: 'ipv4', net: '127.0.0.0', prefix: 8 },
  { label: 'a private address', v: 'ipv4', net: '10.0.0.0', prefix: 8 },
  { label: 'a private address', v: 'ipv4', net: '172.16.0.0', prefix: 12 },
  { label: 'a private address', v: 'ipv4', net: '192.168.0.0', prefix: 16 },
  { label: 'a link-local address', v: 'ipv4', net: '169.254.0.0', prefix: 16 },
  { label: 'a carrier-grade NAT address', v: 'ipv4', net: '100.64.0.0', prefix: 10 },
  { label: 'a reserved address', v: 'ipv4', net: '192.0.0.0', prefix: 24 },
  { label: 'a documentation address', v: 'ipv4', net: '192.0.2.0', prefix: 24 },
  { label: 'a reserved address', v: 'ipv4', net: '192.88.99.0', prefix: 24 },
  { label: 'a benchmarking address', v: 'ipv4', net: '198.18.0.0', prefix: 15 },
  { label: 'a documentation address', v: 'ipv4', net: '198.51.100.0', prefix: 24 },
  { label: 'a documentation address', v: 'ipv4', net: '203.0.113.0', prefix: 24 },
  { label: 'a multicast address', v: 'ipv4', net: '224.0.0.0', prefix: 4 },
  { label: 'a reserved address', v: 'ipv4', net: '240.0.0.0', prefix: 4 },
  { label: 'an unspecified address', v: 'ipv6', net: '::', prefix: 128 },
  { label: 'a loopback address', v: 'ipv6', net: '::1', prefix: 128 },
  { label: 'a reserved address', v: 'ipv6', net: '::', prefix: 96 },
  { label: 'an address embedding IPv4 (NAT64)', v: 'ipv6', net: '64:ff9b::', prefix: 96 },
  { label: 'an address embedding IPv4 (NAT64)', v: 'ipv6', net: '64:ff9b:1::', prefix: 48 },
  { label: 'a reserved address', v: 'ipv6', net: '100::', prefix: 64 },
  { label: 'an address embedding IPv4 (Teredo)', v: 'ipv6', net: '2001::', prefix: 32 },
  { label: 'a reserved address', v: 'ipv6', net: '2001:2::', prefix: 48 },
  { label: 'a reserved address', v: 'ipv6', net: '2001:10::', prefix: 28 },
  { label: 'a documentation address', v: 'ipv6', net: '2001:db8::', prefix: 32 },
  { label: 'an address embedding IPv4 (6to4)', v: 'ipv6', net: '2002::', prefix: 16 },
  { label: 'a unique-local (private) address', v: 'ipv6', net: 'fc00::', prefix: 7 },
  { label: 'a link-local address', v: 'ipv6', net: 'fe80::', prefix: 10 },
  { label: 'a site-local address', v: 'ipv6', net: 'fec0::', prefix: 10 },
  { label: 'a multicast address', v: 'ipv6', net: 'ff00::', prefix: 8 },
];

const denied = deniedRanges.map((r) => {
  const list = new BlockList();
  list.addSubnet(r.net, r.prefix, r.v);
  return { label: r.label, cidr: `${r.net}/${r.prefix}`, list };
});

function familyOf(address: string): 'ipv4' | 'ipv6' | undefined {
  const version = isIP(address);
  return version === 4 ? 'ipv4' : version === 6 ? 'ipv6' : undefined;
}

/** The denied range an address falls in (e.g. `{label: 'a private address', cidr: '10.0.0.0/8'}`), or null for a public one. */
export function deniedRange(address: string): { label: string; cidr: string } | null {
  const family = familyOf(address);
  if (!family) return { label: 'not an IP address', cidr: '-' };
  const hit = denied.find((d) => d.list.check(address, family));
  return hit ? { label: hit.label, cidr: hit.cidr } : null;
}

/** One parsed `HTTP_STEP_ALLOW` entry. */
export type AllowEntry =
  /** A host name as written in step URLs, any port or one port. */
  | { kind: 'host'; host: string; port?: number }
  /** Addresses (a CIDR, or one address), any port or one port. */
  | { kind: 'cidr'; net: string; prefix: number; family: 'ipv4' | 'ipv6'; port?: number };

const hostnamePattern = /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*\.?$/;

function parsePort(text: string | undefined): number | undefined | string {
  if (text === undefined) return undefined;
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65_535) return `port ${text} is not 1-65535`;
  return Number(text);
}

/**
 * Parses one allow-list entry: `host`, `host:port`, an address (`10.1.2.3`, `[fd00::5]`),
 * `address:port` (`127.0.0.1:5678`, `[::1]:8080`) or a CIDR (`10.8.0.0/16`, `fd00::/8`).
 * Returns the entry or what is wrong with it.
 */
export function parseAllowEntry(raw: string): AllowEntry | string {
  const text = raw.trim().toLowerCase();
  if (text === '') return 'is empty';
  const slash = text.indexOf('/');
  if (slash >= 0) {
    const net = text.slice(0, slash);
    const bits = text.slice(slash + 1);
    const family = familyOf(net);
    if (!family) return `${net} is not an IP address`;
    const max = family === 'ipv4' ? 32 : 128;
    if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) return `prefix /${bits} is not 0-${max}`;
    return { kind: 'cidr', net, prefix: Number(bits), family };
  }
  const bracketed = /^\[([^\]]+)\](?::([^:]*))?$/.exec(text);
  if (bracketed) {
    const [, address = '', portText] = bracketed;
    if (familyOf(address) !== 'ipv6') return `${address} is not an IPv6 address`;
    const port = parsePort(portText);
    if (typeof port === 'string') return port;
    return { kind: 'cidr', net: address, prefix: 128, family: 'ipv6', ...(port ? { port } : {}) };
  }
  if (familyOf(text) === 'ipv6') return { kind: 'cidr', net: text, prefix: 128, family: 'ipv6' };
  const [name = '', portText, extra] = text.split(':');
  if (extra !== undefined) return 'has more than one ":" (write IPv6 addresses in brackets: [::1]:8080)';
  const port = parsePort(portText);
  if (typeof port === 'string') return port;
  const withPort = port ? { port } : {};
  if (familyOf(name) === 'ipv4') return { kind: 'cidr', net: name, prefix: 32, family: 'ipv4', ...withPort };
  if (/^[\d.]+$/.test(name)) return `${name} is not an IPv4 address`;
  if (!hostnamePattern.test(name)) return `${JSON.stringify(name)} is not a host name, host:port or CIDR`;
  return { kind: 'host', host: name.replace(/\.$/, ''), ...withPort };
}

/** Parses comma-separated entries; `problems` names each bad entry. */
export function parseAllowList(text: string): { entries: AllowEntry[]; problems: string[] } {
  const entries: AllowEntry[] = [];
  const problems: string[] = [];
  for (const raw of text.split(',')) {
    if (raw.trim() === '') continue;
    const parsed = parseAllowEntry(raw);
    if (typeof parsed === 'string') problems.push(`entry ${JSON.stringify(raw.trim())}: ${parsed}`);
    else entries.push(parsed);
  }
  return { entries, problems };
}

export interface EgressPolicy {
  /** Whether `HTTP_STEP_ALLOW` lists this host name (as written in the URL) for this port. */
  allowsHost(host: string, port: number): boolean;
  /** Null when the step may connect to `address:port`; else why not. */
  refusal(address: string, port: number): string | null;
}

/**
 * The egress policy of http.request steps: public addresses are allowed, the ranges in
 * `deniedRanges` are refused unless an allow-list entry covers them (by CIDR, or by the
 * host name the step's URL names).
 */
export function createEgressPolicy(allow: readonly AllowEntry[]): EgressPolicy {
  const cidrs = allow.flatMap((e) => {
    if (e.kind !== 'cidr') return [];
    const list = new BlockList();
    list.addSubnet(e.net, e.prefix, e.family);
    return [{ list, port: e.port }];
  });
  const hosts = allow.filter((e): e is Extract<AllowEntry, { kind: 'host' }> => e.kind === 'host');
  const portMatches = (want: number | undefined, port: number) => want === undefined || want === port;
  return {
    allowsHost(host, port) {
      const name = host.toLowerCase().replace(/\.$/, '');
      return hosts.some((h) => h.host === name && portMatches(h.port, port));
    },
    refusal(address, port) {
      const range = deniedRange(address);
      if (!range) return null;
      const family = familyOf(address);
      if (family && cidrs.some((c) => portMatches(c.port, port) && c.list.check(address, family))) return null;
      if (range.cidr === '-') return `${address} is not an IP address`;
      return `${address} is ${range.label} (${range.cidr}); http.request steps may not call it unless HTTP_STEP_ALLOW lists it`;
    },
  };
}
