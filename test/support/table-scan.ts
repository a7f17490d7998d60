import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';

/**
 * Test-only: every item of every table of the deployment (a Scan, which the service itself never
 * makes), each as its table's name and its JSON. What a deletion left behind is looked for here.
 */
const db = DynamoDBDocumentClient.from(new DynamoDBClient({}));

export interface ScannedItem {
  table: string;
  pk: string;
  json: string;
}

export const tableEnvs = [
  'CP_SESSIONS_TABLE',
  'CP_EVENTS_TABLE',
  'CP_IDEMPOTENCY_TABLE',
  'CP_TENANTS_TABLE',
  'CP_FACTS_TABLE',
  'CP_PROFILES_TABLE',
  'CP_CACHE_TABLE',
  'CP_RECALL_TABLE',
  'CP_REGISTRY_TABLE',
];

/** Sets (string sets) as sorted arrays, so an item's JSON is stable. */
const replacer = (_k: string, v: unknown) => (v instanceof Set ? [...v].sort() : v);

export async function scanAll(): Promise<ScannedItem[]> {
  const out: ScannedItem[] = [];
  for (const env of tableEnvs) {
    const table = process.env[env];
    if (!table) throw new Error(`${env} is not set`);
    let start: Record<string, unknown> | undefined;
    do {
      const page = await db.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
      for (const item of page.Items ?? []) {
        out.push({ table, pk: String(item.pk), json: JSON.stringify(item, replacer) });
      }
      start = page.LastEvaluatedKey;
    } while (start);
  }
  return out;
}

/** The items that mention any of these strings (ids, content), sorted: a snapshot to compare. */
export function mentioning(items: ScannedItem[], needles: string[]): string[] {
  const lower = needles.map((n) => n.toLowerCase());
  return items
    .filter((i) => lower.some((n) => i.json.toLowerCase().includes(n)))
    .map((i) => `${i.table} ${i.json}`)
    .sort();
}

/** Every item of a tenant (its keys start with T#<tenant>#), sorted. */
export const ofTenant = (items: ScannedItem[], tenantId: string) =>
  items
    .filter((i) => i.pk.startsWith(`T#${tenantId}#`))
    .map((i) => `${i.table} ${i.json}`)
    .sort();
