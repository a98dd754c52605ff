/**
 * Redis availability as the queue and the rate limiter see it: down when the server stops, up
 * (with a call to every `onUp` listener) within half a second of its return.
 */
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { isConnectionLoss, reconnectDelayMs, trackAvailability } from "./redis.ts";
import { startPrivateRedis } from "./testing/private_services.ts";
import { waitFor } from "./testing/queue_contract.ts";

Deno.test({
  name: "redis availability: down when Redis stops, up again (and told) soon after its return",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const server = await startPrivateRedis();
    const redis = new Redis(server.url, {
      maxRetriesPerRequest: 1,
      retryStrategy: reconnectDelayMs,
    });
    redis.on("error", () => {});
    const availability = trackAvailability(redis);
    let told = 0;
    availability.onUp(() => told++);
    try {
      await redis.ping();
      assert.equal(availability.up(), true);
      await server.stop();
      await waitFor(() => !availability.up(), 5000, "down");
      const failure = await redis.ping().then(() => null, (err) => err);
      assert.ok(isConnectionLoss(failure), String(failure));
      await new Promise((r) => setTimeout(r, 3000)); // long enough for the default to back off
      await server.start();
      const back = performance.now();
      await waitFor(() => availability.up(), 5000, "up");
      const ms = performance.now() - back;
      assert.ok(ms < 1000, `noticed ${Math.round(ms)} ms after Redis returned`);
      assert.equal(told, 1);
      assert.equal(await redis.ping(), "PONG");
    } finally {
      availability.close();
      redis.disconnect();
      await server.close();
    }
  },
});

Deno.test("redis reconnects: 50 ms more per attempt, at most 250 ms apart", () => {
  assert.deepEqual([1, 2, 5, 10, 100].map(reconnectDelayMs), [50, 100, 250, 250, 250]);
});
