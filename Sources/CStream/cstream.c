#include "cstream.h"

#include <stdint.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CSTREAM_X86 1
#endif

static inline float biased(float value, float bias, int relu) {
    const float sum = value + bias;
    return relu && 0.0f >= sum ? 0.0f : sum;
}

/* Floats before target's first whole 64-byte line, at most count. */
static long head(const float *target, long count) {
    const long misaligned = (long)((uintptr_t)target & 63), floats = misaligned == 0 ? 0 : (64 - misaligned) / 4;
    return floats < count ? floats : count;
}

void cstream_biased(float *target, const float *source, long count, float bias, int relu) {
    long k = 0;
#ifdef CSTREAM_X86
    const long start = head(target, count);
    for (; k < start; ++k) target[k] = biased(source[k], bias, relu);
    const __m128 b = _mm_set1_ps(bias), zero = _mm_setzero_ps();
    for (; k + 16 <= count; k += 16) {
        for (int part = 0; part < 16; part += 4) {
            const __m128 sum = _mm_add_ps(_mm_loadu_ps(source + k + part), b);
            _mm_stream_ps(target + k + part, relu ? _mm_andnot_ps(_mm_cmpge_ps(zero, sum), sum) : sum);
        }
    }
    _mm_sfence();
#endif
    for (; k < count; ++k) target[k] = biased(source[k], bias, relu);
}

void cstream_copy(float *target, const float *source, long count) {
    long k = 0;
#ifdef CSTREAM_X86
    const long start = head(target, count);
    for (; k < start; ++k) target[k] = source[k];
    for (; k + 16 <= count; k += 16) {
        for (int part = 0; part < 16; part += 4) _mm_stream_ps(target + k + part, _mm_loadu_ps(source + k + part));
    }
    _mm_sfence();
#endif
    for (; k < count; ++k) target[k] = source[k];
}

void cstream_rows16(float *target, long stride, const float *source, long rows, int count) {
    for (long r = 0; r < rows; ++r) {
        float *line = target + r * stride;
        const float *values = source + 16 * r;
#ifdef CSTREAM_X86
        if (count == 16 && ((uintptr_t)line & 63) == 0) {
            for (int part = 0; part < 16; part += 4) _mm_stream_ps(line + part, _mm_loadu_ps(values + part));
            continue;
        }
#endif
        for (int k = 0; k < count; ++k) line[k] = values[k];
    }
}

void cstream_fence(void) {
#ifdef CSTREAM_X86
    _mm_sfence();
#endif
}
