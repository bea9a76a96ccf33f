import { type CampaignCommand, type CampaignEvent, campaignCommandSchemas, campaignDecider } from '@lightdom/domain';
import { describe, expect, it } from 'vitest';
import { deciderHarness, expectError } from './support/deciders.js';

const now = new Date('2026-03-01T10:00:00Z');
const ctx = { now, aggregateId: 'c1' };

const { cmd, given } = deciderHarness(campaignDecider, campaignCommandSchemas, ctx);

const create = (amount = 1000) => cmd('CreateCampaign', { name: 'Spring', budget: { amount, currency: 'EUR' } });
const types = (events: CampaignEvent[]) => events.map((e) => e.type);

describe('campaign decider', () => {
  it('creates a draft campaign with defaults', () => {
    const events = campaignDecider.decide(create(), campaignDecider.initialState(), ctx);
    expect(events).toEqual([
      {
        type: 'CampaignCreated',
        data: { name: 'Spring', description: '', channels: [], budget: { amount: 1000, currency: 'EUR' }, owner: null },
      },
    ]);
    expect(given(create()).status).toBe('draft');
  });

  it('creates and schedules in one command when a schedule is given', () => {
    const c = cmd('CreateCampaign', {
      name: 'S',
      budget: { amount: 5, currency: 'USD' },
      schedule: { startAt: '2026-04-01T00:00:00Z' },
    });
    expect(types(campaignDecider.decide(c, campaignDecider.initialState(), ctx))).toEqual([
      'CampaignCreated',
      'CampaignScheduled',
    ]);
  });

  it('refuses to create twice and to touch a campaign that does not exist', () => {
    expectError(() => campaignDecider.decide(create(), given(create()), ctx), 'ALREADY_EXISTS');
    expectError(() => campaignDecider.decide(cmd('LaunchCampaign'), campaignDecider.initialState(), ctx), 'NOT_FOUND');
  });

  it('renames, and a rename to the same name changes nothing', () => {
    expect(campaignDecider.decide(cmd('RenameCampaign', { name: 'Summer' }), given(create()), ctx)).toEqual([
      { type: 'CampaignRenamed', data: { name: 'Summer', previousName: 'Spring' } },
    ]);
    expect(campaignDecider.decide(cmd('RenameCampaign', { name: 'Spring' }), given(create()), ctx)).toEqual([]);
    expect(given(create(), cmd('RenameCampaign', { name: 'Summer' })).name).toBe('Summer');
  });

  it('updates name, description and budget in one command, skipping what is unchanged', () => {
    const events = campaignDecider.decide(
      cmd('UpdateCampaign', { name: 'Spring', description: 'new', budget: { amount: 2000, currency: 'EUR' } }),
      given(create()),
      ctx,
    );
    expect(types(events)).toEqual(['CampaignDescriptionChanged', 'CampaignBudgetChanged']);
    const after = events.reduce(campaignDecider.evolve, given(create()));
    expect(after).toMatchObject({ description: 'new', budget: { amount: 2000, currency: 'EUR' } });
    expect(campaignCommandSchemas.UpdateCampaign.safeParse({}).success).toBe(false);
  });

  it('walks the whole lifecycle', () => {
    const s = given(
      create(),
      cmd('ScheduleCampaign', { startAt: '2026-04-01T00:00:00Z', endAt: '2026-05-01T00:00:00Z' }),
    );
    expect(s.status).toBe('scheduled');
    expect(s.schedule).toEqual({ startAt: '2026-04-01T00:00:00Z', endAt: '2026-05-01T00:00:00Z' });
    const launched = given(create(), cmd('LaunchCampaign'));
    expect(launched.status).toBe('active');
    expect(launched.launchedAt).toBe(now.toISOString());
    expect(given(create(), cmd('LaunchCampaign'), cmd('PauseCampaign')).status).toBe('paused');
    expect(given(create(), cmd('LaunchCampaign'), cmd('PauseCampaign'), cmd('ResumeCampaign')).status).toBe('active');
    expect(given(create(), cmd('LaunchCampaign'), cmd('CompleteCampaign')).status).toBe('completed');
    expect(given(create(), cmd('LaunchCampaign'), cmd('CompleteCampaign'), cmd('ArchiveCampaign')).status).toBe(
      'archived',
    );
    expect(given(create(), cmd('ArchiveCampaign')).status).toBe('archived');
  });

  it.each([
    ['PauseCampaign', [] as string[]],
    ['ResumeCampaign', ['LaunchCampaign']],
    ['CompleteCampaign', []],
    ['LaunchCampaign', ['LaunchCampaign']],
    ['ArchiveCampaign', ['LaunchCampaign']],
    ['ScheduleCampaign', ['LaunchCampaign']],
    ['RecordCampaignMetrics', []],
  ] as const)('rejects %s outside the lifecycle', (type, before) => {
    const state = given(create(), ...before.map((t) => cmd(t as CampaignCommand['type'])));
    const data = type === 'ScheduleCampaign' ? { startAt: '2026-04-01T00:00:00Z' } : {};
    const err = expectError(() => campaignDecider.decide(cmd(type, data), state, ctx), 'INVALID_TRANSITION');
    expect(err.details?.status).toBe(state.status);
  });

  it('allows nothing but a rename-free read after archive', () => {
    const archived = given(create(), cmd('ArchiveCampaign'));
    expectError(
      () => campaignDecider.decide(cmd('RenameCampaign', { name: 'x' }), archived, ctx),
      'INVALID_TRANSITION',
    );
    expectError(() => campaignDecider.decide(cmd('LaunchCampaign'), archived, ctx), 'INVALID_TRANSITION');
  });

  it('records metrics and adds them up', () => {
    const s = given(
      create(),
      cmd('LaunchCampaign'),
      cmd('RecordCampaignMetrics', { impressions: 100, clicks: 10, conversions: 1, spend: 10.1 }),
      cmd('RecordCampaignMetrics', { impressions: 50, clicks: 5, spend: 0.2 }),
    );
    expect(s).toMatchObject({ impressions: 150, clicks: 15, conversions: 1, spend: 10.3 });
  });

  it('never lets spend exceed the budget', () => {
    const s = given(create(100), cmd('LaunchCampaign'), cmd('RecordCampaignMetrics', { spend: 99.99 }));
    const err = expectError(
      () => campaignDecider.decide(cmd('RecordCampaignMetrics', { spend: 0.02 }), s, ctx),
      'INVARIANT_VIOLATION',
    );
    expect(err.details?.field).toBe('data.spend');
  });

  it('pauses a campaign whose budget is used up, in the same command', () => {
    const s = given(create(100), cmd('LaunchCampaign'), cmd('RecordCampaignMetrics', { spend: 60 }));
    const events = campaignDecider.decide(cmd('RecordCampaignMetrics', { spend: 40 }), s, ctx);
    expect(types(events)).toEqual(['CampaignMetricsRecorded', 'CampaignBudgetExhausted', 'CampaignPaused']);
    const after = events.reduce(campaignDecider.evolve, s);
    expect(after.status).toBe('paused');
    expectError(() => campaignDecider.decide(cmd('ResumeCampaign'), after, ctx), 'INVARIANT_VIOLATION');
  });

  it('changes the budget but never below the spend, nor its currency once spent', () => {
    const s = given(create(100), cmd('LaunchCampaign'), cmd('RecordCampaignMetrics', { spend: 60 }));
    expect(
      types(campaignDecider.decide(cmd('ChangeCampaignBudget', { budget: { amount: 200, currency: 'EUR' } }), s, ctx)),
    ).toEqual(['CampaignBudgetChanged']);
    expectError(
      () => campaignDecider.decide(cmd('ChangeCampaignBudget', { budget: { amount: 59, currency: 'EUR' } }), s, ctx),
      'INVARIANT_VIOLATION',
    );
    expectError(
      () => campaignDecider.decide(cmd('ChangeCampaignBudget', { budget: { amount: 200, currency: 'USD' } }), s, ctx),
      'INVARIANT_VIOLATION',
    );
    const draft = given(create(100));
    expect(given(create(100), cmd('ChangeCampaignBudget', { budget: { amount: 7, currency: 'USD' } })).budget).toEqual({
      amount: 7,
      currency: 'USD',
    });
    expect(draft.budget.currency).toBe('EUR');
  });

  it('refuses to launch with no budget left', () => {
    expectError(() => campaignDecider.decide(cmd('LaunchCampaign'), given(create(0)), ctx), 'INVARIANT_VIOLATION');
  });

  it('keeps the state on an event type it does not know (a newer writer)', () => {
    const s = given(create());
    expect(campaignDecider.evolve(s, { type: 'CampaignTeleported', data: {} } as unknown as CampaignEvent)).toBe(s);
  });

  it('never reads the clock: the same input gives the same events', () => {
    const a = campaignDecider.decide(cmd('LaunchCampaign'), given(create()), ctx);
    const b = campaignDecider.decide(cmd('LaunchCampaign'), given(create()), { ...ctx });
    expect(a).toEqual(b);
  });
});

describe('campaign command schemas', () => {
  it('name each bad field', () => {
    const r = campaignCommandSchemas.CreateCampaign.safeParse({ name: '', budget: { amount: 1.234, currency: 'eu' } });
    expect(r.success).toBe(false);
    const paths = r.error?.issues.map((i) => i.path.join('.'));
    expect(paths).toEqual(expect.arrayContaining(['name', 'budget.amount', 'budget.currency']));
  });

  it('rejects an end before the start', () => {
    const r = campaignCommandSchemas.ScheduleCampaign.safeParse({
      startAt: '2026-04-02T00:00:00Z',
      endAt: '2026-04-01T00:00:00Z',
    });
    expect(r.error?.issues[0]?.path).toEqual(['endAt']);
  });
});
