/**
 * The DynamoDB tables and S3 buckets the system needs, described once.
 *
 * The CDK stacks (`lib/`) and the local runtime (`src/local/`) both build their resources from these
 * definitions, so the tables dynalite serves locally have exactly the key schema the deployed ones have.
 * Pure data: no SDK or CDK imports.
 */

export interface KeyAttribute {
  readonly name: string;
  readonly type: 'S' | 'N';
}

export interface IndexDefinition {
  readonly indexName: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey?: KeyAttribute;
}

export interface TableDefinition {
  /** Logical name; the physical name comes from configuration (`REGISTRY_TABLE`, ...). */
  readonly id: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey?: KeyAttribute;
  readonly globalSecondaryIndexes: readonly IndexDefinition[];
  /** Attribute holding an epoch-seconds expiry for DynamoDB TTL cleanup, if any. */
  readonly timeToLiveAttribute?: string;
}

/**
 * Model registry: one partition per model.
 *
 * | pk              | sk                        | item                                     |
 * |-----------------|---------------------------|------------------------------------------|
 * | `MODEL#<name>`  | `STATE`                   | deployment state + version counter       |
 * | `MODEL#<name>`  | `VERSION#<000000000N>`    | immutable model-version record           |
 * | `MODEL#<name>`  | `AUDIT#<iso time>#<rev>`  | one audit record per deployment change   |
 *
 * GSI `gsi1` (`gsi1pk = "MODELS"`, `gsi1sk = <name>`) lists models without a scan.
 */
export const registryTable: TableDefinition = {
  id: 'Registry',
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'S' },
  globalSecondaryIndexes: [
    {
      indexName: 'gsi1',
      partitionKey: { name: 'gsi1pk', type: 'S' },
      sortKey: { name: 'gsi1sk', type: 'S' },
    },
  ],
};

/**
 * Idempotency records (Powertools idempotency, DynamoDB persistence): one item per handled event key, e.g.
 * `batch-score#<bucket>/<key>@<versionId or etag>`. `expiration` (epoch seconds) drives TTL cleanup on AWS.
 */
export const idempotencyTable: TableDefinition = {
  id: 'Idempotency',
  partitionKey: { name: 'id', type: 'S' },
  globalSecondaryIndexes: [],
  timeToLiveAttribute: 'expiration',
};

/**
 * Online feature store: the latest values of each feature view per entity.
 *
 * | pk                          | sk             | item                                               |
 * |-----------------------------|----------------|----------------------------------------------------|
 * | `<entity name>#<entity id>` | `VIEW#<view>`  | `values` (map), `eventTime` (ms), `expiresAt` (s)  |
 *
 * Freshness is enforced on read (dynalite has no TTL); `expiresAt` lets DynamoDB TTL clean up on AWS.
 */
export const featureTable: TableDefinition = {
  id: 'Features',
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'S' },
  globalSecondaryIndexes: [],
  timeToLiveAttribute: 'expiresAt',
};

export const tables = [registryTable, idempotencyTable, featureTable] as const;

/** Model artifacts, datasets and captures. */
export const artifactBucket = { id: 'Artifacts' } as const;

/** Batch scoring: files dropped under incoming/, results under scored/, errors/, manifests/ (see src/batch/layout.ts). */
export const batchBucket = { id: 'Batch' } as const;
