import { Button, Card, Group, Stack, Table, Text, Textarea, TextInput, Title } from '@mantine/core';
import { useMutation, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { sendCommand } from '../lib/api';
import { foldAiTask } from '../lib/fold';
import { useEvents } from '../lib/live';
import { listWithFallback } from '../lib/logLists';
import { href, navigate } from '../lib/router';
import { ErrorNotice, fieldError, ms, StatusBadge, when } from '../lib/ui';

function RequestTask() {
  const [model, setModel] = useState('deepseek-r1:7b');
  const [prompt, setPrompt] = useState('');
  const ask = useMutation({
    mutationFn: () => sendCommand({ type: 'RequestAiTask', data: { model, prompt } }),
    onSuccess: (r) => navigate('ai-tasks', r.id),
  });
  const err = ask.error;
  return (
    <Card withBorder component="section" aria-label="Request an AI task">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          ask.mutate();
        }}
      >
        <Title order={4}>Ask a model</Title>
        <Group align="flex-start">
          <TextInput
            label="Model"
            value={model}
            onChange={(e) => setModel(e.currentTarget.value)}
            error={fieldError(err, 'model')}
          />
          <Textarea
            label="Prompt"
            value={prompt}
            onChange={(e) => setPrompt(e.currentTarget.value)}
            autosize
            minRows={2}
            w={420}
            error={fieldError(err, 'prompt')}
          />
          <Button type="submit" mt={24} loading={ask.isPending}>
            Request
          </Button>
        </Group>
        {err && !fieldError(err, 'model') && !fieldError(err, 'prompt') && <ErrorNotice error={err} />}
      </form>
    </Card>
  );
}

interface TaskItem {
  taskId: string;
  status: string;
  model: string;
  promptSummary?: string;
  prompt?: string;
}

export function AiTasksPage() {
  const list = useQuery({
    queryKey: ['ai-tasks'],
    queryFn: () => listWithFallback<TaskItem>('/api/ai-tasks', 'aiTask', foldAiTask),
  });
  return (
    <Stack>
      <Title order={2}>AI tasks</Title>
      <RequestTask />
      <ErrorNotice error={list.error} />
      <Table striped aria-label="AI tasks">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>task</Table.Th>
            <Table.Th>model</Table.Th>
            <Table.Th>status</Table.Th>
            <Table.Th>prompt</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {list.data?.items.map((t) => (
            <Table.Tr key={t.taskId}>
              <Table.Td>
                <a href={href('ai-tasks', t.taskId)}>{t.taskId}</a>
              </Table.Td>
              <Table.Td>{t.model}</Table.Td>
              <Table.Td>
                <StatusBadge status={t.status} />
              </Table.Td>
              <Table.Td>{(t.promptSummary ?? t.prompt ?? '').slice(0, 80)}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Stack>
  );
}

export function AiTaskPage({ id }: { id: string }) {
  const events = useEvents({ aggregateType: 'aiTask', aggregateId: id }, 0);
  const task = foldAiTask(id, events);
  const cancel = useMutation({ mutationFn: () => sendCommand({ type: 'CancelAiTask', aggregateId: id, data: {} }) });
  if (!task) return <Text>Loading task {id}…</Text>;
  const finished = ['completed', 'failed', 'cancelled'].includes(task.status);
  return (
    <Stack>
      <Text size="sm">
        <a href={href('ai-tasks')}>AI tasks</a> / {id}
      </Text>
      <Group>
        <Title order={2}>AI task</Title>
        <StatusBadge status={task.status} />
        <Text size="sm">
          {task.model} · attempt {task.attempts} · requested {when(task.requestedAt)} · tokens {task.tokens.prompt} in /{' '}
          {task.tokens.completion} out ·{' '}
          {task.durationMs !== null ? `${task.durationMs} ms in the model` : ms(task.startedAt, task.finishedAt)}
        </Text>
        <Button color="red" variant="light" disabled={finished} onClick={() => cancel.mutate()}>
          Cancel
        </Button>
      </Group>
      <ErrorNotice error={cancel.error} />
      {task.workflowRunId && (
        <Text size="sm">
          for run <a href={href('runs', task.workflowRunId)}>{task.workflowRunId}</a>
        </Text>
      )}
      <Card withBorder component="section" aria-label="Prompt">
        <Title order={5}>Prompt</Title>
        <Text style={{ whiteSpace: 'pre-wrap' }}>{task.prompt}</Text>
      </Card>
      {task.reasoning && (
        <details data-testid="reasoning">
          <summary>Reasoning ({task.reasoning.length} characters, folded)</summary>
          <Text size="sm" c="dimmed" style={{ whiteSpace: 'pre-wrap' }}>
            {task.reasoning}
          </Text>
        </details>
      )}
      <Card withBorder component="section" aria-label="Output">
        <Title order={5}>Output</Title>
        <Text style={{ whiteSpace: 'pre-wrap' }} aria-live="polite" data-testid="ai-output" data-status={task.status}>
          {task.output}
        </Text>
      </Card>
      {task.error && <Text c="red">{task.error}</Text>}
    </Stack>
  );
}
