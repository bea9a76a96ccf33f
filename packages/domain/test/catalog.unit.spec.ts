import {
  commandCatalog,
  commandSchemasByAggregate,
  createCommands,
  deciders,
  eventVersions,
  upcastEvent,
} from '@lightdom/domain';
import { parseCommand } from '@lightdom/eventstore';
import { describe, expect, it } from 'vitest';

const ctx = { now: new Date('2026-03-01T10:00:00Z'), aggregateId: 'x1' };
type Step = [type: string, data?: Record<string, unknown>];

const money = (amount: number) => ({ amount, currency: 'EUR' });
const steps = [
  { id: 'a', type: 'ai.generate', retry: { maxAttempts: 2, backoffMs: 10 } },
  { id: 'b', type: 'delay', dependsOn: ['a'] },
];
const runRequest: Step = ['RequestWorkflowRun', { workflowId: 'w1', definitionVersion: 1, steps }];
const aiRequest: Step = ['RequestAiTask', { model: 'deepseek-r1:7b', prompt: 'hi' }];
const anchor: Step = [
  'AnchorAuditCheckpoint',
  { fromPosition: 1, toPosition: 9, merkleRoot: 'a'.repeat(64), commitCount: 9 },
];
const record: Step = [
  'RecordCheckpointTransaction',
  { chainId: 1, transactionHash: `0x${'b'.repeat(64)}`, blockNumber: 7 },
];

/** Command sequences that together make every aggregate emit every event it knows. */
const scenarios: Step[][] = [
  [
    ['CreateCampaign', { name: 'S', budget: money(100), schedule: { startAt: '2026-04-01T00:00:00Z' } }],
    ['RenameCampaign', { name: 'T' }],
    ['UpdateCampaign', { description: 'd' }],
    ['ChangeCampaignBudget', { budget: money(200) }],
    ['ScheduleCampaign', { startAt: '2026-05-01T00:00:00Z' }],
    ['LaunchCampaign'],
    ['PauseCampaign'],
    ['ResumeCampaign'],
    ['RecordCampaignMetrics', { impressions: 1, spend: 200 }],
    ['ChangeCampaignBudget', { budget: money(300) }],
    ['CompleteCampaign'],
    ['ArchiveCampaign'],
  ],
  [['DefineWorkflow', { name: 'W', steps }], ['ReviseWorkflow', { steps: [steps[0]] }], ['DeprecateWorkflow']],
  [
    runRequest,
    ['StartWorkflowRun'],
    ['StartWorkflowStep', { stepId: 'a', attempt: 1 }],
    ['FailWorkflowStep', { stepId: 'a', error: 'e', retryable: true }],
    ['StartWorkflowStep', { stepId: 'a', attempt: 2 }],
    ['CompleteWorkflowStep', { stepId: 'a', output: 'x' }],
    ['StartWorkflowStep', { stepId: 'b', attempt: 1 }],
    ['CompleteWorkflowStep', { stepId: 'b' }],
  ],
  [
    runRequest,
    ['StartWorkflowRun'],
    ['StartWorkflowStep', { stepId: 'a', attempt: 1 }],
    ['FailWorkflowStep', { stepId: 'a', error: 'e' }],
  ],
  [runRequest, ['CancelWorkflowRun', { reason: 'r' }]],
  // A signal that arrives before its step starts, and a step its `when` skips.
  [
    [
      'RequestWorkflowRun',
      {
        workflowId: 'w1',
        definitionVersion: 1,
        steps: [
          { id: 'ok', type: 'wait.signal', input: { name: 'go' } },
          { id: 'maybe', type: 'delay', input: { ms: 0 }, dependsOn: ['ok'], when: 'steps.ok.output.yes == true' },
        ],
      },
    ],
    ['StartWorkflowRun'],
    ['SignalWorkflowRun', { name: 'go', payload: { yes: false } }],
    ['StartWorkflowStep', { stepId: 'ok', attempt: 1 }],
    ['StartWorkflowStep', { stepId: 'maybe', attempt: 1 }],
  ],
  [
    runRequest,
    ['StartWorkflowRun'],
    ['PauseWorkflowRun', { reason: 'hold' }],
    ['ResumeWorkflowRun'],
    ['StartWorkflowStep', { stepId: 'a', attempt: 1 }],
    ['FailWorkflowStep', { stepId: 'a', error: 'e' }],
    ['RetryWorkflowStep', { stepId: 'a' }],
  ],
  [
    ['CreateSchedule', { workflowId: 'w1', cron: '* * * * *', timezone: 'Europe/Berlin' }],
    ['PauseSchedule'],
    ['ResumeSchedule'],
    ['DeleteSchedule'],
  ],
  [
    ['CreateSchedule', { workflowId: 'w1', at: '2020-01-01T00:00:00Z' }],
    ['FireSchedule', { slot: '2020-01-01T00:00:00Z', runId: 'r1' }],
  ],
  [
    aiRequest,
    ['StartAiTask', { workerId: 'w' }],
    ['RecordAiTaskProgress', { partialText: 'h', tokens: 1 }],
    ['FailAiTask', { error: 'e', retryable: true }],
    ['StartAiTask', { workerId: 'w' }],
    ['CompleteAiTask', { text: 'hello', promptTokens: 1, completionTokens: 1, durationMs: 5 }],
  ],
  [aiRequest, ['CancelAiTask']],
  [anchor, record],
  [['SkipProjectionCommit', { position: 7, reason: 'budget overflows numeric(16,2)' }]],
];

/** Runs a scenario through the catalogue as the command handler does; returns the emitted event types. */
function run(scenario: Step[]): { aggregateType: string; types: string[] } {
  const aggregateTypes = new Set<string>();
  const types: string[] = [];
  let state: unknown;
  for (const [type, data = {}] of scenario) {
    const { spec, data: parsed } = parseCommand({ type, aggregateId: 'x1', data });
    const decider = deciders[spec.aggregateType];
    if (!decider) throw new Error(`no decider for ${spec.aggregateType}`);
    aggregateTypes.add(spec.aggregateType);
    state ??= decider.initialState();
    for (const e of decider.decide({ type, data: parsed }, state, ctx)) {
      state = decider.evolve(state, e);
      types.push(e.type);
    }
  }
  expect(aggregateTypes.size).toBe(1);
  return { aggregateType: [...aggregateTypes][0]!, types };
}

describe('domain catalogue', () => {
  it('has a decider for the aggregate type of every command', () => {
    for (const [type, spec] of Object.entries(commandCatalog)) {
      expect(deciders[spec.aggregateType], type).toBeDefined();
      expect(deciders[spec.aggregateType]?.aggregateType).toBe(spec.aggregateType);
    }
    expect(Object.keys(deciders).sort()).toEqual(Object.keys(commandSchemasByAggregate).sort());
  });

  it('names aggregate types with letters only, as NATS subjects need', () => {
    for (const aggregateType of Object.keys(deciders)) expect(aggregateType).toMatch(/^[A-Za-z]+$/);
    expect(Object.keys(deciders).sort()).toEqual([
      'aiTask',
      'auditCheckpoint',
      'campaign',
      'projection',
      'schedule',
      'workflow',
      'workflowRun',
    ]);
  });

  it('gives no command type to two aggregates', () => {
    const all = Object.values(commandSchemasByAggregate).flatMap((schemas) => Object.keys(schemas));
    expect(new Set(all).size).toBe(all.length);
    expect(Object.keys(commandCatalog).sort()).toEqual([...all].sort());
  });

  it('has exactly one create command per aggregate named by the server, and only those may omit the id', () => {
    for (const type of createCommands) expect(commandCatalog[type]?.kind, type).toBe('create');
    const creates = Object.entries(commandCatalog).filter(([, spec]) => spec.kind === 'create');
    expect(creates.map(([type]) => type).sort()).toEqual([...createCommands].sort());
    // A projection aggregate is named by its read model, so it is never created without an id.
    const named = new Set(['projection']);
    expect(creates.map(([, spec]) => spec.aggregateType).sort()).toEqual(
      Object.keys(deciders)
        .filter((t) => !named.has(t))
        .sort(),
    );
  });

  it('has a schemaVersion for every event a decider emits, and emits every event it versions', () => {
    const emitted = new Set<string>();
    const byAggregate = new Map<string, Set<string>>();
    for (const scenario of scenarios) {
      const { aggregateType, types } = run(scenario);
      for (const type of types) {
        expect(eventVersions[type], `${type} from ${aggregateType}`).toBeGreaterThanOrEqual(1);
        emitted.add(type);
        byAggregate.set(aggregateType, (byAggregate.get(aggregateType) ?? new Set()).add(type));
      }
    }
    expect([...emitted].sort()).toEqual(Object.keys(eventVersions).sort());
    // No event type is emitted by two aggregates.
    const perAggregate = [...byAggregate.values()].flatMap((s) => [...s]);
    expect(new Set(perAggregate).size).toBe(perAggregate.length);
    for (const version of Object.values(eventVersions)) expect(Number.isInteger(version)).toBe(true);
  });

  it('exercises every command in the scenarios', () => {
    const used = new Set(scenarios.flatMap((s) => s.map(([type]) => type)));
    expect([...used].sort()).toEqual(Object.keys(commandCatalog).sort());
  });

  it('finding 1: refuses NUL and a lone surrogate in every string of every command, naming the field', () => {
    const leaves = (v: unknown, path: (string | number)[] = []): (string | number)[][] =>
      typeof v === 'string'
        ? [path]
        : v && typeof v === 'object'
          ? Object.entries(v).flatMap(([k, c]) => leaves(c, [...path, Array.isArray(v) ? Number(k) : k]))
          : [];
    const withText = (data: unknown, path: (string | number)[], bad: string): unknown => {
      const copy = structuredClone(data) as Record<string | number, unknown>;
      let at = copy;
      for (const p of path.slice(0, -1)) at = at[p] as Record<string | number, unknown>;
      at[path.at(-1)!] = `${String(at[path.at(-1)!])}${bad}`;
      return copy;
    };
    let checked = 0;
    for (const [type, data = {}] of scenarios.flat()) {
      for (const path of leaves(data)) {
        for (const bad of ['\u0000', '\ud800']) {
          const envelope = { type, aggregateId: 'x1', data: withText(data, path, bad) };
          const field = ['data', ...path].join('.');
          expect(() => parseCommand(envelope), `${type} ${field}`).toThrow();
          try {
            parseCommand(envelope);
          } catch (err) {
            const issues = (err as { issues?: { field: string }[] }).issues ?? [];
            expect(
              issues.map((i) => i.field).some((f) => field.startsWith(f)),
              `${type} ${field}`,
            ).toBe(true);
          }
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(50);
  });

  it('upcasts stored events to the current schemaVersion', () => {
    const old = { id: 'e1', type: 'CampaignCreated', schemaVersion: 1, data: { name: 'S', budget: 5 } };
    expect(upcastEvent(old).schemaVersion).toBe(eventVersions.CampaignCreated);
    const current = { id: 'e2', type: 'WorkflowDefined', schemaVersion: 1, data: {} };
    expect(upcastEvent(current)).toBe(current);
  });
});
