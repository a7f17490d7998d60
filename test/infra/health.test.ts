import { App } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { ContextPlaneStack } from '../../lib/stack';

/** The health function's SSM grant in the synthesized template (no bundling: fast). */
describe('the health function', () => {
  it('may list the policy path itself: GetParametersByPath is authorized on the path', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new ContextPlaneStack(app, 'HealthInfraTest');
    const resources = Object.values(app.synth().getStackByName(stack.stackName).template.Resources) as {
      Type: string;
      Properties: { Roles?: { Ref: string }[]; PolicyDocument?: { Statement: Record<string, unknown>[] } };
    }[];
    const policy = resources.find(
      (r) =>
        r.Type === 'AWS::IAM::Policy' &&
        r.Properties.Roles?.some((x) => x.Ref.startsWith('ContextPlaneHealthFnServiceRole')),
    )!;
    const byPath = policy.Properties.PolicyDocument!.Statement.filter(
      (s) => s.Action === 'ssm:GetParametersByPath',
    );
    const rendered = JSON.stringify(byPath.map((s) => s.Resource));
    expect(rendered).toMatch(/parameter\/context-plane\/[^"*]*policies"/);
    expect(rendered).not.toMatch(/\/\*"/);
  });
});
