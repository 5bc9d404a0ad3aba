// One core's FMA rate (registers only) and its read rate at one float per 64-byte line from
// L2-, L3- and memory-sized buffers: what the host gives this machine at the moment a
// benchmark runs. Build: cc -O2 -o probe probe.c (x86-64 with AVX2 and FMA).
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

// Ten independent chains of 8-lane FMAs: more than the latency times the two FMA pipes.
__attribute__((target("avx2,fma"))) static double fma_rate(long steps) {
    __m256 a0 = _mm256_set1_ps(0), a1 = _mm256_set1_ps(1), a2 = _mm256_set1_ps(2), a3 = _mm256_set1_ps(3),
           a4 = _mm256_set1_ps(4), a5 = _mm256_set1_ps(5), a6 = _mm256_set1_ps(6), a7 = _mm256_set1_ps(7),
           a8 = _mm256_set1_ps(8), a9 = _mm256_set1_ps(9);
    const __m256 b = _mm256_set1_ps(1.0000001f), c = _mm256_set1_ps(1e-7f);
    const double t0 = now();
    for (long k = 0; k < steps; ++k) {
        a0 = _mm256_fmadd_ps(a0, b, c); a1 = _mm256_fmadd_ps(a1, b, c); a2 = _mm256_fmadd_ps(a2, b, c);
        a3 = _mm256_fmadd_ps(a3, b, c); a4 = _mm256_fmadd_ps(a4, b, c); a5 = _mm256_fmadd_ps(a5, b, c);
        a6 = _mm256_fmadd_ps(a6, b, c); a7 = _mm256_fmadd_ps(a7, b, c); a8 = _mm256_fmadd_ps(a8, b, c);
        a9 = _mm256_fmadd_ps(a9, b, c);
    }
    const double t = now() - t0;
    const __m256 sum = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9;
    if (sum[0] == 12345) printf(" ");  // keeps the chains alive
    return steps * 10 * 16.0 / t * 1e-9;
}

// GB/s of lines touched: one float read per 64-byte line, `reps` passes over `count` floats.
static double read_rate(const float *p, long count, int reps) {
    const double t0 = now();
    float sum = 0;
    for (int r = 0; r < reps; ++r)
        for (long i = 0; i < count; i += 16) sum += p[i];
    const double t = now() - t0;
    if (sum == 1) printf(" ");
    return count * 4.0 * reps / t * 1e-9;
}

int main(void) {
    const long l2 = 256L << 10 >> 2, l3 = 16L << 20 >> 2, memory = 256L << 20 >> 2;
    float *p = malloc(memory * sizeof(float));
    if (!p) return 1;
    for (long i = 0; i < memory; ++i) p[i] = 1;
    const double fma = fma_rate(50000000);
    const double rl2 = read_rate(p, l2, 2000), rl3 = read_rate(p, l3, 20), rmem = read_rate(p, memory, 2);
    printf("fma %.1f GFLOP/s  L2 %.1f GB/s  L3 %.1f GB/s  memory %.1f GB/s\n", fma, rl2, rl3, rmem);
    free(p);
    return 0;
}
