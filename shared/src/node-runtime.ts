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
