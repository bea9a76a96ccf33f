import { type CampaignEvent, type CampaignState, campaignDecider, type StoredCommit } from '@lightdom/domain';
import type pg from 'pg';
import { qualified, readModelTables } from '../schema/tables.js';
import { storableText } from '../storable.js';
import type { Projection, ProjectionChange } from './projection.js';
import { upsertRows } from './upsert.js';

interface CampaignRow {
  id: string;
  name: string;
  description: string;
  status: CampaignState['status'];
  channels: string[];
  budget_amount: string | number;
  budget_currency: string;
  owner: string | null;
  schedule: CampaignState['schedule'];
  launched_at: string | Date | null;
  spend: string | number;
  impressions: string | number;
  clicks: string | number;
  conversions: string | number;
  version: number;
  position: string | number;
  created_at: string | Date;
  updated_at: string | Date;
}

interface Folded {
  state: CampaignState;
  version: number;
  position: number;
  createdAt: string;
  updatedAt: string;
}

const iso = (v: string | Date | null): string | null => (v === null ? null : new Date(v).toISOString());

function fromRow(r: CampaignRow): Folded {
  return {
    state: {
      exists: true,
      status: r.status,
      name: r.name,
      description: r.description,
      channels: r.channels,
      budget: { amount: Number(r.budget_amount), currency: r.budget_currency },
      owner: r.owner,
      schedule: r.schedule,
      launchedAt: iso(r.launched_at),
      spend: Number(r.spend),
      impressions: Number(r.impressions),
      clicks: Number(r.clicks),
      conversions: Number(r.conversions),
    },
    version: r.version,
    position: Number(r.position),
    createdAt: iso(r.created_at) as string,
    updatedAt: iso(r.updated_at) as string,
  };
}

function toRow(id: string, f: Folded): CampaignRow {
  const s = f.state;
  return {
    id,
    name: s.name,
    description: s.description,
    status: s.status,
    channels: s.channels,
    budget_amount: s.budget.amount,
    budget_currency: s.budget.currency,
    owner: s.owner,
    schedule: s.schedule,
    launched_at: s.launchedAt,
    spend: s.spend,
    impressions: s.impressions,
    clicks: s.clicks,
    conversions: s.conversions,
    version: f.version,
    position: f.position,
    created_at: f.createdAt,
    updated_at: f.updatedAt,
  };
}

/**
 * The `campaigns` table. State is folded with the domain's own `evolve`, so the read
 * model cannot drift from the rules the commands were decided by.
 */
export function createCampaignsProjection(table: string = readModelTables.campaigns, name: string = table): Projection {
  return {
    name,
    aggregateTypes: ['campaign'],
    async apply(client: pg.PoolClient, schema: string, commits: StoredCommit[]): Promise<ProjectionChange[]> {
      const relevant = commits.filter((c) => c.aggregateType === 'campaign');
      if (relevant.length === 0) return [];
      const target = qualified(schema, table);
      // Ids as the table holds them (see storable.ts): only a forged commit's id can differ.
      const idOf = (c: StoredCommit) => storableText(String(c.aggregateId));
      const ids = [...new Set(relevant.map(idOf))];
      const { rows } = await client.query<CampaignRow>(`select * from ${target} where id = any($1)`, [ids]);
      const current = new Map(rows.map((r) => [r.id, fromRow(r)]));
      const changed = new Map<string, Folded>();
      for (const commit of relevant) {
        const id = idOf(commit);
        let folded = current.get(id) ?? {
          state: campaignDecider.initialState(),
          version: 0,
          position: 0,
          createdAt: commit.timestamp,
          updatedAt: commit.timestamp,
        };
        let state = folded.state;
        for (const e of commit.events) state = campaignDecider.evolve(state, e as unknown as CampaignEvent);
        folded = { ...folded, state, version: commit.version, position: commit.position, updatedAt: commit.timestamp };
        current.set(id, folded);
        changed.set(id, folded);
      }
      const written = await upsertRows(
        client,
        schema,
        table,
        ['id'],
        [...changed].map(([id, f]) => toRow(id, f) as unknown as Record<string, unknown>),
      );
      return written.map((row) => ({
        aggregateType: 'campaign',
        aggregateId: row.id as string,
        view: row,
        position: Number(row.position),
        version: row.version as number,
      }));
    },
  };
}
