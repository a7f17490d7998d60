import { type App, Stack, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { ContextPlane } from './context-plane';

/** Runs cdk-nag's AwsSolutions pack on every synth (cdk synth, cdk deploy, the infra tests). */
export function addNagChecks(app: App): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
}

/** Every cdk-nag finding we accept, each with its reason in one line. */
export function acknowledgeNagFindings(plane: ContextPlane): void {
  const stack = Stack.of(plane);
  const policyPath = `${plane.policyPrefix.replace(/^\//, '')}/*`;
  const ack: [string, string][] = [
    [
      'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      'AWS-maintained policy that only lets a function write its own CloudWatch logs.',
    ],
    [
      `AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter/${policyPath}]`,
      'Policy routes are published by the CLI after deploy; read access is scoped to this stack’s policy path.',
    ],
  ];
  for (const [id, reason] of ack) Validations.of(stack).acknowledge({ id, reason });
}
