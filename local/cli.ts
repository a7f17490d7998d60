import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { z } from 'zod';
import { dataTables, envNames } from '../lambdas/config';
import { AppError, ValidationError } from '../lambdas/domain/errors';
import { tenantIdSchema } from '../lambdas/domain/ids';
import { labelSchema, policySchema, routeSchema } from '../lambdas/domain/policy';
import { parseWith } from '../lambdas/domain/validation';
import { type PolicySelector, PolicyStore } from '../lambdas/stores/policy-store';
import { TenantAdmin } from '../lambdas/stores/tenant-admin';
import { TenantStore } from '../lambdas/stores/tenant-store';
import { type LocalState, STATE_FILE, useEndpoints } from './runtime';

// The AWS SDK warns once per process that it will need Node 22 from 2027; Lambdas run Node 24, and
// the README states the local minimum. Keep local output readable.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const USAGE = `usage: npm run cli -- <command> [options]

  policy publish --route R --file policy.json   validate, then write a new immutable version
  policy label   --route R --version N --label L point label L at version N
  policy list                                   routes, versions and labels
  policy show    --route R [--version N | --label L]
  tenant create  NAME                           prints the new API key as its last line
  tenant list                                   tenants, when created, how many API keys
  tenant delete  NAME [--grace SECONDS]         revokes its keys, then deletes every item of it
                                                from every table; with --grace, once more after
                                                that long (requests authorized before the keys
                                                went: the authorizer caches an answer 5 minutes)

Target: the environment of a running \`npm start\` (default), or a deployed stack with
  --stack NAME [--region REGION]`;

const versionSchema = z.coerce.number().int().min(1);

const progress = (m: string) => process.stderr.write(`… ${m}\n`);

/** Points the stores at the local runtime's emulator, or at a deployed stack's resources. */
async function connect(stack: string | undefined, region: string | undefined) {
  if (stack) {
    if (region) process.env.AWS_REGION = region;
    progress(`reading outputs of stack ${stack}`);
    const cfn = new CloudFormationClient({});
    const { Stacks } = await cfn.send(new DescribeStacksCommand({ StackName: stack }));
    const outputs = Object.fromEntries((Stacks?.[0]?.Outputs ?? []).map((o) => [o.OutputKey, o.OutputValue]));
    if (!outputs.TenantsTableName || !outputs.PolicyPrefix)
      throw new Error(`stack ${stack} has no context-plane outputs`);
    process.env[envNames.tenantsTable] = outputs.TenantsTableName;
    for (const key of dataTables) {
      const output = outputs[`${key[0]!.toUpperCase()}${key.slice(1)}Name`];
      if (output) process.env[envNames[key]] = output;
    }
    process.env[envNames.policyPrefix] = outputs.PolicyPrefix;
    return;
  }
  if (!fs.existsSync(STATE_FILE)) {
    throw new Error('no local environment: run `npm start` in another terminal, or pass --stack NAME');
  }
  const state = JSON.parse(fs.readFileSync(STATE_FILE, 'utf8')) as LocalState;
  if (!isRunning(state.pid)) {
    throw new Error(
      'the `npm start` that wrote .context-plane/local.json is gone: start it again, or pass --stack NAME',
    );
  }
  useEndpoints(state.endpoints);
  process.env.AWS_REGION = state.region;
  Object.assign(process.env, state.environment);
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function main(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      route: { type: 'string' },
      file: { type: 'string' },
      version: { type: 'string' },
      label: { type: 'string' },
      stack: { type: 'string' },
      region: { type: 'string' },
      grace: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [group, command, ...rest] = positionals;
  if (values.help || !group) return console.log(USAGE);
  const version =
    values.version === undefined ? undefined : parseWith(versionSchema, values.version, 'version');
  const route = () => parseWith(routeSchema, values.route, 'route');

  // Validate what can be validated before touching any store.
  let document: unknown;
  if (group === 'policy' && command === 'publish') {
    route();
    if (!values.file) throw new ValidationError([{ path: 'file', message: 'required' }]);
    try {
      document = JSON.parse(fs.readFileSync(values.file, 'utf8'));
    } catch (err) {
      throw new ValidationError([
        { path: 'file', message: `cannot read ${values.file} as JSON: ${(err as Error).message}` },
      ]);
    }
    parseWith(policySchema, document, 'policy');
  }

  await connect(values.stack, values.region);
  const key = `${group} ${command ?? ''}`.trim();
  switch (key) {
    case 'policy publish': {
      progress(`publishing ${values.file} to route ${values.route}`);
      const v = await new PolicyStore().publish(route(), document);
      console.log(`published route ${values.route} version ${v}`);
      return;
    }
    case 'policy label': {
      const label = parseWith(labelSchema, values.label, 'label');
      if (version === undefined) throw new ValidationError([{ path: 'version', message: 'required' }]);
      await new PolicyStore().label(route(), version, label);
      console.log(`route ${values.route}: label ${label} -> version ${version}`);
      return;
    }
    case 'policy list': {
      const store = new PolicyStore();
      progress('listing routes');
      for (const r of await store.routes()) {
        const history = await store.history(r.route);
        const labelled = history
          .filter((h) => h.labels.length)
          .map((h) => `${h.labels.join(',')}=${h.version}`);
        console.log(
          `${r.route}\tlatest ${r.version}\tversions ${history.length}\tlabels ${labelled.join(' ') || '-'}`,
        );
      }
      return;
    }
    case 'policy show': {
      if (version !== undefined && values.label) {
        throw new ValidationError([{ path: 'version', message: 'give --version or --label, not both' }]);
      }
      const selector: PolicySelector =
        version !== undefined
          ? { version }
          : values.label
            ? { label: parseWith(labelSchema, values.label, 'label') }
            : { latest: true };
      const pinned = await new PolicyStore().get(route(), selector);
      console.log(
        JSON.stringify({ route: pinned.route, version: pinned.version, policy: pinned.policy }, null, 2),
      );
      return;
    }
    case 'tenant create': {
      const name = parseWith(tenantIdSchema, rest[0], 'name');
      progress(`creating tenant ${name}`);
      const apiKey = await new TenantStore().create(name);
      console.log(`tenant ${name} created; its API key (shown once, only its hash is stored):`);
      console.log(apiKey);
      return;
    }
    case 'tenant list': {
      progress('scanning the tenants table');
      for (const t of await new TenantAdmin().list()) {
        console.log(`${t.tenantId}\tcreated ${t.createdAt || '-'}\tkeys ${t.keys}`);
      }
      return;
    }
    case 'tenant delete': {
      const name = parseWith(tenantIdSchema, rest[0], 'name');
      const grace =
        values.grace === undefined ? 0 : parseWith(z.coerce.number().int().min(0), values.grace, 'grace');
      const admin = new TenantAdmin();
      // Keys first: nothing new is written as the tenant while its data goes.
      progress(`revoking the API keys of ${name}`);
      const revoked = await admin.revokeKeys(name);
      const counts: Record<string, number> = {};
      const sweep = async () => {
        for (const table of [...dataTables, 'tenantsTable' as const]) {
          progress(`deleting ${name}'s items from ${envNames[table]}`);
          counts[table] = (counts[table] ?? 0) + (await admin.purge(table, name));
        }
      };
      await sweep();
      if (grace > 0) {
        progress(`waiting ${grace} s, then sweeping once more`);
        await new Promise((r) => setTimeout(r, grace * 1000));
        await sweep();
      }
      console.log(`tenant ${name} deleted: ${revoked} API keys revoked`);
      for (const [table, n] of Object.entries(counts))
        console.log(`  ${table.replace(/Table$/, '')}\t${n} items`);
      return;
    }
    default:
      throw new ValidationError([{ path: 'command', message: `unknown command '${key}'\n\n${USAGE}` }]);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ValidationError) {
    const fields = (err.details?.fields ?? []) as { path: string; message: string }[];
    console.error(`error: ${err.message}`);
    for (const f of fields) console.error(`  ${f.path}: ${f.message}`);
  } else if (err instanceof AppError) {
    console.error(`error (${err.code}): ${err.message}`);
  } else {
    console.error(`error: ${(err as Error).message}`);
  }
  process.exit(1);
});
