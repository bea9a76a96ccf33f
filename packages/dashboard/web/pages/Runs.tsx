import { Card, Group, Select, Stack, Table, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { query } from '../lib/api';
import { foldRun, type RunSource, type RunView } from '../lib/fold';
import { useEvents, useMayOperate, useSeenPosition } from '../lib/live';
import { listWithFallback } from '../lib/logLists';
import { href } from '../lib/router';
import { ErrorNotice, ms, StatusBadge, when } from '../lib/ui';
import { RunControls } from './RunControls';
import { RunDag } from './RunDag';

/** A run as `GET /api/runs` lists it (the read model; no steps). */
export interface RunItem {
  runId: string;
  workflowId: string;
  status: string;
  source?: RunSource | null;
  parentRunId?: string | null;
  requestedAt?: string;
  startedAt?: string;
  createdAt?: string;
}

/** Reads after a feed event wait for the read model to have it, answering stale rather than 504. */
const fresh = (seen: number) => ({ minPosition: seen || undefined, allowStale: seen ? 'true' : undefined });

/** Where the run came from: a schedule, a parent run, an integration, or (nothing said) by hand. */
function SourceText({ run }: { run: RunView }) {
  const { source, parent } = run;
  if (parent) {
    return (
      <span data-testid="run-source" data-kind="workflow">
        child of run{' '}
        <a href={href('runs', parent.runId)} data-testid="parent-run-link">
          {parent.runId}
        </a>{' '}
        (step {parent.stepId})
      </span>
    );
  }
  if (!source) {
    return (
      <span data-testid="run-source" data-kind="manual">
        manual
      </span>
    );
  }
  if (source.kind === 'schedule') {
    const scheduleId = source.ref?.split('@')[0];
    return (
      <span data-testid="run-source" data-kind="schedule">
        schedule <a href={href('schedules')}>{scheduleId ?? '?'}</a>
        {source.ref?.includes('@') ? ` at ${when(source.ref.split('@')[1])}` : ''}
      </span>
    );
  }
  return (
    <span data-testid="run-source" data-kind={source.kind}>
      {source.kind}
      {source.ref ? ` (${source.ref})` : ''}
    </span>
  );
}

/**
 * The runs that this run's `workflow.run` steps started, from the read model (`parentRunId`;
 * `source.ref` is `<parent>/<step>`). A step's output names its child once the child ended;
 * before that the list is the only place to find it.
 */
function useChildRuns(run: RunView | null) {
  const seen = useSeenPosition();
  const childSteps = run?.steps.filter((s) => s.type === 'workflow.run') ?? [];
  const waitingForChild = childSteps.some((s) => s.status === 'running' && s.attempt > 0 && !s.childRunId);
  const children = useQuery({
    queryKey: ['runs', 'children', run?.runId],
    enabled: childSteps.length > 0,
    queryFn: async () => {
      const list = await listWithFallback<RunItem>(
        `/api/runs${query({ parentRunId: run?.runId, limit: 500, ...fresh(seen()) })}`,
        'workflowRun',
        foldRun,
      );
      // The fallback folds the feed, unfiltered: keep only this run's children either way.
      return list.items.filter(
        (r) => r.parentRunId === run?.runId || (r as unknown as RunView).parent?.runId === run?.runId,
      );
    },
    // A child requested after the last event this page saw is found by the next read.
    refetchInterval: (q) => (waitingForChild && (q.state.data?.length ?? 0) === 0 ? 2000 : false),
  });
  return children;
}

export function RunPage({ id }: { id: string }) {
  const events = useEvents({ aggregateType: 'workflowRun', aggregateId: id }, 0);
  const run = foldRun(id, events);
  const mayOperate = useMayOperate();
  const children = useChildRuns(run);
  if (!run) return <Text>Loading run {id}…</Text>;
  const childOf = (stepId: string) =>
    run.steps.find((s) => s.stepId === stepId)?.childRunId ??
    children.data?.find((c) => (c.source?.ref ?? '').endsWith(`/${stepId}`))?.runId ??
    null;
  return (
    <Stack>
      <Text size="sm">
        <a href={href('runs')}>Runs</a> / {id}
      </Text>
      <Group>
        <Title order={2}>Run {id}</Title>
        <span data-testid="run-state" data-status={run.status}>
          <StatusBadge status={run.status} />
        </span>
        <Text size="sm">
          workflow <a href={href('workflows', run.workflowId)}>{run.workflowId}</a> v{run.definitionVersion} · requested{' '}
          {when(run.requestedAt)} · {run.finishedAt ? `took ${ms(run.requestedAt, run.finishedAt)}` : 'not finished'} ·
          source <SourceText run={run} />
        </Text>
      </Group>
      {run.status === 'paused' && (
        <Text c="yellow.8" data-testid="pause-note">
          Paused{run.pauseReason ? `: ${run.pauseReason}` : ''}. No step starts until the run is resumed; running steps
          finish.
        </Text>
      )}
      {mayOperate && <RunControls run={run} />}
      {run.error && <Text c="red">{run.error}</Text>}
      <RunDag run={run} />
      <Table aria-label="Steps" data-testid="step-table">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>step</Table.Th>
            <Table.Th>type</Table.Th>
            <Table.Th>state</Table.Th>
            <Table.Th>attempt</Table.Th>
            <Table.Th>started</Table.Th>
            <Table.Th>took</Table.Th>
            <Table.Th>note</Table.Th>
            <Table.Th>error</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {run.steps.map((s) => {
            const child = s.type === 'workflow.run' ? childOf(s.stepId) : null;
            return (
              <Table.Tr
                key={s.stepId}
                data-testid="step-row"
                data-step={s.stepId}
                data-status={s.status}
                data-attempt={s.attempt}
              >
                <Table.Td>{s.stepId}</Table.Td>
                <Table.Td>{s.type}</Table.Td>
                <Table.Td>
                  <StatusBadge status={s.status} />
                </Table.Td>
                <Table.Td>{s.attempt}</Table.Td>
                <Table.Td>{when(s.startedAt)}</Table.Td>
                <Table.Td>{ms(s.startedAt, s.finishedAt)}</Table.Td>
                <Table.Td>
                  {child ? (
                    <a href={href('runs', child)} data-testid="child-run-link" data-step={s.stepId}>
                      child run {child}
                    </a>
                  ) : (
                    (s.note ?? '')
                  )}
                </Table.Td>
                <Table.Td>{s.error ?? ''}</Table.Td>
              </Table.Tr>
            );
          })}
        </Table.Tbody>
      </Table>
      {(children.data?.length ?? 0) > 0 && (
        <Card withBorder component="section" aria-label="Child runs">
          <Title order={4}>Child runs</Title>
          <Table aria-label="Child runs">
            <Table.Tbody>
              {children.data?.map((c) => (
                <Table.Tr key={c.runId} data-testid="child-run-row">
                  <Table.Td>
                    <a href={href('runs', c.runId)}>{c.runId}</a>
                  </Table.Td>
                  <Table.Td>step {c.source?.ref?.split('/')[1] ?? '?'}</Table.Td>
                  <Table.Td>
                    <StatusBadge status={c.status} />
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Card>
      )}
      <ErrorNotice error={children.error} />
    </Stack>
  );
}

const sourceLabel = (r: RunItem) =>
  r.parentRunId ? 'child run' : r.source ? `${r.source.kind}${r.source.ref ? ` (${r.source.ref})` : ''}` : 'manual';

export function RunsPage() {
  const [status, setStatus] = useState<string | null>(null);
  const seen = useSeenPosition();
  const list = useQuery({
    queryKey: ['runs', status],
    queryFn: () => listWithFallback<RunItem>(`/api/runs${query({ status, ...fresh(seen()) })}`, 'workflowRun', foldRun),
  });
  const items = (list.data?.items ?? []).filter((r) => !status || r.status === status);
  return (
    <Stack>
      <Title order={2}>Runs</Title>
      <Select
        label="Status"
        placeholder="any"
        clearable
        value={status}
        onChange={setStatus}
        data={['requested', 'started', 'paused', 'succeeded', 'failed', 'cancelled']}
        w={220}
      />
      <ErrorNotice error={list.error} />
      <Card withBorder>
        <Table striped aria-label="Runs">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>run</Table.Th>
              <Table.Th>workflow</Table.Th>
              <Table.Th>status</Table.Th>
              <Table.Th>source</Table.Th>
              <Table.Th>requested</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {items.map((r) => (
              <Table.Tr key={r.runId} data-testid="run-row" data-run={r.runId} data-status={r.status}>
                <Table.Td>
                  <a href={href('runs', r.runId)}>{r.runId}</a>
                </Table.Td>
                <Table.Td>
                  <a href={href('workflows', r.workflowId)}>{r.workflowId}</a>
                </Table.Td>
                <Table.Td>
                  <StatusBadge status={r.status} />
                </Table.Td>
                <Table.Td>
                  {r.parentRunId ? <a href={href('runs', r.parentRunId)}>{sourceLabel(r)}</a> : sourceLabel(r)}
                </Table.Td>
                <Table.Td>{when(r.requestedAt ?? r.startedAt ?? r.createdAt)}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Card>
    </Stack>
  );
}
