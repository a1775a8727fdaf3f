/**
 * The V8 flags every service runs with, wherever it runs: the image's CMD (Dockerfile), the
 * local stack (scripts/stack.ts) and the tests and benchmarks (test/harness) — so what is
 * measured is what ships. A test checks the Dockerfile says the same.
 *
 * --max-semi-space-size=2: V8 grows its young generation with the allocation rate, up to 16 MB
 * per semi-space on 64-bit. A stage allocates a few KB per message, so under a burst (1 kHz) each
 * service's private memory rose to 24-47 MB and fell back with the next quiet spell: in a 5-minute
 * soak that swing (-34 % to +52 %) hid whether anything leaked. Capped at 2 MB the same soak
 * held 18-32 MB a service, end within 0.3 % of its size after warm-up, at the cost of more
 * frequent scavenges (~10 % lower peak throughput, still above 12,000 samples/s).
 */
export const SERVICE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2'];

/**
 * The environment every service runs with, kept in step the same way (the Dockerfile's ENV).
 *
 * MALLOC_ARENA_MAX=2: glibc gives each thread that allocates a malloc arena of its own, up to
 * eight per core, and hands little of an arena's freed memory back. A service runs one JavaScript
 * thread, but V8's compiler and GC helpers, libuv's pool and ZeroMQ's I/O thread all allocate, so
 * a process keeps several arenas of memory it freed long ago, more the more it loaded: with two,
 * the reader on OPC UA (node-opcua, 600 modules parsed at start) held 4.9 MB less RSS and the five
 * stages 7 MB less private memory (`npm run bench:memory`), at the same throughput within noise.
 */
export const SERVICE_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };
