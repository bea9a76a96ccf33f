import { Alert, Button, Card, Group, NumberInput, Progress, Stack, Text, Title } from '@mantine/core';
import { useRef, useState } from 'react';
import { request } from '../lib/api';
import type { FeedEvent } from '../lib/feed';
import { ErrorNotice } from '../lib/ui';

interface Violation {
  kind: 'missing-position' | 'position-order' | 'version-gap' | 'index-gap';
  position: number;
  detail: string;
}

interface Result {
  commits: number;
  events: number;
  aggregates: number;
  first: number | null;
  last: number | null;
  violations: Violation[];
}

/**
 * Checks what the public events API lets a browser check: positions gapless and strictly
 * increasing, each aggregate's versions consecutive, each commit's event indexes 0..n-1.
 * The hashes (`hash`, `prevHash`) are not part of `GET /api/events`, so the hash chain
 * itself is checked by `npm run audit:verify` (see docs/dashboard.md).
 */
async function verify(
  from: number,
  to: number | null,
  onProgress: (p: number, at: number) => void,
  stop: () => boolean,
) {
  const head = to ?? (await request<{ position: number }>('/api/stats')).position;
  const r: Result = { commits: 0, events: 0, aggregates: 0, first: null, last: null, violations: [] };
  const versions = new Map<string, number>();
  let after = Math.max(0, from - 1);
  let lastPosition: number | null = null;
  let commitIndex = -1;
  const flag = (v: Violation) => r.violations.length < 100 && r.violations.push(v);
  while (!stop()) {
    const page = await request<{ events: FeedEvent[]; nextAfter: number; hasMore: boolean }>(
      `/api/events?after=${after}&limit=1000`,
    );
    for (const e of page.events) {
      if (to !== null && e.position > to) break;
      if (e.position !== lastPosition) {
        if (lastPosition !== null && e.position < lastPosition) {
          flag({ kind: 'position-order', position: e.position, detail: `after ${lastPosition}` });
        } else if (lastPosition !== null && e.position > lastPosition + 1) {
          flag({ kind: 'missing-position', position: lastPosition + 1, detail: `next is ${e.position}` });
        } else if (lastPosition === null && from > 0 && e.position !== from) {
          flag({ kind: 'missing-position', position: from, detail: `first is ${e.position}` });
        }
        r.commits++;
        r.first ??= e.position;
        lastPosition = e.position;
        commitIndex = -1;
      }
      if (e.index !== commitIndex + 1) {
        flag({ kind: 'index-gap', position: e.position, detail: `index ${e.index} after ${commitIndex}` });
      }
      commitIndex = e.index;
      const key = `${e.aggregateType}/${e.aggregateId}`;
      const prev = versions.get(key);
      // A ranged check trusts each aggregate's first version in the range, like audit verify's anchors.
      if (prev !== undefined && e.version !== prev + 1) {
        flag({ kind: 'version-gap', position: e.position, detail: `${key}: version ${e.version} after ${prev}` });
      }
      versions.set(key, e.version);
      r.events++;
    }
    r.last = lastPosition;
    onProgress(Math.min(1, (after - from + 1) / Math.max(1, head - from + 1)), page.nextAfter);
    after = page.nextAfter;
    if (!page.hasMore || (to !== null && after >= to)) break;
  }
  r.aggregates = versions.size;
  return r;
}

export function AuditPage() {
  const [from, setFrom] = useState<number | string>(1);
  const [to, setTo] = useState<number | string>('');
  const [progress, setProgress] = useState<{ done: number; at: number } | null>(null);
  const [result, setResult] = useState<Result | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [running, setRunning] = useState(false);
  const cancelled = useRef(false);
  const run = async () => {
    setRunning(true);
    setResult(null);
    setError(null);
    cancelled.current = false;
    try {
      setResult(
        await verify(
          Number(from) || 1,
          to === '' ? null : Number(to),
          (done, at) => setProgress({ done, at }),
          () => cancelled.current,
        ),
      );
    } catch (err) {
      setError(err);
    } finally {
      setRunning(false);
    }
  };
  return (
    <Stack>
      <Title order={2}>Audit</Title>
      <Text size="sm">
        Checks the log as the events API returns it: no position missing, positions in order, every aggregate's versions
        consecutive. The hash chain is checked with <code>npm run audit:verify</code>; the API does not give browsers
        the commit hashes.
      </Text>
      <Card withBorder component="section" aria-label="Verify the log">
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void run();
          }}
        >
          <Group align="flex-end">
            <NumberInput label="From position" value={from} onChange={setFrom} min={1} />
            <NumberInput label="To position (empty: the head)" value={to} onChange={setTo} min={1} />
            <Button type="submit" loading={running}>
              Verify
            </Button>
            {running && (
              <Button variant="default" onClick={() => (cancelled.current = true)}>
                Stop
              </Button>
            )}
          </Group>
        </form>
        {progress && (
          <Stack gap={4} mt="sm">
            <Progress value={progress.done * 100} aria-label="Verification progress" />
            <Text size="xs">at position {progress.at}</Text>
          </Stack>
        )}
      </Card>
      <ErrorNotice error={error} />
      {result && (
        <Alert
          color={result.violations.length === 0 ? 'green' : 'red'}
          title={result.violations.length === 0 ? 'The log verifies' : `${result.violations.length} problems`}
          role="status"
          data-testid="audit-result"
        >
          <Text size="sm">
            {result.commits} commits ({result.events} events) of {result.aggregates} aggregates, positions{' '}
            {result.first ?? '—'}..{result.last ?? '—'}
          </Text>
          {result.violations.slice(0, 10).map((v) => (
            <Text size="sm" key={`${v.kind}${v.position}`}>
              {v.kind} at position {v.position}: {v.detail}
            </Text>
          ))}
        </Alert>
      )}
    </Stack>
  );
}
