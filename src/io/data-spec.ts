// `--data` specs (DESIGN.md): fashion-mnist[:DIR], mnist:DIR, cifar10:DIR, cifar100:DIR, text:FILE.

import { DataSpecError } from './errors.js';

export type ImageDataSpec =
  | { readonly kind: 'fashion-mnist'; readonly dir?: string }
  | { readonly kind: 'mnist' | 'cifar10' | 'cifar100'; readonly dir: string };

export type DataSpec = ImageDataSpec | { readonly kind: 'text'; readonly file: string };

export type DataKind = DataSpec['kind'];

export type Split = 'train' | 'test';

const USAGE = 'fashion-mnist[:DIR], mnist:DIR, cifar10:DIR, cifar100:DIR or text:FILE';

/** Parses a spec; the path is everything after the first colon, so it may itself contain colons. */
export function parseDataSpec(spec: string): DataSpec {
  const colon = spec.indexOf(':');
  const kind = colon < 0 ? spec : spec.slice(0, colon);
  const path = colon < 0 ? undefined : spec.slice(colon + 1);
  if (path === '') throw new DataSpecError(spec, `empty path after "${kind}:" (expected ${USAGE})`);
  switch (kind) {
    case 'fashion-mnist':
      return path === undefined ? { kind } : { kind, dir: path };
    case 'mnist':
    case 'cifar10':
    case 'cifar100':
      if (path === undefined) throw new DataSpecError(spec, `${kind} needs its directory: ${kind}:DIR`);
      return { kind, dir: path };
    case 'text':
      if (path === undefined) throw new DataSpecError(spec, 'text needs a file: text:FILE');
      return { kind, file: path };
    default:
      throw new DataSpecError(spec, `unknown data set "${kind}" (expected ${USAGE})`);
  }
}

export function isImageSpec(spec: DataSpec): spec is ImageDataSpec {
  return spec.kind !== 'text';
}

export function parseSplit(split: string): Split {
  if (split !== 'train' && split !== 'test') {
    throw new RangeError(`split must be "train" or "test", got "${split}"`);
  }
  return split;
}
