import { describe, expect, it } from 'vitest';
import {
  createEgressPolicy,
  deniedRange,
  EgressRefused,
  errorBodyPrefix,
  jsonDeeperThan,
  parseAllowList,
  pinnedTarget,
  prefixWithin,
  stepOutput,
} from '../src/index.js';

const policy = (allow = '') => createEgressPolicy(parseAllowList(allow).entries);

describe('egress address policy', () => {
  it.each([
    ['127.0.0.1', 'a loopback address'],
    ['127.255.0.9', 'a loopback address'],
    ['10.0.0.1', 'a private address'],
    ['172.16.0.1', 'a private address'],
    ['172.31.255.254', 'a private address'],
    ['192.168.1.1', 'a private address'],
    ['169.254.169.254', 'a cloud metadata address'],
    ['169.254.170.2', 'a cloud metadata address'],
    ['169.254.1.1', 'a link-local address'],
    ['100.64.0.1', 'a carrier-grade NAT address'],
    ['100.127.255.254', 'a carrier-grade NAT address'],
    ['100.100.100.200', 'a cloud metadata address'],
    ['0.0.0.0', 'an unspecified address'],
    ['0.1.2.3', 'an unspecified address'],
    ['224.0.0.1', 'a multicast address'],
    ['239.255.255.250', 'a multicast address'],
    ['240.0.0.1', 'a reserved address'],
    ['255.255.255.255', 'a reserved address'],
    ['192.0.0.8', 'a reserved address'],
    ['192.0.2.1', 'a documentation address'],
    ['198.18.0.1', 'a benchmarking address'],
    ['::1', 'a loopback address'],
    ['::', 'an unspecified address'],
    ['fe80::1', 'a link-local address'],
    ['febf::1', 'a link-local address'],
    ['fc00::1', 'a unique-local (private) address'],
    ['fd12:3456::1', 'a unique-local (private) address'],
    ['fd00:ec2::254', 'a cloud metadata address'],
    ['ff02::1', 'a multicast address'],
    ['fec0::1', 'a site-local address'],
    ['2001:db8::1', 'a documentation address'],
    ['64:ff9b::a00:1', 'an address embedding IPv4 (NAT64)'],
    ['2002:a00:1::1', 'an address embedding IPv4 (6to4)'],
    ['2001:0:4136:e378::1', 'an address embedding IPv4 (Teredo)'],
    ['::7f00:1', 'a reserved address'],
    // IPv4-mapped IPv6 forms are judged as the IPv4 address they map.
    ['::ffff:127.0.0.1', 'a loopback address'],
    ['::ffff:7f00:1', 'a loopback address'],
    ['::ffff:10.0.0.1', 'a private address'],
    ['::ffff:169.254.169.254', 'a cloud metadata address'],
    ['::ffff:192.168.0.1', 'a private address'],
    ['::ffff:100.64.0.1', 'a carrier-grade NAT address'],
    ['0:0:0:0:0:ffff:a9fe:a9fe', 'a cloud metadata address'],
  ])('denies %s as %s', (address, label) => {
    expect(deniedRange(address)?.label).toBe(label);
    expect(policy().refusal(address, 80)).toContain(`is ${label}`);
  });

  it.each([
    '1.1.1.1',
    '8.8.8.8',
    '172.32.0.1',
    '172.15.255.255',
    '100.128.0.1',
    '169.255.0.1',
    '2606:4700::1111',
    '2a00:1450:4001::200e',
    '::ffff:8.8.8.8',
  ])('allows the public address %s', (address) => {
    expect(deniedRange(address)).toBeNull();
    expect(policy().refusal(address, 443)).toBeNull();
  });

  it('refuses what is not an address', () => {
    expect(policy().refusal('localhost', 80)).toBe('localhost is not an IP address');
  });

  it('lets a CIDR, an address or an address:port entry open a denied range, and only that', () => {
    const p = policy('10.8.0.0/16, 127.0.0.1:8080, [::1]:9000, fd00::/8');
    expect(p.refusal('10.8.3.4', 80)).toBeNull();
    expect(p.refusal('::ffff:10.8.3.4', 80)).toBeNull();
    expect(p.refusal('10.9.0.1', 80)).toContain('a private address (10.0.0.0/8)');
    expect(p.refusal('127.0.0.1', 8080)).toBeNull();
    expect(p.refusal('127.0.0.1', 8081)).toContain('a loopback address');
    expect(p.refusal('127.0.0.2', 8080)).toContain('a loopback address');
    expect(p.refusal('::1', 9000)).toBeNull();
    expect(p.refusal('::1', 9001)).toContain('a loopback address');
    expect(p.refusal('fd00:ec2::254', 80)).toBeNull();
    expect(p.refusal('fe80::1', 80)).toContain('link-local');
    expect(p.refusal('169.254.169.254', 80)).toContain('cloud metadata');
  });

  it('lets a host or host:port entry trust what that name resolves to', () => {
    const p = policy('n8n.internal:5678, Hooks.Corp');
    expect(p.allowsHost('n8n.internal', 5678)).toBe(true);
    expect(p.allowsHost('N8N.internal.', 5678)).toBe(true);
    expect(p.allowsHost('n8n.internal', 80)).toBe(false);
    expect(p.allowsHost('hooks.corp', 1234)).toBe(true);
    expect(p.allowsHost('evil.hooks.corp', 1234)).toBe(false);
    expect(p.allowsHost('10.0.0.1', 80)).toBe(false);
  });
});

describe('pinning: the connection goes to the address that was checked', () => {
  const resolver = (answers: Record<string, string[]>) => {
    const calls: string[] = [];
    const resolve = async (host: string) => {
      calls.push(host);
      return (answers[host] ?? []).map((address) => ({ address, family: address.includes(':') ? 6 : 4 }) as const);
    };
    return { calls, resolve };
  };

  it('refuses a name that resolves to a denied address, naming both, after one lookup', async () => {
    const r = resolver({ 'evil.test': ['93.184.216.34', '10.0.0.1'] });
    const refused = pinnedTarget(new URL('http://evil.test/x'), { policy: policy(), resolve: r.resolve });
    await expect(refused).rejects.toBeInstanceOf(EgressRefused);
    await expect(refused).rejects.toThrow(
      'egress refused for http://evil.test: evil.test resolves to 10.0.0.1 is a private address (10.0.0.0/8)',
    );
    expect(r.calls).toEqual(['evil.test']);
  });

  it('checks IP literals without a lookup, v4 and bracketed v6', async () => {
    const r = resolver({});
    for (const url of ['http://127.0.0.1:8080/', 'http://[::1]/', 'http://[::ffff:a9fe:a9fe]/', 'http://2130706433/']) {
      await expect(pinnedTarget(new URL(url), { policy: policy(), resolve: r.resolve })).rejects.toBeInstanceOf(
        EgressRefused,
      );
    }
    expect(r.calls).toEqual([]);
  });

  it('pins the first checked address, with the host name kept for TLS', async () => {
    const r = resolver({ 'hooks.example': ['93.184.216.34', '2606:2800:220:1::1'] });
    const target = await pinnedTarget(new URL('https://hooks.example/x'), { policy: policy(), resolve: r.resolve });
    expect(target).toEqual({ address: '93.184.216.34', family: 4, port: 443, tls: true, servername: 'hooks.example' });
  });

  it('trusts an allow-listed name even when it resolves to a private address', async () => {
    const r = resolver({ 'n8n.internal': ['10.1.2.3'] });
    const target = await pinnedTarget(new URL('http://n8n.internal:5678/'), {
      policy: policy('n8n.internal:5678'),
      resolve: r.resolve,
    });
    expect(target).toMatchObject({ address: '10.1.2.3', port: 5678, tls: false });
  });
});

describe('bounded step outputs', () => {
  const bounds = { maxOutputBytes: 100, maxJsonDepth: 32, maxErrorBodyChars: 20 };

  it('measures JSON nesting in one pass, ignoring brackets inside strings', () => {
    expect(jsonDeeperThan('[[[]]]', 3)).toBe(false);
    expect(jsonDeeperThan('[[[[]]]]', 3)).toBe(true);
    expect(jsonDeeperThan('{"a":"[[[[[[\\"[[[["}', 1)).toBe(false);
    expect(jsonDeeperThan(`${'['.repeat(5000)}${']'.repeat(5000)}`, 32)).toBe(true);
  });

  it('refuses a JSON body deeper than the bound, and keeps one at the bound', () => {
    const deep = `${'['.repeat(33)}${']'.repeat(33)}`;
    expect(() => stepOutput(200, 'application/json', Buffer.from(deep), bounds)).toThrow(
      'the JSON response nests deeper than 32 levels',
    );
    const ok = `${'['.repeat(32)}${']'.repeat(32)}`;
    expect(stepOutput(200, 'application/json', Buffer.from(ok), bounds).body).toEqual(JSON.parse(ok));
    // The same text as text/plain is a string: nothing recurses over it.
    expect(stepOutput(200, 'text/plain', Buffer.from(deep), { ...bounds, maxOutputBytes: 1000 }).body).toBe(deep);
  });

  it('cuts a body over the bound to a prefix with a marker and its size', () => {
    const text = 'é'.repeat(300);
    const out = stepOutput(200, 'text/plain', Buffer.from(text), bounds);
    expect(out).toMatchObject({ status: 200, truncated: true, bytes: 600 });
    expect(Buffer.byteLength(JSON.stringify(out.body))).toBeLessThanOrEqual(100);
    expect(text.startsWith(out.body as string)).toBe(true);
    // Escapes count: 100 bytes of JSON hold few NULs.
    const nul = prefixWithin('\u0000'.repeat(1000), 100);
    expect(Buffer.byteLength(JSON.stringify(nul))).toBeLessThanOrEqual(100);
    expect(nul.length).toBeGreaterThan(10);
    // A surrogate pair is never split.
    expect(prefixWithin('😀'.repeat(100), 9)).toBe('😀');
  });

  it('stores a body holding NUL or escaped lone surrogates as recordable text (U+FFFD), not a refused command', () => {
    const json = stepOutput(200, 'application/json', Buffer.from('{"t":"a\\u0000b","s":["\\ud800"]}'), bounds);
    expect(json.body).toEqual({ t: 'a\ufffdb', s: ['\ufffd'] });
    expect(stepOutput(200, 'text/plain', Buffer.from('x\u0000y'), bounds).body).toBe('x\ufffdy');
    // A surrogate pair is a character and stays.
    expect(stepOutput(200, 'application/json', Buffer.from('"\\ud83d\\ude00"'), bounds).body).toBe('😀');
  });

  it('quotes a short, clean prefix of an error body', () => {
    expect(errorBodyPrefix(Buffer.from('a\u0000b\u0007c\nd'), 20)).toBe('a\ufffdb\ufffdc\nd');
    expect(errorBodyPrefix(Buffer.from('x'.repeat(10_000)), 20)).toBe(`${'x'.repeat(20)} […]`);
  });
});
