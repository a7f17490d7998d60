import { describe, expect, it } from 'vitest';
import { synthTemplate } from '../../local/provision';

/** The context function's wiring in the synthesized template (no bundling: fast). */
const template = synthTemplate('ContextInfraTest');
const resources = Object.entries(template.Resources);
const ofType = (type: string) => resources.filter(([, r]) => r.Type === type);

describe('context function in the construct', () => {
  const [fnId, fn] = ofType('AWS::Lambda::Function').find(([id]) => id.includes('ContextFn'))!;

  it('gets its store names and settings, nothing it does not read', () => {
    const env = fn.Properties!.Environment.Variables as Record<string, unknown>;
    const vars = Object.keys(env).filter((k) => k.startsWith('CP_'));
    expect(vars.sort()).toEqual(
      [
        'CP_EVENTS_TABLE',
        'CP_FACTS_TABLE',
        'CP_RECALL_TABLE',
        'CP_POLICY_LABEL_TTL_MS',
        'CP_POLICY_PREFIX',
        'CP_PROFILES_TABLE',
        'CP_SESSIONS_TABLE',
        'CP_STORE_DEADLINE_MS',
        // the key lookup when the authorizer could not make it (tenants table down)
        'CP_TENANTS_TABLE',
      ].sort(),
    );
    expect(env.CP_STORE_DEADLINE_MS).toBe('800');
    expect(env.CP_POLICY_LABEL_TTL_MS).toBe('30000');
  });

  it('may only read: GetItem, Query and BatchGetItem on its tables, GetParameter on policies', () => {
    const roleId = (fn.Properties!.Role as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0];
    const policies = ofType('AWS::IAM::Policy').filter(([, p]) =>
      (p.Properties!.Roles as { Ref: string }[]).some((r) => r.Ref === roleId),
    );
    const actions = policies.flatMap(([, p]) =>
      (p.Properties!.PolicyDocument.Statement as { Action: string | string[] }[]).flatMap((s) => s.Action),
    );
    expect(new Set(actions)).toEqual(
      new Set(['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:BatchGetItem', 'ssm:GetParameter']),
    );
    expect(fnId).toBeTruthy();
  });

  it('has a p95 latency alarm and a dashboard', () => {
    const alarm = ofType('AWS::CloudWatch::Alarm').find(([id]) => id.includes('ContextLatencyAlarm'))?.[1];
    expect(alarm?.Properties).toMatchObject({
      ExtendedStatistic: 'p95',
      MetricName: 'Duration',
      Namespace: 'AWS/Lambda',
      Threshold: 1000,
    });
    const dashboard = ofType('AWS::CloudWatch::Dashboard')[0]?.[1];
    const body = JSON.stringify(dashboard?.Properties?.DashboardBody);
    for (const metric of ['tokens_in', 'token_tax_ratio', 'state_load_ms', 'tokens_from_docs']) {
      expect(body).toContain(metric);
    }
  });
});
