import { describe, expect, it } from 'vitest';
import { instance, instances } from '../test/support.js';
import { MEMBERSHIPS_KEPT, MembershipCache } from './membership-cache.js';

/** A cache whose states record the ids they were made for and the ids of the state they started from. */
function cache() {
  let made = 0;
  const states = new MembershipCache<{ ids: string; from: string | undefined; n: number }>(
    (list, previous) => ({
      ids: list.map((i) => i.id).join(''),
      from: previous?.state.ids,
      n: made++,
    }),
  );
  return { states, made: () => made };
}

describe('MembershipCache', () => {
  it('gives the same state for the same list, and for a new array with the same ids in the same order', () => {
    const { states, made } = cache();
    const list = instances(1, 1, 1);
    const state = states.get('Svc', list);
    expect(states.get('Svc', list)).toBe(state);
    expect(states.get('Svc', instances(5, 1, 1))).toBe(state);
    expect(made()).toBe(1);
  });

  it('gives a filtered list a state of its own, made from the last one used, and keeps both', () => {
    const { states, made } = cache();
    const all = instances(1, 1, 1);
    const full = states.get('Svc', all);
    const withoutB = states.get('Svc', [all[0]!, all[2]!]);
    expect(withoutB).not.toBe(full);
    expect(withoutB).toMatchObject({ ids: 'ac', from: 'abc' });
    expect(states.get('Svc', all)).toBe(full);
    expect(states.get('Svc', [all[0]!, all[2]!])).toBe(withoutB);
    expect(made()).toBe(2);
  });

  it('keeps states per service', () => {
    const { states } = cache();
    const list = instances(1, 1);
    expect(states.get('A', list)).not.toBe(states.get('B', list));
  });

  it(`forgets a membership once ${MEMBERSHIPS_KEPT} others were used after it, never one in use`, () => {
    const { states } = cache();
    const all = instances(...Array.from({ length: MEMBERSHIPS_KEPT + 1 }, () => 1));
    const full = states.get('Svc', all);
    const without = (k: number) => all.filter((_, i) => i !== k);
    // The full list between every two filtered ones, as a client retrying every call passes them.
    for (let k = 0; k <= MEMBERSHIPS_KEPT; k++) {
      states.get('Svc', without(k));
      expect(states.get('Svc', all)).toBe(full);
    }
    const last = states.get('Svc', without(MEMBERSHIPS_KEPT));
    expect(states.get('Svc', without(MEMBERSHIPS_KEPT))).toBe(last);
    // without(0) was used before the other MEMBERSHIPS_KEPT - 1 filtered lists and the full one: gone.
    expect(states.get('Svc', without(0)).from).toBe(last.ids);
    expect(states.get('Svc', without(MEMBERSHIPS_KEPT))).toBe(last);
  });

  it('finds the position of an id in a membership kept as previous, -1 for an id it lacks', () => {
    const positions: number[][] = [];
    const states = new MembershipCache<number>((list, previous) => {
      if (previous !== undefined) positions.push(list.map((i) => previous.indexOf(i.id)));
      return 0;
    });
    const [a, b, c] = instances(1, 1, 1);
    states.get('Svc', [a!, b!, c!]);
    states.get('Svc', [c!, a!]);
    states.get('Svc', [a!, instance('z'), a!]);
    // A duplicated id maps to its first position, as Array#indexOf would.
    states.get('Svc', [a!]);
    expect(positions).toEqual([[2, 0], [1, -1, 1], [0]]);
  });

  it('tells an array grown or shrunk in place from what it was (it gave the old state)', () => {
    const { states } = cache();
    const list = instances(1, 1, 1, 1);
    expect(states.get('Svc', list)).toMatchObject({ ids: 'abcd' });
    list.pop();
    expect(states.get('Svc', list)).toMatchObject({ ids: 'abc' });
    list.push(instance('x'), instance('y'));
    expect(states.get('Svc', list)).toMatchObject({ ids: 'abcxy' });
  });
});
