// End-user API

export type { BreakerGroup, BreakerGroupOptions, GroupStateChangeListener } from './breaker-group.js';
export { createBreakerGroup } from './breaker-group.js';
export type { CircuitBreakerOptions, StateChangeListener } from './breaker-options.js';
export type { Bulkhead, BulkheadOptions } from './bulkhead.js';
export { createBulkhead } from './bulkhead.js';
export type { BreakerStats, CircuitBreaker } from './circuit-breaker.js';
export { createCircuitBreaker } from './circuit-breaker.js';
export { deadlineFrom, remaining } from './deadline.js';
export type { ListenerErrorHandler } from './listener-error.js';
export type { RetryOptions } from './retry.js';
export { retry } from './retry.js';
export type { RetryBudget, RetryBudgetOptions } from './retry-budget.js';
export { createRetryBudget } from './retry-budget.js';
export type { BackoffRetryPolicy, Jitter, RetryPolicyOptions } from './retry-policy.js';
export { createRetryPolicy } from './retry-policy.js';
export type { TimeoutConfig } from './timeout-config.js';
export { DEFAULT_TIMEOUTS, resolveTimeouts } from './timeout-config.js';
export type { WithTimeoutOptions } from './with-timeout.js';
export { withTimeout } from './with-timeout.js';
