import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * One client per service per process, created on first use: warm Lambdas reuse their connections.
 * Endpoints come from AWS_ENDPOINT_URL(_<SERVICE>) when set (LocalStack, moto), else from AWS.
 */
let ddb: DynamoDBDocumentClient | undefined;
let sqs: SQSClient | undefined;
let ssm: SSMClient | undefined;
let lambda: LambdaClient | undefined;

export function dynamo(): DynamoDBDocumentClient {
  ddb ??= DynamoDBDocumentClient.from(new DynamoDBClient({}), {
    marshallOptions: { removeUndefinedValues: true },
  });
  return ddb;
}

/**
 * SQS client settings for every SQS client the project builds: with an endpoint set, send to it, not
 * to the host in a queue URL (LocalStack answers `sqs.<region>.localhost.localstack.cloud` URLs,
 * which do not resolve without public DNS). Against AWS the two are the same host.
 */
export const sqsConfig = { useQueueUrlAsEndpoint: false } as const;

export function sqsClient(): SQSClient {
  sqs ??= new SQSClient(sqsConfig);
  return sqs;
}

export function ssmClient(): SSMClient {
  ssm ??= new SSMClient({});
  return ssm;
}

/** Tool invocations: no SDK retries, so a failed invoke is classified once by the tool executor. */
export function lambdaClient(): LambdaClient {
  lambda ??= new LambdaClient({ maxAttempts: 1 });
  return lambda;
}

let bedrock: BedrockRuntimeClient | undefined;

/** The summarizer's Bedrock engine (endpoint from AWS_ENDPOINT_URL_BEDROCK_RUNTIME when set). */
export function bedrockClient(): BedrockRuntimeClient {
  bedrock ??= new BedrockRuntimeClient({});
  return bedrock;
}
