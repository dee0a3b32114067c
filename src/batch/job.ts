import { z } from 'zod';

/**
 * The state machine's data, step by step (large files). JSONPath only: the local ASL interpreter ignores JSONata.
 *
 *   StartExecution input  = BatchJob
 *   Split    (Lambda)     : BatchJob               -> SplitResult      (at $.split)
 *   ScoreParts (Map, DISTRIBUTED, ItemsPath $.split.parts, ItemSelector {job.$: $.job?, part.$: $$.Map.Item.Value})
 *            (Lambda)     : PartTask               -> PartResult       (results at $.parts)
 *   Merge    (Lambda)     : MergeInput {job, split, parts} -> manifest summary
 *   on any error (Catch States.ALL, ResultPath $.error) -> MarkFailed (Lambda): {job, error} -> writes a failed manifest -> Fail
 */
export const batchJobSchema = z.object({
  bucket: z.string(),
  key: z.string(),
  versionId: z.string().optional(),
  etag: z.string().optional(),
  size: z.number().int().nonnegative(),
  model: z.string(),
  name: z.string(),
  /** Unique per attempt; names tmp/ objects. */
  runId: z.string(),
  startedAt: z.string(),
});
export type BatchJob = z.infer<typeof batchJobSchema>;

export const partSchema = z.object({
  index: z.number().int().nonnegative(),
  /** Byte range of the input, [start, end), aligned to row boundaries (CSV/JSONL) ... */
  start: z.number().int().nonnegative(),
  end: z.number().int().nonnegative(),
  /** ... or a Parquet row group range. */
  rowGroups: z.tuple([z.number().int(), z.number().int()]).optional(),
  /** First data row number of the part (1-based, for error reports). */
  firstRow: z.number().int().nonnegative().optional(),
});
export type Part = z.infer<typeof partSchema>;

export const splitResultSchema = z.object({
  format: z.enum(['csv', 'jsonl', 'parquet']),
  /** CSV header cells, given to parts that do not start at byte 0 (empty for JSON Lines and Parquet). */
  header: z.array(z.string()),
  parts: z.array(partSchema),
  modelVersion: z.number().int().positive(),
});
export type SplitResult = z.infer<typeof splitResultSchema>;

export const partTaskSchema = z.object({ job: batchJobSchema, split: splitResultSchema.omit({ parts: true }), part: partSchema });
export type PartTask = z.infer<typeof partTaskSchema>;

export const partResultSchema = z.object({
  index: z.number().int().nonnegative(),
  rowsIn: z.number().int().nonnegative(),
  scored: z.number().int().nonnegative(),
  rejected: z.number().int().nonnegative(),
  scoredKey: z.string(),
  errorsKey: z.string(),
  millis: z.number().nonnegative(),
});
export type PartResult = z.infer<typeof partResultSchema>;

export const mergeInputSchema = z.object({ job: batchJobSchema, split: splitResultSchema, parts: z.array(partResultSchema) });
export type MergeInput = z.infer<typeof mergeInputSchema>;

export const failInputSchema = z.object({ job: batchJobSchema, error: z.object({ Error: z.string().optional(), Cause: z.string().optional() }).loose() });
export type FailInput = z.infer<typeof failInputSchema>;
