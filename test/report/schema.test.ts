import { describe, expect, it } from 'vitest';
import type { SegmentImportance } from '../../src/sglp/candidates.js';
import type { KeepRequest } from '../../src/sglp/keep-plan.js';
import {
  type Protocol,
  parseReport,
  type Report,
  ReportError,
  type ReportSegmentation,
  type ReportSegmentImportance,
  reportWithoutTimings,
} from '../../src/sglp/report/schema.js';
import type { Segmentation } from '../../src/sglp/segment.js';
import { asBaseline, llamaReport, resnet56Report, segmentSizes } from './fixture.js';

// The report's parts are the sglp stages' own results: these assignments fail to compile if they drift.
const _segmentation = (s: Segmentation): ReportSegmentation => s;
const _importance = (s: SegmentImportance): ReportSegmentImportance => s;
const _target = (k: KeepRequest): Protocol['target'] => k;

/** The message parseReport throws for `value`, or '' if it parses. */
function errorOf(value: unknown): string {
  try {
    parseReport(value);
    return '';
  } catch (e) {
    expect(e).toBeInstanceOf(ReportError);
    return (e as Error).message;
  }
}

/** A deep copy of the ResNet-56 report changed by `edit`. */
async function broken(edit: (r: Report) => void, base?: Report): Promise<unknown> {
  const r = structuredClone(base ?? (await resnet56Report()));
  edit(r);
  return r;
}

describe('sglp-report.json schema', () => {
  it('accepts a full ResNet-56 report as JSON text and as a value', async () => {
    const report = await resnet56Report({ finetune: true });
    expect(report.units).toHaveLength(28);
    expect(segmentSizes(report)).toEqual([3, 7, 14, 2, 2]);
    expect(report.removed).toHaveLength(14);
    expect(report.importance?.perSegment.map((p) => p.candidates.length)).toEqual([35, 66]);
    const text = JSON.stringify(report);
    expect(parseReport(text)).toEqual(JSON.parse(text));
    expect(parseReport(report)).toEqual(report);
  });

  it('accepts the optional importance.sharing counts, and only those fields', async () => {
    const sharing = {
      candidates: 66,
      unitForwards: 900,
      unitForwardsPlain: 2000,
      unitBackwards: 2000,
      readbacks: 66,
    };
    const ok = await broken((r) => {
      if (r.importance) r.importance.sharing = sharing;
    });
    expect(errorOf(ok)).toBe('');
    const bad = await broken((r) => {
      if (r.importance) r.importance.sharing = { ...sharing, readbacks: -1 };
    });
    expect(errorOf(bad)).toContain('field "importance.sharing.readbacks"');
  });

  it("accepts candidates a min search stopped: above the best (exhaustive), above their step's (greedy)", async () => {
    const ok = await broken((r) => {
      const p = r.importance?.perSegment[0];
      const c = p?.candidates.find((x) => x.score > p.best.score);
      if (c) c.lowerBound = true;
    });
    expect(errorOf(ok)).toBe('');
    const deep = await llamaReport(56);
    const greedy = deep.importance?.perSegment.find((p) => p.search === 'greedy');
    if (!greedy) throw new Error('expected a greedy segment');
    // A first step's candidate may stop below the final best: its bound was that step's best.
    const early = greedy.candidates.find((c) => c.score < greedy.best.score);
    if (!early) throw new Error('expected an early candidate scoring below the final best');
    early.lowerBound = true;
    expect(() => parseReport(JSON.stringify(deep))).not.toThrow();
  });

  it('accepts LLaMA reports (elbow rule, perplexity, greedy and exhaustive segments)', async () => {
    for (const layers of [12, 56]) {
      const report = await llamaReport(layers, { finetune: true });
      expect(() => parseReport(JSON.stringify(report))).not.toThrow();
    }
    const deep = await llamaReport(56);
    expect(deep.importance?.search).toBe('mixed');
  });

  it('accepts baselines without a search, with their unit scores', async () => {
    const base = await resnet56Report();
    for (const method of ['block-influence', 'angular'] as const) {
      const report = asBaseline(base, method);
      expect(() => parseReport(report)).not.toThrow();
    }
    const noScores = await broken(
      (r) => {
        r.unitScores = undefined;
      },
      asBaseline(base, 'angular'),
    );
    expect(errorOf(noScores)).toContain('field "unitScores": missing (method "angular" ranks units');
  });

  it('rejects text that is not JSON, naming the source', () => {
    expect(() => parseReport('{"version": 1,', 'out/sglp-report.json')).toThrow(
      /out\/sglp-report.json is not a valid sglp report.*\n {2}not valid JSON/,
    );
  });

  const cases: [string, (r: Report) => void, string][] = [
    ['a newer version', (r) => Object.assign(r, { version: 2 }), 'field "version": expected 1, got 2'],
    [
      'a missing section',
      (r) => Object.assign(r, { cka: undefined }),
      'field "cka": missing (expected object)',
    ],
    [
      'an unknown key',
      (r) => Object.assign(r.protocol, { segmnts: 5 }),
      'field "protocol.segmnts": is not a field',
    ],
    [
      'a wrong type',
      (r) => Object.assign(r.passes, { forward: '12' }),
      'field "passes.forward": expected number, got "12"',
    ],
    [
      'a unit out of place',
      (r) => Object.assign(r.units[3], { index: 4 }),
      'field "units[3].index": is 4, expected 3',
    ],
    [
      'a repeated name',
      (r) => Object.assign(r.units[5], { name: 'layer1.0' }),
      'field "units[5].name": "layer1.0" repeats units[1].name',
    ],
    [
      'a short matrix row',
      (r) => r.cka.matrix[3].pop(),
      'field "cka.matrix[3]": has 27 values, expected 28 (one per unit)',
    ],
    ['an asymmetric matrix', (r) => (r.cka.matrix[5][2] += 0.1), 'field "cka.matrix[5][2]":'],
    [
      'a diagonal not 1',
      (r) => (r.cka.matrix[4][4] = 0.99),
      'field "cka.matrix[4][4]": is 0.99, expected exactly 1',
    ],
    [
      'a NaN in the matrix',
      (r) => (r.cka.matrix[1][2] = Number.NaN),
      'field "cka.matrix[1][2]": expected number',
    ],
    ['row sums that disagree', (r) => (r.segmentation.rowSums[7] += 1), 'field "segmentation.rowSums[7]":'],
    [
      'a gap between segments',
      (r) => (r.segmentation.segments[2][0] = 11),
      'field "segmentation.segments[2][0]": starts at 11, expected 10',
    ],
    [
      'the wrong K',
      (r) => (r.segmentation.k = 4),
      'field "segmentation.segments": has 5 segments, but k is 4',
    ],
    [
      'the estimator twice, different',
      (r) => (r.cka.estimator = 'unbiased'),
      'field "cka.estimator": is "unbiased", but protocol.estimator is "biased"',
    ],
    [
      'batches that do not add up',
      (r) => (r.protocol.features.batches = 4),
      'field "protocol.features.batches": is 4, but 2500 samples in batches of 500 make 5',
    ],
    [
      'a protected unit removed',
      (r) => {
        r.removed = [...r.removed, 10].sort((a, b) => a - b);
        r.kept = r.kept.filter((u) => u !== 10);
      },
      'lists unit 10 (layer2.0), which is protected',
    ],
    [
      'a unit neither kept nor removed',
      (r) => (r.kept = r.kept.filter((u) => u !== 26)),
      'field "kept": with removed misses unit 26',
    ],
    [
      'unsorted indices',
      (r) => r.kept.reverse(),
      'field "kept[1]": is 26 after 27, expected distinct indices in ascending order',
    ],
    [
      'a remove count that differs',
      (r) => (r.protocol.target = { remove: 13 }),
      'field "removed": lists 14 units, but protocol.target.remove is 13',
    ],
    [
      'both targets',
      (r) => (r.protocol.target = { remove: 14, keepPerSegment: [3] } as never),
      'field "protocol.target.keepPerSegment": is not a field',
    ],
    [
      'accuracy in percent',
      (r) => (r.metrics.after = { accuracy: 45.5, loss: 1.7, samples: 10000 }),
      'field "metrics.after.accuracy": expected number to be <=1, got 45.5',
    ],
    [
      'perplexity for a classifier',
      (r) => (r.metrics.after = { perplexity: 3, nll: Math.log(3), tokens: 10 }),
      'field "metrics.after": expected {accuracy, loss, samples} for architecture "cifar-resnet"',
    ],
    [
      'fine-tuned metrics without fine-tuning',
      (r) => (r.metrics.afterFinetune = r.metrics.after),
      'field "metrics.afterFinetune": is present, but protocol.finetune is null',
    ],
    [
      'a best that select would not pick',
      (r) => {
        const p = r.importance?.perSegment[1];
        if (p) p.best = p.candidates.find((c) => c.score !== p.best.score) ?? p.best;
      },
      'field "importance.perSegment[1].best.units":',
    ],
    [
      'a stopped candidate whose lower bound does not exceed the best',
      (r) => {
        const p = r.importance?.perSegment[0];
        const c = p?.candidates.find((x) => x.score !== p.best.score);
        if (p && c) Object.assign(c, { score: p.best.score, lowerBound: true });
      },
      'lowerBound": is set, but only a min search stops candidates, above the best score',
    ],
    [
      'a candidate left out',
      (r) => r.importance?.perSegment[0].candidates.pop(),
      'field "importance.perSegment[0].candidates": has 34 candidates, but an exhaustive search has 35',
    ],
    [
      'a candidate without its protected unit',
      (r) => {
        const p = r.importance?.perSegment[1];
        if (p) p.candidates[0].units = p.candidates[0].units.filter((u) => u !== 19);
      },
      'lacks protected unit 19 (layer3.0)',
    ],
    [
      'a sglp run without its search',
      (r) => (r.importance = undefined),
      'field "importance": missing (protocol.importance is set)',
    ],
    [
      'MACs that grew',
      (r) => (r.size.macsAfter = r.size.macsBefore + 1),
      'field "size.macsAfter": is 95849345, more than macsBefore 95849344',
    ],
    [
      'a negative time',
      (r) => (r.timings.ckaMs = -1),
      'field "timings.ckaMs": expected number to be >=0, got -1',
    ],
  ];
  for (const [what, edit, message] of cases) {
    it(`rejects ${what}, naming the field`, async () => {
      expect(errorOf(await broken(edit))).toContain(message);
    });
  }

  it('checks the elbow rule and perplexity = exp(nll) of a language model', async () => {
    const llama = await llamaReport(12);
    const elbow = await broken((r) => {
      r.segmentation.k = 5;
      r.segmentation.segments = r.segmentation.segments
        .slice(0, 4)
        .concat([[r.segmentation.segments[4][0], 12]]);
    }, llama);
    expect(errorOf(elbow)).toContain('field "segmentation.k": is 5, but the elbow rule on lossByK gives 6');
    const ppl = await broken((r) => {
      if ('nll' in r.metrics.before) r.metrics.before.nll = Math.log2(r.metrics.before.perplexity);
    }, llama);
    expect(errorOf(ppl)).toContain('field "metrics.before.perplexity": is 5.81');
  });

  it('lists every problem, one line each', async () => {
    const r = await broken((r) => {
      r.units[0].params = -1;
      r.device = { vendor: 'x' } as never;
    });
    const message = errorOf(r);
    expect(message).toContain('field "units[0].params": expected number to be >=0, got -1');
    expect(message).toContain('field "device.architecture": missing (expected string)');
    expect(message.split('\n').length).toBe(4);
  });
});

describe('reportWithoutTimings', () => {
  it('makes two runs that differ only in time compare equal', async () => {
    const a = await resnet56Report();
    const b = structuredClone(a);
    b.timings.importanceMs *= 1.1;
    b.timings.totalMs += 1;
    expect(a).not.toEqual(b);
    expect(reportWithoutTimings(a)).toEqual(reportWithoutTimings(b));
    expect('timings' in reportWithoutTimings(a)).toBe(false);
    expect(a.timings.totalMs).toBeGreaterThan(0);
  });

  it('still tells runs with different results apart', async () => {
    const a = await resnet56Report({ seed: 1 });
    const b = await resnet56Report({ seed: 2 });
    expect(reportWithoutTimings(a)).not.toEqual(reportWithoutTimings(b));
  });
});
