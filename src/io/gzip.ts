// gzip through the web-standard DecompressionStream (Node >= 18, browsers, Deno): no zlib binding needed.

import { FormatError } from './errors.js';

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.byteLength >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Decompresses gzip bytes; corrupt or truncated data is an error naming `file`. */
export async function gunzip(bytes: Uint8Array, file: string): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>])
    .stream()
    .pipeThrough(new DecompressionStream('gzip'));
  try {
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (err) {
    throw new FormatError(file, `gzip data is corrupt or truncated (${(err as Error).message})`);
  }
}

/** The bytes themselves, or their decompression when they start with the gzip magic. */
export function maybeGunzip(bytes: Uint8Array, file: string): Promise<Uint8Array> {
  return isGzip(bytes) ? gunzip(bytes, file) : Promise.resolve(bytes);
}
