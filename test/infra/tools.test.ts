import { App } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { ContextPlaneStack } from '../../lib/stack';

/** The tools function's grants in the synthesized template (no bundling: fast). */
function toolsStatements(plane: ConstructorParameters<typeof ContextPlaneStack>[2] = {}) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new ContextPlaneStack(app, 'ToolsInfraTest', plane);
  const resources = Object.values(app.synth().getStackByName(stack.stackName).template.Resources) as {
    Type: string;
    Properties: Record<string, unknown>;
  }[];
  const policy = resources.find(
    (r) =>
      r.Type === 'AWS::IAM::Policy' &&
      (r.Properties.Roles as { Ref: string }[]).some((x) =>
        x.Ref.startsWith('ContextPlaneToolsFnServiceRole'),
      ),
  )!;
  const statements = (
    policy.Properties.PolicyDocument as { Statement: { Action: string | string[]; Resource: unknown }[] }
  ).Statement;
  // action → the resources it is granted on, rendered
  const grants = new Map<string, string[]>();
  for (const s of statements) {
    for (const a of [s.Action].flat()) {
      for (const r of [s.Resource].flat()) grants.set(a, [...(grants.get(a) ?? []), JSON.stringify(r)]);
    }
  }
  return grants;
}

const tableOf = (resource: string) => /ContextPlane(\w+?)Table/.exec(resource)?.[1];

describe('the tools function', () => {
  it('may make exactly the DynamoDB calls it makes, each on its own table', () => {
    const grants = toolsStatements();
    const dynamo = [...grants].filter(([a]) => a.startsWith('dynamodb:'));
    const byAction = Object.fromEntries(dynamo.map(([a, rs]) => [a, rs.map(tableOf).sort()]));
    expect(byAction).toEqual({
      // Tenants: the key lookup when the authorizer could not make it (store down). Registry: the
      // session's tombstone is read before a tool runs, and the tool record is listed under its
      // session so that the session's deletion finds it; the session commit that logs the call checks
      // the tombstone inside its transaction.
      'dynamodb:ConditionCheckItem': ['Registry'],
      'dynamodb:GetItem': ['Idempotency', 'Registry', 'Sessions', 'Tenants'],
      'dynamodb:PutItem': ['Events', 'Idempotency', 'Registry', 'Sessions'],
      'dynamodb:UpdateItem': ['Idempotency'],
      'dynamodb:DeleteItem': ['Idempotency'],
      'dynamodb:Query': ['Events'],
    });
    expect([...grants.keys()].filter((a) => !a.startsWith('dynamodb:')).sort()).toEqual([
      'lambda:InvokeFunction',
      'ssm:GetParameter',
    ]);
  });

  it('may invoke only functions named with the tool prefix by default, or exactly the ARNs given', () => {
    const byDefault = toolsStatements().get('lambda:InvokeFunction')!;
    expect(byDefault).toHaveLength(1);
    expect(byDefault[0]).toContain(':function:context-plane-tool-*');

    const prefixed = toolsStatements({ plane: { toolFunctionPrefix: 'acme-tools-' } }).get(
      'lambda:InvokeFunction',
    )!;
    expect(prefixed[0]).toContain(':function:acme-tools-*');

    const arns = ['arn:aws:lambda:eu-west-1:123456789012:function:book-hotel'];
    expect(toolsStatements({ plane: { toolFunctionArns: arns } }).get('lambda:InvokeFunction')).toEqual(
      arns.map((a) => JSON.stringify(a)),
    );
  });
});
