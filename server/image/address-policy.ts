// Which network addresses URL fetching may reach. Only global unicast addresses are
// public; everything else (loopback, private, link-local, multicast, unspecified,
// carrier-grade NAT, IPv6 ULA, NAT64/6to4/Teredo embeddings, cloud metadata) is refused
// unless the allow-list admits it.
import ipaddr from 'ipaddr.js';

type Addr = ipaddr.IPv4 | ipaddr.IPv6;

/** Cloud metadata endpoints, named separately because reaching them leaks credentials. */
const METADATA_ADDRESSES = new Set([
  '169.254.169.254', // AWS, GCP, Azure IMDS, OpenStack, DigitalOcean
  '169.254.170.2', // AWS ECS task metadata
  '169.254.170.23', // AWS EKS pod identity
  '168.63.129.16', // Azure wireserver (a public-range address)
  '100.100.100.200', // Alibaba Cloud
  'fd00:ec2::254', // AWS IMDS over IPv6
  'fd00:ec2::23',
]);

export type AddressClass = 'public' | 'metadata' | string;

/** Parses an IP literal (brackets allowed); IPv4-mapped IPv6 becomes IPv4. */
export function parseIp(text: string): Addr | undefined {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  // The WHATWG URL parser already canonicalises IPv4 forms such as 127.1 or 0x7f000001.
  if (!ipaddr.isValid(bare)) return undefined;
  const addr = ipaddr.parse(bare);
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) return (addr as ipaddr.IPv6).toIPv4Address();
  return addr;
}

/** 'public', 'metadata', or the ipaddr.js range name (loopback, private, linkLocal, ...). */
export function classifyAddress(addr: Addr): AddressClass {
  const normalized = addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress() ? (addr as ipaddr.IPv6).toIPv4Address() : addr;
  if (METADATA_ADDRESSES.has(normalized.toNormalizedString()) || METADATA_ADDRESSES.has(normalized.toString())) return 'metadata';
  const range = normalized.range();
  return range === 'unicast' ? 'public' : range;
}

const RANGE_WORDS: Record<string, string> = {
  loopback: 'a loopback',
  private: 'a private',
  uniqueLocal: 'a private (unique local)',
  linkLocal: 'a link-local',
  multicast: 'a multicast',
  broadcast: 'a broadcast',
  unspecified: 'an unspecified',
  carrierGradeNat: 'a carrier-grade NAT',
  reserved: 'a reserved',
  metadata: 'a cloud metadata',
};

export function describeClass(cls: AddressClass): string {
  return `${RANGE_WORDS[cls] ?? `a non-public (${cls})`} address`;
}

interface Rule {
  host?: string; // lower-case hostname, or ".suffix" for "*.suffix"
  cidr?: [Addr, number];
  port?: number;
}

/**
 * Allow-list entries: a hostname (`files.local`), a wildcard (`*.corp.example`), an IP
 * (`127.0.0.1`, `::1`), a CIDR (`10.0.0.0/8`), each optionally with a port
 * (`127.0.0.1:8080`, `[::1]:8080`, `files.local:9000`). A hostname entry admits whatever
 * that name resolves to; an address entry admits a resolved or literal address.
 */
export class AddressAllowlist {
  private readonly rules: Rule[];

  constructor(entries: readonly string[] = []) {
    this.rules = entries.map((e) => parseRule(e.trim())).filter((r): r is Rule => r !== undefined);
  }

  get empty(): boolean {
    return this.rules.length === 0;
  }

  admitsHost(hostname: string, port: number): boolean {
    const host = hostname.toLowerCase().replace(/\.$/, '');
    return this.rules.some(
      (r) => r.host !== undefined && portOk(r, port) && (r.host.startsWith('.') ? host.endsWith(r.host) : host === r.host),
    );
  }

  admitsAddress(addr: Addr, port: number): boolean {
    const candidates: Addr[] = [addr];
    if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) candidates.push((addr as ipaddr.IPv6).toIPv4Address());
    return this.rules.some(
      (r) => r.cidr !== undefined && portOk(r, port) && candidates.some((a) => a.kind() === r.cidr![0].kind() && a.match(r.cidr!)),
    );
  }
}

function portOk(rule: Rule, port: number): boolean {
  return rule.port === undefined || rule.port === port;
}

function parseRule(entry: string): Rule | undefined {
  if (!entry) return undefined;
  let text = entry;
  let port: number | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed) {
    text = bracketed[1]!;
    port = bracketed[2] ? Number(bracketed[2]) : undefined;
  } else if ((text.match(/:/g) ?? []).length === 1) {
    const [h, p] = text.split(':');
    if (/^\d+$/.test(p!)) {
      text = h!;
      port = Number(p);
    }
  }
  if (text.includes('/')) {
    try {
      return { cidr: ipaddr.parseCIDR(text), port };
    } catch {
      return undefined;
    }
  }
  const ip = parseIp(text);
  if (ip) return { cidr: [ip, ip.kind() === 'ipv4' ? 32 : 128], port };
  const host = text.toLowerCase().replace(/\.$/, '');
  return { host: host.startsWith('*.') ? host.slice(1) : host, port };
}
