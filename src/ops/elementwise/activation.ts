export type Activation = 'none' | 'relu' | 'silu' | 'gelu';

/** The defines shaders/activation.wgsl is specialised on. */
export function activationDefines(act: Activation): Record<string, boolean> {
  return { ACT_RELU: act === 'relu', ACT_SILU: act === 'silu', ACT_GELU: act === 'gelu' };
}
