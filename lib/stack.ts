import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { ContextPlane, type ContextPlaneProps } from './context-plane';

/** The deployable stack: a thin user of the ContextPlane construct, plus the outputs the CLI reads. */
export class ContextPlaneStack extends Stack {
  readonly plane: ContextPlane;

  constructor(scope: Construct, id: string, props: StackProps & { plane?: ContextPlaneProps } = {}) {
    super(scope, id, props);
    this.plane = new ContextPlane(this, 'ContextPlane', props.plane);
    new CfnOutput(this, 'ApiUrl', { value: this.plane.api.apiEndpoint });
    new CfnOutput(this, 'TenantsTableName', { value: this.plane.tables.tenants.tableName });
    // Every table, for the CLI's `tenant delete` (it removes a tenant's items from all of them).
    for (const [name, table] of Object.entries(this.plane.tables)) {
      if (name === 'tenants') continue;
      new CfnOutput(this, `${name[0]!.toUpperCase()}${name.slice(1)}TableName`, { value: table.tableName });
    }
    new CfnOutput(this, 'PolicyPrefix', { value: this.plane.policyPrefix });
  }
}
