import { execFileSync, spawnSync } from 'node:child_process';
import {
  closeSync,
  cpSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot } from '@lightdom/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { deployDir } from './deployFiles.js';

const work = mkdtempSync(path.join(tmpdir(), 'lightdom-deploy-tools-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * Runs a command; the result with its output, for assertions that show it on failure. The
 * output goes to a file: nginx opens /dev/stderr, which fails on Node's socket-pair pipes.
 */
const run = (cmd: string, args: string[]) => {
  const log = path.join(work, `${path.basename(cmd)}-${Date.now()}.log`);
  const fd = openSync(log, 'w');
  try {
    const r = spawnSync(cmd, args, { stdio: ['ignore', fd, fd] });
    if (r.error) throw new Error(`${cmd} cannot run (${r.error.message}); .ci/run installs it (Debian package)`);
    return { status: r.status, output: readFileSync(log, 'utf8') };
  } finally {
    closeSync(fd);
  }
};

describe('nginx -t', () => {
  it('accepts deploy/nginx/nginx.conf with its conf.d/ and snippets/', () => {
    const source = path.join(deployDir, 'nginx');
    expect(existsSync(path.join(source, 'nginx.conf')), 'deploy/nginx/nginx.conf (owned by the scale work)').toBe(true);
    // The files as compose mounts them under /etc/nginx, placed in a directory of our own.
    const root = path.join(work, 'nginx');
    cpSync(source, root, { recursive: true });
    cpSync('/etc/nginx/mime.types', path.join(root, 'mime.types'));
    execFileSync('mkdir', ['-p', path.join(root, 'tls')]);
    // The TLS pair compose mounts from secrets: a throwaway self-signed one.
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost'].concat([
        '-keyout',
        path.join(root, 'tls/tls.key'),
        '-out',
        path.join(root, 'tls/tls.crt'),
      ]),
      { stdio: 'ignore' },
    );
    for (const file of listFiles(root).filter((f) => f.endsWith('.conf'))) {
      const text = readFileSync(file, 'utf8')
        .replaceAll('/etc/nginx/', `${root}/`)
        // Upstream host names exist inside compose's networks only; nginx -t resolves them.
        .replace(/(\bserver\s+)[a-z][a-z0-9.-]*(:\d+)/g, '$1127.0.0.1$2');
      writeFileSync(file, text);
    }
    const r = run('nginx', ['-t', '-p', root, '-c', path.join(root, 'nginx.conf')]);
    expect(r.output).toMatch(/syntax is ok/);
    expect(r.output).toMatch(/test is successful/);
    expect(r.status).toBe(0);
  });
});

const listFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(path.join(dir, e.name)) : [path.join(dir, e.name)],
  );

describe('promtool', () => {
  const dir = path.join(work, 'prometheus');
  execFileSync('mkdir', ['-p', dir]);
  // Compose mounts these under /etc/prometheus; the token is a secret file.
  cpSync(path.join(deployDir, 'prometheus/alerts.yml'), path.join(dir, 'alerts.yml'));
  writeFileSync(path.join(dir, 'lightdom-token'), 'scrape-token\n');
  writeFileSync(
    path.join(dir, 'prometheus.yml'),
    readFileSync(path.join(deployDir, 'prometheus/prometheus.yml'), 'utf8').replaceAll('/etc/prometheus/', `${dir}/`),
  );

  it('check config accepts prometheus.yml (and the rule file it names)', () => {
    const r = run('promtool', ['check', 'config', path.join(dir, 'prometheus.yml')]);
    expect(r.output).toMatch(/SUCCESS/);
    expect(r.output).toMatch(/rules found/);
    expect(r.status).toBe(0);
  });

  it('check rules accepts alerts.yml, with alerts for projector lag, 5xx rate and NATS', () => {
    const r = run('promtool', ['check', 'rules', path.join(dir, 'alerts.yml')]);
    expect(r.status, r.output).toBe(0);
    const alerts = (
      parse(readFileSync(path.join(dir, 'alerts.yml'), 'utf8')) as {
        groups: { rules: { alert: string; expr: string }[] }[];
      }
    ).groups.flatMap((g) => g.rules);
    expect(alerts.map((a) => a.alert)).toEqual(
      expect.arrayContaining(['ProjectionLagging', 'HighHttp5xxRate', 'NatsUnavailable']),
    );
    // Every LightDom metric an alert reads is one a service registers.
    const sources = ['projector', 'command-api', 'runtime']
      .flatMap((p) => listFiles(path.join(repoRoot, 'packages', p, 'src')))
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.spec.ts'))
      .map((f) => readFileSync(f, 'utf8'))
      .join('\n');
    const used = new Set(alerts.flatMap((a) => [...a.expr.matchAll(/\blightdom_[a-z_]+/g)].map((m) => m[0])));
    expect(used.size).toBeGreaterThan(2);
    for (const metric of used) {
      expect(sources, metric).toContain(`name: '${metric.replace(/_(count|sum|bucket)$/, '')}'`);
    }
  });

  it('the alert rules fire: promtool test rules on synthetic series', () => {
    const nats = { summary: 'NATS JetStream is unavailable: commands cannot be accepted' };
    const tests = {
      rule_files: [path.join(dir, 'alerts.yml')],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: [
            {
              series: 'lightdom_projection_lag{projection="campaigns",job="lightdom",instance="p:3003"}',
              values: '5000x10',
            },
            { series: 'up{job="nats",instance="nats-exporter:7777"}', values: '0x5' },
            {
              series:
                'lightdom_http_request_duration_seconds_count{job="lightdom",status="500",method="GET",route="/x"}',
              values: '0+60x10',
            },
            {
              series:
                'lightdom_http_request_duration_seconds_count{job="lightdom",status="200",method="GET",route="/x"}',
              values: '0+60x10',
            },
          ],
          alert_rule_test: [
            {
              eval_time: '7m',
              alertname: 'ProjectionLagging',
              exp_alerts: [
                {
                  exp_labels: { severity: 'warning', projection: 'campaigns' },
                  exp_annotations: {
                    summary: 'Projection campaigns is 5000 commits behind the log',
                    description: 'Read models lag; see /ready of the projector and docs/runbook.md.',
                  },
                },
              ],
            },
            // Not yet: the lag must last 5 minutes.
            { eval_time: '3m', alertname: 'ProjectionLagging', exp_alerts: [] },
            {
              eval_time: '3m',
              alertname: 'NatsUnavailable',
              // The exporter is down (up == 0), and with it every NATS series.
              exp_alerts: [
                {
                  exp_labels: { severity: 'critical', job: 'nats', instance: 'nats-exporter:7777' },
                  exp_annotations: nats,
                },
                { exp_labels: { severity: 'critical' }, exp_annotations: nats },
              ],
            },
            {
              eval_time: '8m',
              alertname: 'HighHttp5xxRate',
              exp_alerts: [
                {
                  exp_labels: { severity: 'critical' },
                  exp_annotations: { summary: 'More than 5% of HTTP answers are 5xx (50%)' },
                },
              ],
            },
          ],
        },
      ],
    };
    const file = path.join(dir, 'alerts.test.yml');
    writeFileSync(file, JSON.stringify(tests));
    const r = run('promtool', ['test', 'rules', file]);
    expect(r.output).toMatch(/SUCCESS/);
    expect(r.status).toBe(0);
  });
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8');
  /** Instructions of the final stage (the image the services run). */
  const finalStage = dockerfile.split(/^FROM /m).at(-1) ?? '';

  it('passes dockerfilelint', () => {
    const bin = path.join(repoRoot, 'node_modules/.bin/dockerfilelint');
    const r = run(bin, ['-o', 'json', path.join(repoRoot, 'Dockerfile')]);
    const report = JSON.parse(r.output) as { totalIssues: number; files: { issues: unknown[] }[] };
    expect(report.files[0]?.issues).toEqual([]);
    expect(report.totalIssues).toBe(0);
  });

  it('dockerfilelint notices a bad Dockerfile (so the check above is live)', () => {
    const bad = path.join(work, 'Dockerfile.bad');
    writeFileSync(bad, 'FROM node\nRUN apt-get install curl\nHEALTHCHECK --bogus=1 CMD true\n');
    const r = run(path.join(repoRoot, 'node_modules/.bin/dockerfilelint'), ['-o', 'json', bad]);
    expect((JSON.parse(r.output) as { totalIssues: number }).totalIssues).toBeGreaterThan(0);
  });

  it('compiles in a build stage and runs node dist/ with production dependencies, non-root, with a HEALTHCHECK', () => {
    expect(dockerfile).toMatch(/^FROM \S+ AS build$/m);
    expect(dockerfile).toMatch(/npx turbo run build/);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(finalStage).toMatch(/^USER node$/m);
    expect(finalStage).toMatch(/^HEALTHCHECK /m);
    expect(finalStage).toMatch(/^CMD \["node", "packages\/command-api\/dist\/main\.js"\]$/m);
    // No TypeScript at run time: neither tsx nor the source condition.
    expect(finalStage).not.toMatch(/tsx|lightdom-src/);
    // Production dependencies come from the prod-deps stage, not the build stage's full install.
    expect(finalStage).toMatch(/COPY --from=prod-deps \S* ?\/app\/node_modules/);
  });

  it('.dockerignore keeps node_modules, dist, git, tests and local secrets out of the context', () => {
    const ignore = readFileSync(path.join(repoRoot, '.dockerignore'), 'utf8').split('\n');
    for (const entry of ['**/node_modules', '**/dist', '.git', '**/*.spec.ts', '.env', 'deploy']) {
      expect(ignore, entry).toContain(entry);
    }
  });
});
