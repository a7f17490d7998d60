import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import { AppError, type FieldIssue, ValidationError } from './errors';
import type { ToolSpec } from './policy';

/**
 * Tool arguments are checked against the tool's JSON Schema from the registry before anything runs.
 * A policy version is immutable, so each schema is compiled once per route + version + tool and kept.
 */

// strict: false — registry schemas may carry keywords and formats ajv does not know; ignore them.
const ajv = new Ajv({ allErrors: true, strict: false, logger: false });
const compiled = new Map<string, ValidateFunction>();

export interface ToolAt {
  route: string;
  policyVersion: number;
  tool: ToolSpec;
}

export function validateToolArguments(at: ToolAt, args: unknown): void {
  const validate = validatorOf(at);
  if (validate(args)) return;
  throw new ValidationError(fieldIssues(validate.errors ?? []));
}

function validatorOf({ route, policyVersion, tool }: ToolAt): ValidateFunction {
  const cacheKey = `${route}@${policyVersion}#${tool.name}`;
  let validate = compiled.get(cacheKey);
  if (!validate) {
    try {
      validate = ajv.compile(tool.inputSchema);
    } catch (err) {
      throw new AppError(500, 'invalid_tool_schema', `tool '${tool.name}' has an invalid inputSchema`, {
        route,
        policyVersion,
        toolName: tool.name,
        reason: (err as Error).message,
      });
    }
    compiled.set(cacheKey, validate);
  }
  return validate;
}

/** ajv errors → fields named from the request body: `arguments.city`, `arguments.items.2.qty`. */
export function fieldIssues(errors: ErrorObject[]): FieldIssue[] {
  return errors.map((e) => {
    const path = e.instancePath.split('/').filter(Boolean);
    const params = e.params as { missingProperty?: string; additionalProperty?: string };
    const child = params.missingProperty ?? params.additionalProperty;
    if (child) path.push(child);
    return { path: ['arguments', ...path].join('.'), message: e.message ?? 'invalid' };
  });
}
