import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CloudFormationClient, DescribeStackResourcesCommand } from '@aws-sdk/client-cloudformation';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { uniqueId } from '../support/ids';

/**
 * A real `cdk bootstrap` + `cdk deploy` (the pinned CLI, esbuild bundling, cdk-nag) into this run's
 * emulator: a cheap guard that the template actually deploys, not only synthesizes. Everything goes to
 * AWS_ENDPOINT_URL (moto's CloudFormation makes the tables in moto), not to DynamoDB Local.
 */
const ROOT = path.join(__dirname, '..', '..');
const ACCOUNT = '123456789012'; // moto's account

function cdk(args: string[], outdir: string) {
  const { AWS_ENDPOINT_URL_DYNAMODB: _, ...env } = process.env;
  return execFileSync(
    path.join(ROOT, 'node_modules/.bin/cdk'),
    [...args, '--no-notices', '--output', outdir],
    {
      cwd: ROOT,
      env: {
        ...env,
        CDK_DISABLE_CLI_TELEMETRY: 'true',
        CDK_DEFAULT_ACCOUNT: ACCOUNT,
        CDK_DEFAULT_REGION: process.env.AWS_REGION,
      },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
}

describe('cdk deploy', () => {
  it('deploys the stack into the emulator', { timeout: 300_000 }, async () => {
    const stackName = uniqueId('CpDeploy').replace(/[^A-Za-z0-9-]/g, '');
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-deploy-'));
    cdk(['bootstrap', `aws://${ACCOUNT}/${process.env.AWS_REGION}`], outdir);
    cdk(['deploy', stackName, '-c', `stackName=${stackName}`, '--require-approval', 'never'], outdir);

    const { StackResources = [] } = await new CloudFormationClient({}).send(
      new DescribeStackResourcesCommand({ StackName: stackName }),
    );
    const byType = (type: string) => StackResources.filter((r) => r.ResourceType === type);
    expect(byType('AWS::DynamoDB::Table').length).toBeGreaterThanOrEqual(4);
    // Summarization (FIFO) and deletion, each with its dead-letter queue.
    expect(byType('AWS::SQS::Queue')).toHaveLength(4);
    expect(byType('AWS::Lambda::Function').length).toBeGreaterThanOrEqual(3);
    const sessions = byType('AWS::DynamoDB::Table').find((r) => r.LogicalResourceId?.includes('Sessions'));
    const table = await new DynamoDBClient({ endpoint: process.env.AWS_ENDPOINT_URL }).send(
      new DescribeTableCommand({ TableName: sessions!.PhysicalResourceId! }),
    );
    expect(table.Table?.KeySchema).toEqual([{ AttributeName: 'pk', KeyType: 'HASH' }]);
  });
});
