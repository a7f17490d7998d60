import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';

/** Where the handlers' EMF metrics land (Powertools: namespace + the service dimension). */
const NAMESPACE = 'ContextPlane';
const SERVICE = 'context-plane';
const PERIOD = Duration.minutes(5);

const emf = (metricName: string, statistic: string, label?: string, store?: string) =>
  new cloudwatch.Metric({
    namespace: NAMESPACE,
    metricName,
    dimensionsMap: store ? { service: SERVICE, store } : { service: SERVICE },
    statistic,
    period: PERIOD,
    label: label ?? `${metricName} ${statistic}`,
  });

/**
 * The context builder at a glance: tokens per request and where they come from, the token tax ratio,
 * build latency (function duration and per-store reads) and retrieval hits / degraded stores.
 */
export function contextDashboard(
  scope: Construct,
  fn: IFunction,
  latencyAlarm: cloudwatch.Alarm,
  thresholdMs: number,
) {
  const dashboard = new cloudwatch.Dashboard(scope, 'ContextDashboard', {
    defaultInterval: Duration.hours(3),
  });
  dashboard.addWidgets(
    new cloudwatch.GraphWidget({
      title: 'Tokens per context (average)',
      width: 12,
      left: [
        emf('tokens_in', 'Average'),
        emf('tokens_from_state', 'Average'),
        emf('tokens_from_history', 'Average'),
        emf('tokens_from_docs', 'Average'),
      ],
    }),
    new cloudwatch.GraphWidget({
      title: 'Token tax ratio (tokens from state / total)',
      width: 12,
      left: [emf('token_tax_ratio', 'Average'), emf('token_tax_ratio', 'p90')],
      leftYAxis: { min: 0, max: 1 },
    }),
  );
  dashboard.addWidgets(
    // A graph with the threshold line rather than an AlarmWidget: that one needs the alarm's ARN
    // (Fn::GetAtt), which moto's CloudFormation cannot resolve for alarms.
    new cloudwatch.GraphWidget({
      title: 'Context build p95 vs alarm threshold',
      width: 8,
      left: [latencyAlarm.metric],
      leftAnnotations: [{ value: thresholdMs, label: 'alarm threshold', color: '#d62728' }],
    }),
    new cloudwatch.GraphWidget({
      title: 'Context build latency (ms)',
      width: 8,
      left: [
        fn.metricDuration({ statistic: 'p50', period: PERIOD, label: 'duration p50' }),
        fn.metricDuration({ statistic: 'p95', period: PERIOD, label: 'duration p95' }),
        emf('context_build_ms', 'p95'),
      ],
    }),
    new cloudwatch.GraphWidget({
      title: 'Store reads p95 (ms)',
      width: 8,
      left: ['policy', 'session', 'facts', 'profile'].map((store) =>
        emf('state_load_ms', 'p95', `${store} p95`, store),
      ),
    }),
  );
  dashboard.addWidgets(
    new cloudwatch.GraphWidget({
      title: 'Retrieval hits and degraded stores',
      width: 12,
      left: [emf('retrieval_hits', 'Average')],
      right: [emf('degraded_stores', 'Sum')],
    }),
    new cloudwatch.GraphWidget({
      title: 'Context errors and invocations',
      width: 12,
      left: [fn.metricErrors({ period: PERIOD }), fn.metricInvocations({ period: PERIOD })],
    }),
  );
  return dashboard;
}
