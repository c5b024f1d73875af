/**
 * JSON-schema support for the test engine: which schemas it can honour, and a deterministic
 * generator of values that validate against them. It stands in for the guided decoding real
 * engines do (vLLM's xgrammar/outlines, llama.cpp's GBNF) for `response_format: json_schema`
 * and tool-call arguments. A schema using a feature the generator cannot guarantee is refused
 * up front, naming the keyword and where it is, instead of answering JSON that might not validate.
 */
export type JsonSchema = { [key: string]: unknown };

/** Keywords the generator honours (or that carry no constraint: annotations). */
const SUPPORTED = new Set([
  'type', 'properties', 'required', 'additionalProperties', 'items', 'enum', 'const',
  'minItems', 'maxItems', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum',
  'minLength', 'maxLength', 'format', 'anyOf', 'oneOf', '$ref', '$defs', 'definitions', 'nullable',
  // annotations: no effect on validity
  '$schema', '$id', '$comment', 'title', 'description', 'default', 'examples', 'deprecated', 'readOnly', 'writeOnly',
]);
const TYPES = new Set(['object', 'array', 'string', 'number', 'integer', 'boolean', 'null']);
const FORMATS = new Set(['date-time', 'date', 'time', 'email', 'uri', 'uuid', 'ipv4', 'hostname']);
const MAX_DEPTH = 12;

/** checkSupportedSchema, then one trial generation: catches schemas that only infinite values satisfy. */
export function checkGeneratable(schema: unknown): void {
  checkSupportedSchema(schema);
  let state = 0;
  generateFromSchema(schema, () => (state = (state + 0.6180339887) % 1), ['probe']);
}

export class UnsupportedSchemaError extends Error {
  constructor(message: string, readonly pointer: string) {
    super(message);
  }
}

/** Throws UnsupportedSchemaError naming the first feature the generator cannot honour. */
export function checkSupportedSchema(schema: unknown): void {
  const root = asSchema(schema, '#');
  const seenRefs = new Set<string>();
  const visit = (node: unknown, pointer: string): void => {
    if (typeof node === 'boolean') return;
    const s = asSchema(node, pointer);
    for (const key of Object.keys(s)) {
      if (!SUPPORTED.has(key)) throw new UnsupportedSchemaError(`JSON-schema keyword "${key}" at ${pointer} is not supported by this engine (supported: ${[...SUPPORTED].filter((k) => !k.startsWith('$') || k === '$ref' || k === '$defs').join(', ')})`, pointer);
    }
    if (s.type !== undefined) {
      const types = Array.isArray(s.type) ? s.type : [s.type];
      for (const t of types) if (typeof t !== 'string' || !TYPES.has(t)) throw new UnsupportedSchemaError(`"type" at ${pointer} must be one of ${[...TYPES].join(', ')}; got ${JSON.stringify(t)}`, pointer);
    }
    if (s.format !== undefined && !FORMATS.has(String(s.format))) throw new UnsupportedSchemaError(`string format "${String(s.format)}" at ${pointer} is not supported (supported: ${[...FORMATS].join(', ')})`, pointer);
    if (s.enum !== undefined && (!Array.isArray(s.enum) || s.enum.length === 0)) throw new UnsupportedSchemaError(`"enum" at ${pointer} must be a non-empty array`, pointer);
    if (s.required !== undefined && (!Array.isArray(s.required) || s.required.some((r) => typeof r !== 'string'))) throw new UnsupportedSchemaError(`"required" at ${pointer} must be an array of property names`, pointer);
    if (Array.isArray(s.required) && s.properties && typeof s.properties === 'object') {
      for (const r of s.required as string[]) {
        if (!(r in (s.properties as object)) && s.additionalProperties === false) throw new UnsupportedSchemaError(`required property "${r}" at ${pointer} is not in "properties" and additionalProperties is false: no object can satisfy it`, pointer);
      }
    }
    if (typeof s.minItems === 'number' && typeof s.maxItems === 'number' && s.minItems > s.maxItems) throw new UnsupportedSchemaError(`minItems > maxItems at ${pointer}`, pointer);
    if (typeof s.minLength === 'number' && typeof s.maxLength === 'number' && s.minLength > s.maxLength) throw new UnsupportedSchemaError(`minLength > maxLength at ${pointer}`, pointer);
    if (typeof s.$ref === 'string') {
      if (!seenRefs.has(s.$ref)) {
        seenRefs.add(s.$ref);
        visit(resolveRef(root, s.$ref, pointer), s.$ref);
      }
    }
    for (const [key, value] of Object.entries(s)) {
      if (key === 'properties' || key === '$defs' || key === 'definitions') {
        if (typeof value !== 'object' || value === null) throw new UnsupportedSchemaError(`"${key}" at ${pointer} must be an object`, pointer);
        for (const [name, sub] of Object.entries(value)) visit(sub, `${pointer}/${key}/${name}`);
      } else if (key === 'items' || (key === 'additionalProperties' && typeof value === 'object')) {
        visit(value, `${pointer}/${key}`);
      } else if (key === 'anyOf' || key === 'oneOf') {
        if (!Array.isArray(value) || value.length === 0) throw new UnsupportedSchemaError(`"${key}" at ${pointer} must be a non-empty array`, pointer);
        value.forEach((sub, i) => visit(sub, `${pointer}/${key}/${i}`));
      }
    }
  };
  visit(root, '#');
}

/**
 * Generates a value valid against a schema that passed checkSupportedSchema. `rng` drives every
 * choice, so the same rng seed gives the same value. `optional` decides whether properties
 * outside `required` are filled (all of them for answers, none for tool arguments).
 */
export function generateFromSchema(schema: unknown, rng: () => number, words: string[], opts: { optional: boolean } = { optional: true }): unknown {
  const root = (typeof schema === 'object' && schema !== null ? schema : {}) as JsonSchema;
  const word = () => words[Math.floor(rng() * words.length)]!;
  const gen = (node: unknown, depth: number): unknown => {
    if (depth > 4 * MAX_DEPTH) throw new UnsupportedSchemaError(`the schema requires nesting deeper than ${4 * MAX_DEPTH} levels (a required property that refers back to itself?)`, '#');
    if (node === true || node === undefined) return word();
    if (node === false) throw new UnsupportedSchemaError('schema "false" admits no value', '#');
    let s = node as JsonSchema;
    if (typeof s.$ref === 'string') s = { ...(resolveRef(root, s.$ref, '#') as JsonSchema), ...without(s, '$ref') };
    if ('const' in s) return s.const;
    if (Array.isArray(s.enum)) return s.enum[Math.floor(rng() * s.enum.length)];
    const branches = (s.anyOf ?? s.oneOf) as unknown[] | undefined;
    if (branches) {
      // Past the depth limit prefer a branch that ends recursion (null or a scalar).
      const pick = depth >= MAX_DEPTH ? branches.findIndex((b) => isTerminal(b)) : Math.floor(rng() * branches.length);
      return gen({ ...without(s, 'anyOf', 'oneOf'), ...(branches[Math.max(0, pick)] as object) }, depth + 1);
    }
    const types = s.type === undefined ? [inferType(s)] : Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
    let type = types[Math.floor(rng() * types.length)]!;
    if (depth >= MAX_DEPTH && types.includes('null')) type = 'null';
    if (s.nullable === true && rng() < 0.2) return null;
    switch (type) {
      case 'null': return null;
      case 'boolean': return rng() < 0.5;
      case 'integer': return integerIn(s, rng);
      case 'number': return numberIn(s, rng);
      case 'string': return stringFor(s, rng, word);
      case 'array': {
        const min = typeof s.minItems === 'number' ? s.minItems : 0;
        const max = typeof s.maxItems === 'number' ? s.maxItems : Math.max(min, depth >= MAX_DEPTH ? min : min + 3);
        const count = min + Math.floor(rng() * (Math.min(max, min + 3) - min + 1));
        return Array.from({ length: count }, () => gen(s.items ?? true, depth + 1));
      }
      default: {
        const props = (s.properties ?? {}) as Record<string, unknown>;
        const required = new Set((s.required ?? []) as string[]);
        const out: Record<string, unknown> = {};
        for (const [name, sub] of Object.entries(props)) {
          if (required.has(name) || (opts.optional && depth < MAX_DEPTH)) out[name] = gen(sub, depth + 1);
        }
        // A required name without a property schema is allowed only when extra properties are.
        for (const name of required) if (!(name in out)) out[name] = gen(typeof s.additionalProperties === 'object' ? s.additionalProperties : true, depth + 1);
        return out;
      }
    }
  };
  return gen(root, 0);
}

function inferType(s: JsonSchema): string {
  if (s.properties || s.required || s.additionalProperties !== undefined) return 'object';
  if (s.items || s.minItems !== undefined || s.maxItems !== undefined) return 'array';
  if (s.minimum !== undefined || s.maximum !== undefined) return 'number';
  return 'string';
}

function isTerminal(b: unknown): boolean {
  if (typeof b !== 'object' || b === null) return true;
  const t = (b as JsonSchema).type;
  return t === 'null' || t === 'string' || t === 'number' || t === 'integer' || t === 'boolean' || 'enum' in (b as object) || 'const' in (b as object);
}

function bounds(s: JsonSchema, integer: boolean): [number, number] {
  let lo = typeof s.minimum === 'number' ? s.minimum : -Infinity;
  let hi = typeof s.maximum === 'number' ? s.maximum : Infinity;
  const step = integer ? 1 : 0.01;
  if (typeof s.exclusiveMinimum === 'number') lo = Math.max(lo, s.exclusiveMinimum + step);
  if (typeof s.exclusiveMaximum === 'number') hi = Math.min(hi, s.exclusiveMaximum - step);
  // Keep the numbers human-sized when the schema leaves them open (zod's ints are ±2^53).
  if (lo === -Infinity || lo < -1000) lo = Math.max(lo, hi === Infinity ? 0 : Math.min(hi - 100, 0));
  if (hi === Infinity || hi > lo + 1000) hi = Math.min(hi, lo + 100);
  return [lo, hi];
}

function integerIn(s: JsonSchema, rng: () => number): number {
  const [lo, hi] = bounds(s, true);
  const a = Math.ceil(lo);
  const b = Math.floor(hi);
  return b < a ? a : a + Math.floor(rng() * (b - a + 1));
}

function numberIn(s: JsonSchema, rng: () => number): number {
  const [lo, hi] = bounds(s, false);
  const v = Math.round((lo + rng() * (hi - lo)) * 100) / 100;
  return Math.min(hi, Math.max(lo, v));
}

function stringFor(s: JsonSchema, rng: () => number, word: () => string): string {
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(rng() * 16).toString(16)).join('');
  const pad2 = (n: number) => String(n).padStart(2, '0');
  const date = () => `20${pad2(10 + Math.floor(rng() * 20))}-${pad2(1 + Math.floor(rng() * 12))}-${pad2(1 + Math.floor(rng() * 28))}`;
  const time = () => `${pad2(Math.floor(rng() * 24))}:${pad2(Math.floor(rng() * 60))}:${pad2(Math.floor(rng() * 60))}Z`;
  switch (s.format) {
    case 'date-time': return `${date()}T${time()}`;
    case 'date': return date();
    case 'time': return time();
    case 'email': return `${word()}.${word()}@example.com`;
    case 'uri': return `https://example.com/${word()}/${word()}`;
    case 'hostname': return `${word()}.example.com`;
    case 'ipv4': return Array.from({ length: 4 }, () => Math.floor(rng() * 256)).join('.');
    case 'uuid': return `${hex(8)}-${hex(4)}-4${hex(3)}-${'89ab'[Math.floor(rng() * 4)]}${hex(3)}-${hex(12)}`;
  }
  const min = typeof s.minLength === 'number' ? s.minLength : 0;
  const max = typeof s.maxLength === 'number' ? s.maxLength : Infinity;
  let text = Array.from({ length: 1 + Math.floor(rng() * 4) }, word).join(' ');
  while (text.length < min) text += ` ${word()}`;
  // JSON-schema lengths count code points; the words are ASCII so code units are the same.
  return text.length > max ? text.slice(0, max) : text;
}

function resolveRef(root: JsonSchema, ref: string, pointer: string): unknown {
  if (!ref.startsWith('#')) throw new UnsupportedSchemaError(`"$ref" ${ref} at ${pointer} is not supported: only local references (#/$defs/…) are`, pointer);
  let node: unknown = root;
  for (const raw of ref.slice(1).split('/').filter(Boolean)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (typeof node !== 'object' || node === null || !(key in node)) throw new UnsupportedSchemaError(`"$ref" ${ref} at ${pointer} does not resolve`, pointer);
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

function asSchema(node: unknown, pointer: string): JsonSchema {
  if (typeof node !== 'object' || node === null || Array.isArray(node)) throw new UnsupportedSchemaError(`the schema at ${pointer} must be a JSON object`, pointer);
  return node as JsonSchema;
}

function without(s: JsonSchema, ...keys: string[]): JsonSchema {
  const out = { ...s };
  for (const k of keys) delete out[k];
  return out;
}
