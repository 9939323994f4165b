import type fs from 'node:fs/promises';
import { Writable } from 'node:stream';

/**
 * A Writable appending to an open handle that it never closes: the caller fsyncs and closes it.
 * (fs.WriteStream with autoClose off never reports close, which stalls `pipeline`.)
 */
export function fileSink(handle: fs.FileHandle): Writable {
  return new Writable({
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _encoding, done) {
      handle.write(chunk).then(
        () => done(),
        (err: Error) => done(err),
      );
    },
  });
}
