import { KernelError } from './errors.js';
import { type Defines, specialise } from './shader.js';

/** A kernel family (one WGSL file) and the values it is specialised on. */
export interface KernelSpec {
  name: string;
  template: string;
  defines: Defines;
}

/** The cache key lists exactly what changes the code: the family and its sorted defines. */
export function pipelineKey(spec: KernelSpec): string {
  const defs = Object.keys(spec.defines)
    .sort()
    .map((k) => `${k}=${spec.defines[k]}`);
  return `${spec.name}(${defs.join(',')})`;
}

export class PipelineCache {
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private checks: Promise<KernelError | undefined>[] = [];

  constructor(private readonly device: GPUDevice) {}

  get size(): number {
    return this.pipelines.size;
  }

  /** Synchronous so dispatches can be recorded without awaiting; compile errors surface in errors(). */
  get(spec: KernelSpec): GPUComputePipeline {
    const key = pipelineKey(spec);
    let pipeline = this.pipelines.get(key);
    if (!pipeline) {
      const code = specialise(spec.template, spec.defines);
      this.device.pushErrorScope('validation');
      const module = this.device.createShaderModule({ code, label: key });
      pipeline = this.device.createComputePipeline({ layout: 'auto', compute: { module }, label: key });
      this.checks.push(
        this.device.popErrorScope().then((e) => {
          if (!e) return undefined;
          this.pipelines.delete(key); // the next use recompiles and reports the real error again
          return new KernelError(key, e.message);
        }),
      );
      this.pipelines.set(key, pipeline);
    }
    return pipeline;
  }

  /** The first compile error among pipelines created since the last call, if any. */
  async firstError(): Promise<KernelError | undefined> {
    const checks = this.checks;
    this.checks = [];
    return (await Promise.all(checks)).find((e) => e !== undefined);
  }

  /** Compiles ahead of use and turns WGSL errors into a KernelError naming the kernel and line. */
  async compile(spec: KernelSpec): Promise<GPUComputePipeline> {
    const key = pipelineKey(spec);
    const cached = this.pipelines.get(key);
    if (cached) return cached;
    const code = specialise(spec.template, spec.defines);
    const module = this.device.createShaderModule({ code, label: key });
    const info = await module.getCompilationInfo();
    const errors = info.messages.filter((m) => m.type === 'error');
    if (errors.length > 0) {
      const lines = code.split('\n');
      const text = errors.map(
        (m) => `line ${m.lineNum}: ${m.message}\n  ${lines[m.lineNum - 1]?.trim() ?? ''}`,
      );
      throw new KernelError(key, `WGSL compile error\n${text.join('\n')}`);
    }
    try {
      const pipeline = await this.device.createComputePipelineAsync({
        layout: 'auto',
        compute: { module },
        label: key,
      });
      this.pipelines.set(key, pipeline);
      return pipeline;
    } catch (e) {
      throw new KernelError(key, (e as Error).message);
    }
  }
}
