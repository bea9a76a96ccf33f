import { Alert, Badge, Button, Group, Text } from '@mantine/core';
import { ApiError } from './api';

const statusColors: Record<string, string> = {
  draft: 'gray',
  scheduled: 'blue',
  active: 'green',
  paused: 'yellow',
  completed: 'teal',
  archived: 'dark',
  requested: 'gray',
  started: 'blue',
  running: 'blue',
  pending: 'gray',
  retryScheduled: 'orange',
  succeeded: 'green',
  failed: 'red',
  cancelled: 'dark',
  deprecated: 'dark',
  skipped: 'gray',
  waiting: 'grape',
  deleted: 'dark',
};

export const StatusBadge = ({ status }: { status: string }) => (
  <Badge color={statusColors[status] ?? 'gray'} variant="light" data-testid="status" data-status={status}>
    {status}
  </Badge>
);

/** An error that belongs to no single field; a conflict offers a retry. Never the raw JSON. */
export function ErrorNotice({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  if (!error) return null;
  const e = error instanceof ApiError ? error : null;
  const conflict = e?.code === 'CONCURRENCY_CONFLICT';
  return (
    <Alert color={conflict ? 'orange' : 'red'} role="alert" title={conflict ? 'Changed meanwhile' : 'Not done'}>
      <Text size="sm">
        {conflict
          ? `Someone changed this since you loaded it${e?.details.actualVersion !== undefined ? ` (it is now at version ${e.details.actualVersion})` : ''}. Retry applies your change to the current version.`
          : (error as Error).message}
      </Text>
      {e && e.fieldErrors.length > 0 && !conflict && (
        <ul>
          {e.fieldErrors.map((f) => (
            <li key={f.field}>
              <code>{f.field}</code>: {f.message}
            </li>
          ))}
        </ul>
      )}
      {onRetry && (conflict || e?.retryable) && (
        <Group mt="xs">
          <Button size="xs" onClick={onRetry}>
            Retry
          </Button>
        </Group>
      )}
    </Alert>
  );
}

export const fieldError = (error: unknown, field: string) =>
  error instanceof ApiError ? error.forField(field) : undefined;

export const when = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString() : '—');
export const ms = (from: string | null, to: string | null) =>
  from && to ? `${Math.max(0, Date.parse(to) - Date.parse(from))} ms` : '—';
