import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { ParameterAlreadyExists, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { App } from 'aws-cdk-lib';
import { sqsConfig } from '../lambdas/stores/clients';
import { ContextPlaneStack } from '../lib/stack';

/**
 * Local resources are made from the synthesized CloudFormation template, the same one `cdk deploy`
 * uses: tables with their keys and TTL, queues with their redrive policy, policy parameters, and the
 * handlers' environment variables. Local and deployed resources cannot drift.
 */

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation template JSON is untyped by nature.
type Json = Record<string, any>;
export interface Template {
  Resources: Record<string, { Type: string; Properties?: Json; DependsOn?: string | string[] }>;
}

export const LOCAL_STACK_NAME = 'ContextPlane';

/** Synthesizes the stack in-process, without bundling the Lambdas (their code runs in-process here). */
export function synthTemplate(stackName = LOCAL_STACK_NAME): Template {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new ContextPlaneStack(app, stackName);
  return app.synth().getStackByName(stack.stackName).template as Template;
}

/** Physical ids of what provision() created, by logical id: what Ref and Fn::GetAtt resolve to. */
interface Physical {
  ref: string;
  attrs: Record<string, string>;
}

/**
 * Creates every table, queue and parameter of the template (idempotent: what exists is kept, so a
 * persistent LocalStack keeps its data) and returns the environment the handlers need.
 */
export async function provision(template: Template): Promise<Record<string, string>> {
  const physical: Record<string, Physical> = {};
  const resources = Object.entries(template.Resources);
  const ddb = new DynamoDBClient({});
  const sqs = new SQSClient(sqsConfig);
  const ssm = new SSMClient({});
  try {
    await Promise.all(
      resources
        .filter(([, r]) => r.Type === 'AWS::DynamoDB::Table')
        .map(async ([id, r]) => {
          physical[id] = { ref: await createTable(ddb, id, r.Properties ?? {}), attrs: {} };
        }),
    );
    // Queues in dependency order: a dead-letter queue before the queue that redrives to it.
    const queues = resources.filter(([, r]) => r.Type === 'AWS::SQS::Queue');
    queues.sort(([, a]) => (a.Properties?.RedrivePolicy ? 1 : -1));
    for (const [id, r] of queues)
      physical[id] = await createQueue(sqs, id, resolve(r.Properties ?? {}, physical));
    await Promise.all(
      resources
        .filter(([, r]) => r.Type === 'AWS::SSM::Parameter')
        .map(async ([id, r]) => {
          physical[id] = { ref: await putParameter(ssm, r.Properties ?? {}), attrs: {} };
        }),
    );
  } finally {
    ddb.destroy();
    sqs.destroy();
    ssm.destroy();
  }
  const environment: Record<string, string> = {};
  for (const [, r] of resources) {
    if (r.Type !== 'AWS::Lambda::Function') continue;
    const vars = resolve(r.Properties?.Environment?.Variables ?? {}, physical);
    for (const [k, v] of Object.entries(vars))
      if (typeof v === 'string' && k.startsWith('CP_')) environment[k] = v;
  }
  return environment;
}

async function createTable(ddb: DynamoDBClient, logicalId: string, p: Json): Promise<string> {
  const TableName = logicalId;
  const input: CreateTableCommandInput = {
    TableName,
    KeySchema: p.KeySchema,
    AttributeDefinitions: p.AttributeDefinitions,
    BillingMode: 'PAY_PER_REQUEST',
    GlobalSecondaryIndexes: p.GlobalSecondaryIndexes,
    LocalSecondaryIndexes: p.LocalSecondaryIndexes,
  };
  try {
    await ddb.send(new CreateTableCommand(input));
    if (p.TimeToLiveSpecification?.Enabled) {
      await ddb.send(
        new UpdateTimeToLiveCommand({ TableName, TimeToLiveSpecification: p.TimeToLiveSpecification }),
      );
    }
  } catch (err) {
    if (!(err instanceof ResourceInUseException)) throw err;
  }
  return TableName;
}

async function createQueue(sqs: SQSClient, logicalId: string, p: Json): Promise<Physical> {
  const fifo = p.FifoQueue === true || p.FifoQueue === 'true';
  const QueueName = `${logicalId}${fifo ? '.fifo' : ''}`;
  const attributes: Record<string, string> = {};
  for (const key of [
    'FifoQueue',
    'ContentBasedDeduplication',
    'VisibilityTimeout',
    'MessageRetentionPeriod',
    'DelaySeconds',
    'ReceiveMessageWaitTimeSeconds',
  ]) {
    if (p[key] !== undefined) attributes[key] = String(p[key]);
  }
  if (p.RedrivePolicy) attributes.RedrivePolicy = JSON.stringify(p.RedrivePolicy);
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName, Attributes: attributes }));
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: QueueUrl!, AttributeNames: ['QueueArn'] }),
  );
  return { ref: QueueUrl!, attrs: { Arn: Attributes!.QueueArn!, QueueUrl: QueueUrl!, QueueName } };
}

async function putParameter(ssm: SSMClient, p: Json): Promise<string> {
  try {
    await ssm.send(new PutParameterCommand({ Name: p.Name, Value: p.Value, Type: p.Type ?? 'String' }));
  } catch (err) {
    // Keep what was published since: the template only gives a route its first version.
    if (!(err instanceof ParameterAlreadyExists)) throw err;
  }
  return p.Name;
}

/** Resolves Ref and Fn::GetAtt against what was created; other intrinsics are not used by our env. */
// biome-ignore lint/suspicious/noExplicitAny: walks arbitrary template JSON.
function resolve(value: any, physical: Record<string, Physical>): any {
  if (Array.isArray(value)) return value.map((v) => resolve(v, physical));
  if (value && typeof value === 'object') {
    if ('Ref' in value) return physical[value.Ref]?.ref ?? value;
    if ('Fn::GetAtt' in value) {
      const [id, attr] = value['Fn::GetAtt'] as [string, string];
      return physical[id]?.attrs[attr] ?? value;
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v, physical)]));
  }
  return value;
}
