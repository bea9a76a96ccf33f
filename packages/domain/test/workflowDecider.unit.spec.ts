import { type WorkflowCommand, workflowCommandSchemas, workflowDecider } from '@lightdom/domain';
import { parseCommand } from '@lightdom/eventstore';
import { describe, expect, it } from 'vitest';
import { deciderHarness, expectError } from './support/deciders.js';

const ctx = { now: new Date('2026-03-01T10:00:00Z'), aggregateId: 'w1' };

const { cmd, given } = deciderHarness(workflowDecider, workflowCommandSchemas, ctx);

const steps = [
  { id: 'draft', type: 'ai.generate', input: { prompt: 'Write a teaser' }, retry: { maxAttempts: 3, backoffMs: 500 } },
  { id: 'wait', type: 'delay', input: { ms: 60_000 }, dependsOn: ['draft'] },
  { id: 'notify', type: 'http.request', input: { url: 'https://n8n.example/hook' }, dependsOn: ['wait'] },
];
const define = (s: unknown = steps) => cmd('DefineWorkflow', { name: 'Teaser', steps: s });

/** The issues of a command as the command handler reports them. */
const issuesOf = (type: string, data: unknown) =>
  expectError(() => parseCommand({ type, data }), 'VALIDATION_FAILED').issues ?? [];

describe('workflow decider', () => {
  it('defines version 1 of a workflow, filling in defaults', () => {
    const events = workflowDecider.decide(define(), workflowDecider.initialState(), ctx);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: 'WorkflowDefined',
      data: { name: 'Teaser', description: '', definitionVersion: 1 },
    });
    const state = given(define());
    expect(state).toMatchObject({ exists: true, status: 'active', definitionVersion: 1 });
    expect(state.steps[0]).toEqual({ ...steps[0], dependsOn: [] });
  });

  it('refuses to define twice and to touch a workflow that does not exist', () => {
    expectError(() => workflowDecider.decide(define(), given(define()), ctx), 'ALREADY_EXISTS');
    expectError(
      () => workflowDecider.decide(cmd('ReviseWorkflow', { steps }), workflowDecider.initialState(), ctx),
      'NOT_FOUND',
    );
    expectError(
      () => workflowDecider.decide(cmd('DeprecateWorkflow'), workflowDecider.initialState(), ctx),
      'NOT_FOUND',
    );
  });

  it('revises the steps into the next definition version', () => {
    const revised = [...steps, { id: 'anchor', type: 'chain.anchor', dependsOn: ['notify'] }];
    const events = workflowDecider.decide(cmd('ReviseWorkflow', { steps: revised }), given(define()), ctx);
    expect(events).toMatchObject([{ type: 'WorkflowRevised', data: { definitionVersion: 2 } }]);
    const state = given(define(), cmd('ReviseWorkflow', { steps: revised }), cmd('ReviseWorkflow', { steps }));
    expect(state.definitionVersion).toBe(3);
    expect(state.steps.map((s) => s.id)).toEqual(['draft', 'wait', 'notify']);
  });

  it('does not mint a version for unchanged steps', () => {
    expect(workflowDecider.decide(cmd('ReviseWorkflow', { steps }), given(define()), ctx)).toEqual([]);
  });

  it('deprecates once, and a deprecated workflow cannot be revised', () => {
    expect(workflowDecider.decide(cmd('DeprecateWorkflow', { reason: 'old' }), given(define()), ctx)).toEqual([
      { type: 'WorkflowDeprecated', data: { reason: 'old' } },
    ]);
    const deprecated = given(define(), cmd('DeprecateWorkflow'));
    expect(deprecated.status).toBe('deprecated');
    for (const c of [cmd('ReviseWorkflow', { steps }), cmd('DeprecateWorkflow')]) {
      const err = expectError(() => workflowDecider.decide(c, deprecated, ctx), 'INVALID_TRANSITION');
      expect(err.details?.status).toBe('deprecated');
    }
  });
});

describe('workflow step DAG validation', () => {
  it('requires at least one step', () => {
    expect(issuesOf('DefineWorkflow', { name: 'x', steps: [] })).toEqual([
      { field: 'data.steps', message: 'must hold at least one step' },
    ]);
  });

  it('names a duplicate step id', () => {
    const issues = issuesOf('DefineWorkflow', {
      name: 'x',
      steps: [
        { id: 'a', type: 'delay' },
        { id: 'a', type: 'delay' },
      ],
    });
    expect(issues.map((i) => i.field)).toEqual(['data.steps.1.id']);
  });

  it('names a dependency on an unknown step', () => {
    const issues = issuesOf('DefineWorkflow', {
      name: 'x',
      steps: [
        { id: 'a', type: 'delay' },
        { id: 'b', type: 'delay', dependsOn: ['a'] },
        { id: 'c', type: 'delay', dependsOn: ['a', 'nope'] },
      ],
    });
    expect(issues).toEqual([{ field: 'data.steps.2.dependsOn', message: 'refers to unknown step nope' }]);
  });

  it('names the step that closes a cycle', () => {
    const issues = issuesOf('ReviseWorkflow', {
      steps: [
        { id: 'a', type: 'delay', dependsOn: ['c'] },
        { id: 'b', type: 'delay', dependsOn: ['a'] },
        { id: 'c', type: 'delay', dependsOn: ['b'] },
      ],
    });
    expect(issues).toHaveLength(1);
    expect(issues[0]?.field).toMatch(/^data\.steps\.\d\.dependsOn$/);
    expect(issues[0]?.message).toMatch(/cycle: (\w -> ){3}\w/);
  });

  it('names a step that depends on itself', () => {
    const issues = issuesOf('DefineWorkflow', { name: 'x', steps: [{ id: 'a', type: 'delay', dependsOn: ['a'] }] });
    expect(issues).toEqual([{ field: 'data.steps.0.dependsOn', message: 'forms a cycle: a -> a' }]);
  });

  it('names bad step fields', () => {
    const issues = issuesOf('DefineWorkflow', {
      name: 'x',
      steps: [{ id: 'a b', type: 'shell', retry: { maxAttempts: 0, backoffMs: 1 }, timeoutMs: -1 }],
    });
    expect(issues.map((i) => i.field)).toEqual(
      expect.arrayContaining([
        'data.steps.0.id',
        'data.steps.0.type',
        'data.steps.0.retry.maxAttempts',
        'data.steps.0.timeoutMs',
      ]),
    );
  });

  it('accepts a diamond', () => {
    const diamond = [
      { id: 'a', type: 'delay' },
      { id: 'b', type: 'delay', dependsOn: ['a'] },
      { id: 'c', type: 'delay', dependsOn: ['a'] },
      { id: 'd', type: 'delay', dependsOn: ['b', 'c'] },
    ];
    expect(workflowCommandSchemas.ReviseWorkflow.safeParse({ steps: diamond }).success).toBe(true);
  });

  it('is checked by the decider too, for commands that skipped the schema', () => {
    const unchecked = {
      type: 'DefineWorkflow',
      data: { name: 'x', description: '', steps: [{ id: 'a', type: 'delay', input: {}, dependsOn: ['a'] }] },
    } as WorkflowCommand;
    const err = expectError(
      () => workflowDecider.decide(unchecked, workflowDecider.initialState(), ctx),
      'VALIDATION_FAILED',
    );
    expect(err.issues?.map((i) => i.field)).toEqual(['data.steps.0.dependsOn']);
  });
});
