import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

/** One logger and one metrics buffer per process (per Lambda), shared by handlers and stores. */
export const logger = new Logger({ serviceName: 'context-plane' });
export const metrics = new Metrics({ namespace: 'ContextPlane', serviceName: 'context-plane' });
