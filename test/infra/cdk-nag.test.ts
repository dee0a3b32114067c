import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../lib/app.js';
import { stageConfig } from '../../lib/config.js';
import { synthesize, type Synthesized } from './synth.js';

interface Acknowledgement {
  readonly construct: IConstruct;
  readonly id: string;
  readonly reason: string;
}

/** Every `Validations.of(x).acknowledge(...)` recorded in the app (ids without the `Annotation::` prefix). */
function acknowledgements(app: App): Acknowledgement[] {
  return app.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({
          construct,
          id: id.replace(/^annotation::/i, ''),
          reason,
        })),
      ),
  );
}

/** The AwsSolutions findings as if nothing were acknowledged. */
function rawFindings(app: App): { ruleName: string; constructPath: string }[] {
  const pack = new AwsSolutionsChecks();
  // Test-only introspection: cdk-nag consults this (private) method for acknowledgements. If it is ever
  // renamed, the override has no effect and the "matches a real finding" test fails loudly instead of passing.
  Object.defineProperty(pack, 'isAcknowledged', { value: () => false });
  return pack.validateScope(app).violations.flatMap((violation) =>
    violation.violatingResources.map((resource) => ({
      ruleName: violation.ruleName,
      constructPath: resource.constructPath ?? '',
    })),
  );
}

describe.each([
  ['iam', {}],
  ['apiKey', { apiAuth: 'apiKey' as const, apiClients: ['acme', 'globex'] }],
  ['prod', { stage: 'prod' }],
])('cdk-nag AwsSolutions checks (%s)', (_name, overrides) => {
  let synth: Synthesized;
  beforeAll(() => {
    // Synthesis itself fails on an unacknowledged AwsSolutions error.
    synth = synthesize(overrides);
  });
  afterAll(() => synth?.dispose());

  it('report no unacknowledged error or warning', () => {
    const report = new AwsSolutionsChecks().validateScope(synth.app);
    const findings = report.violations.map(
      (v) => `${v.severity} ${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`,
    );
    expect(findings).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('leave an empty validation report in the cloud assembly', () => {
    const assembly = synth.app.synth();
    const reportFile = path.join(assembly.directory, 'validation-report.json');
    if (fs.existsSync(reportFile)) {
      const report = JSON.parse(fs.readFileSync(reportFile, 'utf8')) as { pluginReports: { violations?: unknown[] }[] };
      expect(report.pluginReports.flatMap((plugin) => plugin.violations ?? [])).toEqual([]);
    }
  });

  it('leave no AwsSolutions annotation and no warning on any stack', () => {
    for (const stack of [synth.data, synth.serving, synth.batch, synth.streaming, synth.monitoring, synth.pipeline]) {
      const annotations = Annotations.fromStack(stack);
      expect(annotations.findError('*', Match.stringLikeRegexp('AwsSolutions-.*'))).toEqual([]);
      expect(annotations.findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*'))).toEqual([]);
      expect(annotations.findWarning('*', Match.anyValue())).toEqual([]);
    }
  });

  it('acknowledge findings one at a time, on the construct concerned, with a specific reason', () => {
    const acks = acknowledgements(synth.app);
    expect(acks.length).toBeGreaterThan(0);
    for (const ack of acks) {
      const where = `${ack.id} on ${ack.construct.node.path}`;
      expect(ack.id, where).toMatch(/^AwsSolutions-[A-Z]+\d+(\[.+\])?$/);
      expect(Stack.isStack(ack.construct) || ack.construct === synth.app, `${where} is a blanket suppression`).toBe(false);
      expect(ack.reason.length, `${where}: reason too short`).toBeGreaterThanOrEqual(60);
      // A reason says why for this resource, not just that it is acknowledged.
      expect(ack.reason, where).not.toMatch(/^(n\/a|none|todo|ok|suppressed|acknowledged)\b/i);
    }
  });

  it('acknowledge only findings that cdk-nag actually raises there', () => {
    const raw = rawFindings(synth.app);
    for (const ack of acknowledgements(synth.app)) {
      const path = ack.construct.node.path;
      const matched = raw.some(
        (finding) =>
          finding.ruleName === ack.id &&
          (finding.constructPath === path || finding.constructPath.startsWith(`${path}/`)),
      );
      expect(matched, `${ack.id} on ${path} matches no finding`).toBe(true);
    }
  });
});

describe('buildApp', () => {
  it('registers the AwsSolutions checks, so a non-compliant resource fails synthesis', () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-infra-'));
    try {
      const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
      const { data } = buildApp(app, stageConfig({ stage: 'dev' }));
      new s3.Bucket(data, 'NonCompliant');
      expect(() => app.synth()).toThrow(/AwsSolutions-S1/);
    } finally {
      fs.rmSync(outdir, { recursive: true, force: true });
    }
  });
});
