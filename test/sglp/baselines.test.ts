// The baselines (src/sglp/baselines.ts): the pure choices (seeded random, last, lowest score) with their
// errors, and, on the tiny random-weight cifar-resnet (10 units, protected 0, 4, 7), Block Influence and
// angular distance through pruneSglp against an f64 CPU computation on the reference forward's
// representations (test/nn/resnet-reference.ts), which is written apart from src/nn.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelDescription } from '../../src/arch/types.js';
import type { Gpu } from '../../src/gpu/device.js';
import { imageBatches } from '../../src/io/batches.js';
import type { ImageDataset } from '../../src/io/dataset.js';
import { Rng } from '../../src/io/prng.js';
import type { ParamStore } from '../../src/nn/params.js';
import { renderReportHtml } from '../../src/report/html.js';
import {
  chooseLast,
  chooseLowest,
  chooseRandom,
  RANDOM_STREAM,
  removableUnits,
} from '../../src/sglp/baselines.js';
import { calibrate } from '../../src/sglp/calibrate.js';
import { type PruneOptions, pruneSglp } from '../../src/sglp/families/image/prune.js';
import { parseReport, reportWithoutTimings } from '../../src/sglp/report/schema.js';
import { batchNormRef } from '../helpers/cnn-reference.js';
import { useGpu } from '../helpers/gpu.js';
import { tinyArrays, tinyConfig, tinyDataset, tinyDescription, tinyParams } from '../helpers/tiny-model.js';
import { resnetRef, to64 } from '../nn/resnet-reference.js';

const getGpu = useGpu();

describe('baseline choices', () => {
  const removable = [1, 2, 3, 5, 6, 8, 9];

  it('random: seeded, deterministic, R distinct removable units, ascending; the documented stream', () => {
    const a = chooseRandom(removable, 3, 0);
    expect(chooseRandom(removable, 3, 0)).toEqual(a);
    expect(a).toHaveLength(3);
    expect(new Set(a).size).toBe(3);
    expect(a.every((u) => removable.includes(u))).toBe(true);
    expect([...a].sort((x, y) => x - y)).toEqual(a);
    // The documented PRNG: a mulberry32 shuffle of the removable units on stream RANDOM_STREAM of the seed.
    const order = Rng.derive(7, RANDOM_STREAM).shuffle([...removable]);
    expect(chooseRandom(removable, 4, 7)).toEqual(order.slice(0, 4).sort((x, y) => x - y));
    // Other seeds draw other sets (over many seeds, more than one set appears).
    const sets = new Set(Array.from({ length: 20 }, (_, s) => chooseRandom(removable, 3, s).join(',')));
    expect(sets.size).toBeGreaterThan(5);
    expect(chooseRandom(removable, 0, 3)).toEqual([]);
    expect(chooseRandom(removable, 7, 3)).toEqual(removable);
  });

  it('last: the last R removable units', () => {
    expect(chooseLast(removable, 3)).toEqual([6, 8, 9]);
    expect(chooseLast(removable, 0)).toEqual([]);
  });

  it('lowest: the R lowest scores, ties to the earlier unit; unscored removable units are an error', () => {
    const scores = [null, 0.5, 0.1, 0.3, null, 0.1, 0.9, null, 0.2, 0.05];
    expect(chooseLowest('block-influence', removable, scores, 3)).toEqual([2, 5, 9]);
    expect(chooseLowest('angular', removable, scores, 4)).toEqual([2, 5, 8, 9]);
    const tie = [null, 0.1, 0.1, 0.1, null, 0.1, 0.1, null, 0.1, 0.1];
    expect(chooseLowest('angular', removable, tie, 2)).toEqual([1, 2]);
    expect(() => chooseLowest('angular', removable, [...scores.slice(0, 9), null], 1)).toThrow(
      /unit 9 has no finite score/,
    );
  });

  it('refuses budgets beyond the removable units, and bad seeds', () => {
    expect(() => chooseRandom(removable, 8, 0)).toThrow(
      /only 7 units are unprotected.*at most target\.remove 7/,
    );
    expect(() => chooseLast(removable, -1)).toThrow(/^target\.remove must be an integer >= 0/);
    expect(() => chooseRandom(removable, 2, 1.5)).toThrow(/^seed must be an integer/);
  });
});

describe('baselines through pruneSglp on the tiny model', () => {
  let gpu: Gpu;
  let desc: ModelDescription;
  let params: ParamStore;
  let train: ImageDataset;
  let test: ImageDataset;
  const normalize = tinyConfig().normalize;
  const options = (extra: Partial<PruneOptions>): PruneOptions => ({
    target: { remove: 3 },
    samples: 40,
    batch: 20,
    dataSpec: 'tiny',
    input: 'in',
    output: 'out',
    ...extra,
  });
  const run = (extra: Partial<PruneOptions>) =>
    pruneSglp({ gpu, desc, params, normalize, train, test }, options(extra));

  /** BI and angular per unit from the f64 reference forward of the same 40 calibration samples. */
  function referenceScores(): { bi: (number | null)[]; angular: (number | null)[] } {
    const p = to64(tinyArrays(desc));
    const L = desc.units.length;
    const cosSum = new Float64Array(L);
    const angSum = new Float64Array(L);
    let rows = 0;
    const net = desc.net;
    if (net.family !== 'resnet') throw new Error('expected a resnet');
    const bn = net.stem.bn;
    for (const b of imageBatches(train, { batchSize: 20, normalize, limit: 40 })) {
      const ref = resnetRef(desc, p, b.x, b.size, false);
      const stem = ref.units[0];
      const given = { mean: p[`${bn.name}.running_mean`], variance: p[`${bn.name}.running_var`] };
      const stemOut = batchNormRef(
        stem.data,
        stem.shape,
        p[`${bn.name}.weight`],
        p[`${bn.name}.bias`],
        bn.eps,
        given,
      );
      const goesOn = [stemOut.out.map((v) => Math.max(v, 0)), ...ref.units.slice(1).map((u) => u.data)];
      for (let u = 1; u < L; u++) {
        if (desc.units[u].protected) continue;
        const x = goesOn[u - 1];
        const y = ref.units[u].data;
        const width = y.length / b.size;
        for (let r = 0; r < b.size; r++) {
          let xy = 0;
          let xx = 0;
          let yy = 0;
          for (let k = r * width; k < (r + 1) * width; k++) {
            xy += x[k] * y[k];
            xx += x[k] * x[k];
            yy += y[k] * y[k];
          }
          const cos = xy / Math.sqrt(xx * yy);
          cosSum[u] += cos;
          angSum[u] += Math.acos(Math.min(1, cos)) / Math.PI;
        }
      }
      rows += b.size;
    }
    const unitsOf = (f: (u: number) => number) => desc.units.map((s) => (s.protected ? null : f(s.index)));
    return { bi: unitsOf((u) => 1 - cosSum[u] / rows), angular: unitsOf((u) => angSum[u] / rows) };
  }

  beforeAll(async () => {
    gpu = await getGpu();
    desc = tinyDescription();
    params = tinyParams(gpu, desc);
    train = tinyDataset('tiny train', 64, 1);
    test = tinyDataset('tiny test', 30, 2);
  });

  afterAll(() => {
    params?.dispose();
  });

  it('block-influence and angular scores match f64 on the reference representations; the lowest go', async () => {
    const ref = referenceScores();
    for (const [method, want] of [
      ['block-influence', ref.bi],
      ['angular', ref.angular],
    ] as const) {
      const r = parseReport(JSON.parse(JSON.stringify((await run({ method })).report)));
      expect(r.protocol.method).toBe(method);
      expect(r.protocol.importance).toBeNull();
      expect(r.importance).toBeUndefined();
      expect(r.unitScores?.kind).toBe(method);
      const got = r.unitScores?.scores ?? [];
      expect(got.map((s) => s === null)).toEqual(want.map((s) => s === null));
      got.forEach((s, u) => {
        if (s === null) return;
        // f32 features and dot products against f64: ~1e-8 seen here; 1e-6 leaves room across devices.
        expect(Math.abs(s - (want[u] as number)), `${method} unit ${u}`).toBeLessThan(1e-6);
      });
      // Scores on this model are far enough apart that the f64 ranking decides the same units.
      expect(r.removed).toEqual(chooseLowest(method, removableUnits(desc), want, 3));
      expect(r.removed.some((u) => desc.units[u].protected)).toBe(false);
      expect(r.notes.join(' ')).toMatch(/baseline does not use them/);
      const html = renderReportHtml(r);
      expect(html).toContain('id="unit-scores"');
      expect(html).not.toContain('id="importance"');
      // Same calibration samples as CKA: the matrix equals the one calibrate() gives.
      const calib = await calibrate(gpu, { desc, params, normalize, train }, { samples: 40, batch: 20 });
      expect(r.cka.matrix).toEqual(calib.cka.matrix);
    }
  });

  it('random is seeded and repeatable, last removes the last units, both validate', async () => {
    const a = await run({ method: 'random', seed: 11 });
    const b = await run({ method: 'random', seed: 11 });
    expect(reportWithoutTimings(b.report)).toEqual(reportWithoutTimings(a.report));
    expect(a.report.removed).toEqual(chooseRandom(removableUnits(desc), 3, 11));
    expect(a.report.protocol.seed).toBe(11);
    expect(a.report.unitScores).toBeUndefined();
    expect(a.report.notes.join(' ')).toMatch(/random baseline: seed 11/);
    expect(renderReportHtml(a.report)).not.toContain('id="unit-scores"');
    const last = (await run({ method: 'last' })).report;
    expect(removableUnits(desc)).toEqual([1, 2, 3, 5, 6, 8, 9]);
    expect(last.removed).toEqual([6, 8, 9]);
    expect(last.size.paramsAfter).toBeLessThan(last.size.paramsBefore);
    expect(last.metrics.after).toMatchObject({ samples: 30 });
  });

  it('baselines take --remove only, within the removable units; unknown methods are refused', async () => {
    await expect(run({ method: 'random', target: { keepPerSegment: [1, 2, 3] } })).rejects.toThrow(
      /^method random takes target\.remove R, not target\.keepPerSegment/,
    );
    await expect(run({ method: 'last', target: { remove: 8 } })).rejects.toThrow(
      /only 7 units are unprotected/,
    );
    await expect(run({ method: 'bogus' as never })).rejects.toThrow(/^method must be one of sglp, random/);
    await expect(run({ method: 'random', seed: 0.5 })).rejects.toThrow(/^seed must be an integer/);
  });
});
