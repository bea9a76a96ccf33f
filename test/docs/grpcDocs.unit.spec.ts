import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '@lightdom/testkit';
import { describe, expect, it } from 'vitest';

const protoDir = join(repoRoot, 'packages/command-api/proto/lightdom/v1');

/** `Service.Method(Request) → Response` for every rpc of every proto file. */
function rpcs(): string[] {
  const found: string[] = [];
  for (const file of readdirSync(protoDir).filter((f) => f.endsWith('.proto'))) {
    let service = '';
    for (const line of readFileSync(join(protoDir, file), 'utf8').split('\n')) {
      const s = /^\s*service\s+(\w+)/.exec(line);
      if (s) service = s[1] as string;
      const r = /^\s*rpc\s+(\w+)\s*\(\s*(\w+)\s*\)\s*returns\s*\(\s*(stream\s+)?(\w+)\s*\)/.exec(line);
      if (r) found.push(`${service}.${r[1]}(${r[2]}) → ${r[3] ? 'stream ' : ''}${r[4]}`);
    }
  }
  return found;
}

describe('docs/grpc.md', () => {
  it('lists every RPC of the protos, with its request and response types', () => {
    const all = rpcs();
    expect(all.length).toBeGreaterThan(10);
    const doc = readFileSync(join(repoRoot, 'docs/grpc.md'), 'utf8');
    expect(all.filter((rpc) => !doc.includes(`\`${rpc}\``))).toEqual([]);
  });
});
