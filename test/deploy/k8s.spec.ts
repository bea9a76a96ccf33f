import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
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
      if (['anchor', 'jaeger'].includes(d.metadata.name)) expect(strategy?.type, d.metadata.name).toBe('Recreate');
      else expect(strategy, d.metadata.name).toEqual({ type: 'RollingUpdate', rollingUpdate: expect.anything() });
    }
  });

  it('runs two projectors on the lease: one active, one standby, kept through drains', () => {
    const projector = named('Deployment', 'projector')?.spec as { replicas: number; template: { spec: PodSpec } };
    expect(projector.replicas).toBe(2);
    const env = projector.template.spec.containers[0]?.env ?? [];
    expect(env.find((e) => e.name === 'PROJECTOR_LEASE')?.value).toBe('on');
    expect(named('PodDisruptionBudget', 'projector')).toBeDefined();
  });

  it('exports the spans of every LightDom service to the OpenTelemetry collector, which forwards them to Jaeger', () => {
    let wired = 0;
    for (const { o, pod } of workloads) {
      for (const c of pod.containers) {
        if (!c.image?.startsWith('lightdom:') || c.command?.[1] === 'packages/dashboard/serve.mjs') continue;
        const value = c.env?.find((e) => e.name === 'OTEL_EXPORTER_OTLP_ENDPOINT')?.value;
        expect(value, o.metadata.name).toBe('http://otel-collector:4318');
        wired++;
      }
    }
    expect(wired).toBe(6);
    const service = named('Service', 'otel-collector')?.spec as { ports: { name: string; port: number }[] };
    expect(service.ports.map((p) => p.port)).toEqual([4317, 4318]);
    const config = parse(
      (named('ConfigMap', 'otel-collector-config') as unknown as { data: Record<string, string> }).data[
        'config.yaml'
      ] as string,
    ) as {
      receivers: { otlp: { protocols: { http: { endpoint: string } } } };
      exporters: Record<string, { endpoint: string }>;
      service: { pipelines: { traces: { exporters: string[] } } };
    };
    expect(config.receivers.otlp.protocols.http.endpoint).toBe('0.0.0.0:4318');
    expect(config.exporters[config.service.pipelines.traces.exporters[0] as string]?.endpoint).toBe('jaeger:4317');
    expect(named('Deployment', 'jaeger')).toBeDefined();
  });

  it('runs PostgreSQL and Redis as StatefulSets with volumes, the password as a file', () => {
    for (const name of ['postgres', 'redis']) {
      const set = named('StatefulSet', name)?.spec as {
        volumeClaimTemplates?: { metadata: { name: string } }[];
        template: { spec: PodSpec & { volumes?: { name: string }[] } };
      };
      expect(set, name).toBeDefined();
      expect(
        set.volumeClaimTemplates?.map((v) => v.metadata.name),
        name,
      ).toEqual(['data']);
      expect(named('Service', name), name).toBeDefined();
    }
    const pgPod = (named('StatefulSet', 'postgres')!.spec as unknown as { template: { spec: PodSpec } }).template.spec;
    const pgEnv = pgPod.containers[0]?.env ?? [];
    expect(pgEnv.find((e) => e.name === 'POSTGRES_PASSWORD_FILE')?.value).toBe(
      '/run/secrets/postgres/postgres_password',
    );
    expect(pgEnv.some((e) => e.name === 'POSTGRES_PASSWORD')).toBe(false);
    const pgVolumes = (pgPod as unknown as { volumes: { name: string; secret?: { secretName: string } }[] }).volumes;
    expect(pgVolumes.find((v) => v.secret)?.secret?.secretName).toBe('lightdom-secrets');
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
    type Policy = {
      podSelector: { matchLabels?: Record<string, string> };
      ingress?: { from?: { podSelector?: { matchLabels?: Record<string, string> } }[]; ports?: { port: number }[] }[];
    };
    const policies = byKind('NetworkPolicy');
    const deny = policies.find((p) => p.metadata.name === 'default-deny-ingress')?.spec;
    expect(deny).toEqual({ podSelector: {}, policyTypes: ['Ingress'] });
    const selects = (p: Policy, labels: Record<string, string>) =>
      Object.keys(p.podSelector.matchLabels ?? {}).length > 0 &&
      Object.entries(p.podSelector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
    // Every workload pod is selected by a policy of its own (beyond the default deny).
    for (const { o } of workloads) {
      const labels = (o.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata
        .labels;
      expect(
        policies.some((p) => selects(p.spec as Policy, labels)),
        o.metadata.name,
      ).toBe(true);
    }
    // Each data server takes its own port from data clients only.
    for (const [app, port] of [
      ['nats', 4222],
      ['postgres', 5432],
      ['redis', 6379],
    ] as const) {
      const own = policies.filter((p) => selects(p.spec as Policy, { app, 'lightdom.io/tier': 'data' }));
      const rules = own.flatMap((p) => (p.spec as Policy).ingress ?? []);
      const clientRule = rules.find((r) =>
        r.from?.some((f) => f.podSelector?.matchLabels?.['lightdom.io/data-client'] === 'true'),
      );
      expect(
        clientRule?.ports?.map((p) => p.port),
        app,
      ).toContain(port);
      // No policy of another data server opens this one.
      const foreignPorts = own.flatMap((p) => ((p.spec as Policy).ingress ?? []).flatMap((r) => r.ports ?? []));
      for (const other of [4222, 5432, 6379].filter((p) => p !== port)) {
        expect(
          foreignPorts.map((p) => p.port),
          `${app} opens ${other}`,
        ).not.toContain(other);
      }
    }
  });
});
