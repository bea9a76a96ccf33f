import {
  Button,
  Card,
  Group,
  NumberInput,
  SegmentedControl,
  SimpleGrid,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useMemo, useState } from 'react';
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { ApiError, type CommandResult, isMissingRoute, query, request } from '../lib/api';
import type { FeedEvent } from '../lib/feed';
import { href } from '../lib/router';
import { ErrorNotice, fieldError, StatusBadge, when } from '../lib/ui';
import type { Campaign } from './Campaigns';

/** Lifecycle actions allowed from each status (the decider refuses the rest anyway). */
const actions: Record<string, string[]> = {
  draft: ['launch'],
  scheduled: ['launch'],
  active: ['pause', 'complete'],
  paused: ['resume', 'complete'],
  completed: ['archive'],
  archived: [],
};

interface MetricPoint {
  bucket: string;
  impressions: number;
  clicks: number;
  conversions: number;
  spend: number;
}

/** Buckets of the metrics read model, or the campaign's own CampaignMetricsRecorded events summed per bucket. */
async function metricsOf(id: string, bucket: 'hour' | 'day', events: FeedEvent[]): Promise<MetricPoint[]> {
  try {
    const page = await request<{ items: (MetricPoint & { bucketStart?: string; at?: string })[] }>(
      `/api/campaigns/${id}/metrics${query({ bucket })}`,
    );
    return page.items.map((p) => ({ ...p, bucket: p.bucket ?? p.bucketStart ?? p.at ?? '' }));
  } catch (err) {
    if (!isMissingRoute(err)) throw err;
  }
  const cut = bucket === 'hour' ? 13 : 10;
  const sums = new Map<string, MetricPoint>();
  for (const e of events.filter((e) => e.type === 'CampaignMetricsRecorded')) {
    const key = e.timestamp.slice(0, cut);
    const p = sums.get(key) ?? { bucket: key, impressions: 0, clicks: 0, conversions: 0, spend: 0 };
    for (const k of ['impressions', 'clicks', 'conversions', 'spend'] as const) p[k] += Number(e.data[k] ?? 0);
    sums.set(key, p);
  }
  return [...sums.values()];
}

function MetricsChart({ id, events }: { id: string; events: FeedEvent[] }) {
  const [bucket, setBucket] = useState<'hour' | 'day'>('hour');
  const metrics = useQuery({
    queryKey: ['campaign', id, 'metrics', bucket, events.length],
    queryFn: () => metricsOf(id, bucket, events),
  });
  return (
    <Card withBorder component="section" aria-label="Metrics over time">
      <Group justify="space-between">
        <Title order={4}>Metrics</Title>
        <SegmentedControl
          aria-label="Bucket"
          value={bucket}
          onChange={(v) => setBucket(v as 'hour' | 'day')}
          data={[
            { value: 'hour', label: 'by hour' },
            { value: 'day', label: 'by day' },
          ]}
        />
      </Group>
      <ErrorNotice error={metrics.error} />
      <div style={{ height: 240 }}>
        <ResponsiveContainer>
          <LineChart data={metrics.data ?? []}>
            <CartesianGrid strokeDasharray="3 3" />
            <XAxis dataKey="bucket" />
            <YAxis />
            <Tooltip />
            <Legend />
            <Line dataKey="impressions" stroke="#228be6" />
            <Line dataKey="clicks" stroke="#40c057" />
            <Line dataKey="conversions" stroke="#be4bdb" />
            <Line dataKey="spend" stroke="#fa5252" />
          </LineChart>
        </ResponsiveContainer>
      </div>
    </Card>
  );
}

/** The campaign as of any commit of its history, folded by the API from the log (`asOf`). */
function TimeTravel({ id, events }: { id: string; events: FeedEvent[] }) {
  const positions = useMemo(() => [...new Set(events.map((e) => e.position))], [events]);
  const [index, setIndex] = useState<number | null>(null);
  const at = index === null ? positions.length - 1 : Math.min(index, positions.length - 1);
  const position = positions[at];
  const past = useQuery({
    queryKey: ['campaign', id, 'asOf', position],
    queryFn: () => request<Campaign>(`/api/campaigns/${id}?asOf=${position}`),
    enabled: position !== undefined,
    staleTime: Number.POSITIVE_INFINITY,
  });
  if (positions.length === 0) return null;
  return (
    <Card withBorder component="section" aria-label="History">
      <Title order={4}>History and time travel</Title>
      <label htmlFor="time-travel">
        Show the campaign as of commit {at + 1} of {positions.length} (position {position})
      </label>
      <input
        id="time-travel"
        type="range"
        min={0}
        max={positions.length - 1}
        step={1}
        value={at}
        onChange={(e) => setIndex(Number(e.currentTarget.value))}
        style={{ width: '100%' }}
        aria-valuetext={`position ${position}`}
      />
      {past.data && (
        <Text data-testid="as-of" aria-live="polite">
          As of position {position}: <b data-testid="as-of-name">{past.data.name}</b>, {past.data.status}, budget{' '}
          {past.data.budget.amount} {past.data.budget.currency}, version {past.data.version}
        </Text>
      )}
      <ErrorNotice error={past.error} />
      <Table aria-label="Events of this campaign">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>version</Table.Th>
            <Table.Th>position</Table.Th>
            <Table.Th>event</Table.Th>
            <Table.Th>actor</Table.Th>
            <Table.Th>time</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {events.map((e) => (
            <Table.Tr key={`${e.position}:${e.index}`} data-testid="history-event">
              <Table.Td>{e.version}</Table.Td>
              <Table.Td>{e.position}</Table.Td>
              <Table.Td>{e.type}</Table.Td>
              <Table.Td>{e.actor}</Table.Td>
              <Table.Td>{when(e.timestamp)}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Card>
  );
}

function EditCampaign({ campaign, onDone }: { campaign: Campaign; onDone(r: CommandResult): void }) {
  const [name, setName] = useState(campaign.name);
  const [amount, setAmount] = useState<number | string>(campaign.budget.amount);
  useEffect(() => {
    setName(campaign.name);
    setAmount(campaign.budget.amount);
  }, [campaign.name, campaign.budget.amount]);
  const client = useQueryClient();
  const save = useMutation({
    mutationFn: async (version: number) => {
      const body: Record<string, unknown> = {};
      if (name !== campaign.name) body.name = name;
      if (Number(amount) !== campaign.budget.amount)
        body.budget = { amount: Number(amount), currency: campaign.budget.currency };
      return request<CommandResult>(`/api/campaigns/${campaign.id}`, {
        method: 'PATCH',
        body,
        headers: { 'if-match': `"${version}"` },
      });
    },
    onSuccess: onDone,
  });
  const retry = async () => {
    // Load the current version, then apply the same change to it.
    const current = await request<Campaign>(`/api/campaigns/${campaign.id}`);
    client.setQueryData(['campaign', campaign.id], current);
    save.mutate(current.version);
  };
  const err = save.error;
  const shown = fieldError(err, 'name') || fieldError(err, 'budget.amount');
  return (
    <Card withBorder component="section" aria-label="Edit">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          save.mutate(campaign.version);
        }}
      >
        <Title order={4}>Rename or change the budget</Title>
        <Group align="flex-start">
          <TextInput
            label="Name"
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
            error={fieldError(err, 'name')}
          />
          <NumberInput
            label={`Budget (${campaign.budget.currency})`}
            value={amount}
            onChange={setAmount}
            min={0}
            error={fieldError(err, 'budget.amount') ?? fieldError(err, 'budget')}
          />
          <Button type="submit" mt={24} loading={save.isPending}>
            Save
          </Button>
        </Group>
        {err && !shown && <ErrorNotice error={err} onRetry={retry} />}
      </form>
    </Card>
  );
}

export function CampaignPage({ id, after }: { id: string; after?: string }) {
  const [minPosition, setMinPosition] = useState<number | undefined>(after ? Number(after) : undefined);
  const campaign = useQuery({
    queryKey: ['campaign', id, minPosition],
    queryFn: () => request<Campaign>(`/api/campaigns/${id}${query({ minPosition })}`),
  });
  const history = useQuery({
    queryKey: ['campaign', id, 'events'],
    queryFn: () => request<{ events: FeedEvent[] }>(`/api/campaigns/${id}/events`),
  });
  const events = history.data?.events ?? [];
  const lifecycle = useMutation({
    mutationFn: (action: string) =>
      request<CommandResult>(`/api/campaigns/${id}/${action}`, { method: 'POST', body: {} }),
    onSuccess: (r) => setMinPosition(r.position),
  });
  const c = campaign.data;
  if (campaign.error instanceof ApiError && campaign.error.code === 'NOT_FOUND') {
    return <ErrorNotice error={campaign.error} />;
  }
  return (
    <Stack>
      <Text size="sm">
        <a href={href('campaigns')}>Campaigns</a> / {id}
      </Text>
      <ErrorNotice error={campaign.error} />
      {c && (
        <>
          <Group>
            <Title order={2} data-testid="campaign-name">
              {c.name}
            </Title>
            <StatusBadge status={c.status} />
            <Text size="sm" c="dimmed">
              version {c.version} · position {c.position}
            </Text>
          </Group>
          <Group role="group" aria-label="Lifecycle">
            {(actions[c.status] ?? []).map((a) => (
              <Button
                key={a}
                onClick={() => lifecycle.mutate(a)}
                loading={lifecycle.isPending && lifecycle.variables === a}
              >
                {a[0]!.toUpperCase() + a.slice(1)}
              </Button>
            ))}
          </Group>
          <ErrorNotice error={lifecycle.error} />
          <SimpleGrid cols={{ base: 2, md: 5 }}>
            <Text>
              budget {c.budget.amount} {c.budget.currency}
            </Text>
            <Text>spend {c.metrics.spend}</Text>
            <Text>impressions {c.metrics.impressions}</Text>
            <Text>clicks {c.metrics.clicks}</Text>
            <Text>conversions {c.metrics.conversions}</Text>
          </SimpleGrid>
          <EditCampaign campaign={c} onDone={(r) => setMinPosition(r.position)} />
          <MetricsChart id={id} events={events} />
        </>
      )}
      <TimeTravel id={id} events={events} />
    </Stack>
  );
}
