import dagre from '@dagrejs/dagre';
import { Button, Card, Group, Select, Stack, Table, Text, Title } from '@mantine/core';
import { useMutation, useQuery } from '@tanstack/react-query';
import { Background, Controls, type Edge, type Node, Position, ReactFlow } from '@xyflow/react';
import { useMemo, useState } from 'react';
import { query, sendCommand } from '../lib/api';
import { foldRun, type RunView, type StepView } from '../lib/fold';
import { useEvents } from '../lib/live';
import { listWithFallback } from '../lib/logLists';
import { href } from '../lib/router';
import { ErrorNotice, ms, StatusBadge, when } from '../lib/ui';

const nodeColors: Record<StepView['status'], string> = {
  pending: '#f1f3f5',
  running: '#d0ebff',
  retryScheduled: '#ffe8cc',
  succeeded: '#d3f9d8',
  failed: '#ffe3e3',
};

const width = 190;
const height = 64;

/** Steps laid out left to right by their dependencies (dagre), coloured by state. */
function layout(steps: StepView[]): { nodes: Node[]; edges: Edge[] } {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: 'LR', nodesep: 30, ranksep: 60 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const s of steps) g.setNode(s.stepId, { width, height });
  for (const s of steps) for (const d of s.dependsOn) g.setEdge(d, s.stepId);
  dagre.layout(g);
  const nodes = steps.map((s) => {
    const p = g.node(s.stepId);
    return {
      id: s.stepId,
      position: { x: (p?.x ?? 0) - width / 2, y: (p?.y ?? 0) - height / 2 },
      data: {
        label: (
          <div data-testid="dag-step" data-step={s.stepId} data-status={s.status}>
            <b>{s.stepId}</b> ({s.type})
            <br />
            {s.status}
            {s.attempt > 1 ? ` · attempt ${s.attempt}` : ''}
            {s.startedAt && s.finishedAt ? ` · ${ms(s.startedAt, s.finishedAt)}` : ''}
          </div>
        ),
      },
      style: { width, background: nodeColors[s.status], fontSize: 12 },
      draggable: false,
      // Left to right, like the layout.
      sourcePosition: Position.Right,
      targetPosition: Position.Left,
    } satisfies Node;
  });
  const edges = steps.flatMap((s) =>
    s.dependsOn.map((d) => ({
      id: `${d}->${s.stepId}`,
      source: d,
      target: s.stepId,
      animated: s.status === 'running',
    })),
  );
  return { nodes, edges };
}

function RunDag({ run }: { run: RunView }) {
  const { nodes, edges } = useMemo(() => layout(run.steps), [run]);
  return (
    <div style={{ height: 320, border: '1px solid var(--mantine-color-gray-3)' }} aria-hidden="true">
      <ReactFlow nodes={nodes} edges={edges} fitView nodesConnectable={false} proOptions={{ hideAttribution: true }}>
        <Background />
        <Controls showInteractive={false} />
      </ReactFlow>
    </div>
  );
}

export function RunPage({ id }: { id: string }) {
  const events = useEvents({ aggregateType: 'workflowRun', aggregateId: id }, 0);
  const run = foldRun(id, events);
  const cancel = useMutation({
    mutationFn: () =>
      sendCommand({ type: 'CancelWorkflowRun', aggregateId: id, data: { reason: 'cancelled from the dashboard' } }),
  });
  if (!run) return <Text>Loading run {id}…</Text>;
  const finished = ['succeeded', 'failed', 'cancelled'].includes(run.status);
  return (
    <Stack>
      <Text size="sm">
        <a href={href('runs')}>Runs</a> / {id}
      </Text>
      <Group>
        <Title order={2}>Run {id}</Title>
        <StatusBadge status={run.status} />
        <Text size="sm">
          workflow <a href={href('workflows', run.workflowId)}>{run.workflowId}</a> v{run.definitionVersion} · requested{' '}
          {when(run.requestedAt)} · {run.finishedAt ? `took ${ms(run.requestedAt, run.finishedAt)}` : 'running'}
        </Text>
        <Button
          color="red"
          variant="light"
          disabled={finished}
          onClick={() => cancel.mutate()}
          loading={cancel.isPending}
        >
          Cancel run
        </Button>
      </Group>
      <ErrorNotice error={cancel.error} />
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
            <Table.Th>error</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {run.steps.map((s) => (
            <Table.Tr key={s.stepId} data-testid="step-row" data-step={s.stepId} data-status={s.status}>
              <Table.Td>{s.stepId}</Table.Td>
              <Table.Td>{s.type}</Table.Td>
              <Table.Td>
                <StatusBadge status={s.status} />
              </Table.Td>
              <Table.Td>{s.attempt}</Table.Td>
              <Table.Td>{when(s.startedAt)}</Table.Td>
              <Table.Td>{ms(s.startedAt, s.finishedAt)}</Table.Td>
              <Table.Td>{s.error ?? ''}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Stack>
  );
}

interface RunItem {
  runId: string;
  workflowId: string;
  status: string;
  requestedAt?: string;
  startedAt?: string;
}

export function RunsPage() {
  const [status, setStatus] = useState<string | null>(null);
  const list = useQuery({
    queryKey: ['runs', status],
    queryFn: () => listWithFallback<RunItem>(`/api/runs${query({ status })}`, 'workflowRun', foldRun),
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
        data={['requested', 'started', 'succeeded', 'failed', 'cancelled']}
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
              <Table.Th>requested</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {items.map((r) => (
              <Table.Tr key={r.runId}>
                <Table.Td>
                  <a href={href('runs', r.runId)}>{r.runId}</a>
                </Table.Td>
                <Table.Td>{r.workflowId}</Table.Td>
                <Table.Td>
                  <StatusBadge status={r.status} />
                </Table.Td>
                <Table.Td>{when(r.requestedAt ?? r.startedAt)}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Card>
    </Stack>
  );
}
