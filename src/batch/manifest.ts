/** `manifests/<model>/<name>.json`: the account of one batch job. Written `running` first and `complete`/`failed` last. */
export interface BatchManifest {
  readonly status: 'running' | 'complete' | 'failed';
  readonly model: string;
  readonly name: string;
  readonly runId: string;
  readonly mode: 'single' | 'distributed';
  readonly modelVersion?: number;
  readonly input: {
    readonly bucket: string;
    readonly key: string;
    readonly versionId?: string;
    readonly etag?: string;
    readonly bytes: number;
    readonly sha256?: string;
    readonly format?: string;
    readonly compression?: 'gzip' | 'none';
  };
  /** Invariant on complete: in = scored + rejected. */
  readonly rows: { readonly in: number; readonly scored: number; readonly rejected: number };
  /** Input columns the model does not use (passed through to the scored file). */
  readonly ignoredColumns?: readonly string[];
  readonly outputs?: { readonly scored: string; readonly errors: string };
  readonly timings: { readonly startedAt: string; readonly finishedAt?: string; readonly millis?: number; readonly rowsPerSecond?: number };
  readonly parts?: number;
  /** Why the file failed (whole-file problems: unreadable, missing columns, unknown model...). */
  readonly error?: string;
}
