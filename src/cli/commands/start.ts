import { parseArgs } from 'node:util';
import { startLocalRuntime } from '../../local/runtime.js';
import { exampleInstance } from '../../demo/credit-risk.js';
import { dataDirOf, intOption } from '../args.js';

/** `mlops start`: the local runtime, until Ctrl-C. */
export async function start(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { port: { type: 'string' }, host: { type: 'string' }, 'data-dir': { type: 'string' }, 'no-seed': { type: 'boolean' } },
  });
  const port = intOption(values.port ?? process.env.PORT ?? '3000', '--port', 0, 65535);
  const log = (line: string) => process.stdout.write(`${line}\n`);
  const runtime = await startLocalRuntime({
    dataDir: dataDirOf(values['data-dir']),
    port,
    ...(values.host ? { host: values.host } : {}),
    seedDemo: !values['no-seed'],
    log,
  });
  log(`
serverless-mlops local runtime
  API          ${runtime.url}   (API Gateway emulator -> functions/predict/handler.ts)
  DynamoDB     ${runtime.emulators.dynamodbEndpoint}   (dynalite)
  S3           ${runtime.emulators.s3Endpoint}   (s3rver)
  stream       ${runtime.streaming.streamName}   (kinesalite ${runtime.emulators.kinesisEndpoint} -> functions/stream-score/handler.ts -> events/, sns/)
  data         ${runtime.dataDir}
  API key      ${runtime.apiKey}

Try:
  curl -s -H 'x-api-key: ${runtime.apiKey}' ${runtime.url}/v1/models
  curl -s -X POST ${runtime.url}/v1/models/credit-risk/predict \\
    -H 'x-api-key: ${runtime.apiKey}' -H 'content-type: application/json' \\
    -d '${JSON.stringify({ instances: [exampleInstance] })}'

Ctrl-C stops it.`);
  await new Promise<void>((resolveStop) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolveStop();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  log('stopping ...');
  await runtime.close();
  log('stopped');
  return 0;
}
