import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { routes as routeTable } from '../../lambdas/routes';
import { acknowledgeNagFindings, addNagChecks } from '../../lib/nag';
import { ContextPlaneStack } from '../../lib/stack';

/** One full synth, with the real esbuild bundling and cdk-nag's AwsSolutions pack, as `cdk synth` does. */
let template: Template;
let outdir: string;
let stack: ContextPlaneStack;

beforeAll(() => {
  outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-out-'));
  const app = new App({ outdir });
  stack = new ContextPlaneStack(app, 'InfraTest');
  acknowledgeNagFindings(stack.plane);
  addNagChecks(app);
  app.synth(); // throws on any unacknowledged cdk-nag error
  template = Template.fromStack(stack);
}, 300_000);

describe('ContextPlane stack', () => {
  it('passes cdk-nag AwsSolutions with every acknowledgement justified', () => {
    interface Suppressed {
      ruleName: string;
      reason: string;
    }
    const report = JSON.parse(fs.readFileSync(path.join(outdir, 'validation-report.json'), 'utf8')) as {
      pluginReports: { pluginName: string; violations: unknown[]; suppressedViolations: Suppressed[] }[];
    };
    const nag = report.pluginReports.find((r) => r.pluginName === 'AwsSolutions');
    expect(nag?.violations).toEqual([]);
    for (const s of nag?.suppressedViolations ?? []) expect(s.reason.length, s.ruleName).toBeGreaterThan(20);
  });

  it('creates on-demand, encrypted tables with point-in-time recovery, keyed by pk', () => {
    const tables = template.findResources('AWS::DynamoDB::Table');
    expect(Object.keys(tables).length).toBeGreaterThanOrEqual(4);
    for (const table of Object.values(tables)) {
      expect(table.Properties.BillingMode).toBe('PAY_PER_REQUEST');
      expect(table.Properties.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
      expect(table.Properties.SSESpecification).toEqual({ SSEEnabled: true });
      expect(table.Properties.KeySchema[0]).toEqual({ AttributeName: 'pk', KeyType: 'HASH' });
      expect(table.DeletionPolicy).toBe('Retain');
    }
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'seq', KeyType: 'RANGE' },
      ],
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    });
  });

  it('has a FIFO summarization queue that redrives to a FIFO dead-letter queue, with an alarm on its depth', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      FifoQueue: true,
      RedrivePolicy: { deadLetterTargetArn: Match.anyValue(), maxReceiveCount: 5 },
    });
    // Two queues with their dead-letter queues: summarization (FIFO) and deletion (standard).
    template.resourceCountIs('AWS::SQS::Queue', 4);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Threshold: 1,
    });
  });

  it('has a deletion queue that redrives to a dead-letter queue, visible longer than the deleter runs', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      VisibilityTimeout: 1800,
      RedrivePolicy: { deadLetterTargetArn: Match.anyValue(), maxReceiveCount: 10 },
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    });
  });

  it('stores one valid policy parameter per route under the stack prefix', () => {
    template.hasResourceProperties('AWS::SSM::Parameter', {
      Name: '/context-plane/InfraTest/policies/default',
      Type: 'String',
      Value: Match.stringLikeRegexp('"systemPrompt"'),
    });
  });

  it('guards the HTTP API with a caching Lambda authorizer on every route but the public ones (health, the OpenAPI document)', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'REQUEST',
      EnableSimpleResponses: true,
      IdentitySource: ['$request.header.Authorization'],
      AuthorizerResultTtlInSeconds: 300,
    });
    const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route'));
    const open = routeTable.filter((r) => r.public).map((r) => `${r.method} ${r.path}`);
    expect(open.sort()).toEqual(['GET /v1/health', 'GET /v1/openapi.json']);
    for (const route of routes) {
      expect(route.Properties.AuthorizationType, route.Properties.RouteKey).toBe(
        open.includes(route.Properties.RouteKey) ? 'NONE' : 'CUSTOM',
      );
    }
    expect(routes.map((r) => r.Properties.RouteKey)).toContain('POST /v1/sessions/{sessionId}/turns');
  });

  it('runs every function on arm64 and Node.js 22 or newer', () => {
    for (const fn of Object.values(template.findResources('AWS::Lambda::Function'))) {
      expect(fn.Properties.Architectures).toEqual(['arm64']);
      expect(Number(/nodejs(\d+)/.exec(fn.Properties.Runtime)?.[1])).toBeGreaterThanOrEqual(22);
    }
  });

  it('grants the authorizer read access to the tenants table only', () => {
    const policies = template.findResources('AWS::IAM::Policy', {
      Properties: { Roles: [{ Ref: Match.stringLikeRegexp('AuthorizerFnServiceRole') }] },
    });
    const statements = Object.values(policies).flatMap((p) => p.Properties.PolicyDocument.Statement);
    const resources = JSON.stringify(statements.map((s) => s.Resource));
    expect(resources).toMatch(/TenantsTable/);
    expect(resources).not.toMatch(/SessionsTable|EventsTable|IdempotencyTable/);
    expect(
      statements.flatMap((s) => [s.Action].flat()).every((a: string) => !/Put|Update|Delete|Write/.test(a)),
    ).toBe(true);
  });

  it('bundles handlers with local esbuild and ships tiktoken WASM next to the handlers that count tokens', () => {
    const sessionsFn = stack.plane.functions.sessions.node.defaultChild as { code?: unknown };
    expect(sessionsFn).toBeDefined();
    const assetDirs = fs.readdirSync(outdir).filter((d) => d.startsWith('asset.'));
    const withWasm = assetDirs.filter((d) => fs.existsSync(path.join(outdir, d, 'tiktoken_bg.wasm')));
    expect(assetDirs.length).toBeGreaterThan(withWasm.length);
    expect(withWasm.length).toBeGreaterThanOrEqual(1);
    for (const d of assetDirs) expect(fs.existsSync(path.join(outdir, d, 'index.js'))).toBe(true);
  });
});
