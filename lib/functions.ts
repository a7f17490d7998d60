import { Duration, Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { dataTables, type EnvKey } from '../lambdas/config';
import { type FunctionName, routes } from '../lambdas/routes';

export type TableName =
  | 'sessions'
  | 'events'
  | 'idempotency'
  | 'tenants'
  | 'facts'
  | 'profiles'
  | 'cache'
  | 'recall'
  | 'registry';

/** What a function needs: the resources it may touch and how. Least privilege, one function at a time. */
export interface FunctionSpec {
  env: EnvKey[];
  grant: (fn: NodejsFunction) => void;
  /** bundle tiktoken's WASM next to the handler */
  tokenizes?: boolean;
  memorySize?: number;
  /** @default 15 seconds */
  timeout?: Duration;
}

interface Resources {
  scope: Construct;
  tables: Readonly<Record<TableName, dynamodb.Table>>;
  summaryQueue: sqs.Queue;
  deletionQueue: sqs.Queue;
  /** every policy parameter of this deployment (routes are published after deploy) */
  policyArn: string;
  summaryModelArns?: string[];
  /** Lambda functions the tools function may invoke (Lambda tools of the registry) */
  toolFunctionArns: string[];
}

/** Lets a function make these DynamoDB calls on one table, and no others. */
const allow = (f: NodejsFunction, table: dynamodb.Table, actions: string[]) =>
  f.addToRolePolicy(
    new iam.PolicyStatement({ actions: actions.map((a) => `dynamodb:${a}`), resources: [table.tableArn] }),
  );

/** Each function's environment and grants: the one place to read what a function may do. */
export function functionSpecs(r: Resources): Record<FunctionName | 'authorizer', FunctionSpec> {
  const t = r.tables;
  const readPolicies = (f: NodejsFunction) =>
    f.addToRolePolicy(new iam.PolicyStatement({ actions: ['ssm:GetParameter'], resources: [r.policyArn] }));
  const specs: Record<FunctionName | 'authorizer', FunctionSpec> = {
    ...deletionSpecs(r),
    // One GetItem per key (API Gateway caches the answer).
    authorizer: { env: ['tenantsTable'], grant: (f) => allow(f, t.tenants, ['GetItem']) },
    health: {
      env: [
        'sessionsTable',
        'eventsTable',
        'idempotencyTable',
        'tenantsTable',
        'factsTable',
        'profilesTable',
        'cacheTable',
        'recallTable',
        'registryTable',
        'summaryQueueUrl',
        'policyPrefix',
      ],
      grant: (f) => {
        f.addToRolePolicy(
          new iam.PolicyStatement({
            actions: ['dynamodb:DescribeTable'],
            resources: Object.values(t).map((table) => table.tableArn),
          }),
        );
        f.addToRolePolicy(
          new iam.PolicyStatement({
            actions: ['sqs:GetQueueAttributes'],
            resources: [r.summaryQueue.queueArn],
          }),
        );
        // GetParametersByPath is authorized on the path itself, not on the parameters under it.
        f.addToRolePolicy(
          new iam.PolicyStatement({
            actions: ['ssm:GetParametersByPath'],
            resources: [r.policyArn.replace(/\/\*$/, '')],
          }),
        );
      },
    },
    // Serves the OpenAPI document, built in process from the schemas: no store, no grant.
    openapi: { env: [], grant: () => {} },
    sessions: {
      env: [
        'sessionsTable',
        'eventsTable',
        'idempotencyTable',
        'sessionTtlSeconds',
        'eventRetentionSeconds',
        'summaryQueueUrl',
        'policyPrefix',
        'registryTable',
      ],
      tokenizes: true,
      grant: (f) => {
        // Reads and the append transaction (session Put, one event Put per turn); the log's pages.
        allow(f, t.sessions, ['GetItem', 'PutItem']);
        allow(f, t.events, ['PutItem', 'Query']);
        // Append receipts (Idempotency-Key): read before, Put in the append's transaction.
        allow(f, t.idempotency, ['GetItem', 'PutItem']);
        // In the append's transaction: the tombstones checked, the user -> session and receipt listings.
        allow(f, t.registry, ['ConditionCheckItem', 'PutItem']);
        r.summaryQueue.grantSendMessages(f);
        readPolicies(f);
      },
    },
    tools: {
      env: [
        'idempotencyTable',
        'sessionsTable',
        'eventsTable',
        'policyPrefix',
        'sessionTtlSeconds',
        'eventRetentionSeconds',
        'registryTable',
      ],
      // A tool may run 60 s (the registry's cap) after a wait of up to 10 s (Prefer: wait), plus the writes.
      timeout: Duration.seconds(90),
      // Exactly the calls it makes, per table: the record (claim, take over, complete, mark the event
      // logged, release), the session (read; commit = conditional Put) and the log (event Put; the Query
      // that finds where a missing session's log ends).
      grant: (f) => {
        allow(f, t.idempotency, ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem']);
        allow(f, t.sessions, ['GetItem', 'PutItem']);
        allow(f, t.events, ['PutItem', 'Query']);
        // The session's tombstone (read before a call, checked in the event's transaction); the
        // record's listing under the session.
        allow(f, t.registry, ['GetItem', 'PutItem', 'ConditionCheckItem']);
        readPolicies(f);
        // Lambda tools come from the registry at run time: only the functions the construct allows.
        f.addToRolePolicy(
          new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: r.toolFunctionArns }),
        );
      },
    },
    // Exactly the calls each store makes (a transaction needs the action of each of its items).
    facts: {
      env: ['factsTable', 'registryTable'],
      tokenizes: true,
      // Update: a superseded version gets only its validUntil and supersededBy, in the upsert's transaction.
      grant: (f) => {
        allow(f, t.facts, ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'Query', 'BatchGetItem']);
        // Tombstones: no fact for a user or session being deleted; a fact listed under each session it cites.
        allow(f, t.registry, ['GetItem', 'PutItem']);
      },
    },
    profiles: {
      env: ['profilesTable', 'registryTable'],
      tokenizes: true,
      grant: (f) => {
        allow(f, t.profiles, ['GetItem', 'PutItem']);
        // The user's tombstone: no profile for a user being deleted.
        allow(f, t.registry, ['GetItem']);
      },
    },
    cache: {
      env: ['cacheTable', 'sessionsTable', 'registryTable'],
      grant: (f) => {
        allow(f, t.cache, ['GetItem', 'PutItem']);
        // The session's tombstone, and the entry's listing under the session.
        allow(f, t.registry, ['GetItem', 'PutItem']);
        // One consistent GetItem of the session: an entry tied to a session misses once it moved.
        allow(f, t.sessions, ['GetItem']);
      },
    },
    context: {
      env: [
        'sessionsTable',
        'eventsTable',
        'factsTable',
        'profilesTable',
        'recallTable',
        'policyPrefix',
        'storeDeadlineMs',
        'policyLabelTtlMs',
      ],
      tokenizes: true,
      // Read only, and only the calls the builder makes: one item, one profile, fact postings + facts,
      // recall counters + postings, the log's tail and recalled turns. The item, the profile and the
      // counters are read at once, as one BatchGetItem (stores/coalesced-gets.ts).
      grant: (f) => {
        const read = (actions: string[], tables: dynamodb.Table[]) =>
          f.addToRolePolicy(new iam.PolicyStatement({ actions, resources: tables.map((x) => x.tableArn) }));
        read(['dynamodb:GetItem', 'dynamodb:BatchGetItem'], [t.sessions, t.profiles, t.recall]);
        read(['dynamodb:Query', 'dynamodb:BatchGetItem'], [t.facts, t.events]);
        read(['dynamodb:Query'], [t.recall]);
        readPolicies(f);
      },
    },
    summarizer: {
      env: [
        'sessionsTable',
        'eventsTable',
        'factsTable',
        'recallTable',
        'policyPrefix',
        'eventRetentionSeconds',
        'registryTable',
      ],
      tokenizes: true,
      // A Bedrock call can take tens of seconds; the queue's visibility timeout (180 s) stays above 6x this.
      timeout: Duration.seconds(30),
      grant: (f) => {
        // Session reads and summary commits; the log's pages; fact upserts.
        allow(f, t.sessions, ['GetItem', 'PutItem']);
        allow(f, t.events, ['PutItem', 'Query']);
        allow(f, t.facts, ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem']);
        // The session's tombstone, checked in the summary's transaction; each recall batch's listing.
        allow(f, t.registry, ['ConditionCheckItem', 'GetItem', 'PutItem']);
        // The recall indexer: counters (Get, Put-if-absent, conditional Update), postings (BatchWrite)
        // and the session scope's pack (Get, conditional Put, Delete when it cannot follow).
        f.addToRolePolicy(
          new iam.PolicyStatement({
            actions: [
              'dynamodb:GetItem',
              'dynamodb:PutItem',
              'dynamodb:UpdateItem',
              'dynamodb:DeleteItem',
              'dynamodb:BatchWriteItem',
            ],
            resources: [t.recall.tableArn],
          }),
        );
        readPolicies(f);
        // Converse is authorized as bedrock:InvokeModel on the model (or inference profile) it names.
        f.addToRolePolicy(
          new iam.PolicyStatement({
            actions: ['bedrock:InvokeModel'],
            resources: r.summaryModelArns ?? [
              Stack.of(r.scope).formatArn({
                service: 'bedrock',
                region: '*',
                account: '',
                resource: 'foundation-model/*',
              }),
              Stack.of(r.scope).formatArn({ service: 'bedrock', resource: 'inference-profile/*' }),
            ],
          }),
        );
        f.addEventSource(
          new SqsEventSource(r.summaryQueue, { batchSize: 10, reportBatchItemFailures: true }),
        );
      },
    },
  };
  // When the authorizer could not reach the tenants table it lets the request through unresolved (a
  // thrown authorizer is API Gateway's 500, a deny is cached for a valid key); the function then looks
  // the key up itself: one GetItem, only on such requests.
  for (const name of new Set(routes.filter((x) => !x.public).map((x) => x.fn))) {
    const spec = specs[name];
    specs[name] = {
      ...spec,
      env: [...spec.env, 'tenantsTable'],
      grant: (f) => {
        spec.grant(f);
        allow(f, t.tenants, ['GetItem']);
      },
    };
  }
  return specs;
}

/** The deletion functions: the HTTP side (accepts, reports) and the queue consumer (deletes). */
function deletionSpecs(r: Resources): Record<'deletions' | 'deleter', FunctionSpec> {
  const t = r.tables;
  // The HTTP side of deletions: reads to tell a known target from an unknown one (404), the record
  // and the target's tombstone written in one transaction, the job queued. It deletes nothing.
  return {
    deletions: {
      env: [...dataTables, 'deletionQueueUrl'],
      grant: (f) => {
        allow(f, t.registry, ['GetItem', 'PutItem', 'Query']);
        allow(f, t.sessions, ['GetItem']);
        allow(f, t.events, ['Query']);
        allow(f, t.profiles, ['GetItem']);
        allow(f, t.facts, ['GetItem', 'Query']);
        r.deletionQueue.grantSendMessages(f);
      },
    },
    // The deleter: the only function that deletes, and only by key (no Scan, no BatchWrite): every
    // removal is a transaction of conditional Deletes with the record's counts.
    deleter: {
      env: [...dataTables, 'deletionQueueUrl', 'deletionGraceSeconds'],
      timeout: Duration.minutes(5),
      grant: (f) => {
        allow(f, t.registry, ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'Query']);
        allow(f, t.sessions, ['DeleteItem']);
        // The log's pages and events deleted; the audit event written in the tenant's audit partition.
        allow(f, t.events, ['Query', 'DeleteItem', 'PutItem']);
        allow(f, t.idempotency, ['DeleteItem']);
        // Scope and chain listings, the versions read to check their citations; citations stripped.
        allow(f, t.facts, ['Query', 'GetItem', 'BatchGetItem', 'DeleteItem', 'UpdateItem']);
        allow(f, t.profiles, ['DeleteItem']);
        allow(f, t.cache, ['DeleteItem']);
        // The user's counters read and decremented (a session's share), blocks and counters deleted.
        allow(f, t.recall, ['GetItem', 'UpdateItem', 'DeleteItem']);
        // Its sweep is the same job again, delayed.
        r.deletionQueue.grantSendMessages(f);
        f.addEventSource(
          new SqsEventSource(r.deletionQueue, { batchSize: 1, reportBatchItemFailures: true }),
        );
      },
    },
  };
}
