import { App } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { ContextPlaneStack } from '../../lib/stack';

/** Every function's DynamoDB grants in the synthesized template, as action → tables (no bundling). */
function dynamoGrants() {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new ContextPlaneStack(app, 'GrantsInfraTest');
  const resources = Object.values(app.synth().getStackByName(stack.stackName).template.Resources) as {
    Type: string;
    Properties: Record<string, unknown>;
  }[];
  const byFunction: Record<string, Record<string, string[]>> = {};
  for (const r of resources.filter((x) => x.Type === 'AWS::IAM::Policy')) {
    const role = (r.Properties.Roles as { Ref: string }[])[0]!.Ref;
    const fn =
      /^ContextPlane(\w+?)FnServiceRole/.exec(role)?.[1] ?? /^ContextPlane(\w+?)ServiceRole/.exec(role)?.[1];
    if (!fn) continue;
    const statements = (
      r.Properties.PolicyDocument as { Statement: { Action: string | string[]; Resource: unknown }[] }
    ).Statement;
    const grants: Record<string, string[]> = {};
    for (const s of statements) {
      for (const a of [s.Action].flat().filter((x) => x.startsWith('dynamodb:'))) {
        for (const res of [s.Resource].flat()) {
          const table = /ContextPlane(\w+?)Table/.exec(JSON.stringify(res))?.[1];
          if (table) grants[a] = [...new Set([...(grants[a] ?? []), table])].sort();
        }
      }
    }
    byFunction[fn] = { ...byFunction[fn], ...grants };
  }
  return byFunction;
}

describe('least privilege: each function may make exactly the DynamoDB calls its stores make', () => {
  const grants = dynamoGrants();

  it('the authorizer and session memory', () => {
    expect(grants.Authorizer).toEqual({ 'dynamodb:GetItem': ['Tenants'] });
    expect(grants.Sessions).toEqual({
      'dynamodb:GetItem': ['Idempotency', 'Sessions', 'Tenants'],
      'dynamodb:PutItem': ['Events', 'Idempotency', 'Registry', 'Sessions'],
      'dynamodb:Query': ['Events'],
      // In the append's transaction: tombstones checked, the user -> session and receipt listings.
      'dynamodb:ConditionCheckItem': ['Registry'],
    });
  });

  it('facts, profiles and cache', () => {
    expect(grants.Facts).toEqual({
      // Tenants, on every API function: the key lookup when the authorizer could not make it.
      'dynamodb:GetItem': ['Facts', 'Registry', 'Tenants'],
      'dynamodb:PutItem': ['Facts', 'Registry'],
      'dynamodb:UpdateItem': ['Facts'],
      'dynamodb:DeleteItem': ['Facts'],
      'dynamodb:Query': ['Facts'],
      'dynamodb:BatchGetItem': ['Facts'],
    });
    expect(grants.Profiles).toEqual({
      'dynamodb:GetItem': ['Profiles', 'Registry', 'Tenants'],
      'dynamodb:PutItem': ['Profiles'],
    });
    expect(grants.Cache).toEqual({
      'dynamodb:GetItem': ['Cache', 'Registry', 'Sessions', 'Tenants'],
      'dynamodb:PutItem': ['Cache', 'Registry'],
    });
  });

  it('the summarizer (summaries, facts, the recall indexer) and the context builder (reads only)', () => {
    expect(grants.Summarizer).toEqual({
      'dynamodb:GetItem': ['Facts', 'Recall', 'Registry', 'Sessions'],
      'dynamodb:PutItem': ['Events', 'Facts', 'Recall', 'Registry', 'Sessions'],
      'dynamodb:ConditionCheckItem': ['Registry'],
      'dynamodb:DeleteItem': ['Facts', 'Recall'],
      'dynamodb:Query': ['Events'],
      'dynamodb:UpdateItem': ['Facts', 'Recall'],
      'dynamodb:BatchWriteItem': ['Recall'],
    });
    expect(grants.Context).toEqual({
      'dynamodb:GetItem': ['Profiles', 'Recall', 'Sessions', 'Tenants'],
      'dynamodb:Query': ['Events', 'Facts', 'Recall'],
      // The session item, profile and recall counters in one request (stores/coalesced-gets.ts).
      'dynamodb:BatchGetItem': ['Events', 'Facts', 'Profiles', 'Recall', 'Sessions'],
    });
  });

  it('deletions: the HTTP side deletes nothing; the deleter deletes by key only, never Scans', () => {
    expect(grants.Deletions).toEqual({
      'dynamodb:GetItem': ['Facts', 'Profiles', 'Registry', 'Sessions', 'Tenants'],
      'dynamodb:PutItem': ['Registry'],
      'dynamodb:Query': ['Events', 'Facts', 'Registry'],
    });
    expect(grants.Deleter).toEqual({
      'dynamodb:GetItem': ['Facts', 'Recall', 'Registry'],
      'dynamodb:PutItem': ['Events', 'Registry'],
      'dynamodb:UpdateItem': ['Facts', 'Recall', 'Registry'],
      'dynamodb:DeleteItem': [
        'Cache',
        'Events',
        'Facts',
        'Idempotency',
        'Profiles',
        'Recall',
        'Registry',
        'Sessions',
      ],
      'dynamodb:Query': ['Events', 'Facts', 'Registry'],
      'dynamodb:BatchGetItem': ['Facts'],
    });
  });
});
