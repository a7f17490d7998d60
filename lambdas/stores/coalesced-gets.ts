import { BatchGetCommand, type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { StoreUnavailableError } from '../domain/errors';

type Item = Record<string, unknown>;
interface Waiting {
  table: string;
  key: Item;
  consistent: boolean;
  resolve: (item: Item | undefined) => void;
  reject: (err: unknown) => void;
}

/** BatchGetItem's limit on keys per request. */
const BATCH_KEYS = 100;
const MAX_RETRIES = 8;
const backoff = (attempt: number) => new Promise((r) => setTimeout(r, 5 * 2 ** Math.min(attempt, 6)));

/**
 * A client whose plain GetItems (a key and ConsistentRead, nothing else) issued in the same turn of the
 * event loop go to DynamoDB as one BatchGetItem, across tables; a lone one still goes as a GetItem, and
 * every other command passes through. A context build reads the session item and the recall counters
 * (with a user, also the profile and the user's counters) at once: one request instead of two to four.
 * DynamoDB charges the same read capacity either way; the local emulator spends its CPU per request.
 * Callers get what a GetItem answers (`{ Item }`), so the stores do not know.
 *
 * The composition root gives it to the stores of a function that may BatchGetItem on those tables;
 * the others keep the plain client (least privilege).
 */
export function coalescingGets(db: DynamoDBDocumentClient): DynamoDBDocumentClient {
  let pending: Waiting[] = [];

  const flush = async () => {
    const batch = pending;
    pending = [];
    if (batch.length === 1) {
      const [only] = batch as [Waiting];
      db.send(new GetCommand({ TableName: only.table, Key: only.key, ConsistentRead: only.consistent })).then(
        (out) => only.resolve(out.Item),
        only.reject,
      );
      return;
    }
    // Waiters by table and key (the same key asked twice is one key of the batch: DynamoDB refuses
    // duplicates); the key attributes name the table's key schema.
    const byId = new Map<string, Waiting[]>();
    const keyNames = new Map<string, string[]>();
    const idOf = (table: string, item: Item) =>
      `${table}\u0000${JSON.stringify(keyNames.get(table)!.map((n) => item[n]))}`;
    for (const w of batch) {
      if (!keyNames.has(w.table)) keyNames.set(w.table, Object.keys(w.key).sort());
      const id = idOf(w.table, w.key);
      byId.set(id, [...(byId.get(id) ?? []), w]);
    }
    let keys = [...byId.values()].map(([w]) => w!);
    const settle = (id: string, item: Item | undefined) => {
      for (const w of byId.get(id) ?? []) w.resolve(item);
      byId.delete(id);
    };
    try {
      for (let attempt = 0; keys.length; attempt++) {
        if (attempt > MAX_RETRIES) throw new StoreUnavailableError('dynamodb', 'keys still unprocessed');
        if (attempt) await backoff(attempt);
        const unprocessed: Waiting[] = [];
        await Promise.all(
          chunks(keys, BATCH_KEYS).map(async (chunk) => {
            const RequestItems: Record<string, { Keys: Item[]; ConsistentRead: boolean }> = {};
            for (const w of chunk) {
              RequestItems[w.table] ??= { Keys: [], ConsistentRead: false };
              RequestItems[w.table]!.Keys.push(w.key);
              // Consistent for the table when any of its reads asked for it.
              RequestItems[w.table]!.ConsistentRead ||= w.consistent;
            }
            const out = await db.send(new BatchGetCommand({ RequestItems }));
            for (const [table, items] of Object.entries(out.Responses ?? {})) {
              for (const item of items) settle(idOf(table, item), item);
            }
            for (const [table, { Keys = [] }] of Object.entries(out.UnprocessedKeys ?? {})) {
              for (const key of Keys) unprocessed.push(byId.get(idOf(table, key))![0]!);
            }
          }),
        );
        keys = unprocessed;
      }
      // Every key answered and not in the responses: no such item.
      for (const id of [...byId.keys()]) settle(id, undefined);
    } catch (err) {
      for (const waiting of byId.values()) for (const w of waiting) w.reject(err);
    }
  };

  const send = (command: unknown, options?: unknown): Promise<unknown> => {
    if (!(command instanceof GetCommand) || !plain(command.input)) {
      return (db.send as (c: unknown, o?: unknown) => Promise<unknown>)(command, options);
    }
    const { TableName, Key, ConsistentRead } = command.input;
    return new Promise<Item | undefined>((resolve, reject) => {
      // After this turn's microtasks: the other reads a build starts at once are queued by then.
      if (!pending.length) setImmediate(() => void flush());
      pending.push({ table: TableName!, key: Key!, consistent: ConsistentRead === true, resolve, reject });
    }).then((Item) => ({ Item, $metadata: {} }));
  };
  return Object.assign(Object.create(db) as DynamoDBDocumentClient, { send });
}

/** A GetItem with nothing a BatchGetItem key would lose (no projection, no capacity report). */
const plain = (input: GetCommand['input']) =>
  Object.keys(input).every((k) => k === 'TableName' || k === 'Key' || k === 'ConsistentRead');

const chunks = <T>(xs: T[], n: number): T[][] => {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
};
