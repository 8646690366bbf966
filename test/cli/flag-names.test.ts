// The library's option errors name option fields; the command line rewords them with its flags through one
// table (src/cli/flag-names.ts). Each setting resolveSettings checks, given a bad value: the library's
// message starts with the field, the reworded one with the flag, every other word unchanged.

import { describe, expect, it } from 'vitest';
import { asFlagError, FLAG_OF, flagOf } from '../../src/cli/flag-names.js';
import { OptionError } from '../../src/io/option-error.js';
import { SGLP_DEFAULTS } from '../../src/sglp/families/image/defaults.js';
import { planKeep } from '../../src/sglp/keep-plan.js';
import { resolveSettings, type SettingsOptions } from '../../src/sglp/search-stage.js';
import { segmentSequence } from '../../src/sglp/segment.js';
import { tinyDescription } from '../helpers/tiny-model.js';

function thrown(f: () => unknown): OptionError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(OptionError);
    return e as OptionError;
  }
  throw new Error('expected an OptionError');
}

describe('option errors on the command line', () => {
  const desc = tinyDescription();
  const settings = (o: Partial<SettingsOptions>) => () =>
    resolveSettings({ target: { remove: 1 }, ...o }, SGLP_DEFAULTS, desc);

  const cases: [string, () => unknown][] = [
    ['samples', settings({ samples: 0 })],
    ['batch', settings({ batch: 1.5 })],
    ['gradnormBatches', settings({ gradnormBatches: -1 })],
    ['gradnormBatchSize', settings({ gradnormBatchSize: 0 })],
    ['maxExhaustive', settings({ maxExhaustive: 0 })],
    ['evalLimit', settings({ evalLimit: 0 })],
    ['seed', settings({ seed: 0.5 })],
    ['score', settings({ score: 'fisher' as never })],
    ['select', settings({ score: 'loss', select: 'max' })],
    ['method', settings({ method: 'bogus' as never })],
    ['target.remove', () => planKeep([[0, 4]], [], { remove: -1 }, { stem: null })],
    ['target.keepPerSegment', () => planKeep([[0, 4]], [], { keepPerSegment: [1, 1] }, { stem: null })],
    ['segments', () => segmentSequence([1, 2, 3], { segments: 4 })],
  ];
  for (const [field, f] of cases) {
    it(`${field}: the library names the field, the command line ${FLAG_OF[field]}`, () => {
      const e = thrown(f);
      expect(e.field).toBe(field);
      const library = e.message;
      expect(library.startsWith(`${field} `) || library.startsWith(`${field}:`)).toBe(true);
      const cli = (asFlagError(e) as Error).message;
      // Every field the message names becomes its flag; the words around them stay.
      const want = e.fields.reduce(
        (m, f) => m.replace(new RegExp(`(?<![\\w.-])${f.replace('.', '\\.')}(?![\\w])`, 'g'), flagOf(f)),
        library,
      );
      expect(cli).toBe(want);
      expect(cli.startsWith('--')).toBe(true);
    });
  }

  it('has a flag for every field it is asked about, and leaves other errors alone', () => {
    expect(flagOf('gradnormBatchSize')).toBe('--gradnorm-batch-size');
    expect(flagOf('finetune.samples')).toBe('--finetune-samples');
    const plain = new Error('samples 3');
    expect(asFlagError(plain)).toBe(plain);
    expect(plain.message).toBe('samples 3');
  });
});
