import * as path from 'node:path';
import { ArnFormat, Duration, Names, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaAuthorizer, HttpLambdaResponseType } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { type EnvKey, envNames } from '../lambdas/config';
import { defaultPolicy, policySchema } from '../lambdas/domain/policy';
import { cors, entryOf, type FunctionName, routes } from '../lambdas/routes';
import { contextDashboard } from './dashboard';
import { type FunctionSpec, functionSpecs, type TableName } from './functions';

export interface ContextPlaneProps {
  /** Policy routes to create an SSM parameter for, each holding the default policy. @default ['default'] */
  readonly policyRoutes?: string[];
  /** SSM path under which each route's policy lives. @default `/context-plane/<stack name>/policies` */
  readonly policyPrefix?: string;
  /** How long an idle session lives (DynamoDB TTL, refreshed on each write). @default 7 days */
  readonly sessionTtl?: Duration;
  /** How long events stay in the log. @default 30 days */
  readonly eventRetention?: Duration;
  /** Receives of a summarization job before it goes to the dead-letter queue. @default 5 */
  readonly summaryMaxReceiveCount?: number;
  /** Bedrock models (or inference profiles) the summarizer may call when a policy picks the bedrock engine.
   * @default every foundation model, and this account's inference profiles in this region */
  readonly summaryModelArns?: string[];
  /** Lambda functions (ARNs, wildcards allowed) the tools function may invoke as `lambda` tools.
   * @default the functions of this account and region whose name starts with `toolFunctionPrefix` */
  readonly toolFunctionArns?: string[];
  /** Name prefix of the Lambda functions tools may invoke, when `toolFunctionArns` is not given.
   * @default 'context-plane-tool-' */
  readonly toolFunctionPrefix?: string;
  /** What happens to the tables when the stack is deleted. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /** Context build: deadline per store read; a late store is left out and reported. @default 800 ms */
  readonly storeDeadline?: Duration;
  /** Context build: how long a policy label (or latest) stays resolved in a warm Lambda. @default 30 s */
  readonly policyLabelTtl?: Duration;
  /** Alarm when the context function's p95 duration stays above this. @default 1 s */
  readonly contextLatencyThreshold?: Duration;
  /** A deletion runs its steps once more after this long, so a write begun before its tombstone and
   * landed after its first pass goes too: above the longest function timeout (tools, 90 s). @default 120 s */
  readonly deletionGrace?: Duration;
  /** Browser origins allowed to call the API (CORS), e.g. where you open the inspector page. No
   * credentials are allowed (the key is a bearer header), so an origin gets nothing without a key.
   * `[]` turns CORS off. @default ['http://localhost:3000', 'http://127.0.0.1:3000'] (`npm start`'s inspector) */
  readonly corsOrigins?: string[];
}

/** A table of ours: its key schema and the environment variable that carries its name. */
interface TableSpec {
  env: EnvKey;
  sortKey?: dynamodb.Attribute;
  ttl?: boolean;
}

const ROOT = path.join(__dirname, '..');

/**
 * context-plane's whole infrastructure: DynamoDB tables for session memory and its event log,
 * idempotency records and tenants; the summarization FIFO queue with its dead-letter queue and alarm;
 * one SSM parameter per policy route; and the HTTP API with its authorizer and handlers.
 */
export class ContextPlane extends Construct {
  readonly tables: Readonly<Record<TableName, dynamodb.Table>>;
  readonly summaryQueue: sqs.Queue;
  /** deletion jobs (DELETE /v1/sessions|users|facts), consumed by the deleter function */
  readonly deletionQueue: sqs.Queue;
  readonly deletionDeadLetterQueue: sqs.Queue;
  readonly deletionDeadLetterAlarm: cloudwatch.Alarm;
  readonly summaryDeadLetterQueue: sqs.Queue;
  readonly deadLetterAlarm: cloudwatch.Alarm;
  readonly policyPrefix: string;
  /** what the tools function may invoke (see toolFunctionArns) */
  readonly toolFunctionArns: string[];
  /** the name prefix behind the default toolFunctionArns, undefined when ARNs were given */
  readonly toolFunctionPrefix?: string;
  readonly policyParameters: Readonly<Record<string, ssm.StringParameter>>;
  readonly api: apigw.HttpApi;
  readonly functions: Readonly<Record<FunctionName | 'authorizer', NodejsFunction>>;
  readonly contextLatencyAlarm: cloudwatch.Alarm;
  readonly dashboard: cloudwatch.Dashboard;

  private readonly removalPolicy: RemovalPolicy;
  private readonly environment: Record<string, string> = {};

  constructor(scope: Construct, id: string, props: ContextPlaneProps = {}) {
    super(scope, id);
    this.removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    this.tables = {
      sessions: this.table('Sessions', { env: 'sessionsTable', ttl: true }),
      events: this.table('Events', {
        env: 'eventsTable',
        sortKey: { name: 'seq', type: dynamodb.AttributeType.NUMBER },
        ttl: true,
      }),
      idempotency: this.table('Idempotency', { env: 'idempotencyTable', ttl: true }),
      tenants: this.table('Tenants', { env: 'tenantsTable' }),
      // Facts and their inverted index (term postings, pinned list) share one table: pk + sk.
      facts: this.table('Facts', {
        env: 'factsTable',
        sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      }),
      profiles: this.table('Profiles', { env: 'profilesTable' }),
      cache: this.table('Cache', { env: 'cacheTable', ttl: true }),
      // Recall: per scope, its counters item and one postings partition per term (sk = turn).
      recall: this.table('Recall', {
        env: 'recallTable',
        sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      }),
      // Tombstones, what belongs to whom (user -> sessions, session -> owned items) and deletion records.
      registry: this.table('Registry', {
        env: 'registryTable',
        sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
        ttl: true,
      }),
    };

    // Explicit .fifo names: some CloudFormation implementations (moto) do not derive them.
    const queueBase = Names.uniqueResourceName(this, { maxLength: 60 });
    this.summaryDeadLetterQueue = new sqs.Queue(this, 'SummaryDLQ', {
      queueName: `${queueBase}-summary-dlq.fifo`,
      fifo: true,
      retentionPeriod: Duration.days(14),
      enforceSSL: true,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
    });
    this.summaryQueue = new sqs.Queue(this, 'SummaryQueue', {
      queueName: `${queueBase}-summary.fifo`,
      fifo: true,
      visibilityTimeout: Duration.seconds(180),
      enforceSSL: true,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      deadLetterQueue: {
        queue: this.summaryDeadLetterQueue,
        maxReceiveCount: props.summaryMaxReceiveCount ?? 5,
      },
    });
    this.environment[envNames.summaryQueueUrl] = this.summaryQueue.queueUrl;
    this.deletionDeadLetterQueue = new sqs.Queue(this, 'DeletionDLQ', {
      retentionPeriod: Duration.days(14),
      enforceSSL: true,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
    });
    this.deletionQueue = new sqs.Queue(this, 'DeletionQueue', {
      // Above 6x the deleter's timeout (5 min): a run cut short is received again, and resumes.
      visibilityTimeout: Duration.minutes(30),
      enforceSSL: true,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      deadLetterQueue: { queue: this.deletionDeadLetterQueue, maxReceiveCount: 10 },
    });
    this.environment[envNames.deletionQueueUrl] = this.deletionQueue.queueUrl;
    this.environment[envNames.deletionGraceSeconds] = String(
      (props.deletionGrace ?? Duration.seconds(120)).toSeconds(),
    );
    this.deletionDeadLetterAlarm = this.deletionDeadLetterQueue
      .metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' })
      .createAlarm(this, 'DeletionDLQDepthAlarm', {
        alarmDescription: 'A deletion keeps failing: its record says how far it got (GET /v1/deletions/{id})',
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    this.deadLetterAlarm = this.summaryDeadLetterQueue
      .metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(1),
        statistic: 'Maximum',
      })
      .createAlarm(this, 'SummaryDLQDepthAlarm', {
        alarmDescription: 'Summarization jobs are failing repeatedly and landing in the dead-letter queue',
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });

    this.policyPrefix = props.policyPrefix ?? `/context-plane/${Stack.of(this).stackName}/policies`;
    this.environment[envNames.policyPrefix] = this.policyPrefix;
    this.policyParameters = Object.fromEntries(
      (props.policyRoutes ?? ['default']).map((route) => [
        route,
        new ssm.StringParameter(this, `Policy-${route}`, {
          parameterName: `${this.policyPrefix}/${route}`,
          description: `context-plane policy for route '${route}' (publish new versions with the CLI)`,
          // Validated at synth time: a stack never deploys a policy its Lambdas would refuse.
          stringValue: JSON.stringify(policySchema.parse(defaultPolicy(route))),
        }),
      ]),
    );
    this.environment[envNames.sessionTtlSeconds] = String((props.sessionTtl ?? Duration.days(7)).toSeconds());
    this.environment[envNames.eventRetentionSeconds] = String(
      (props.eventRetention ?? Duration.days(30)).toSeconds(),
    );

    this.environment[envNames.storeDeadlineMs] = String(
      (props.storeDeadline ?? Duration.millis(800)).toMilliseconds(),
    );
    this.environment[envNames.policyLabelTtlMs] = String(
      (props.policyLabelTtl ?? Duration.seconds(30)).toMilliseconds(),
    );

    const policyArn = Stack.of(this).formatArn({
      service: 'ssm',
      resource: 'parameter',
      resourceName: `${this.policyPrefix.replace(/^\//, '')}/*`,
    });
    if (props.toolFunctionArns) this.toolFunctionArns = props.toolFunctionArns;
    else {
      this.toolFunctionPrefix = props.toolFunctionPrefix ?? 'context-plane-tool-';
      this.toolFunctionArns = [
        Stack.of(this).formatArn({
          service: 'lambda',
          resource: 'function',
          resourceName: `${this.toolFunctionPrefix}*`,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      ];
    }
    const specs = functionSpecs({
      scope: this,
      tables: this.tables,
      summaryQueue: this.summaryQueue,
      deletionQueue: this.deletionQueue,
      policyArn,
      summaryModelArns: props.summaryModelArns,
      toolFunctionArns: this.toolFunctionArns,
    });
    this.functions = Object.fromEntries(
      Object.entries(specs).map(([name, spec]) => [name, this.fn(name, spec)]),
    ) as Record<FunctionName | 'authorizer', NodejsFunction>;

    this.api = this.httpApi(props.corsOrigins ?? [...cors.defaultOrigins]);
    const latencyThresholdMs = (props.contextLatencyThreshold ?? Duration.seconds(1)).toMilliseconds();
    this.contextLatencyAlarm = this.functions.context
      .metricDuration({ statistic: 'p95', period: Duration.minutes(5) })
      .createAlarm(this, 'ContextLatencyAlarm', {
        alarmDescription: 'p95 context-build latency (context function duration) is above its threshold',
        threshold: latencyThresholdMs,
        evaluationPeriods: 3,
        datapointsToAlarm: 2,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    this.dashboard = contextDashboard(
      this,
      this.functions.context,
      this.contextLatencyAlarm,
      latencyThresholdMs,
    );
  }

  private table(id: string, spec: TableSpec): dynamodb.Table {
    const table = new dynamodb.Table(this, `${id}Table`, {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: spec.sortKey,
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      timeToLiveAttribute: spec.ttl ? 'expiresAt' : undefined,
      removalPolicy: this.removalPolicy,
    });
    this.environment[envNames[spec.env]] = table.tableName;
    return table;
  }

  private fn(name: string, spec: FunctionSpec): NodejsFunction {
    const environment = Object.fromEntries(
      spec.env.map((key) => [envNames[key], this.environment[envNames[key]] ?? '']),
    );
    const fn = new NodejsFunction(this, `${name[0]!.toUpperCase()}${name.slice(1)}Fn`, {
      entry: path.join(ROOT, entryOf(name)),
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: spec.memorySize ?? 512,
      timeout: spec.timeout ?? Duration.seconds(15),
      projectRoot: ROOT,
      depsLockFilePath: path.join(ROOT, 'package-lock.json'),
      environment: {
        ...environment,
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: 'context-plane',
        POWERTOOLS_METRICS_NAMESPACE: 'ContextPlane',
      },
      loggingFormat: lambda.LoggingFormat.JSON,
      logGroup: new logs.LogGroup(this, `${name}Logs`, {
        retention: logs.RetentionDays.ONE_MONTH,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
      bundling: {
        minify: true,
        sourceMap: true,
        target: 'node24',
        // Use the esbuild in node_modules, never Docker.
        forceDockerBundling: false,
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          // tiktoken loads its WASM from next to the bundle at run time.
          afterBundling: (inputDir: string, outputDir: string) =>
            spec.tokenizes ? [`cp "${inputDir}/node_modules/tiktoken/tiktoken_bg.wasm" "${outputDir}/"`] : [],
        },
      },
    });
    spec.grant(fn);
    return fn;
  }

  private httpApi(corsOrigins: string[]): apigw.HttpApi {
    const accessLogs = new logs.LogGroup(this, 'ApiAccessLogs', {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const authorizer = new HttpLambdaAuthorizer('TenantKey', this.functions.authorizer, {
      responseTypes: [HttpLambdaResponseType.SIMPLE],
      identitySource: ['$request.header.Authorization'],
      resultsCacheTtl: Duration.minutes(5),
    });
    const api = new apigw.HttpApi(this, 'Api', {
      description: 'context-plane HTTP API v1',
      createDefaultStage: false,
      // API Gateway answers the preflight itself, before the authorizer (a preflight carries no key).
      corsPreflight: corsOrigins.length
        ? {
            allowOrigins: corsOrigins,
            allowHeaders: [...cors.allowHeaders],
            allowMethods: cors.allowMethods.map((m) => apigw.CorsHttpMethod[m]),
            exposeHeaders: [...cors.exposeHeaders],
            maxAge: Duration.seconds(cors.maxAgeSeconds),
            allowCredentials: false,
          }
        : undefined,
    });
    new apigw.HttpStage(this, 'DefaultStage', {
      httpApi: api,
      stageName: '$default',
      autoDeploy: true,
      accessLogSettings: {
        destination: new apigw.LogGroupLogDestination(accessLogs),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            routeKey: '$context.routeKey',
            status: '$context.status',
            tenantId: '$context.authorizer.tenantId',
            latencyMs: '$context.responseLatency',
            integrationError: '$context.integrationErrorMessage',
          }),
        ),
      },
      throttle: { rateLimit: 500, burstLimit: 1000 },
    });
    const integrations = new Map<FunctionName, HttpLambdaIntegration>();
    for (const route of routes) {
      if (!integrations.has(route.fn)) {
        integrations.set(
          route.fn,
          new HttpLambdaIntegration(`${route.fn}Integration`, this.functions[route.fn]),
        );
      }
      const [added] = api.addRoutes({
        path: route.path,
        methods: [apigw.HttpMethod[route.method]],
        integration: integrations.get(route.fn)!,
        authorizer: route.public ? undefined : authorizer,
      });
      if (route.public && added) {
        Validations.of(added).acknowledge({
          id: 'AwsSolutions::AwsSolutions-APIG4',
          reason: 'Deliberately public (liveness probe: store status only, no tenant data).',
        });
      }
    }
    return api;
  }
}
