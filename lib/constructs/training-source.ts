import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';
import { tarFiles } from '../../src/core/training/tar.js';

const TRAINING_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'training');

/** The files of training/ the SageMaker job runs (the entry point is self-contained). */
export const TRAINING_SOURCE_FILES = ['train.py'] as const;

/**
 * `sourcedir.tar.gz` of the SageMaker entry point, as the framework containers expect it
 * (`sagemaker_submit_directory`), published as a CDK file asset. Built byte-for-byte reproducibly (fixed mtime,
 * gzip without a timestamp), so an unchanged train.py never re-uploads.
 */
export class TrainingSource extends Construct {
  public readonly asset: s3assets.Asset;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const archive = gzipSync(tarFiles(TRAINING_SOURCE_FILES.map((name) => ({ name, bytes: readFileSync(path.join(TRAINING_DIR, name)) }))));
    const dir = path.join(tmpdir(), `mlops-training-source-${createHash('sha256').update(archive).digest('hex').slice(0, 16)}`);
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'sourcedir.tar.gz');
    writeFileSync(file, archive);
    this.asset = new s3assets.Asset(this, 'Archive', { path: file });
  }
}
