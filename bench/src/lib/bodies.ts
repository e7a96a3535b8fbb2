/**
 * A JSON object of about `bytes` bytes when serialised, different for each `seed`
 * (an order-like payload: an id, a customer, then line items until the size is reached).
 */
export function makeBody(seed: string, bytes: number): Record<string, unknown> {
  const body: Record<string, unknown> = {
    ref: seed,
    customer: { id: `cus_${seed}`, email: 'ops@example.com', tier: 'gold' },
    currency: 'eur',
    items: [] as unknown[],
  };
  const items = body.items as unknown[];
  let size = JSON.stringify(body).length;
  for (let i = 0; size < bytes; i++) {
    const item = {
      sku: `sku-${i.toString(36).padStart(6, '0')}`,
      qty: (i % 7) + 1,
      note: 'standard shipping',
    };
    size += JSON.stringify(item).length + 1;
    items.push(item);
  }
  return body;
}

/** The serialised body, trimmed or padded to exactly `bytes` where possible (for MB/s figures). */
export function makeJsonText(seed: string, bytes: number): string {
  let text = JSON.stringify(
    bytes < 200 ? { ref: seed, amount: 4200, currency: 'eur' } : makeBody(seed, bytes),
  );
  if (text.length < bytes) {
    const body = JSON.parse(text) as Record<string, unknown>;
    body.pad = '';
    text = JSON.stringify(body);
    body.pad = 'x'.repeat(Math.max(0, bytes - text.length));
    text = JSON.stringify(body);
  }
  return text;
}
