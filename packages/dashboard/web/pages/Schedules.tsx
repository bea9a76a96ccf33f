import { Button, Card, Group, Select, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { useMutation, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { type CommandResult, type Page, query, request } from '../lib/api';
import { useMayOperate, useSeenPosition } from '../lib/live';
import { href } from '../lib/router';
import { ErrorNotice, fieldError, StatusBadge, when } from '../lib/ui';

/** A schedule as `GET /api/schedules` lists it (docs/executor.md, Schedules). */
interface ScheduleItem {
  scheduleId: string;
  workflowId: string;
  definitionVersion: number | null;
  status: 'active' | 'paused' | 'completed' | 'deleted';
  cron: string | null;
  timezone: string;
  at: string | null;
  createdBy: string | null;
  lastSlot: string | null;
  lastRunId: string | null;
  firedCount: number;
  missedSlots: number;
  /** When it fires next (the API works it out as the executor does); null when it will not. */
  nextSlot: string | null;
}

const post = (path: string, body: Record<string, unknown> = {}) =>
  request<CommandResult>(path, { method: 'POST', body });

export function SchedulesPage() {
  const [status, setStatus] = useState<string | null>(null);
  const seen = useSeenPosition();
  const mayOperate = useMayOperate();
  const list = useQuery({
    queryKey: ['schedules', status],
    queryFn: () => {
      const s = seen();
      return request<Page<ScheduleItem>>(
        `/api/schedules${query({ status, limit: 500, minPosition: s || undefined, allowStale: s ? 'true' : undefined })}`,
      );
    },
  });
  // Names for the workflow links (the id stands in when the list cannot be read).
  const workflows = useQuery({
    queryKey: ['workflows', 'names'],
    queryFn: () => request<Page<{ workflowId: string; name: string }>>('/api/workflows?limit=500'),
  });
  const workflowName = (id: string) => workflows.data?.items.find((w) => w.workflowId === id)?.name ?? id;
  const control = useMutation({
    mutationFn: ({ id, action }: { id: string; action: 'pause' | 'resume' | 'delete' }) => {
      const path = `/api/schedules/${encodeURIComponent(id)}`;
      if (action === 'delete') return request<CommandResult>(path, { method: 'DELETE', body: {} });
      return post(`${path}/${action}`, action === 'pause' ? { reason: 'paused from the dashboard' } : {});
    },
  });
  return (
    <Stack>
      <Title order={2}>Schedules</Title>
      {mayOperate && <CreateSchedule />}
      <Select
        label="Status"
        placeholder="any"
        clearable
        value={status}
        onChange={setStatus}
        data={['active', 'paused', 'completed', 'deleted']}
        w={220}
      />
      <ErrorNotice error={list.error ?? control.error} />
      <Card withBorder>
        <Table striped aria-label="Schedules">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>schedule</Table.Th>
              <Table.Th>workflow</Table.Th>
              <Table.Th>when</Table.Th>
              <Table.Th>status</Table.Th>
              <Table.Th>next fire</Table.Th>
              <Table.Th>last fired</Table.Th>
              <Table.Th>fired / missed</Table.Th>
              {mayOperate && <Table.Th>actions</Table.Th>}
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {(list.data?.items ?? []).map((s) => (
              <Table.Tr
                key={s.scheduleId}
                data-testid="schedule-row"
                data-schedule={s.scheduleId}
                data-workflow={s.workflowId}
                data-status={s.status}
              >
                <Table.Td>{s.scheduleId}</Table.Td>
                <Table.Td>
                  <a href={href('workflows', s.workflowId)} title={s.workflowId}>
                    {workflowName(s.workflowId)}
                  </a>
                  {s.definitionVersion ? ` v${s.definitionVersion}` : ''}
                </Table.Td>
                <Table.Td>
                  {s.cron ? <code data-testid="schedule-cron">{s.cron}</code> : `once at ${when(s.at)}`} ({s.timezone})
                </Table.Td>
                <Table.Td style={{ whiteSpace: 'nowrap' }}>
                  <StatusBadge status={s.status} />
                </Table.Td>
                <Table.Td data-testid="schedule-next">{when(s.nextSlot)}</Table.Td>
                <Table.Td>
                  {s.lastSlot ? when(s.lastSlot) : 'never'}
                  {s.lastRunId && (
                    <>
                      {' · '}
                      <a href={href('runs', s.lastRunId)} data-testid="schedule-last-run">
                        run {s.lastRunId}
                      </a>
                    </>
                  )}
                </Table.Td>
                <Table.Td>
                  {s.firedCount} / {s.missedSlots}
                </Table.Td>
                {mayOperate && (
                  <Table.Td>
                    <Group gap="xs" role="group" aria-label={`Schedule ${s.scheduleId}`}>
                      {s.status === 'active' && (
                        <Button
                          size="xs"
                          variant="light"
                          onClick={() => control.mutate({ id: s.scheduleId, action: 'pause' })}
                        >
                          Pause
                        </Button>
                      )}
                      {s.status === 'paused' && (
                        <Button
                          size="xs"
                          variant="light"
                          onClick={() => control.mutate({ id: s.scheduleId, action: 'resume' })}
                        >
                          Resume
                        </Button>
                      )}
                      {(s.status === 'active' || s.status === 'paused') && (
                        <Button
                          size="xs"
                          variant="light"
                          color="red"
                          onClick={() => control.mutate({ id: s.scheduleId, action: 'delete' })}
                        >
                          Delete
                        </Button>
                      )}
                    </Group>
                  </Table.Td>
                )}
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
        {list.data && list.data.items.length === 0 && <Text c="dimmed">No schedules.</Text>}
      </Card>
    </Stack>
  );
}

/** `POST /api/schedules`: the core checks the cron (400 naming `data.cron`) and the workflow (404). */
function CreateSchedule() {
  const [workflowId, setWorkflowId] = useState('');
  const [cron, setCron] = useState('');
  const [timezone, setTimezone] = useState('UTC');
  const create = useMutation({
    mutationFn: () =>
      post('/api/schedules', { workflowId: workflowId.trim(), cron: cron.trim(), timezone: timezone.trim() }),
  });
  const err = create.error;
  const fields = ['workflowId', 'cron', 'timezone'];
  const rest = err && !fields.some((f) => fieldError(err, f)) ? err : null;
  return (
    <Card withBorder component="section" aria-label="New schedule">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          create.mutate();
        }}
      >
        <Group align="flex-start">
          <TextInput
            label="Workflow id"
            value={workflowId}
            onChange={(e) => setWorkflowId(e.currentTarget.value)}
            error={fieldError(err, 'workflowId')}
          />
          <TextInput
            label="Cron"
            placeholder="0 9 * * 1-5"
            value={cron}
            onChange={(e) => setCron(e.currentTarget.value)}
            error={fieldError(err, 'cron')}
          />
          <TextInput
            label="Time zone"
            value={timezone}
            onChange={(e) => setTimezone(e.currentTarget.value)}
            error={fieldError(err, 'timezone')}
          />
          <Button type="submit" mt={24} loading={create.isPending}>
            Create schedule
          </Button>
        </Group>
        {create.data && (
          <Text size="sm" c="green" data-testid="schedule-created">
            Schedule {create.data.id} created.
          </Text>
        )}
        <ErrorNotice error={rest} />
      </form>
    </Card>
  );
}
