import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';

/** sha256 / HMAC-SHA256 for the SigV4 signer, from node:crypto. */
type SourceData = string | ArrayBuffer | ArrayBufferView;

const toBuffer = (data: SourceData): Buffer =>
  typeof data === 'string' ? Buffer.from(data) : ArrayBuffer.isView(data) ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : Buffer.from(data);

class NodeSha256 {
  private readonly hash;
  constructor(secret?: SourceData) {
    this.hash = secret ? createHmac('sha256', toBuffer(secret)) : createHash('sha256');
  }
  update(data: SourceData): void {
    this.hash.update(toBuffer(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {}
}

export interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface SignableRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body?: string;
}

/**
 * Signs an HTTP request for API Gateway's IAM authorization (service `execute-api`), as any AWS client does.
 *
 * @example
 * const headers = await signRequest({ method: 'GET', url, headers: {} }, credentials, 'eu-west-1');
 */
export async function signRequest(request: SignableRequest, credentials: Credentials, region: string, signingDate?: Date): Promise<Record<string, string>> {
  const url = new URL(request.url);
  const signer = new SignatureV4({ credentials, region, service: 'execute-api', sha256: NodeSha256 });
  const signed = await signer.sign(
    {
      method: request.method,
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: { ...request.headers, host: url.host },
      ...(request.body !== undefined ? { body: request.body } : {}),
    },
    signingDate ? { signingDate } : {},
  );
  return signed.headers as Record<string, string>;
}

const AUTH = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/;

/**
 * Checks a SigV4 `Authorization` header the way API Gateway's IAM authorizer does: known access key, a
 * request time within 15 minutes, and a signature over the signed headers, path, query and body that matches.
 * Returns the access key id, or a reason for refusing.
 */
export async function verifySigV4(
  request: SignableRequest,
  lookup: (accessKeyId: string) => Credentials | undefined,
  now = Date.now(),
): Promise<{ ok: true; accessKeyId: string } | { ok: false; reason: string }> {
  const lower: Record<string, string> = {};
  for (const [k, v] of Object.entries(request.headers)) lower[k.toLowerCase()] = v;
  const match = AUTH.exec(lower.authorization ?? '');
  if (!match) return { ok: false, reason: 'Missing Authentication Token' };
  const [, accessKeyId, , region, service, signedHeaders, signature] = match as unknown as string[];
  if (service !== 'execute-api') return { ok: false, reason: 'Credential should be scoped to correct service: execute-api' };
  const credentials = lookup(accessKeyId!);
  if (!credentials) return { ok: false, reason: 'The security token included in the request is invalid.' };
  const amzDate = lower['x-amz-date'];
  const at = amzDate ? Date.parse(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z')) : Number.NaN;
  if (!Number.isFinite(at) || Math.abs(now - at) > 15 * 60_000) return { ok: false, reason: 'Signature expired or request time invalid' };
  const headers: Record<string, string> = {};
  for (const name of signedHeaders!.split(';')) if (lower[name] !== undefined) headers[name] = lower[name]!;
  const expected = await signRequest({ ...request, headers }, credentials, region!, new Date(at));
  const expectedSignature = /Signature=([0-9a-f]{64})/.exec(expected.authorization ?? '')?.[1] ?? '';
  const a = Buffer.from(expectedSignature);
  const b = Buffer.from(signature!);
  if (a.length !== b.length || !timingSafeEqual(a, b))
    return { ok: false, reason: 'The request signature we calculated does not match the signature you provided.' };
  return { ok: true, accessKeyId: accessKeyId! };
}
