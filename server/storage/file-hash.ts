// sha256 of a file, streamed (model and LoRA files are gigabytes).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

export function sha256OfFile(file: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file, { highWaterMark: 1 << 20 })
      .on('data', (c) => h.update(c))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}
