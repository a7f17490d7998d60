import { PrerequisiteError } from './dynamodb-local';
import { startLocal } from './runtime';

// The AWS SDK warns once per process that it will need Node 22 from 2027; Lambdas run Node 24, and
// the README states the local minimum. Keep local output readable.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** `npm start`: the whole service on this machine, on embedded emulators unless AWS_ENDPOINT_URL is set. */
function main() {
  const log = (m: string) => console.log(`[context-plane] ${m}`);
  const starting = startLocal({
    port: Number.parseInt(process.env.PORT ?? '3000', 10),
    progress: log,
    writeState: true,
  });

  // Signal handlers before anything is up: a signal during start-up still stops the emulator cleanly.
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping`);
    const runtime = await starting.catch(() => undefined);
    await runtime?.stop();
    log('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  starting.then(
    (runtime) => {
      if (stopping) return;
      for (const [name, url] of Object.entries(runtime.endpoints)) log(`${name}=${url}`);
      for (const t of runtime.tenants) log(`tenant ${t.name}: Authorization: Bearer ${t.key}`);
      log(`listening on ${runtime.url}  (try: curl ${runtime.url}/v1/health)`);
    },
    (err) => {
      // A missing prerequisite is one line saying what to install, not a stack trace.
      console.error(err instanceof PrerequisiteError ? `[context-plane] ${err.message}` : err);
      process.exit(1);
    },
  );
}

main();
