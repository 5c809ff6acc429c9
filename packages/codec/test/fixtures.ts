/** A structured message of about 1 KiB: nested objects, arrays, strings, numbers, booleans and null. */
export function structuredMessage(): Record<string, unknown> {
  return {
    id: 'ord_7f3c2a91-5b0e-4d6a-9c1e-2f8b7a6d5e4c',
    createdAt: 1_718_000_000_123,
    status: 'paid',
    express: true,
    note: null,
    weightKg: 3.75,
    balance: -42,
    counter: 2 ** 53 - 1,
    customer: {
      id: 48_213,
      name: 'Ada Lovelace',
      email: 'ada@example.com',
      vip: false,
      greeting: 'Grüße aus Zürich — 你好 👋',
      address: {
        street: '12 Analytical Row',
        city: 'London',
        zip: 'NW1 6XE',
        country: 'GB',
        geo: [51.52, -0.16],
      },
    },
    items: Array.from({ length: 6 }, (_, i) => ({
      sku: `SKU-${1000 + i}`,
      title: `Widget number ${i} deluxe edition`,
      qty: i + 1,
      price: 19.99 + i * 3.5,
      tags: i % 2 === 0 ? ['blue', 'steel'] : [],
      gift: i % 3 === 0,
      discount: i === 4 ? { code: 'SPRING', percent: 15 } : null,
    })),
    totals: { net: 129.5, tax: 25.9, gross: 155.4, currency: 'EUR' },
    history: [
      { at: 1_718_000_000_000, event: 'created' },
      { at: 1_718_000_060_500, event: 'paid' },
    ],
  };
}

/** Runs `fn` and returns what it threw; fails the test when it returns. */
export function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}
