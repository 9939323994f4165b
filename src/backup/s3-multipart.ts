import {
  AbortMultipartUploadCommand,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';

/** S3's limits on a multipart upload. */
export const S3_MAX_PARTS = 10_000;
export const S3_MIN_PART_BYTES = 5 << 20;

/** How {@link putStream} cuts and sends a stream. */
export interface MultipartPlan {
  readonly client: S3Client;
  readonly bucket: string;
  readonly key: string;
  /** Bytes per part (every part but the last; at least S3's 5 MiB). */
  readonly partBytes: number;
  /** Parts on their way to the server at once. */
  readonly queueSize: number;
  readonly signal?: AbortSignal | undefined;
}

/**
 * The part size for an object of at most `maxBytes` (when known): `partBytes`, or more when that
 * many bytes would need more than S3's 10,000 parts (with a margin), in whole MiB.
 */
export function partBytesFor(partBytes: number, maxBytes: number | undefined): number {
  const floor = Math.max(partBytes, S3_MIN_PART_BYTES);
  if (maxBytes === undefined) return floor;
  const needed = Math.ceil(maxBytes / (S3_MAX_PARTS - 100) / (1 << 20)) * (1 << 20);
  return Math.max(floor, needed);
}

/**
 * Stores `body` under one key. Bytes are copied as they arrive into a fixed set of part buffers
 * (`queueSize` being sent, one filling), each reused once its part is stored, so memory is that
 * set and nothing else: no per-part allocation for the collector to catch up with, and the
 * stream's chunks are free again as soon as they are copied. A body that fits in one part goes
 * up as a single PutObject; a larger one as a multipart upload, which the server shows only
 * once completed and which is aborted when anything fails, so no half-object is ever visible.
 * Bodies are buffers, so the SDK retries a failed part with its own backoff.
 */
export async function putStream(plan: MultipartPlan, body: AsyncIterable<Buffer>): Promise<void> {
  const { client, bucket, key } = plan;
  const stop = new AbortController();
  const signal = plan.signal ? AbortSignal.any([plan.signal, stop.signal]) : stop.signal;
  const buffers = new PartBuffers(plan.partBytes, plan.queueSize + 1);
  const sending = new Set<Promise<void>>();
  const parts: CompletedPart[] = [];
  let uploadId: string | undefined;
  let partNumbers = 0;
  let failure: unknown;
  let current = await buffers.take();
  let filled = 0;

  const sendPart = (buffer: Buffer, length: number): void => {
    const PartNumber = ++partNumbers;
    if (PartNumber > S3_MAX_PARTS)
      throw new Error(
        `the object needs more than ${S3_MAX_PARTS} parts of ${plan.partBytes} bytes (S3's limit)`,
      );
    const sent = client
      .send(
        new UploadPartCommand({
          Bucket: bucket,
          Key: key,
          UploadId: uploadId,
          PartNumber,
          Body: buffer.subarray(0, length),
          ContentLength: length,
        }),
        { abortSignal: signal },
      )
      .then(
        (out) => {
          parts.push({ PartNumber, ETag: out.ETag });
          buffers.give(buffer);
        },
        (err: unknown) => {
          failure ??= err;
          stop.abort();
          buffers.give(buffer);
        },
      )
      .finally(() => sending.delete(sent));
    sending.add(sent);
  };

  try {
    for await (const chunk of body) {
      let offset = 0;
      while (offset < chunk.length) {
        const n = Math.min(chunk.length - offset, current.length - filled);
        chunk.copy(current, filled, offset, offset + n);
        filled += n;
        offset += n;
        if (filled < current.length) continue;
        if (uploadId === undefined) {
          const created = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }), {
            abortSignal: signal,
          });
          uploadId = created.UploadId;
          if (!uploadId) throw new Error('the server gave no upload id for the multipart upload');
        }
        sendPart(current, filled);
        current = await buffers.take();
        filled = 0;
        if (failure !== undefined) throw failure;
      }
      if (signal.aborted) throw failure ?? signal.reason;
    }
    if (uploadId === undefined) {
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: current.subarray(0, filled),
          ContentLength: filled,
        }),
        { abortSignal: signal },
      );
      return;
    }
    if (filled > 0) sendPart(current, filled);
    await Promise.all([...sending]);
    if (failure !== undefined) throw failure;
    parts.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
    await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId: uploadId,
        MultipartUpload: { Parts: parts },
      }),
      { abortSignal: signal },
    );
    uploadId = undefined; // completed: nothing to abort
  } catch (err) {
    const cause = failure ?? err; // before the abort below makes every part in flight fail too
    stop.abort();
    await Promise.allSettled([...sending]);
    if (uploadId !== undefined) {
      // Not under the caller's signal: an upload cancelled by it must still be aborted, or its
      // parts stay stored (and billed) on the server until a lifecycle rule removes them.
      await client
        .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }))
        .catch(() => {});
    }
    throw cause;
  }
}

/** At most `count` buffers of `bytes`, made on first need and handed round. */
class PartBuffers {
  readonly #bytes: number;
  #left: number;
  readonly #free: Buffer[] = [];
  readonly #waiting: ((buffer: Buffer) => void)[] = [];

  constructor(bytes: number, count: number) {
    this.#bytes = bytes;
    this.#left = count;
  }

  take(): Promise<Buffer> {
    const free = this.#free.pop();
    if (free) return Promise.resolve(free);
    if (this.#left > 0) {
      this.#left--;
      return Promise.resolve(Buffer.allocUnsafeSlow(this.#bytes));
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  give(buffer: Buffer): void {
    const waiter = this.#waiting.shift();
    if (waiter) waiter(buffer);
    else this.#free.push(buffer);
  }
}
