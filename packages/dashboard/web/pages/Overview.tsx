import { Card, Group, SimpleGrid, Stack, Table, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { request } from '../lib/api';
import { useRecentEvents } from '../lib/live';
import { href } from '../lib/router';
import { ErrorNotice } from '../lib/ui';

interface Stats {
  campaigns: {
    byStatus: Record<string, number>;
    totals: { impressions: number; clicks: number; conversions: number; spend: number; budget: number };
  };
  runs?: { byStatus?: Record<string, number> } | Record<string, number>;
  aiTasks?: { byStatus?: Record<string, number> } | Record<string, number>;
  projections?: Record<string, { lag?: number; position?: number }>;
  lag?: number | Record<string, number>;
  position: number;
}

const byStatusOf = (v: Stats['runs']): Record<string, number> => {
  if (!v || typeof v !== 'object') return {};
  const nested = (v as { byStatus?: unknown }).byStatus;
  return (nested && typeof nested === 'object' ? nested : v) as Record<string, number>;
};

function StatusCounts({ title, counts }: { title: string; counts: Record<string, number> }) {
  const rows = Object.entries(counts);
  return (
    <Card withBorder component="section" aria-label={title}>
      <Title order={4}>{title}</Title>
      {rows.length === 0 ? (
        <Text c="dimmed" size="sm">
          none yet
        </Text>
      ) : (
        <Table>
          <Table.Tbody>
            {rows.map(([status, n]) => (
              <Table.Tr key={status}>
                <Table.Td>{status}</Table.Td>
                <Table.Td data-testid={`count-${status}`}>{n}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Card>
  );
}

/** The newest events, live; each row carries its position and index so a gap would show. */
export function EventFeed() {
  const events = useRecentEvents();
  return (
    <Card withBorder component="section" aria-label="Live event feed">
      <Title order={4}>Live events</Title>
      <Text size="xs" c="dimmed">
        since you signed in; resumes after a reconnect without gaps
      </Text>
      <Table striped aria-label="Events">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>position</Table.Th>
            <Table.Th>type</Table.Th>
            <Table.Th>aggregate</Table.Th>
            <Table.Th>actor</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {[...events]
            .reverse()
            .slice(0, 100)
            .map((e) => (
              <Table.Tr key={`${e.position}:${e.index}`} data-testid="feed-event" data-key={`${e.position}:${e.index}`}>
                <Table.Td>
                  {e.position}.{e.index}
                </Table.Td>
                <Table.Td>{e.type}</Table.Td>
                <Table.Td>
                  {e.aggregateType === 'campaign' ? (
                    <a href={href('campaigns', e.aggregateId)}>{e.aggregateId}</a>
                  ) : (
                    `${e.aggregateType}/${e.aggregateId}`
                  )}
                </Table.Td>
                <Table.Td>{e.actor ?? ''}</Table.Td>
              </Table.Tr>
            ))}
        </Table.Tbody>
      </Table>
      <Text size="xs" c="dimmed" data-testid="feed-count">
        {events.length} events received
      </Text>
    </Card>
  );
}

export function OverviewPage() {
  const stats = useQuery({ queryKey: ['stats'], queryFn: () => request<Stats>('/api/stats') });
  const s = stats.data;
  const lag = s?.projections
    ? Object.entries(s.projections).map(([name, p]) => `${name}: ${p.lag ?? '?'}`)
    : typeof s?.lag === 'number'
      ? [`${s.lag}`]
      : s?.lag
        ? Object.entries(s.lag).map(([k, v]) => `${k}: ${v}`)
        : [];
  return (
    <Stack>
      <Title order={2}>Overview</Title>
      <ErrorNotice error={stats.error} />
      {s && (
        <>
          <SimpleGrid cols={{ base: 1, md: 3 }}>
            <StatusCounts title="Campaigns by status" counts={s.campaigns.byStatus} />
            <StatusCounts title="Runs by status" counts={byStatusOf(s.runs)} />
            <StatusCounts title="AI tasks by status" counts={byStatusOf(s.aiTasks)} />
          </SimpleGrid>
          <Card withBorder component="section" aria-label="Budget against spend">
            <Group justify="space-between">
              <Title order={4}>Budget against spend</Title>
              <Text size="sm" data-testid="read-model-position">
                read model at position {s.position}
                {lag.length > 0 ? ` · projector lag ${lag.join(', ')}` : ''}
              </Text>
            </Group>
            <div style={{ height: 220 }}>
              <ResponsiveContainer>
                <BarChart
                  data={[{ name: 'all campaigns', budget: s.campaigns.totals.budget, spend: s.campaigns.totals.spend }]}
                  layout="vertical"
                >
                  <CartesianGrid strokeDasharray="3 3" />
                  <XAxis type="number" />
                  <YAxis type="category" dataKey="name" width={110} />
                  <Tooltip />
                  <Legend />
                  <Bar dataKey="budget" fill="#228be6" />
                  <Bar dataKey="spend" fill="#fa5252" />
                </BarChart>
              </ResponsiveContainer>
            </div>
          </Card>
        </>
      )}
      <EventFeed />
    </Stack>
  );
}
