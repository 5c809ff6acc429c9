import { describe, expect, it } from 'vitest';
import { defineService, method, service } from './index.js';

@service('Calc', { metadata: { zone: 'a', tier: 'gold' } })
class Calc {
  factor = 2;
  @method({ idempotent: true })
  add({ a, b }: { a: number; b: number }): number {
    return a + b;
  }
  @method({ name: 'mul' })
  multiply({ a }: { a: number }): number {
    return a * this.factor;
  }
  notExposed(): string {
    return 'no @method';
  }
}

@service('Open')
class Open {
  ping(): string {
    return 'pong';
  }
  _hidden(): string {
    return 'private';
  }
}

class Base {
  inherited(): string {
    return 'from base';
  }
  shadowed(): string {
    return 'base';
  }
}

class Reflected extends Base {
  field = 1;
  arrow = (): string => 'own arrow property';
  greet(): string {
    return 'hi';
  }
  override shadowed(): string {
    return 'derived';
  }
  _private(): string {
    return 'hidden';
  }
  get computed(): string {
    return 'a getter is no method';
  }
}

const names = (def: ReturnType<typeof defineService>): string[] => [...def.methods.keys()].sort();

describe('defineService', () => {
  it('a decorated class: only its @method methods, under their wire names, with idempotent flags', () => {
    const impl = new Calc();
    const def = defineService(impl);
    expect(def.name).toBe('Calc');
    expect(names(def)).toEqual(['add', 'mul']);
    const add = def.methods.get('add');
    expect(add?.idempotent).toBe(true);
    expect(add?.service).toBe('Calc');
    expect(add?.target).toBe(impl);
    const mul = def.methods.get('mul');
    expect(mul?.idempotent).toBe(false);
    expect(mul?.name).toBe('mul');
    // The handler is the prototype method; the server calls it with the instance as `this`.
    expect(mul?.handler.call(impl, { a: 21 } as never, undefined as never)).toBe(42);
    expect(def.options.metadata).toEqual({ zone: 'a', tier: 'gold' });
  });

  it('a @service class without any @method exposes its public prototype methods', () => {
    const def = defineService(new Open());
    expect(def.name).toBe('Open');
    expect(names(def)).toEqual(['ping']);
  });

  it('options override the decorator: name, per-method options, metadata merged over the decorator', () => {
    const def = defineService(new Calc(), {
      name: 'Calc2',
      methods: { add: { idempotent: false }, multiply: { name: 'times', idempotent: true } },
      metadata: { tier: 'silver' },
    });
    expect(def.name).toBe('Calc2');
    expect(names(def)).toEqual(['add', 'times']);
    expect(def.methods.get('add')?.idempotent).toBe(false);
    expect(def.methods.get('times')?.idempotent).toBe(true);
    expect(def.options.metadata).toEqual({ zone: 'a', tier: 'silver' });
  });

  it('an undecorated class instance: prototype methods up the chain, own function properties; no constructor, no _private, no getters, no fields', () => {
    const def = defineService(new Reflected(), {
      name: 'Reflected',
      methods: { greet: { idempotent: true } },
    });
    expect(names(def)).toEqual(['arrow', 'greet', 'inherited', 'shadowed']);
    expect(def.methods.has('constructor')).toBe(false);
    expect(def.methods.get('greet')?.idempotent).toBe(true);
    expect(def.methods.get('inherited')?.idempotent).toBe(false);
    const shadowed = def.methods.get('shadowed');
    expect(shadowed?.handler.call(shadowed.target, undefined as never, undefined as never)).toBe('derived');
  });

  it('a plain object: its function properties; Object.prototype methods never leak in', () => {
    const def = defineService(
      { now: () => 1, echo: (x: unknown) => x, _secret: () => 's', value: 3 },
      { name: 'Plain' },
    );
    expect(names(def)).toEqual(['echo', 'now']);
    expect(def.options.metadata).toEqual({});
  });

  it('an object without a prototype works too', () => {
    const impl = Object.assign(Object.create(null) as object, { hello: () => 'hi' });
    expect(names(defineService(impl, { name: 'Bare' }))).toEqual(['hello']);
  });

  it('throws TypeError without a name', () => {
    expect(() => defineService({ a: () => 1 })).toThrow(TypeError);
    expect(() => defineService({ a: () => 1 }, { name: '' })).toThrow(/give the service a name/);
    expect(() => defineService(new Reflected())).toThrow(TypeError);
  });

  it('throws TypeError for a @method() on a name that is never exposed, rather than exposing every other method', () => {
    @service('OnlyToString')
    class OnlyToString {
      @method()
      toString(): string {
        return 'the only marked method';
      }
      wipe(): string {
        return 'must not be exposed by default';
      }
    }
    @service('Underscored')
    class Underscored {
      @method()
      _secret(): string {
        return 'private by name';
      }
      wipe(): string {
        return 'must not be exposed by default';
      }
    }
    expect(() => defineService(new OnlyToString())).toThrow(/@method\(\) on toString cannot be exposed/);
    expect(() => defineService(new Underscored())).toThrow(/@method\(\) on _secret cannot be exposed/);
  });

  it('throws TypeError when there is nothing to expose', () => {
    expect(() => defineService({}, { name: 'Empty' })).toThrow('addService: service Empty has no methods');
    expect(() => defineService({ _only: () => 1, n: 1 }, { name: 'Hidden' })).toThrow(/has no methods/);
  });
});

describe('decorators', () => {
  it('@method() refuses static and private methods when the class is defined', () => {
    expect(() => {
      class Bad {
        n = 1;
        @method()
        static s(): number {
          return 1;
        }
      }
      return Bad;
    }).toThrow('@method() applies to public instance methods');
    expect(() => {
      class Bad {
        @method()
        #p(): number {
          return 1;
        }
        use(): number {
          return this.#p();
        }
      }
      return Bad;
    }).toThrow(TypeError);
  });

  it('a subclass of a @service class keeps its decorated methods but needs its own @service for a name', () => {
    class Sub extends Calc {}
    // Decorations are recorded per constructor: Sub has none of its own.
    expect(() => defineService(new Sub())).toThrow(/give the service a name/);
    const def = defineService(new Sub(), { name: 'Sub' });
    expect(names(def)).toEqual(['add', 'mul']);
  });
});
