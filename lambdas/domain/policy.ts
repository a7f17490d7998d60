import { z } from 'zod';

/**
 * A route's policy: everything that shapes a model call and is versioned as a unit. Stored as JSON
 * in one SSM parameter per route; every publish is a new immutable parameter version, and callers
 * pin a version or a label. Validated here before anything is written, and again when read.
 */

const tokens = z.number().int().min(0).max(1_000_000);
const share = z.number().min(0).max(1);

export const toolSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and - only (at most 64)'),
  description: z.string().max(1024).default(''),
  kind: z.enum(['http', 'lambda']),
  /** http: where the arguments are POSTed */
  url: z.url().optional(),
  /** lambda: the function to invoke */
  arn: z.string().startsWith('arn:').optional(),
  timeoutMs: z.number().int().min(100).max(60_000).default(10_000),
  /** JSON Schema of the arguments, checked before the tool runs */
  inputSchema: z.record(z.string(), z.unknown()).default({ type: 'object' }),
});

export const policySchema = z
  .strictObject({
    description: z.string().max(1024).default(''),
    systemPrompt: z.string().min(1).max(32_000),
    budgets: z
      .strictObject({
        /** cap on everything the context holds, input included */
        total: tokens.default(8000),
        system: tokens.default(1500),
        summary: tokens.default(1000),
        history: tokens.default(2000),
        facts: tokens.default(1500),
        profile: tokens.default(300),
        /** turns recalled from outside the history window (what is left after the others, up to this) */
        recall: tokens.default(4000),
        input: tokens.default(2000),
      })
      .prefault({}),
    /**
     * Each source's share of what the total leaves after the system prompt and the input: its cap for a
     * request is the lower of its cap above and its share. Recall takes what the others leave, so a
     * small total is not spent on the newest turns alone. Defaults from `npm run bench:recall`.
     */
    split: z
      .strictObject({
        history: share.default(0.1),
        summary: share.default(0.1),
        facts: share.default(0.05),
        profile: share.default(0.05),
      })
      .prefault({}),
    history: z.strictObject({ maxTurns: z.number().int().min(0).max(200).default(12) }).prefault({}),
    retrieval: z
      .strictObject({
        topK: z.number().int().min(0).max(100).default(8),
        /** recency decay: a fact's score halves every this many days (unless pinned) */
        halfLifeDays: z.number().positive().max(3650).default(30),
        pinnedBoost: z.number().min(0).max(100).default(2),
        minScore: z.number().min(0).default(0),
      })
      .prefault({}),
    profile: z
      .strictObject({
        /** the only profile attributes that may reach the prompt */
        allow: z.array(z.string().min(1).max(64)).max(100).default([]),
      })
      .prefault({}),
    tools: z.array(toolSchema).max(50).default([]),
    summary: z
      .strictObject({
        /** enqueue summarization once this many tokens are unsummarized */
        triggerTokens: tokens.default(3000),
        maxTokens: tokens.default(1000),
        shortMaxTokens: tokens.default(250),
        engine: z.enum(['extractive', 'bedrock']).default('extractive'),
        modelId: z.string().min(1).optional(),
      })
      .prefault({}),
    cache: z
      .strictObject({
        ttlSeconds: z
          .number()
          .int()
          .min(1)
          .max(7 * 24 * 3600)
          .default(3600),
      })
      .prefault({}),
  })
  .superRefine((p, ctx) => {
    p.tools.forEach((tool, i) => {
      if (tool.kind === 'http' && !tool.url)
        ctx.addIssue({ code: 'custom', path: ['tools', i, 'url'], message: 'an http tool needs a url' });
      if (tool.kind === 'lambda' && !tool.arn)
        ctx.addIssue({ code: 'custom', path: ['tools', i, 'arn'], message: 'a lambda tool needs an arn' });
    });
    const names = p.tools.map((t) => t.name);
    names.forEach((n, i) => {
      if (names.indexOf(n) !== i)
        ctx.addIssue({ code: 'custom', path: ['tools', i, 'name'], message: `duplicate tool name '${n}'` });
    });
    if (p.summary.engine === 'bedrock' && !p.summary.modelId)
      ctx.addIssue({
        code: 'custom',
        path: ['summary', 'modelId'],
        message: 'the bedrock engine needs a modelId',
      });
  });

export type Policy = z.infer<typeof policySchema>;
export type PolicyInput = z.input<typeof policySchema>;
export type ToolSpec = z.infer<typeof toolSchema>;

/** Route names become SSM parameter name segments. */
export const routeSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'lowercase letters, digits and - only');

/** SSM label rules: not starting with a digit, 'aws' or 'ssm'. */
export const labelSchema = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_.-]{0,99}$/, 'start with a letter; letters, digits, _ . - only')
  .refine((l) => !/^(aws|ssm)/i.test(l), 'labels may not start with aws or ssm');

/** The policy a stack deploys for each route until someone publishes another. */
export const defaultPolicy = (route: string): PolicyInput => ({
  description: `default policy for route ${route}`,
  systemPrompt:
    'You are a helpful assistant. Use the facts and summary provided; cite them when you rely on them.',
});
