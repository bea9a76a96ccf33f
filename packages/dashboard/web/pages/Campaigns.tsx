import { Button, Card, Group, NumberInput, Select, Stack, Table, TextInput, Title } from '@mantine/core';
import { useMutation, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { type CommandResult, type Page, query, request } from '../lib/api';
import { href, navigate } from '../lib/router';
import { ErrorNotice, fieldError, StatusBadge } from '../lib/ui';

export interface Campaign {
  id: string;
  name: string;
  status: string;
  budget: { amount: number; currency: string };
  metrics: { impressions: number; clicks: number; conversions: number; spend: number };
  version: number;
  position: number;
  description: string;
  updatedAt: string;
}

const statuses = ['draft', 'scheduled', 'active', 'paused', 'completed', 'archived'];
const pageSize = 20;

function CreateCampaign() {
  const [name, setName] = useState('');
  const [amount, setAmount] = useState<number | string>(1000);
  const [currency, setCurrency] = useState('EUR');
  const create = useMutation({
    mutationFn: () =>
      request<CommandResult>('/api/campaigns', {
        method: 'POST',
        body: { name, budget: { amount: Number(amount), currency } },
      }),
    // Read-your-writes: the campaign page waits for this position instead of polling.
    onSuccess: (r) => navigate('campaigns', r.id, String(r.position)),
  });
  const err = create.error;
  return (
    <Card withBorder component="section" aria-label="Create a campaign">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          create.mutate();
        }}
      >
        <Title order={4}>New campaign</Title>
        <Group align="flex-start">
          <TextInput
            label="Name"
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
            error={fieldError(err, 'name')}
          />
          <NumberInput
            label="Budget"
            value={amount}
            onChange={setAmount}
            min={0}
            error={fieldError(err, 'budget.amount') ?? fieldError(err, 'budget')}
          />
          <TextInput
            label="Currency"
            value={currency}
            onChange={(e) => setCurrency(e.currentTarget.value)}
            w={90}
            error={fieldError(err, 'budget.currency')}
          />
          <Button type="submit" mt={24} loading={create.isPending}>
            Create
          </Button>
        </Group>
        {err &&
          !fieldError(err, 'name') &&
          !fieldError(err, 'budget.amount') &&
          !fieldError(err, 'budget.currency') && <ErrorNotice error={err} />}
      </form>
    </Card>
  );
}

export function CampaignsPage() {
  const [status, setStatus] = useState<string | null>(null);
  // Keyset paging: the cursors of the pages before this one, to go back.
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors.at(-1);
  const list = useQuery({
    queryKey: ['campaigns', status, cursor],
    queryFn: () => request<Page<Campaign>>(`/api/campaigns${query({ status, cursor, limit: pageSize })}`),
  });
  return (
    <Stack>
      <Title order={2}>Campaigns</Title>
      <CreateCampaign />
      <Group>
        <Select
          label="Status"
          placeholder="any"
          data={statuses}
          value={status}
          clearable
          onChange={(v) => {
            setStatus(v);
            setCursors([]);
          }}
        />
      </Group>
      <ErrorNotice error={list.error} />
      <Table striped aria-label="Campaigns" data-testid="campaign-list">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>name</Table.Th>
            <Table.Th>status</Table.Th>
            <Table.Th>budget</Table.Th>
            <Table.Th>spend</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {list.data?.items.map((c) => (
            <Table.Tr key={c.id} data-testid="campaign-row">
              <Table.Td>
                <a href={href('campaigns', c.id)}>{c.name}</a>
              </Table.Td>
              <Table.Td>
                <StatusBadge status={c.status} />
              </Table.Td>
              <Table.Td>
                {c.budget.amount} {c.budget.currency}
              </Table.Td>
              <Table.Td>{c.metrics.spend}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      <Group>
        <Button variant="default" disabled={cursors.length === 0} onClick={() => setCursors(cursors.slice(0, -1))}>
          Previous page
        </Button>
        <Button
          variant="default"
          disabled={!list.data?.nextCursor}
          onClick={() => list.data?.nextCursor && setCursors([...cursors, list.data.nextCursor])}
        >
          Next page
        </Button>
      </Group>
    </Stack>
  );
}
