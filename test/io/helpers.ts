// Small builders shared by the io tests.

/** A safetensors file from a raw header string and data bytes, as a hostile or broken writer might make it. */
export function rawSafetensors(
  header: string,
  data: Uint8Array = new Uint8Array(0),
  lengthOverride?: bigint,
): Uint8Array {
  const json = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + json.byteLength + data.byteLength);
  new DataView(out.buffer).setBigUint64(0, lengthOverride ?? BigInt(json.byteLength), true);
  out.set(json, 8);
  out.set(data, 8 + json.byteLength);
  return out;
}

export function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

export function ascii(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}
