import { startLocal } from './runtime';

/** `npm start`: the whole service on this machine, on an embedded emulator unless AWS_ENDPOINT_URL is set. */
async function main() {
  const log = (m: string) => console.log(`[context-plane] ${m}`);
  const runtime = await startLocal({
    port: Number.parseInt(process.env.PORT ?? '3000', 10),
    progress: log,
    writeState: true,
  });
  log(`AWS endpoint: ${runtime.endpoint}`);
  for (const t of runtime.tenants) log(`tenant ${t.name}: Authorization: Bearer ${t.key}`);
  log(`listening on ${runtime.url}  (try: curl ${runtime.url}/v1/health)`);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping`);
    await runtime.stop();
    log('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
