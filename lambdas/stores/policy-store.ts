import {
  GetParameterCommand,
  GetParameterHistoryCommand,
  GetParametersByPathCommand,
  LabelParameterVersionCommand,
  ParameterNotFound,
  ParameterVersionNotFound,
  PutParameterCommand,
} from '@aws-sdk/client-ssm';
import { env } from '../config';
import { AppError, NotFoundError, PolicyInvalidError } from '../domain/errors';
import { type Policy, type PolicyInput, policySchema } from '../domain/policy';
import { parseWith } from '../domain/validation';
import { ssmClient } from './clients';

/** Which version of a route's policy: a number (immutable), a label (movable), or the latest. */
export type PolicySelector = { version: number } | { label: string } | { latest: true };

export interface PinnedPolicy {
  route: string;
  version: number;
  policy: Policy;
}

export interface PolicyVersionInfo {
  version: number;
  labels: string[];
  lastModified?: string;
}

/** A stored version that no longer parses (edited in the console, or older than a schema change). */
function storedPolicy(route: string, p: { Value?: string; Version?: number } | undefined): Policy {
  try {
    return parseWith(policySchema, JSON.parse(p?.Value ?? 'null'), 'policy');
  } catch {
    throw new PolicyInvalidError(route, p?.Version);
  }
}

/**
 * Policies in SSM Parameter Store, one parameter per route under the deployment's prefix. Each
 * publish is a new parameter version (immutable); labels point at versions and can move.
 */
export class PolicyStore {
  constructor(
    private readonly prefix = env('policyPrefix'),
    private readonly ssm = ssmClient(),
  ) {}

  nameOf(route: string) {
    return `${this.prefix}/${route}`;
  }

  async get(route: string, selector: PolicySelector): Promise<PinnedPolicy> {
    const suffix =
      'version' in selector ? `:${selector.version}` : 'label' in selector ? `:${selector.label}` : '';
    try {
      const { Parameter } = await this.ssm.send(
        new GetParameterCommand({ Name: `${this.nameOf(route)}${suffix}` }),
      );
      return { route, version: Parameter!.Version!, policy: storedPolicy(route, Parameter) };
    } catch (err) {
      if (err instanceof ParameterNotFound || err instanceof ParameterVersionNotFound) {
        throw new NotFoundError(
          'route',
          'version' in selector || 'label' in selector ? `${route}${suffix}` : route,
        );
      }
      throw err;
    }
  }

  /** Validates and writes a new version; returns its number. */
  async publish(route: string, input: PolicyInput | unknown): Promise<number> {
    const policy = parseWith(policySchema, input);
    const value = JSON.stringify(policy);
    const { Version } = await this.ssm.send(
      new PutParameterCommand({
        Name: this.nameOf(route),
        Value: value,
        Type: 'String',
        Overwrite: true,
        // Above 4 KB a parameter must be advanced; intelligent tiering picks the cheapest that fits.
        Tier: Buffer.byteLength(value) > 4096 ? 'Intelligent-Tiering' : 'Standard',
        Description: `context-plane policy for route '${route}'`,
      }),
    );
    return Version!;
  }

  async label(route: string, version: number, label: string): Promise<void> {
    const out = await this.ssm.send(
      new LabelParameterVersionCommand({
        Name: this.nameOf(route),
        ParameterVersion: version,
        Labels: [label],
      }),
    );
    if (out.InvalidLabels?.length) {
      throw new AppError(400, 'invalid_label', `SSM refused label(s): ${out.InvalidLabels.join(', ')}`);
    }
  }

  async routes(): Promise<{ route: string; version: number }[]> {
    const out: { route: string; version: number }[] = [];
    let NextToken: string | undefined;
    do {
      const page = await this.ssm.send(new GetParametersByPathCommand({ Path: this.prefix, NextToken }));
      for (const p of page.Parameters ?? [])
        out.push({ route: p.Name!.slice(this.prefix.length + 1), version: p.Version! });
      NextToken = page.NextToken;
    } while (NextToken);
    return out.sort((a, b) => a.route.localeCompare(b.route));
  }

  async history(route: string): Promise<PolicyVersionInfo[]> {
    const out: PolicyVersionInfo[] = [];
    let NextToken: string | undefined;
    try {
      do {
        const page = await this.ssm.send(
          new GetParameterHistoryCommand({ Name: this.nameOf(route), NextToken }),
        );
        for (const p of page.Parameters ?? []) {
          out.push({
            version: p.Version!,
            labels: p.Labels ?? [],
            lastModified: p.LastModifiedDate?.toISOString(),
          });
        }
        NextToken = page.NextToken;
      } while (NextToken);
    } catch (err) {
      if (err instanceof ParameterNotFound) throw new NotFoundError('route', route);
      throw err;
    }
    return out.sort((a, b) => a.version - b.version);
  }
}
