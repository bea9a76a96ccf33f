import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const contracts = fileURLToPath(new URL('../../../contracts/', import.meta.url));
const bin = fileURLToPath(new URL('../../../node_modules/.bin/', import.meta.url));

describe('contracts/ (Hardhat, in-process network, offline solc-js)', () => {
  it('compiles AuditAnchor and passes its Hardhat tests, with a gas figure per anchor', async () => {
    // `hardhat test` compiles first (cached in contracts/cache and artifacts/ after one run).
    const { stdout } = await run(`${bin}hardhat`, ['test'], { cwd: contracts, timeout: 170_000 });
    expect(stdout).toMatch(/3 passing/);
    expect(stdout).not.toMatch(/failing/);
    const gas = /gas per anchor: first (\d+), next (\d+)/.exec(stdout);
    expect(gas, stdout).not.toBeNull();
    expect(Number(gas![2])).toBeLessThan(150_000);
  }, 180_000);

  it('ships the compiled ABI and bytecode that packages/anchor deploys', async () => {
    const { stdout } = await run(`${bin}ts-node`, ['--transpile-only', 'scripts/exportArtifact.ts', '--check'], {
      cwd: contracts,
      timeout: 60_000,
    });
    expect(stdout).toMatch(/up to date/);
  }, 60_000);
});
