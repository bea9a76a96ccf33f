import dagre from '@dagrejs/dagre';
import { Background, Controls, type Edge, type Node, Position, ReactFlow } from '@xyflow/react';
import { useMemo } from 'react';
import type { RunView, StepView } from '../lib/fold';
import { ms } from '../lib/ui';

const nodeColors: Record<StepView['status'], string> = {
  pending: '#f1f3f5',
  running: '#d0ebff',
  waiting: '#f3d9fa',
  retryScheduled: '#ffe8cc',
  succeeded: '#d3f9d8',
  failed: '#ffe3e3',
  skipped: '#f8f9fa',
};
/** A pending step of a paused run is held: it does not start until the run resumes. */
const heldColor = '#fff3bf';

const width = 200;
const height = 70;

function label(s: StepView, run: RunView): string {
  if (s.status === 'pending' && run.status === 'paused') return 'pending · run paused';
  if (s.status === 'waiting') return s.note ?? 'waiting';
  if (s.status === 'skipped') return 'skipped';
  return s.status;
}

/** Steps laid out left to right by their dependencies (dagre), coloured by state. */
function layout(run: RunView): { nodes: Node[]; edges: Edge[] } {
  const { steps } = run;
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: 'LR', nodesep: 30, ranksep: 60 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const s of steps) g.setNode(s.stepId, { width, height });
  for (const s of steps) for (const d of s.dependsOn) g.setEdge(d, s.stepId);
  dagre.layout(g);
  const nodes = steps.map((s) => {
    const p = g.node(s.stepId);
    const held = s.status === 'pending' && run.status === 'paused';
    return {
      id: s.stepId,
      position: { x: (p?.x ?? 0) - width / 2, y: (p?.y ?? 0) - height / 2 },
      data: {
        label: (
          <div data-testid="dag-step" data-step={s.stepId} data-status={s.status} data-held={held || undefined}>
            <b>{s.stepId}</b> ({s.type})
            <br />
            {label(s, run)}
            {s.attempt > 1 ? ` · attempt ${s.attempt}` : ''}
            {s.startedAt && s.finishedAt ? ` · ${ms(s.startedAt, s.finishedAt)}` : ''}
          </div>
        ),
      },
      style: {
        width,
        background: held ? heldColor : nodeColors[s.status],
        fontSize: 12,
        // Skipped steps did not run: drawn dashed and faded, so the taken branch stands out.
        ...(s.status === 'skipped' ? { borderStyle: 'dashed', opacity: 0.7 } : {}),
      },
      draggable: false,
      // Left to right, like the layout.
      sourcePosition: Position.Right,
      targetPosition: Position.Left,
    } satisfies Node;
  });
  const edges = steps.flatMap((s) =>
    s.dependsOn.map((d) => ({
      id: `${d}->${s.stepId}`,
      source: d,
      target: s.stepId,
      animated: s.status === 'running' || s.status === 'waiting',
    })),
  );
  return { nodes, edges };
}

export function RunDag({ run }: { run: RunView }) {
  const { nodes, edges } = useMemo(() => layout(run), [run]);
  return (
    <div style={{ height: 320, border: '1px solid var(--mantine-color-gray-3)' }} aria-hidden="true">
      <ReactFlow nodes={nodes} edges={edges} fitView nodesConnectable={false} proOptions={{ hideAttribution: true }}>
        <Background />
        <Controls showInteractive={false} />
      </ReactFlow>
    </div>
  );
}
