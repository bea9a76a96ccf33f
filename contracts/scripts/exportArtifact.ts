import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Copies the compiled ABI and bytecode into packages/anchor, so the anchor service, the
 * CLI and the start script deploy and call the contract without Hardhat. The contract
 * tests check the copy matches a fresh compile (`--check`).
 */
const compiled = JSON.parse(
  readFileSync(join(__dirname, '../artifacts/contracts/AuditAnchor.sol/AuditAnchor.json'), 'utf8'),
) as { contractName: string; abi: unknown; bytecode: string };
const target = join(__dirname, '../../packages/anchor/src/AuditAnchor.artifact.json');
const text = `${JSON.stringify({ contractName: compiled.contractName, abi: compiled.abi, bytecode: compiled.bytecode }, null, 2)}\n`;
if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {}
  if (current !== text) {
    process.stderr.write(`${target} is out of date: run npm run export-artifact -w contracts\n`);
    process.exit(1);
  }
  process.stdout.write('artifact up to date\n');
} else {
  writeFileSync(target, text);
  process.stdout.write(`wrote ${target}\n`);
}
