import { type AuditCheckpointCommand, auditCheckpointCommandSchemas, auditCheckpointDecider } from '@lightdom/domain';
import { parseCommand } from '@lightdom/eventstore';
import { describe, expect, it } from 'vitest';
import { deciderHarness, expectError } from './support/deciders.js';

const ctx = { now: new Date('2026-03-01T10:00:00Z'), aggregateId: 'cp1' };

const { cmd, given } = deciderHarness(auditCheckpointDecider, auditCheckpointCommandSchemas, ctx);

const root = 'ab'.repeat(32);
const tx = `0x${'12'.repeat(32)}`;
const otherTx = `0x${'34'.repeat(32)}`;
const range = { fromPosition: 1, toPosition: 100, merkleRoot: root, commitCount: 100 };
const anchor = (extra: Record<string, unknown> = {}) => cmd('AnchorAuditCheckpoint', { ...range, ...extra });
const record = (extra: Record<string, unknown> = {}) =>
  cmd('RecordCheckpointTransaction', { chainId: 31337, transactionHash: tx, blockNumber: 42, ...extra });
const fieldsOf = (data: unknown) =>
  expectError(() => parseCommand({ type: 'AnchorAuditCheckpoint', data }), 'VALIDATION_FAILED').issues?.map(
    (i) => i.field,
  );

describe('audit checkpoint decider', () => {
  it('anchors a position range with its Merkle root', () => {
    expect(auditCheckpointDecider.decide(anchor(), auditCheckpointDecider.initialState(), ctx)).toEqual([
      { type: 'AuditCheckpointAnchored', data: { ...range, chainId: null, transactionHash: null } },
    ]);
    expect(given(anchor({ chainId: 31337, transactionHash: tx.toUpperCase().replace('0X', '0x') }))).toMatchObject({
      status: 'anchored',
      chainId: 31337,
      transactionHash: tx,
    });
  });

  it('names each bad field', () => {
    expect(new Set(fieldsOf({ ...range, toPosition: 0 }))).toEqual(new Set(['data.toPosition']));
    expect(fieldsOf({ ...range, fromPosition: 50, toPosition: 10 })).toEqual(['data.toPosition']);
    expect(fieldsOf({ ...range, merkleRoot: 'xyz' })).toEqual(['data.merkleRoot']);
    expect(fieldsOf({ ...range, merkleRoot: root.toUpperCase() })).toEqual(['data.merkleRoot']);
    expect(fieldsOf({ ...range, commitCount: 101 })).toEqual(['data.commitCount']);
    expect(fieldsOf({ ...range, transactionHash: tx })).toEqual(['data.chainId']);
    expect(fieldsOf({ ...range, transactionHash: '0x12', chainId: 1 })).toEqual(['data.transactionHash']);
    expect(
      auditCheckpointCommandSchemas.AnchorAuditCheckpoint.safeParse({ ...range, toPosition: 1, commitCount: 1 })
        .success,
    ).toBe(true);
  });

  it('checks the range in the decider too', () => {
    const unchecked = {
      type: 'AnchorAuditCheckpoint',
      data: { ...range, fromPosition: 5, toPosition: 4 },
    } as AuditCheckpointCommand;
    const err = expectError(
      () => auditCheckpointDecider.decide(unchecked, auditCheckpointDecider.initialState(), ctx),
      'VALIDATION_FAILED',
    );
    expect(err.issues?.[0]?.field).toBe('data.toPosition');
  });

  it('refuses to anchor twice and to confirm a checkpoint that does not exist', () => {
    expectError(() => auditCheckpointDecider.decide(anchor(), given(anchor()), ctx), 'ALREADY_EXISTS');
    expectError(() => auditCheckpointDecider.decide(record(), auditCheckpointDecider.initialState(), ctx), 'NOT_FOUND');
  });

  it('records the mined transaction', () => {
    expect(auditCheckpointDecider.decide(record(), given(anchor()), ctx)).toEqual([
      { type: 'AuditCheckpointConfirmed', data: { chainId: 31337, transactionHash: tx, blockNumber: 42 } },
    ]);
    expect(given(anchor(), record())).toMatchObject({
      status: 'confirmed',
      chainId: 31337,
      transactionHash: tx,
      blockNumber: 42,
    });
  });

  it('accepts a replacement transaction but not another chain', () => {
    const sent = given(anchor({ chainId: 31337, transactionHash: tx }));
    expect(auditCheckpointDecider.decide(record({ transactionHash: otherTx }), sent, ctx)).toHaveLength(1);
    const err = expectError(
      () => auditCheckpointDecider.decide(record({ chainId: 1 }), sent, ctx),
      'INVARIANT_VIOLATION',
    );
    expect(err.details?.field).toBe('data.chainId');
  });

  it('confirms once: the same transaction again changes nothing, another one is refused', () => {
    const confirmed = given(anchor(), record());
    expect(auditCheckpointDecider.decide(record(), confirmed, ctx)).toEqual([]);
    const err = expectError(
      () => auditCheckpointDecider.decide(record({ transactionHash: otherTx }), confirmed, ctx),
      'INVALID_TRANSITION',
    );
    expect(err.details?.status).toBe('confirmed');
  });
});
