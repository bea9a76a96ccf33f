import { describe, expect, it } from 'vitest';
import { type K8sObject, readK8s, secretLike } from './deployFiles.js';
import { serviceConfigs } from './serviceEnv.js';

const manifests = readK8s();
const objects = manifests.map((m) => m.object);
const byKind = (kind: string) => objects.filter((o) => o.kind === kind);
const named = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name);

/** The kubernetes-models module of an apiVersion: `v1` (core), `apps/v1`, `networking.k8s.io/v1`... */
const modelModule = (apiVersion: string) => `kubernetes-models/${apiVersion}`;

interface Container {
  name: string;
  image?: string;
  command?: string[];
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  readinessProbe?: unknown;
  livenessProbe?: unknown;
  resources?: { requests?: { cpu?: string; memory?: string }; limits?: { cpu?: string; memory?: string } };
  securityContext?: {
    runAsNonRoot?: boolean;
    runAsUser?: number;
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    privileged?: boolean;
    capabilities?: { drop?: string[] };
  };
}
interface PodSpec {
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  containers: Container[];
}

/** Pod templates of every workload (Deployments and StatefulSets). */
const workloads = objects
  .filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet')
  .map((o) => ({ o, pod: (o.spec as { template: { spec: PodSpec } }).template.spec }));

describe('deploy/k8s/*.yaml', () => {
  it('parses into the expected kinds', () => {
    const kinds = new Set(objects.map((o) => o.kind));
    for (const kind of [
      'Deployment',
      'StatefulSet',
      'Service',
      'HorizontalPodAutoscaler',
      'PodDisruptionBudget',
      'NetworkPolicy',
      'ConfigMap',
      'Ingress',
    ]) {
      expect(kinds, kind).toContain(kind);
    }
  });

  it.each(manifests.map((m) => [`${m.file}: ${m.object.kind} ${m.object.metadata.name}`, m.object] as const))(
    '%s is valid under the Kubernetes schemas (kubernetes-models)',
    async (_label, object) => {
      const models = (await import(modelModule(object.apiVersion))) as Record<
        string,
        new (
          o: K8sObject,
        ) => { validate(): void }
      >;
      const Model = models[object.kind];
      expect(Model, `${object.apiVersion} ${object.kind} has a model`).toBeDefined();
      expect(() => new (Model as NonNullable<typeof Model>)(object).validate()).not.toThrow();
    },
  );

  it('the validation refuses a broken object (a string replica count)', async () => {
    const { Deployment } = await import('kubernetes-models/apps/v1');
    const broken = structuredClone(named('Deployment', 'executor')) as K8sObject & { spec: { replicas: unknown } };
    broken.spec.replicas = 'two';
    expect(() => new Deployment(broken as never).validate()).toThrow(/replicas/);
  });

  it('every container has probes, requests and limits, runs non-root, read-only, unprivileged, with no capability', () => {
    const problems: string[] = [];
    for (const { o, pod } of workloads) {
      for (const c of pod.containers) {
        const where = `${o.metadata.name}/${c.name}`;
        if (!c.readinessProbe || !c.livenessProbe) problems.push(`${where}: probes missing`);
        const r = c.resources;
        if (!r?.requests?.cpu || !r.requests.memory || !r.limits?.cpu || !r.limits.memory) {
          problems.push(`${where}: requests/limits missing`);
        }
        const nonRoot = (c.securityContext?.runAsNonRoot ?? pod.securityContext?.runAsNonRoot) === true;
        const uid = c.securityContext?.runAsUser ?? pod.securityContext?.runAsUser;
        if (!nonRoot || !uid) problems.push(`${where}: may run as root`);
        const sc = c.securityContext;
        if (sc?.allowPrivilegeEscalation !== false) problems.push(`${where}: privilege escalation allowed`);
        if (sc?.readOnlyRootFilesystem !== true) problems.push(`${where}: writable root filesystem`);
        if (sc?.privileged === true) problems.push(`${where}: privileged`);
        if (!sc?.capabilities?.drop?.includes('ALL')) problems.push(`${where}: capabilities not dropped`);
      }
    }
    expect(problems).toEqual([]);
    expect(workloads.length).toBeGreaterThanOrEqual(9);
  });

  it('holds no secret value: no Secret object, no credential in an env value', () => {
    expect(byKind('Secret')).toEqual([]);
    const problems: string[] = [];
    for (const { o, pod } of workloads) {
      for (const c of pod.containers) {
        for (const e of c.env ?? []) {
          if (secretLike.test(e.name) && !String(e.value ?? '').startsWith('/run/secrets/')) {
            problems.push(`${o.metadata.name}: ${e.name} is inline`);
          }
          if (/:\/\/[^/@\s]+:[^/@\s]+@/.test(String(e.value ?? ''))) problems.push(`${o.metadata.name}: ${e.name}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('each LightDom container is given only variables its program reads', () => {
    const problems: string[] = [];
    let checked = 0;
    for (const { o, pod } of workloads) {
      for (const c of pod.containers) {
        const config = serviceConfigs[c.command?.[1] ?? ''];
        if (!c.image?.startsWith('lightdom:')) continue;
        if (!config) {
          problems.push(`${o.metadata.name}: runs an unknown program ${c.command?.join(' ')}`);
          continue;
        }
        checked++;
        for (const e of c.env ?? []) if (!config.names.has(e.name)) problems.push(`${o.metadata.name}: ${e.name}`);
      }
    }
    expect(problems).toEqual([]);
    expect(checked).toBe(7);
  });

  it('rolls Deployments without losing capacity; single-writer ones are recreated', () => {
    for (const d of byKind('Deployment')) {
      const strategy = (d.spec as { strategy?: { type: string; rollingUpdate?: { maxUnavailable: number } } }).strategy;
      if (['projector', 'anchor'].includes(d.metadata.name)) expect(strategy?.type, d.metadata.name).toBe('Recreate');
      else expect(strategy, d.metadata.name).toEqual({ type: 'RollingUpdate', rollingUpdate: expect.anything() });
    }
  });

  it('exposes command-api over HTTP, gRPC and AMQP, and autoscales command-api, executor and the AI worker', () => {
    const service = named('Service', 'command-api') as unknown as { spec: { ports: { name: string; port: number }[] } };
    const ports = service.spec.ports;
    expect(ports.map((p) => [p.name, p.port])).toEqual([
      ['http', 3001],
      ['grpc', 50051],
      ['amqp', 5673],
    ]);
    const targets = byKind('HorizontalPodAutoscaler').map(
      (h) => (h.spec as { scaleTargetRef: { name: string } }).scaleTargetRef.name,
    );
    expect(targets).toEqual(expect.arrayContaining(['command-api-blue', 'command-api-green', 'executor', 'ai-worker']));
    const pdbs = byKind('PodDisruptionBudget').map((p) => p.metadata.name);
    expect(pdbs).toEqual(expect.arrayContaining(['command-api', 'executor', 'ai-worker', 'nats', 'nginx']));
  });

  it('runs NATS as a 3-node JetStream StatefulSet with sync_interval: always', () => {
    const nats = named('StatefulSet', 'nats')?.spec as { replicas: number };
    expect(nats.replicas).toBe(3);
    const conf = (named('ConfigMap', 'nats-config') as unknown as { data: Record<string, string> }).data[
      'nats-server.conf'
    ];
    expect(conf).toMatch(/sync_interval: always/);
    expect(conf?.match(/nats:\/\/nats-\d\.nats-cluster/g)).toHaveLength(3);
  });

  it('releases command-api blue-green (Service selector) and canary (ingress-nginx weight)', () => {
    const live = named('Service', 'command-api')?.spec as { selector: Record<string, string> };
    expect(live.selector).toEqual({ app: 'command-api', track: 'blue' });
    const canary = named('Ingress', 'lightdom-canary');
    expect(canary?.metadata.annotations?.['nginx.ingress.kubernetes.io/canary']).toBe('true');
    expect(Number(canary?.metadata.annotations?.['nginx.ingress.kubernetes.io/canary-weight'])).toBeGreaterThan(0);
    const canaryService = named('Service', 'command-api-canary')?.spec as { selector: Record<string, string> };
    expect(canaryService.selector.track).toBe('green');
  });

  it('isolates the tiers with NetworkPolicies like compose networks', () => {
    const policies = byKind('NetworkPolicy');
    const deny = policies.find((p) => p.metadata.name === 'default-deny-ingress')?.spec;
    expect(deny).toEqual({ podSelector: {}, policyTypes: ['Ingress'] });
    // Every workload pod carries a tier some policy selects.
    const tiers = new Set(
      policies.map(
        (p) =>
          (p.spec as { podSelector: { matchLabels?: Record<string, string> } }).podSelector.matchLabels?.[
            'lightdom.io/tier'
          ],
      ),
    );
    for (const { o } of workloads) {
      const labels = (o.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata
        .labels;
      expect(tiers, o.metadata.name).toContain(labels['lightdom.io/tier']);
    }
  });
});
