import type { PolicySelector, RouteRef } from './context';
import { withDeadline } from './deadline';
import { AppError, StoreUnavailableError } from './errors';
import type { Policy } from './policy';
import type { TokenCounter } from './tokens';

/** Port: one version of a route's policy (the PolicyStore over SSM). */
export interface PolicySource {
  get(route: string, selector: PolicySelector): Promise<{ route: string; version: number; policy: Policy }>;
}

export interface ResolvedPolicy {
  route: string;
  version: number;
  policy: Policy;
  /** tokens of the system prompt, counted on first use, once per version and process (a version
   * never changes); the tools and summarization paths never ask */
  readonly systemTokens: number;
}

export interface PolicyPinsOptions {
  /** how long a label (or "latest") stays resolved before it is asked again */
  labelTtlMs: number;
  deadlineMs: number;
  now?: () => number;
}

/** Bounds both caches; a warm Lambda sees few routes and versions, far fewer than this. */
const MAX_ENTRIES = 256;

/**
 * Policy pinning for a warm Lambda: an immutable version is cached for the process's lifetime; a
 * label or "latest" is re-resolved once its TTL has passed. Concurrent misses share one read.
 * The policy is required: a read that fails or misses its deadline is a 503, an unknown route a 404.
 */
export class PolicyPins {
  private readonly versions = new Map<string, ResolvedPolicy>();
  private readonly labels = new Map<string, { version: number; until: number }>();
  private readonly inflight = new Map<string, Promise<ResolvedPolicy>>();
  private readonly now: () => number;

  constructor(
    private readonly source: PolicySource,
    private readonly tokens: TokenCounter,
    private readonly options: PolicyPinsOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** The policy for a route reference; `cached` says whether SSM was asked. */
  async resolve(ref: RouteRef): Promise<{ resolved: ResolvedPolicy; cached: boolean }> {
    const { name, selector } = ref;
    if ('version' in selector) {
      const hit = this.versions.get(`${name}@${selector.version}`);
      if (hit) return { resolved: hit, cached: true };
    } else {
      const pointer = this.labels.get(labelKey(ref));
      const hit = pointer && pointer.until > this.now() && this.versions.get(`${name}@${pointer.version}`);
      if (hit) return { resolved: hit, cached: true };
    }
    const key = 'version' in selector ? `${name}@${selector.version}` : labelKey(ref);
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = this.load(ref).finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    return { resolved: await pending, cached: false };
  }

  private async load(ref: RouteRef): Promise<ResolvedPolicy> {
    const read = await withDeadline(() => this.source.get(ref.name, ref.selector), this.options.deadlineMs);
    if (!read.ok) {
      if (read.error instanceof AppError) throw read.error;
      throw new StoreUnavailableError(
        'policy',
        read.timedOut ? new Error('policy read timed out') : read.error,
      );
    }
    const { version, policy } = read.value;
    const versionKey = `${ref.name}@${version}`;
    let resolved = this.versions.get(versionKey);
    if (!resolved) {
      resolved = resolvedPolicy(ref.name, version, policy, this.tokens);
      remember(this.versions, versionKey, resolved);
    }
    if (!('version' in ref.selector)) {
      remember(this.labels, labelKey(ref), { version, until: this.now() + this.options.labelTtlMs });
    }
    return resolved;
  }
}

function resolvedPolicy(
  route: string,
  version: number,
  policy: Policy,
  tokens: TokenCounter,
): ResolvedPolicy {
  let systemTokens: number | undefined;
  return {
    route,
    version,
    policy,
    get systemTokens() {
      systemTokens ??= tokens.count(policy.systemPrompt);
      return systemTokens;
    },
  };
}

const labelKey = (ref: RouteRef) =>
  'label' in ref.selector ? `${ref.name}:${ref.selector.label}` : ref.name;

function remember<V>(map: Map<string, V>, key: string, value: V) {
  map.delete(key);
  map.set(key, value);
  if (map.size > MAX_ENTRIES) map.delete(map.keys().next().value!);
}
