import { App } from 'aws-cdk-lib';
import { acknowledgeNagFindings, addNagChecks } from './nag';
import { ContextPlaneStack } from './stack';

const app = new App();
const stack = new ContextPlaneStack(app, app.node.tryGetContext('stackName') ?? 'ContextPlane', {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
acknowledgeNagFindings(stack.plane);
addNagChecks(app);
