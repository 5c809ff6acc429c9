/**
 * The ~1 KiB structured message of the codec benchmarks (1,030 bytes as JSON, 812 as MessagePack): an
 * order, as an RPC argument might look. Nulls sit only where protobuf has message fields, so every codec
 * round-trips it exactly.
 */
export function orderMessage(): Record<string, unknown> {
  return {
    id: 'ord_7f3c2a91-5b0e-4d6a-9c1e-2f8b7a6d5e4c',
    createdAt: 1_718_000_000_123,
    status: 'paid',
    express: true,
    weightKg: 3.75,
    coupon: null,
    customer: {
      id: 48_213,
      name: 'Ada Lovelace',
      email: 'ada@example.com',
      vip: false,
      address: {
        street: '12 Analytical Row',
        city: 'London',
        zip: 'NW1 6XE',
        country: 'GB',
        lat: 51.52,
        lon: -0.16,
      },
    },
    items: Array.from({ length: 4 }, (_, i) => ({
      sku: `SKU-${1000 + i}`,
      title: `Widget number ${i} deluxe edition`,
      qty: i + 1,
      price: 19.99 + i * 3.5,
      tags: i % 2 === 0 ? ['blue', 'steel'] : [],
      gift: i % 3 === 0,
      discount: i === 3 ? { code: 'SPRING', percent: 15 } : null,
    })),
    totals: { net: 129.5, tax: 25.9, gross: 155.4, currency: 'EUR' },
    history: [
      { at: 1_718_000_000_000, event: 'created' },
      { at: 1_718_000_060_500, event: 'paid' },
    ],
  };
}

/** The protobuf schema of {@link orderMessage}; method `Orders.place` takes and returns an `Order`. */
export const ORDER_PROTO = `
syntax = "proto3";
package bench;
message Address { string street = 1; string city = 2; string zip = 3; string country = 4; double lat = 5; double lon = 6; }
message Customer { int32 id = 1; string name = 2; string email = 3; bool vip = 4; Address address = 5; }
message Discount { string code = 1; int32 percent = 2; }
message Item { string sku = 1; string title = 2; int32 qty = 3; double price = 4; repeated string tags = 5; bool gift = 6; Discount discount = 7; }
message Totals { double net = 1; double tax = 2; double gross = 3; string currency = 4; }
message Event { int64 at = 1; string event = 2; }
message Order {
  string id = 1; int64 created_at = 2; string status = 3; bool express = 4; double weight_kg = 5; Discount coupon = 6;
  Customer customer = 7; repeated Item items = 8; Totals totals = 9; repeated Event history = 10;
}
`;
