import { z } from 'zod';
import { TrainingJobRequestError } from './training-job-errors.js';

// What the pipeline's `createTrainingJob.sync` task sends and gets back, in SageMaker's own shapes (PascalCase,
// times in epoch ms), so that the local launcher and the state machine on AWS read and write the same JSON. The
// schema refuses what SageMaker would refuse, and what the local launcher cannot do (Pipe mode, manifests).

const s3Uri = z.string().regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/, 'must be an s3://bucket/prefix URI');

/** CreateTrainingJob as SageMaker checks it, narrowed to what the local launcher can run. */
export const createTrainingJobRequestSchema = z.object({
  TrainingJobName: z.string().regex(/^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/, 'must be 1 to 63 letters, digits or hyphens, starting and ending with a letter or digit'),
  AlgorithmSpecification: z.object({
    TrainingImage: z.string().min(1),
    TrainingInputMode: z.enum(['File', 'FastFile'], { error: 'must be File or FastFile (the local launcher downloads channels; Pipe mode is not supported)' }),
    MetricDefinitions: z.array(z.object({ Name: z.string(), Regex: z.string() })).optional(),
  }),
  HyperParameters: z.record(z.string(), z.string()).default({}),
  InputDataConfig: z
    .array(
      z.object({
        ChannelName: z.string().regex(/^[A-Za-z0-9.\-_]{1,64}$/, 'must be 1 to 64 letters, digits, dots, hyphens or underscores'),
        DataSource: z.object({
          S3DataSource: z.object({
            S3Uri: s3Uri,
            S3DataType: z.literal('S3Prefix', { error: 'must be S3Prefix (manifest files are not supported locally)' }),
            S3DataDistributionType: z.enum(['FullyReplicated', 'ShardedByS3Key']).optional(),
          }),
        }),
        ContentType: z.string().optional(),
        CompressionType: z.literal('None', { error: 'must be None (channels hold the raw mlops-matrix/v1 files)' }).optional(),
        InputMode: z.enum(['File', 'FastFile']).optional(),
      }),
    )
    .min(1)
    .max(20)
    .refine((channels) => new Set(channels.map((c) => c.ChannelName)).size === channels.length, 'has duplicate ChannelName values'),
  OutputDataConfig: z.object({ S3OutputPath: s3Uri, KmsKeyId: z.string().optional(), CompressionType: z.enum(['GZIP', 'NONE']).optional() }),
  ResourceConfig: z.object({
    InstanceType: z.string().min(1),
    InstanceCount: z.number().int().min(1),
    VolumeSizeInGB: z.number().int().min(1),
    VolumeKmsKeyId: z.string().optional(),
  }),
  StoppingCondition: z.object({ MaxRuntimeInSeconds: z.number().int().min(1), MaxWaitTimeInSeconds: z.number().int().min(1).optional() }),
  RoleArn: z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/, 'must be an IAM role ARN'),
  EnableManagedSpotTraining: z.boolean().optional(),
  CheckpointConfig: z.object({ S3Uri: s3Uri, LocalPath: z.string().optional() }).optional(),
  Environment: z.record(z.string(), z.string()).optional(),
  Tags: z.array(z.object({ Key: z.string(), Value: z.string() })).optional(),
});

/** The part of SageMaker's CreateTrainingJob request the pipeline sends (other fields are accepted and ignored). */
export type CreateTrainingJobRequest = z.input<typeof createTrainingJobRequestSchema>;
type ParsedRequest = z.output<typeof createTrainingJobRequestSchema>;

export interface SecondaryStatusTransition {
  readonly Status: string;
  readonly StartTime: number;
  readonly EndTime?: number;
  readonly StatusMessage: string;
}

/** DescribeTrainingJob as the `.sync` task returns it (timestamps in epoch milliseconds). */
export interface TrainingJobDescription {
  readonly TrainingJobName: string;
  readonly TrainingJobArn: string;
  readonly TrainingJobStatus: 'Completed' | 'Failed' | 'Stopped';
  readonly SecondaryStatus: 'Completed' | 'Failed' | 'MaxRuntimeExceeded';
  readonly FailureReason?: string;
  readonly ModelArtifacts?: { readonly S3ModelArtifacts: string };
  readonly AlgorithmSpecification: ParsedRequest['AlgorithmSpecification'];
  readonly RoleArn: string;
  readonly InputDataConfig: ParsedRequest['InputDataConfig'];
  readonly OutputDataConfig: ParsedRequest['OutputDataConfig'];
  readonly ResourceConfig: ParsedRequest['ResourceConfig'];
  readonly StoppingCondition: ParsedRequest['StoppingCondition'];
  readonly HyperParameters: Record<string, string>;
  readonly EnableManagedSpotTraining: boolean;
  readonly CreationTime: number;
  readonly TrainingStartTime: number;
  readonly TrainingEndTime: number;
  readonly LastModifiedTime: number;
  readonly TrainingTimeInSeconds: number;
  readonly BillableTimeInSeconds: number;
  readonly SecondaryStatusTransitions: readonly SecondaryStatusTransition[];
  readonly FinalMetricDataList: readonly { readonly MetricName: string; readonly Value: number; readonly Timestamp: number }[];
}

/** A completed job: what `runLocalTrainingJob` resolves to. */
export interface DescribeTrainingJobResult extends TrainingJobDescription {
  readonly TrainingJobStatus: 'Completed';
  readonly SecondaryStatus: 'Completed';
  readonly ModelArtifacts: { readonly S3ModelArtifacts: string };
}

/** Bucket and key of an `s3://bucket/key` URI (the key may be empty). */
export function parseS3Uri(uri: string): { bucket: string; key: string } {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!match) throw new TrainingJobRequestError('ValidationException', `'${uri}' is not an s3://bucket/prefix URI`);
  return { bucket: match[1]!, key: match[2]! };
}
