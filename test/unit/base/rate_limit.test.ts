import { expect, test } from "bun:test";
import { RateLimiter } from "../../../src/base/rate_limit.ts";

test("messages beyond the burst are suppressed within a period", () => {
  const limiter = new RateLimiter(2, 1000, () => 0);

  const results = [limiter.allow(), limiter.allow(), limiter.allow(), limiter.allow()];

  expect(results).toEqual([0, 0, -1, -1]);
});

test("the first message of the next period reports how many were suppressed", () => {
  let now = 0;
  const limiter = new RateLimiter(1, 1000, () => now);
  limiter.allow();
  limiter.allow();
  limiter.allow();

  now = 1000;

  expect(limiter.allow()).toBe(2);
});
