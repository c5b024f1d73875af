import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { checkGeneratable, checkSupportedSchema, generateFromSchema, UnsupportedSchemaError } from './engine-json-schema.ts';
import { rngFor } from './generator.ts';

const words = ['river', 'stone', 'light', 'garden', 'signal'];

/** Schemas of the shapes developers send; each generated value is checked by zod's own reading of the schema. */
const schemas: Record<string, object> = {
  flat: { type: 'object', properties: { a: { type: 'string' }, b: { type: 'number' }, c: { type: 'integer' }, d: { type: 'boolean' } }, required: ['a', 'b', 'c', 'd'], additionalProperties: false },
  bounded: {
    type: 'object',
    properties: {
      pct: { type: 'number', minimum: 0, maximum: 1 },
      open: { type: 'integer', exclusiveMinimum: 5, exclusiveMaximum: 8 },
      name: { type: 'string', minLength: 20, maxLength: 22 },
      list: { type: 'array', items: { type: 'integer', minimum: -3, maximum: -1 }, minItems: 2, maxItems: 3 },
    },
    required: ['pct', 'open', 'name', 'list'],
  },
  enums: { type: 'object', properties: { e: { enum: ['x', 2, null] }, k: { const: 'fixed' }, t: { type: ['string', 'null'] } }, required: ['e', 'k', 't'] },
  formats: {
    type: 'object',
    properties: { d: { type: 'string', format: 'date' }, dt: { type: 'string', format: 'date-time' }, u: { type: 'string', format: 'uuid' }, m: { type: 'string', format: 'email' }, i: { type: 'string', format: 'ipv4' }, l: { type: 'string', format: 'uri' } },
    required: ['d', 'dt', 'u', 'm', 'i', 'l'],
  },
  refs: {
    $schema: 'http://json-schema.org/draft-07/schema#',
    type: 'object',
    definitions: { leaf: { type: 'object', properties: { v: { type: 'string' } }, required: ['v'] } },
    properties: { items: { type: 'array', items: { $ref: '#/definitions/leaf' } }, pick: { anyOf: [{ type: 'string' }, { $ref: '#/definitions/leaf' }] } },
    required: ['items', 'pick'],
  },
  recursive: {
    $defs: { node: { type: 'object', properties: { label: { type: 'string' }, children: { type: 'array', items: { $ref: '#/$defs/node' } } }, required: ['label', 'children'] } },
    $ref: '#/$defs/node',
  },
  topArray: { type: 'array', items: { type: 'object', properties: { n: { type: 'number' } }, required: ['n'] }, minItems: 1 },
};

describe('JSON values generated from a schema', () => {
  for (const [name, schema] of Object.entries(schemas)) {
    it(`validate against the "${name}" schema for many seeds`, () => {
      checkSupportedSchema(schema);
      const validator = z.fromJSONSchema(schema as never);
      const seen = new Set<string>();
      for (let seed = 0; seed < 40; seed++) {
        const value = generateFromSchema(schema, rngFor(`${name}${seed}`), words);
        const result = validator.safeParse(value);
        if (!result.success) throw new Error(`seed ${seed}: ${JSON.stringify(value)} fails: ${result.error.message}`);
        seen.add(JSON.stringify(value));
      }
      expect(seen.size).toBeGreaterThan(1);
    });
  }

  it('is the same value for the same seed', () => {
    const a = generateFromSchema(schemas.bounded, rngFor('x'), words);
    expect(generateFromSchema(schemas.bounded, rngFor('x'), words)).toEqual(a);
  });

  it('fills only required properties for tool arguments', () => {
    const schema = { type: 'object', properties: { need: { type: 'string' }, maybe: { type: 'string' } }, required: ['need'] };
    expect(Object.keys(generateFromSchema(schema, rngFor('t'), words, { optional: false }) as object)).toEqual(['need']);
  });
});

describe('schemas the engine refuses', () => {
  const refused: Array<[string, object, string]> = [
    ['a pattern', { type: 'string', pattern: '^a' }, '"pattern" at #'],
    ['allOf deep inside', { type: 'object', properties: { x: { allOf: [] } } }, '"allOf" at #/properties/x'],
    ['a remote $ref', { $ref: 'https://example.com/s.json' }, 'only local references'],
    ['an unresolvable $ref', { $ref: '#/$defs/missing' }, 'does not resolve'],
    ['an unknown format', { type: 'string', format: 'phone' }, 'format "phone"'],
    ['an unknown type', { type: 'text' }, '"type" at #'],
    ['contradictory lengths', { type: 'string', minLength: 5, maxLength: 2 }, 'minLength > maxLength'],
    ['a required name that cannot exist', { type: 'object', properties: {}, required: ['a'], additionalProperties: false }, 'required property "a"'],
    ['a non-object', ['string'], 'must be a JSON object'],
  ];
  it('refuses a schema only an infinite value satisfies', () => {
    const schema = { $defs: { n: { type: 'object', properties: { next: { $ref: '#/$defs/n' } }, required: ['next'] } }, $ref: '#/$defs/n' };
    expect(() => checkSupportedSchema(schema)).not.toThrow();
    expect(() => checkGeneratable(schema)).toThrow(/nesting deeper/);
  });

  for (const [what, schema, message] of refused) {
    it(`refuses ${what}, saying where`, () => {
      expect(() => checkSupportedSchema(schema)).toThrow(UnsupportedSchemaError);
      expect(() => checkSupportedSchema(schema)).toThrow(message);
    });
  }
});
