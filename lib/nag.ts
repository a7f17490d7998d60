import { type App, Stack, Token, Validations } from 'aws-cdk-lib';
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
  // cdk-nag names a finding by the rendered ARN: a concrete region/account when the stack has one.
  const region = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
  const account = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
  const ack: [string, string][] = [
    [
      'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      'AWS-maintained policy that only lets a function write its own CloudWatch logs.',
    ],
    [
      `AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:${region}:${account}:parameter/${policyPath}]`,
      'Policy routes are published by the CLI after deploy; read access is scoped to this stack’s policy path.',
    ],
    [
      'AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:bedrock:*::foundation-model/*]',
      'The summarizer model id comes from a policy published after deploy; narrow it with summaryModelArns.',
    ],
    [
      `AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:bedrock:${region}:${account}:inference-profile/*]`,
      'The summarizer model id comes from a policy published after deploy; narrow it with summaryModelArns.',
    ],
  ];
  if (plane.toolFunctionPrefix !== undefined) {
    ack.push([
      `AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:lambda:${region}:${account}:function:${plane.toolFunctionPrefix}*]`,
      'Lambda tools are registered in SSM policies after deploy; invoke is scoped to functions named with the tool prefix.',
    ]);
  }
  for (const [id, reason] of ack) Validations.of(stack).acknowledge({ id, reason });
}
