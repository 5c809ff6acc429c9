import fc from 'fast-check';

/** Strings of every kind of unit: ASCII, 2-, 3- and 4-byte UTF-8, surrogate pairs and lone surrogates. */
export const anyString = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.string({ unit: fc.constantFrom('a', 'é', '€', '😀', '\ud800', '\udc00', '\ud83d'), maxLength: 120 }),
);

/** Numbers around every boundary msgpack's integer formats have, and floats. */
export const anyNumber = fc.oneof(
  fc.integer(),
  fc.integer({ min: -0x8000_0000, max: 0xffff_ffff }),
  fc.constantFrom(0, -0, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0xffff_ffff, 2 ** 32, -0x20, -0x21),
  fc.constantFrom(-0x80, -0x81, -0x8000, -0x8001, -0x8000_0000, -0x8000_0001, 2 ** 53, -(2 ** 53)),
  fc.double(),
);

/**
 * Plain messages: strings, numbers, booleans and `leaves`, in arrays and objects nested a few levels deep
 * (what both fast paths of the codec take).
 */
export function plainValues(leaves: readonly fc.Arbitrary<unknown>[]): fc.Arbitrary<unknown> {
  return fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      anyString,
      anyNumber,
      fc.boolean(),
      ...leaves,
      fc.array(tie('value'), { maxLength: 20 }),
      fc.dictionary(anyString, tie('value'), { maxKeys: 20, noNullPrototype: true }),
    ),
  })).value;
}
