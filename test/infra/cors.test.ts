import { App } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { cors } from '../../lambdas/routes';
import { ContextPlaneStack } from '../../lib/stack';

/** The HTTP API's CORS configuration (what lets the inspector page call a deployed stack), no bundling. */
function corsConfiguration(corsOrigins?: string[]) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new ContextPlaneStack(app, 'CorsInfraTest', { plane: { corsOrigins } });
  const resources = Object.values(app.synth().getStackByName(stack.stackName).template.Resources) as {
    Type: string;
    Properties: { CorsConfiguration?: Record<string, unknown> };
  }[];
  const apis = resources.filter((r) => r.Type === 'AWS::ApiGatewayV2::Api');
  expect(apis).toHaveLength(1);
  return apis[0]!.Properties.CorsConfiguration;
}

describe('CORS on the HTTP API', () => {
  it("allows the local inspector's origins by default, the API's headers and methods, never credentials", () => {
    const config = corsConfiguration();
    expect(config).toEqual({
      AllowOrigins: ['http://localhost:3000', 'http://127.0.0.1:3000'],
      AllowHeaders: ['authorization', 'content-type', 'idempotency-key', 'prefer', 'x-correlation-id'],
      AllowMethods: expect.arrayContaining(['GET', 'POST', 'PUT']),
      ExposeHeaders: ['x-correlation-id', 'retry-after', 'idempotent-replayed'],
      MaxAge: 600,
      AllowCredentials: false,
    });
    expect((config!.AllowMethods as string[]).sort()).toEqual([...cors.allowMethods].sort());
  });

  it('takes the origins given, and has no CORS configuration at all for none', () => {
    expect(corsConfiguration(['https://inspector.example.com'])?.AllowOrigins).toEqual([
      'https://inspector.example.com',
    ]);
    expect(corsConfiguration([])).toBeUndefined();
  });
});
