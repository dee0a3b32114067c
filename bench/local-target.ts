import { getDocumentClient, getS3Client } from '../src/aws/clients.js';
import { DynamoDbModelRegistry } from '../src/aws/dynamodb-model-registry.js';
import { S3ObjectStore } from '../src/aws/s3-object-store.js';
import { localResourceNames } from '../src/local/resources.js';

export const localRegistry = () => new DynamoDbModelRegistry(getDocumentClient(), localResourceNames.REGISTRY_TABLE);
export const localStore = () => new S3ObjectStore(getS3Client(), localResourceNames.ARTIFACT_BUCKET);
