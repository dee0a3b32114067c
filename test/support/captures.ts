import { getS3Client } from '../../src/aws/clients.js';
import type { CaptureRecord } from '../../src/core/capture/capture-record.js';
import { s3Layout } from '../../src/core/storage-layout.js';
import { localStore } from './demo-model.js';

/** Every capture record of a model in the local artifact bucket, with the objects they are in. */
export async function readAllCaptures(model: string): Promise<{ keys: string[]; records: CaptureRecord[] }> {
  const store = localStore();
  const keys = await store.list(s3Layout.capturePrefix(model));
  const records: CaptureRecord[] = [];
  for (const key of keys) {
    const text = new TextDecoder().decode(await store.get(key));
    for (const line of text.split('\n')) if (line.trim() !== '') records.push(JSON.parse(line) as CaptureRecord);
  }
  return { keys, records };
}

/** The capture records written since `before` (a {@link readAllCaptures} result), and the text of their objects. */
export async function capturesSince(model: string, before: { keys: string[] }): Promise<{ records: CaptureRecord[]; text: string }> {
  const store = localStore();
  const known = new Set(before.keys);
  const fresh = (await store.list(s3Layout.capturePrefix(model))).filter((key) => !known.has(key));
  let text = '';
  for (const key of fresh) text += new TextDecoder().decode(await store.get(key));
  const records = text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as CaptureRecord);
  return { records, text };
}

/**
 * Fault injection on the real S3 client the functions share (src/aws/clients.ts): while `failing` is true, every
 * PutObject under `captures/` fails as S3 would when unavailable; everything else reaches the emulator.
 */
export function injectCaptureWriteFailures(): { failing: boolean; refused: number } {
  const state = { failing: false, refused: 0 };
  getS3Client().middlewareStack.add(
    (next, context) => async (args) => {
      const key = (args.input as { Key?: unknown }).Key;
      if (state.failing && context.commandName === 'PutObjectCommand' && typeof key === 'string' && key.startsWith('captures/')) {
        state.refused++;
        throw Object.assign(new Error('We encountered an internal error. Please try again.'), { name: 'InternalError', $fault: 'server' });
      }
      return next(args);
    },
    { step: 'initialize', name: 'injectCaptureWriteFailures' },
  );
  return state;
}
