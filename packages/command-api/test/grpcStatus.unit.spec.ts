import { readFileSync } from 'node:fs';
import { type ServiceError, status as Status } from '@grpc/grpc-js';
import { type ErrorCode, ErrorCodes, LightdomError } from '@lightdom/domain';
import { repoRoot } from '@lightdom/testkit';
import { describe, expect, it } from 'vitest';
import { grpcStatusOf, lightdomErrorOf, toServiceError } from '../src/index.js';

const codes = Object.keys(ErrorCodes) as ErrorCode[];

describe('gRPC error mapping', () => {
  it('maps every error code to a gRPC status', () => {
    for (const code of codes) {
      expect(Status[grpcStatusOf[code]], code).toBeDefined();
      expect(grpcStatusOf[code], code).not.toBe(Status.OK);
    }
    expect(Object.keys(grpcStatusOf).sort()).toEqual([...codes].sort());
  });

  it('carries the code, retryable flag, issues and details in trailing metadata, and reads them back', () => {
    const err = new LightdomError('VALIDATION_FAILED', 'Invalid data.name', {
      issues: [{ field: 'data.name', message: 'must not be empty — ünïcode' }],
      details: { hint: 'é' },
    });
    const status = toServiceError(err);
    expect(status.code).toBe(Status.INVALID_ARGUMENT);
    expect(status.metadata?.get('lightdom-error-code')).toEqual(['VALIDATION_FAILED']);
    expect(status.metadata?.get('lightdom-retryable')).toEqual(['false']);
    // Metadata values must be printable ASCII.
    expect(String(status.metadata?.get('lightdom-errors')[0])).toMatch(/^[\x20-\x7e]+$/);
    const back = lightdomErrorOf({ ...status, message: '', name: 'Error' } as ServiceError);
    expect(back).toMatchObject({ code: 'VALIDATION_FAILED', message: 'Invalid data.name', issues: err.issues });
    expect(back.details).toEqual({ hint: 'é' });
  });

  it('keeps a long issue list within the metadata size limit', () => {
    const issues = Array.from({ length: 500 }, (_, i) => ({ field: `data.items.${i}`, message: 'x'.repeat(200) }));
    const status = toServiceError(new LightdomError('VALIDATION_FAILED', undefined, { issues }));
    expect(String(status.metadata?.get('lightdom-errors')[0]).length).toBeLessThanOrEqual(4096);
  });

  it('reads a status without domain metadata as UNAVAILABLE or INTERNAL', () => {
    const bare = (code: Status) => ({ code, details: 'x', message: 'x', name: 'Error' }) as ServiceError;
    expect(lightdomErrorOf(bare(Status.UNAVAILABLE)).code).toBe('UNAVAILABLE');
    expect(lightdomErrorOf(bare(Status.UNKNOWN)).code).toBe('INTERNAL');
  });

  it('agrees with the table in docs/grpc.md', () => {
    const doc = readFileSync(`${repoRoot}/docs/grpc.md`, 'utf8');
    for (const code of codes) {
      const row = new RegExp(`^\\| \`${code}\` \\| \`${Status[grpcStatusOf[code]]}\` \\|`, 'm');
      expect(doc, code).toMatch(row);
    }
  });
});
