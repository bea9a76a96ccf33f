import { Button, Card, Group, Select, Stack, Table, Text, Textarea, Title } from '@mantine/core';
import { useMutation, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { ApiError, type CommandResult, isMissingRoute, request, sendCommand } from '../lib/api';
import { foldWorkflow, type WorkflowView } from '../lib/fold';
import { useEvents } from '../lib/live';
import { listWithFallback } from '../lib/logLists';
import { href, navigate } from '../lib/router';
import { ErrorNotice, StatusBadge, when } from '../lib/ui';

const template = JSON.stringify(
  {
    name: 'Launch announcement',
    description: 'Write a text, then wait a moment',
    steps: [
      { id: 'write', type: 'ai.generate', input: { model: 'deepseek-r1:7b', prompt: 'Announce the launch' } },
      { id: 'pause', type: 'delay', input: { ms: 100 }, dependsOn: ['write'] },
    ],
  },
  null,
  2,
);

interface WorkflowItem {
  workflowId?: string;
  id?: string;
  name: string;
  status: string;
  definitionVersion?: number;
  versions?: unknown[];
}

/** A JSON text, parsed; a syntax error is reported at the editor (its field). */
function parseJson(text: string, field: string): Record<string, unknown> {
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('must be a JSON object');
    return v as Record<string, unknown>;
  } catch (err) {
    throw new ApiError(400, 'VALIDATION_FAILED', 'The JSON is not valid', [{ field, message: (err as Error).message }]);
  }
}

/** Field errors of a command, each named by its path in the editor's JSON (`steps.0.type`). */
function JsonFieldErrors({ error, prefix }: { error: unknown; prefix: string }) {
  if (!(error instanceof ApiError)) return error ? <ErrorNotice error={error} /> : null;
  if (error.fieldErrors.length === 0) return <ErrorNotice error={error} />;
  return (
    <ul aria-label="Problems in the definition" data-testid="field-errors">
      {error.fieldErrors.map((f) => (
        <li key={f.field} style={{ color: 'var(--mantine-color-red-7)' }}>
          <code>{f.field.startsWith(prefix) ? f.field.slice(prefix.length) : f.field}</code>: {f.message}
        </li>
      ))}
    </ul>
  );
}

function DefineWorkflow() {
  const [text, setText] = useState(template);
  const define = useMutation({
    mutationFn: () => sendCommand({ type: 'DefineWorkflow', data: parseJson(text, 'definition') }),
    onSuccess: (r) => navigate('workflows', r.id),
  });
  return (
    <Card withBorder component="section" aria-label="Define a workflow">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          define.mutate();
        }}
      >
        <Title order={4}>Define a workflow</Title>
        <Textarea
          label="Definition (JSON: name, description, steps)"
          value={text}
          onChange={(e) => setText(e.currentTarget.value)}
          autosize
          minRows={8}
          styles={{ input: { fontFamily: 'monospace' } }}
          error={define.error ? 'See the problems below' : undefined}
          aria-invalid={define.error ? true : undefined}
        />
        <JsonFieldErrors error={define.error} prefix="data." />
        <Button type="submit" mt="sm" loading={define.isPending}>
          Define
        </Button>
      </form>
    </Card>
  );
}

export function WorkflowsPage() {
  const list = useQuery({
    queryKey: ['workflows'],
    queryFn: () => listWithFallback<WorkflowItem>('/api/workflows', 'workflow', foldWorkflow),
  });
  return (
    <Stack>
      <Title order={2}>Workflows</Title>
      <DefineWorkflow />
      <ErrorNotice error={list.error} />
      <Table striped aria-label="Workflows">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>name</Table.Th>
            <Table.Th>status</Table.Th>
            <Table.Th>version</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {list.data?.items.map((w) => {
            const id = w.workflowId ?? w.id ?? '';
            return (
              <Table.Tr key={id}>
                <Table.Td>
                  <a href={href('workflows', id)}>{w.name}</a>
                </Table.Td>
                <Table.Td>
                  <StatusBadge status={w.status} />
                </Table.Td>
                <Table.Td>{w.definitionVersion ?? w.versions?.length}</Table.Td>
              </Table.Tr>
            );
          })}
        </Table.Tbody>
      </Table>
    </Stack>
  );
}

/**
 * `POST /api/workflows/:id/runs`, where the core fills the steps from the definition. An
 * API without that route takes `RequestWorkflowRun` with the steps of the version shown;
 * one whose core refuses client steps (400 naming `data.steps`) gets the command without them.
 */
async function requestRun(workflow: WorkflowView, input: Record<string, unknown>, version: number | undefined) {
  const body = { input, ...(version ? { definitionVersion: version } : {}) };
  try {
    return await request<CommandResult>(`/api/workflows/${workflow.workflowId}/runs`, { method: 'POST', body });
  } catch (err) {
    if (!isMissingRoute(err)) throw err;
  }
  const pinned = workflow.versions.find((v) => v.definitionVersion === version) ?? workflow.versions.at(-1)!;
  const data = { workflowId: workflow.workflowId, ...body };
  try {
    return await sendCommand({
      type: 'RequestWorkflowRun',
      data: { ...data, definitionVersion: pinned.definitionVersion, steps: pinned.steps },
    });
  } catch (err) {
    if (err instanceof ApiError && err.forField('data.steps')) return sendCommand({ type: 'RequestWorkflowRun', data });
    throw err;
  }
}

function StartRun({ workflow }: { workflow: WorkflowView }) {
  const [input, setInput] = useState('{\n  "product": "LightDom"\n}');
  const [version, setVersion] = useState<string | null>(null);
  const start = useMutation({
    mutationFn: () => requestRun(workflow, parseJson(input, 'input'), version ? Number(version) : undefined),
    onSuccess: (r) => navigate('runs', r.id),
  });
  return (
    <Card withBorder component="section" aria-label="Start a run">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          start.mutate();
        }}
      >
        <Title order={4}>Start a run</Title>
        <Select
          label="Definition version"
          placeholder="current"
          clearable
          value={version}
          onChange={setVersion}
          data={workflow.versions.map((v) => String(v.definitionVersion))}
        />
        <Textarea
          label="Input (JSON)"
          value={input}
          onChange={(e) => setInput(e.currentTarget.value)}
          autosize
          minRows={3}
          styles={{ input: { fontFamily: 'monospace' } }}
          error={start.error instanceof ApiError ? start.error.forField('input') : undefined}
        />
        {!(start.error instanceof ApiError && start.error.forField('input')) && <ErrorNotice error={start.error} />}
        <Button type="submit" mt="sm" loading={start.isPending} disabled={workflow.status !== 'active'}>
          Start run
        </Button>
      </form>
    </Card>
  );
}

export function WorkflowPage({ id }: { id: string }) {
  const events = useEvents({ aggregateType: 'workflow', aggregateId: id }, 0);
  const wf = foldWorkflow(id, events);
  if (!wf) return <Text>Loading workflow {id}…</Text>;
  return (
    <Stack>
      <Text size="sm">
        <a href={href('workflows')}>Workflows</a> / {id}
      </Text>
      <Group>
        <Title order={2}>{wf.name}</Title>
        <StatusBadge status={wf.status} />
      </Group>
      <Text>{wf.description}</Text>
      <StartRun workflow={wf} />
      {wf.versions.map((v) => (
        <Card withBorder key={v.definitionVersion} component="section" aria-label={`Version ${v.definitionVersion}`}>
          <Title order={5}>
            Version {v.definitionVersion} · {when(v.at)}
          </Title>
          <Table>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>step</Table.Th>
                <Table.Th>type</Table.Th>
                <Table.Th>depends on</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {v.steps.map((s) => (
                <Table.Tr key={s.id}>
                  <Table.Td>{s.id}</Table.Td>
                  <Table.Td>{s.type}</Table.Td>
                  <Table.Td>{(s.dependsOn ?? []).join(', ') || '—'}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Card>
      ))}
    </Stack>
  );
}
