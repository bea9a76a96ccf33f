import fs from 'node:fs';

/** A TCP socket in LISTEN state, with the address it is bound to. */
export interface ListeningSocket {
  pid: number;
  address: string;
  port: number;
}

/** The pid and every descendant of it (by /proc/<pid>/stat's parent field). */
export function processTree(root: number): number[] {
  const parents = new Map<number, number>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // `pid (comm) state ppid …`; comm may hold spaces and parentheses, so parse after the last ')'.
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      parents.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {}
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) {
    for (const [pid, ppid] of parents) if (ppid === tree[i] && !tree.includes(pid)) tree.push(pid);
  }
  return tree;
}

/** IPv4 from /proc/net/tcp: one little-endian 32-bit word. */
const ipv4 = (hex: string) => [6, 4, 2, 0].map((i) => Number.parseInt(hex.slice(i, i + 2), 16)).join('.');

/** IPv6 from /proc/net/tcp6: four little-endian 32-bit words. */
function ipv6(hex: string): string {
  const bytes: string[] = [];
  for (let w = 0; w < 4; w++) {
    const word = hex.slice(w * 8, w * 8 + 8);
    for (const i of [6, 4, 2, 0]) bytes.push(word.slice(i, i + 2));
  }
  const joined = bytes.join('').toLowerCase();
  if (joined.startsWith('00000000000000000000ffff')) return `::ffff:${ipv4(hex.slice(24))}`;
  const groups = [];
  for (let i = 0; i < 32; i += 4) groups.push(Number.parseInt(joined.slice(i, i + 4), 16).toString(16));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

/** Listening TCP sockets (IPv4 and IPv6) owned by the given processes. */
export function listeningSockets(pids: number[]): ListeningSocket[] {
  const owner = new Map<string, number>();
  for (const pid of pids) {
    let fds: string[] = [];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) owner.set(m[1]!, pid);
      } catch {}
    }
  }
  const found: ListeningSocket[] = [];
  for (const [file, decode] of [
    ['/proc/net/tcp', ipv4],
    ['/proc/net/tcp6', ipv6],
  ] as const) {
    for (const line of fs.readFileSync(file, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10 || cols[3] !== '0A') continue; // 0A: LISTEN
      const pid = owner.get(cols[9]!);
      if (pid === undefined) continue;
      const [hexAddress, hexPort] = cols[1]!.split(':') as [string, string];
      found.push({ pid, address: decode(hexAddress), port: Number.parseInt(hexPort, 16) });
    }
  }
  return found;
}

export const isLoopback = (address: string) =>
  address.startsWith('127.') || address === '::1' || address.startsWith('::ffff:127.');
