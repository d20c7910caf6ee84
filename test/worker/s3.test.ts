// The object-store client against the lab's MinIO: multipart parts go unsigned but with a CRC32 the
// store checks, so a part damaged after it left Lifeboat is refused at upload time.
import { randomBytes } from 'node:crypto';
import { DeleteObjectCommand, GetObjectCommand, ListMultipartUploadsCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { createS3Client } from '../../worker/s3.js';
import { labConfig } from '../helpers/lab.js';

const config = labConfig();
const bucket = config.objectStore.bucket;
const partSize = 5 * 1024 * 1024;

interface Sent {
  command: string;
  contentSha256: string | undefined;
  crc32: string | undefined;
}

/** Records the headers each request went out with (after signing). */
function recordRequests(s3: S3Client): Sent[] {
  const sent: Sent[] = [];
  s3.middlewareStack.add(
    (next, context) => async (args) => {
      const headers = (args.request as { headers: Record<string, string> }).headers;
      sent.push({ command: context.commandName!, contentSha256: headers['x-amz-content-sha256'], crc32: headers['x-amz-checksum-crc32'] });
      return next(args);
    },
    { step: 'finalizeRequest', name: 'testRecordRequests', priority: 'low' },
  );
  return sent;
}

async function incompleteUploads(s3: S3Client, key: string): Promise<number> {
  const page = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key }));
  return (page.Uploads ?? []).filter((u) => u.Key === key).length;
}

describe('object-store client', () => {
  let s3: S3Client;
  const keys: string[] = [];
  const newKey = (name: string) => {
    const key = `test/s3/${Date.now()}-${name}`;
    keys.push(key);
    return key;
  };

  beforeEach(() => {
    s3 = createS3Client(config);
  });
  afterEach(async () => {
    for (const Key of keys.splice(0)) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key }));
    s3.destroy();
  });

  it('sends multipart parts unsigned with a CRC32, signs everything else, and stores the bytes intact', async () => {
    const sent = recordRequests(s3);
    const body = randomBytes(2 * partSize + 12345);
    const key = newKey('parts');
    await new Upload({ client: s3, params: { Bucket: bucket, Key: key, Body: body }, partSize, queueSize: 2 }).done();

    const parts = sent.filter((s) => s.command === 'UploadPartCommand');
    expect(parts).toHaveLength(3);
    for (const part of parts) {
      expect(part.contentSha256).toBe('UNSIGNED-PAYLOAD');
      expect(part.crc32).toMatch(/^[A-Za-z0-9+/]{6}==$/);
    }
    const others = sent.filter((s) => s.command !== 'UploadPartCommand');
    expect(others.map((s) => s.command)).toEqual(['CreateMultipartUploadCommand', 'CompleteMultipartUploadCommand']);
    for (const other of others) expect(other.contentSha256).toMatch(/^[0-9a-f]{64}$/);

    const stored = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    expect(Buffer.from(await stored.Body!.transformToByteArray()).equals(body)).toBe(true);
  });

  it('a part whose bytes change after its CRC32 was computed is refused by the store, and no upload is left', async () => {
    // Flip one byte of the second part on its way out, after checksumming and signing.
    s3.middlewareStack.add(
      (next, context) => async (args) => {
        const request = args.request as { query?: Record<string, string>; body?: unknown };
        if (context.commandName === 'UploadPartCommand' && request.query?.partNumber === '2' && Buffer.isBuffer(request.body)) {
          const damaged = Buffer.from(request.body);
          damaged[1000] = damaged[1000]! ^ 0xff;
          request.body = damaged;
        }
        return next(args);
      },
      { step: 'finalizeRequest', name: 'testDamagePart', priority: 'low' },
    );
    const key = newKey('damaged');
    const upload = new Upload({
      client: s3,
      params: { Bucket: bucket, Key: key, Body: randomBytes(2 * partSize + 1) },
      partSize,
      queueSize: 1,
      leavePartsOnError: false,
    });

    const refused = await upload.done().then(
      () => undefined,
      (err: unknown) => err as Error,
    );
    // MinIO's answer to a part whose CRC32 does not match its bytes.
    expect(refused?.name).toBe('XAmzContentChecksumMismatch');
    expect(await incompleteUploads(s3, key)).toBe(0);
  });
});
