import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { synthTemplate } from '../../local/provision';

/** The summarizer's wiring in the synthesized template (synth without bundling: fast). */
const template = Template.fromJSON(synthTemplate('SummarizerInfra') as never);

const logicalId = (type: string, prefix: string) =>
  Object.keys(template.findResources(type)).find((id) => id.startsWith(prefix))!;

describe('the summarizer function', () => {
  const fn = logicalId('AWS::Lambda::Function', 'ContextPlaneSummarizerFn');
  const queue = logicalId('AWS::SQS::Queue', 'ContextPlaneSummaryQueue');

  it('consumes the summary queue with partial batch failure reporting', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: fn },
      EventSourceArn: { 'Fn::GetAtt': [queue, 'Arn'] },
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  it('has a timeout the queue visibility covers six times over', () => {
    const timeout = template.findResources('AWS::Lambda::Function')[fn]!.Properties.Timeout as number;
    const visibility = template.findResources('AWS::SQS::Queue')[queue]!.Properties
      .VisibilityTimeout as number;
    expect(visibility).toBeGreaterThanOrEqual(6 * timeout);
  });

  it('may read and write sessions, events and facts, read policies and invoke Bedrock models, nothing else', () => {
    const policies = template.findResources('AWS::IAM::Policy');
    const own = Object.values(policies).find((p) =>
      (p.Properties.Roles as { Ref: string }[]).some((r) =>
        r.Ref.startsWith('ContextPlaneSummarizerFnServiceRole'),
      ),
    )!;
    const statements = own.Properties.PolicyDocument.Statement as {
      Action: string | string[];
      Resource: unknown;
    }[];
    const actions = new Set(statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action])));
    expect(actions).toContain('bedrock:InvokeModel');
    expect(actions).toContain('ssm:GetParameter');
    expect(actions).toContain('sqs:DeleteMessage');
    expect([...actions].filter((a) => a.startsWith('sqs:SendMessage'))).toEqual([]);
    const tables = JSON.stringify(statements.filter((s) => JSON.stringify(s.Action).includes('dynamodb:')));
    for (const t of ['SessionsTable', 'EventsTable', 'FactsTable'])
      expect(tables).toContain(`ContextPlane${t}`);
    for (const t of ['TenantsTable', 'IdempotencyTable', 'ProfilesTable', 'CacheTable']) {
      expect(tables).not.toContain(`ContextPlane${t}`);
    }
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 'bedrock:InvokeModel',
            Resource: Match.arrayWith([
              { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':bedrock:*::foundation-model/*']] },
            ]),
          }),
        ]),
      },
    });
  });
});
