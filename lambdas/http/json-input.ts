import { ValidationError } from '../domain/errors';

/**
 * Input every route refuses before its schema sees it: JSON nested deeper than MAX_JSON_DEPTH (code
 * that walks a value recursively, hashing, serializing, the SDK's marshaller, would overflow its
 * stack) and strings with a lone UTF-16 surrogate (`"\ud800"`: not encodable as UTF-8, so DynamoDB
 * refuses the write). Both are 400s naming the field.
 */

// Node >= 20 has both (ES2024); the project's TypeScript lib is ES2023.
declare global {
  interface String {
    isWellFormed(): boolean;
    toWellFormed(): string;
  }
}

/** Levels of objects and arrays a body may nest (the body itself is level 1). */
export const MAX_JSON_DEPTH = 64;

const LONE_SURROGATE = 'contains a lone UTF-16 surrogate (not valid Unicode)';

/** Throws a ValidationError for the first too-deep value or ill-formed string (key or value) in `value`. */
export function checkJsonInput(value: unknown): void {
  // Iterative: JSON.parse accepts any depth, and a recursive walk is what must not overflow here.
  const stack: { v: unknown; path: string[]; depth: number }[] = [{ v: value, path: [], depth: 0 }];
  while (stack.length) {
    const { v, path, depth } = stack.pop()!;
    if (typeof v === 'string') {
      if (!v.isWellFormed()) fail(path, LONE_SURROGATE);
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (depth + 1 > MAX_JSON_DEPTH) fail(path, `nested deeper than ${MAX_JSON_DEPTH} levels`);
    for (const [k, child] of Object.entries(v)) {
      if (!k.isWellFormed()) fail([...path, k.toWellFormed()], `key ${LONE_SURROGATE}`);
      stack.push({ v: child, path: [...path, k], depth: depth + 1 });
    }
  }
}

/** Path parameters and query values: the same surrogate rule, named by parameter. */
export function checkWellFormed(values: Record<string, string | undefined>): void {
  for (const [name, v] of Object.entries(values)) {
    if (!name.isWellFormed() || (v !== undefined && !v.isWellFormed()))
      fail([name.toWellFormed()], LONE_SURROGATE);
  }
}

function fail(path: string[], message: string): never {
  throw new ValidationError([{ path: path.join('.') || '(body)', message }]);
}
