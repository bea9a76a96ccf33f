import { Button, Group, Stack, Textarea } from '@mantine/core';
import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { ApiError, type CommandResult, request } from '../lib/api';
import { type RunView, runActions, type StepView, signalSteps } from '../lib/fold';
import { ErrorNotice, fieldError } from '../lib/ui';

const post = (path: string, body: Record<string, unknown> = {}) =>
  request<CommandResult>(path, { method: 'POST', body });

/**
 * Pause, resume, cancel and retry (docs/executor.md, Run control): only the buttons the
 * run's state allows. The page moves when the command's events arrive on the feed; the
 * answer itself is only checked for an error.
 */
export function RunControls({ run }: { run: RunView }) {
  const base = `/api/runs/${encodeURIComponent(run.runId)}`;
  const control = useMutation({
    mutationFn: ({ action, stepId }: { action: 'pause' | 'resume' | 'cancel' | 'retry'; stepId?: string }) => {
      switch (action) {
        case 'pause':
          return post(`${base}/pause`, { reason: 'paused from the dashboard' });
        case 'resume':
          return post(`${base}/resume`);
        case 'cancel':
          return post(`${base}/cancel`, { reason: 'cancelled from the dashboard' });
        case 'retry':
          return post(`${base}/steps/${encodeURIComponent(stepId ?? '')}/retry`);
      }
    },
  });
  const can = runActions(run);
  const busy = (action: string) => control.isPending && control.variables?.action === action;
  return (
    <Stack gap="xs">
      <Group role="group" aria-label="Run control">
        {can.pause && (
          <Button
            variant="light"
            color="yellow"
            loading={busy('pause')}
            onClick={() => control.mutate({ action: 'pause' })}
          >
            Pause
          </Button>
        )}
        {can.resume && (
          <Button variant="light" loading={busy('resume')} onClick={() => control.mutate({ action: 'resume' })}>
            Resume
          </Button>
        )}
        {can.retryStep && (
          <Button
            variant="light"
            color="orange"
            loading={busy('retry')}
            onClick={() => control.mutate({ action: 'retry', stepId: can.retryStep ?? '' })}
          >
            Retry step {can.retryStep}
          </Button>
        )}
        {can.cancel && (
          <Button
            variant="light"
            color="red"
            loading={busy('cancel')}
            onClick={() => control.mutate({ action: 'cancel' })}
          >
            Cancel run
          </Button>
        )}
      </Group>
      <ErrorNotice error={control.error} />
      {signalSteps(run).map((s) => (
        <SignalForm key={s.stepId} run={run} step={s} />
      ))}
    </Stack>
  );
}

/** A signal for a waiting `wait.signal` step; its JSON payload becomes the step's output. */
function SignalForm({ run, step }: { run: RunView; step: StepView }) {
  const name = step.signalName ?? '';
  const [payload, setPayload] = useState('{}');
  const [jsonError, setJsonError] = useState<string | null>(null);
  const send = useMutation({
    mutationFn: (body: Record<string, unknown>) =>
      post(`/api/runs/${encodeURIComponent(run.runId)}/signals/${encodeURIComponent(name)}`, { payload: body }),
  });
  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    let parsed: unknown;
    try {
      parsed = payload.trim() === '' ? {} : JSON.parse(payload);
    } catch (err) {
      setJsonError(`not JSON: ${(err as Error).message}`);
      return;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      setJsonError('must be a JSON object, e.g. {"approved": true}');
      return;
    }
    setJsonError(null);
    send.mutate(parsed as Record<string, unknown>);
  };
  const apiFieldError = fieldError(send.error, 'payload');
  const other = send.error instanceof ApiError && apiFieldError ? null : send.error;
  return (
    <form onSubmit={submit} aria-label={`Signal ${name}`} data-testid="signal-form" data-step={step.stepId}>
      <Group align="flex-end">
        <Textarea
          label={`Payload for signal ${name} (JSON)`}
          value={payload}
          onChange={(e) => setPayload(e.currentTarget.value)}
          error={jsonError ?? apiFieldError}
          autosize
          minRows={1}
          w={360}
        />
        <Button type="submit" variant="light" color="grape" loading={send.isPending}>
          Send signal {name}
        </Button>
      </Group>
      <ErrorNotice error={other} />
    </form>
  );
}
