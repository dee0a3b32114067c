import { KinesisDataStreamRecord, KinesisDataStreamRecordPayload, KinesisDataStreamSchema } from '@aws-lambda-powertools/parser/schemas/kinesis';
import { z } from 'zod';

/**
 * The Kinesis event the event source mapping sends the stream-score function: Powertools' schema, except that
 * each record's `data` stays the base64 string Lambda delivers. The built-in schema decodes it while parsing
 * the event, so one record that is not what we expect would fail the whole batch; here each record's payload
 * is decoded and judged on its own (score-stream.ts), and a poison record is skipped, not the batch.
 *
 * @example
 * const event = streamEventSchema.parse(rawEvent);
 * event.Records[0]!.kinesis.data; // base64
 */
export const streamEventSchema = KinesisDataStreamSchema.extend({
  Records: z
    .array(
      KinesisDataStreamRecord.extend({
        kinesis: KinesisDataStreamRecordPayload.extend({ data: z.string() }),
      }),
    )
    .min(1),
});

export type StreamEvent = z.infer<typeof streamEventSchema>;
export type StreamEventRecord = StreamEvent['Records'][number];
