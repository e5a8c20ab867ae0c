/**
 * Decoding an uplink request body (fastify `preParsing`): optional gzip, with hard caps on
 * both the bytes on the wire (LIMITS.maxCompressedBytes) and the bytes after decompression
 * (LIMITS.maxBatchBytes), counted as they stream — a small gzip can inflate a thousandfold
 * (a "zip bomb"), so the decoded size is capped while inflating, not after.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { LIMITS } from '../../../protocol/v1.js';
import { CloudError } from '../plugins/errors.js';

/** A stream that passes bytes through and fails once more than `cap` have passed. */
class ByteCap extends Transform {
  bytes = 0;
  /** Read by fastify to check Content-Length when the body is decoded (set on the last stream only). */
  receivedEncodedLength?: number;
  constructor(
    private readonly cap: number,
    private readonly what: string,
    private readonly onBytes: (bytes: number) => void = () => undefined,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    this.onBytes(this.bytes);
    if (this.bytes > this.cap) {
      callback(new CloudError('CS_ERR_BATCH_TOO_LARGE', `the batch is over ${this.cap} bytes ${this.what}; send smaller batches`));
      return;
    }
    callback(null, chunk);
  }
}

/** The stream fastify parses, with the count of wire bytes fastify checks against Content-Length. */
type DecodedStream = Readable & { receivedEncodedLength?: number };

/**
 * Returns the decoded body stream for fastify to parse. Throws (before reading anything)
 * CS_ERR_BATCH_TOO_LARGE for a Content-Length over the wire cap and CS_ERR_MEDIA_TYPE for
 * an encoding other than gzip or identity; the stream fails with CS_ERR_BATCH_TOO_LARGE or
 * CS_ERR_BATCH_ENCODING (corrupt or truncated gzip).
 */
export function decodeBatchBody(headers: IncomingHttpHeaders, payload: Readable): DecodedStream {
  const length = Number(headers['content-length']);
  if (Number.isFinite(length) && length > LIMITS.maxCompressedBytes) {
    throw new CloudError('CS_ERR_BATCH_TOO_LARGE', `the request body is ${length} bytes, over the ${LIMITS.maxCompressedBytes}-byte limit; send smaller batches`);
  }
  const encoding = (headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (encoding === 'identity' || encoding === '') {
    const capped = new ByteCap(LIMITS.maxCompressedBytes, 'on the wire');
    payload.on('error', (err) => capped.destroy(err));
    return payload.pipe(capped);
  }
  if (encoding !== 'gzip' && encoding !== 'x-gzip') {
    throw new CloudError('CS_ERR_MEDIA_TYPE', `Content-Encoding "${encoding}" is not supported: send gzip, or no Content-Encoding`);
  }

  const out = new ByteCap(LIMITS.maxBatchBytes, 'after decompression');
  const wire = new ByteCap(LIMITS.maxCompressedBytes, 'on the wire', (bytes) => {
    out.receivedEncodedLength = bytes;
  });
  const gunzip = createGunzip();
  const fail = (err: Error): void => {
    payload.unpipe(wire);
    wire.unpipe(gunzip);
    gunzip.unpipe(out);
    gunzip.destroy();
    if (!out.destroyed) out.destroy(err);
  };
  payload.on('error', fail);
  wire.on('error', fail);
  gunzip.on('error', (cause: Error) => fail(new CloudError('CS_ERR_BATCH_ENCODING', `the body is not valid gzip: ${cause.message}`, { cause })));
  out.on('error', fail);
  payload.pipe(wire).pipe(gunzip).pipe(out);
  return out;
}
