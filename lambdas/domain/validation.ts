import type { z } from 'zod';
import { ValidationError } from './errors';

/** Parses with a zod schema; on failure throws a ValidationError naming every failing field. */
export function parseWith<T extends z.ZodType>(schema: T, input: unknown, prefix = ''): z.infer<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new ValidationError(
    result.error.issues.map((issue) => ({
      path: [prefix, ...issue.path.map(String)].filter(Boolean).join('.') || '(body)',
      message: issue.message,
    })),
  );
}
