import { type CampaignEvent, type CampaignState, campaignDecider, type StoredCommit } from '@lightdom/domain';
import type pg from 'pg';
import { quoteIdent } from '../db.js';
import type { Projection, ProjectionChange } from '../projection.js';
import { storableJson, storableText } from '../storable.js';

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

const columns = [
  'name',
  'description',
  'status',
  'channels',
  'budget_amount',
  'budget_currency',
  'owner',
  'schedule',
  'launched_at',
  'spend',
  'impressions',
  'clicks',
  'conversions',
  'version',
  'position',
  'created_at',
  'updated_at',
];

/**
 * The `campaigns` table. State is folded with the domain's own `evolve`, so the read
 * model cannot drift from the rules the commands were decided by.
 */
export function createCampaignsProjection(table = 'campaigns'): Projection {
  return {
    name: table,
    async apply(client: pg.PoolClient, schema: string, commits: StoredCommit[]): Promise<ProjectionChange[]> {
      const relevant = commits.filter((c) => c.aggregateType === 'campaign');
      if (relevant.length === 0) return [];
      const target = `${quoteIdent(schema)}.${quoteIdent(table)}`;
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
      const payload = [...changed].map(([id, f]) => toRow(id, f));
      await client.query(
        `insert into ${target} select * from jsonb_populate_recordset(null::${target}, $1::jsonb)
         on conflict (id) do update set ${columns.map((c) => `${c} = excluded.${c}`).join(', ')}`,
        // Total over any text in the log; storableJson also never overflows on deep input.
        [storableJson(payload)],
      );
      return payload.map((row) => ({
        aggregateType: 'campaign',
        aggregateId: row.id,
        view: row as unknown as Record<string, unknown>,
        position: Number(row.position),
        version: row.version,
      }));
    },
  };
}
