// stylize-gpu: every OpenCL kernel of the project. OpenCL C 1.2.
// Tile sizes and variants are -D options chosen per device by the host (OpenCL/KernelOption.swift);
// a variant is an option of a kernel, or a kernel of its own where its loop differs (the index).
// Tensors are float32 CHW, batch 1 (layer outputs 16-bit in the builds for --storage half: the
// prelude's ACT_IN_HALF, ACT_OUT_HALF). Helpers several sections share come first, after the options.
//
// Index: each Backend op → the kernels that implement it → the options they read. USE_FMA is
// read by every kernel marked *, through MAD.
//   fill                         fill
//   copy                         none (a buffer copy)
//   axpy                         axpy
//   scale                        scale
//   clamp                        clamp_in_place
//   roundToHalf                  round_to_half
//   copyRegion                   copy_region
//   dot                          dot_partial, reduce_finish → RED_LOCAL, RED_GROUPS, RED_CONTIGUOUS
//   conv3x3,                     conv3x3* → CONV_COB, CONV_PXB, CONV_CHANNELS_FIRST, CONV_FAST_INTERIOR,
//   conv3x3BackwardData            CONV_BLOCKED_WEIGHTS
//                                conv3x3_narrow* → NARROW_PX, NARROW_PREFETCH, NT_STORES
//                                conv3x3_narrow_strip* → NARROW_STRIP, NARROW_PX, NARROW_PREFETCH, NT_STORES
//                                winograd_weights → WINO_COB, WINO_TAP_PREFETCH
//                                winograd_input, winograd_output → NT_STORES
//                                winograd_multiply* → WINO_TB, WINO_COB, WINO_TV, WINO_OB, WINO_PREFETCH
//                                winograd_multiply_tiled* → WINO_GEMM, WGEMM_M, WGEMM_N, WGEMM_DB, WGEMM_WIDE,
//                                  WINO_COB
//                                winograd4_weights → WINO_COB, WINO_TAP_PREFETCH, WINO_WEIGHT_ROWS,
//                                  NT_STORES; winograd4_input → WINO_ROW_PREFETCH;
//                                  winograd4_output → NT_STORES
//                                winograd6_weights → WINO_COB, WINO_TAP_PREFETCH; winograd6_input →
//                                  WINO_ROW_PREFETCH; winograd6_output → NT_STORES
//   relu                         relu
//   reluBackward                 relu_backward
//   pool2x2                      pool2x2
//   pool2x2Backward              pool2x2_backward
//   reluPool2x2Backward          relu_pool2x2_backward
//   encodeReluCodes              encode_relu_codes
//   decodeReluCodes              decode_relu_codes
//   gram                         gram_partial* → GRAM_T, VW
//                                gram_partial_tiled* → GRAM_GEMM
//                                gram_finish → GRAM_GEMM, GRAM_T
//   gramBackward                 gram_symmetrize → GB_GEMM, GB_ROWS
//                                gram_backward* → GB_ROWS, GB_VECS, GB_OB, GB_PREFETCH, GB_STAGE, VW
//                                gram_backward_tiled* → GB_GEMM, WGEMM_M, WGEMM_N, WGEMM_DB
//   meanSquaredError             mean_squared_error_partial, reduce_finish → RED_LOCAL, RED_GROUPS, RED_CONTIGUOUS
//   meanSquaredErrorGradient     mean_squared_error_gradient
//   totalVariation               total_variation_partial, reduce_finish → RED_LOCAL, RED_GROUPS, RED_CONTIGUOUS
//   totalVariationGradient       total_variation_gradient
//   preprocess                   preprocess
//   preprocessBackward           preprocess_backward
//   clampRound                   clamp_round
//   multiplyByMask               multiply_by_mask
//   adamStep                     adam_step
//   warpBilinear                 warp_bilinear
//   warpBilinearBackward         warp_bilinear_backward
//   flowDerivatives              flow_derivatives
//   tvl1PrimalStep               tvl1_primal_step
//   tvl1DualStep                 tvl1_dual_step
//   median3x3                    median3x3
//   upsampleFlow                 upsample_flow
//   reliabilityMask              reliability_mask
//   temporalLoss                 temporal_loss_partial, reduce_finish → RED_LOCAL, RED_GROUPS, RED_CONTIGUOUS
//   temporalLossGradient         temporal_loss_gradient

// ---------------------------------------------------------------------------------------------
// Options. The host passes every one of them; these defaults only keep the file buildable alone.

// Multiply-add in the inner loops: fma() where the hardware has it (every target we run on:
// x86 with FMA, all GPUs), else the driver's mad().
#ifndef USE_FMA
#define USE_FMA 1
#endif

// Convolution: output channels per work-item (a vector: 2, 4, 8 or 16) and pixels of one row per work-item.
#ifndef CONV_COB
#define CONV_COB 16
#endif
#ifndef CONV_PXB
#define CONV_PXB 16
#endif
// 1: global dimension 0 runs over output-channel blocks (neighbouring work-items share input
// pixels), 0: over pixel blocks of a row (they share weights).
#ifndef CONV_CHANNELS_FIRST
#define CONV_CHANNELS_FIRST 0
#endif
// 1: work-items away from the left and right image edges load input rows without bounds checks;
// 0: every load checked.
#ifndef CONV_FAST_INTERIOR
#define CONV_FAST_INTERIOR 1
#endif
// Conv weight layout: 1 block-major [C_out / CONV_COB][C_in·9][CONV_COB] (each work-item streams
// contiguous memory: CPUs), 0 tap-major [C_in·9][C_out] (neighbouring channel blocks adjacent: GPUs).
#ifndef CONV_BLOCKED_WEIGHTS
#define CONV_BLOCKED_WEIGHTS 0
#endif

// conv3x3_narrow (few channels on either side, below): pixels of a row per vector.
#ifndef NARROW_PX
#define NARROW_PX 16
#endif
// Input channels ahead of the current one whose rows a work-item prefetches (0: none). The
// rows of one work-item lie in as many pages as it has input channels, too many streams for a
// CPU's prefetcher.
#ifndef NARROW_PREFETCH
#define NARROW_PREFETCH 0
#endif
// 1: whole aligned output vectors are stored non-temporally (past the caches): a CPU then
// writes conv1_1's 48 MiB, winograd4_weights its transforms, or the Winograd output kernels
// their maps, without first reading every line.
#ifndef NT_STORES
#define NT_STORES 0
#endif
// Drains a work-item's non-temporal stores before it ends: they are weakly ordered on x86, so
// the next kernel sees them whatever the driver's own synchronisation does.
#if NT_STORES && defined(__x86_64__)
#define NT_FENCE() __builtin_ia32_sfence()
#else
#define NT_FENCE() ((void)0)
#endif
// Vectors per work-item of conv3x3_narrow_strip (0: not compiled).
#ifndef NARROW_STRIP
#define NARROW_STRIP 0
#endif

// Winograd F(2×2,3×3) or F(4×4,3×3) convolution (the host chooses per layer): tiles per vector of the
// batched multiply (2, 4, 8 or 16), whose work-item holds WINO_COB output channels × WINO_TV
// vectors of WINO_TB tiles.
#ifndef WINO_TB
#define WINO_TB 16
#endif
// Output channels per work-item of the multiply (its weights' block; channel strides are padded to
// a multiple of it and of CONV_COB).
#ifndef WINO_COB
#define WINO_COB 16
#endif
// Vectors of tiles per work-item of the multiply (each multiplies the same broadcast weights).
#ifndef WINO_TV
#define WINO_TV 1
#endif
// Channel blocks one work-item of the multiply runs in turn.
#ifndef WINO_OB
#define WINO_OB 1
#endif
// Channels ahead whose tiles a work-item of the multiply prefetches (0: none; CPUs).
#ifndef WINO_PREFETCH
#define WINO_PREFETCH 0
#endif
// Rows ahead whose raw taps the weight transforms prefetch (0: none; CPUs).
#ifndef WINO_TAP_PREFETCH
#define WINO_TAP_PREFETCH 0
#endif
// Rows of the transformed weights per work-item of winograd4_weights (CPUs 8: see there).
#ifndef WINO_WEIGHT_ROWS
#define WINO_WEIGHT_ROWS 1
#endif
// winograd4_input and winograd6_input prefetch the next block's rows (1; CPUs).
#ifndef WINO_ROW_PREFETCH
#define WINO_ROW_PREFETCH 0
#endif
// The multiply as a GPU runs a matrix product (winograd_multiply_tiled, 1) instead of register
// blocks streaming from global memory (winograd_multiply, 0). Its 16×16 work-items each hold
// WGEMM_M output channels × WGEMM_N tiles (multiples of 4); gram_backward_tiled shares them.
#ifndef WINO_GEMM
#define WINO_GEMM 0
#endif
#ifndef WGEMM_M
#define WGEMM_M 4
#endif
#ifndef WGEMM_N
#define WGEMM_N 8
#endif
// The tiled products stage the next channels in a second local buffer while they multiply the
// current ones (1): one barrier a step instead of two, the loads overlapping the arithmetic.
#ifndef WGEMM_DB
#define WGEMM_DB 0
#endif
// Output channels from which the tiled multiply runs 8 × 8 per work-item (0: never).
#ifndef WGEMM_WIDE
#define WGEMM_WIDE 0
#endif

// Vector width along the long (pixel) dimension of the Gram kernels: 2, 4, 8 or 16.
#ifndef VW
#define VW 16
#endif
// Gram: a work-item computes a GRAM_T × GRAM_T tile of one split-K slice.
#ifndef GRAM_T
#define GRAM_T 4
#endif
// Gram as a GPU runs a matrix product (gram_partial_tiled, 1): 16×16 work-items per 64×64 block.
#ifndef GRAM_GEMM
#define GRAM_GEMM 0
#endif
// Gram backward as the Winograd multiply's tiled product (gram_backward_tiled, 1).
#ifndef GB_GEMM
#define GB_GEMM 0
#endif
// Gram backward: rows of the output per work-item, and vectors of VW columns.
#ifndef GB_ROWS
#define GB_ROWS 16
#endif
#ifndef GB_VECS
#define GB_VECS 1
#endif
// Row blocks a Gram backward work-item runs one after the other.
#ifndef GB_OB
#define GB_OB 1
#endif
// Column blocks ahead whose F and outputs a Gram backward work-item prefetches (0: none; CPUs).
#ifndef GB_PREFETCH
#define GB_PREFETCH 0
#endif
// Gram backward: at most this many channels of a work-item's columns of F copied to private
// memory once, for its row blocks to read (0: none; CPUs).
#ifndef GB_STAGE
#define GB_STAGE 0
#endif

// Reductions: work-group size (a power of two) and the fixed number of work-groups of stage one.
#ifndef RED_LOCAL
#define RED_LOCAL 64
#endif
#ifndef RED_GROUPS
#define RED_GROUPS 64
#endif
// 1: each work-item of stage one sums one contiguous run of the elements (CPUs: one stream per
// work-item); 0: every RED_LOCAL · RED_GROUPS-th element, neighbours reading neighbours (GPUs).
#ifndef RED_CONTIGUOUS
#define RED_CONTIGUOUS 0
#endif

// ---------------------------------------------------------------------------------------------
// Shared macros and helpers

#if USE_FMA
#define MAD(a, b, c) fma(a, b, c)
#else
#define MAD(a, b, c) mad(a, b, c)
#endif

// The square blocks of G whose upper ones (bi ≤ bj) stage one computes.
#if GRAM_GEMM
#define GRAM_BLOCK 64
#else
#define GRAM_BLOCK GRAM_T
#endif

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define COVEC CAT(float, CONV_COB)
#define COLOAD CAT(vload, CONV_COB)
#define COSTORE CAT(vstore, CONV_COB)
#define TBVEC CAT(float, WINO_TB)
#define TBLOAD CAT(vload, WINO_TB)
#define TBSTORE CAT(vstore, WINO_TB)
#define VEC CAT(float, VW)
#define VLOAD CAT(vload, VW)
#define VSTORE CAT(vstore, VW)
#define HSUM CAT(hsum, VW)

// Layer outputs in 16-bit storage (--storage half): the host builds this file again with
// ACT_IN_HALF (the activations a kernel reads are halves) and/or ACT_OUT_HALF (those it writes),
// for the kernels that touch layer outputs; gradients, weights and scratch stay float32. A half
// widens to float exactly and stores round to nearest even, as round_to_half does, so both
// builds give the same bits for the same values. Not kernel options: the host defines them for
// those builds only (an undefined name is 0 in #if).
#if ACT_IN_HALF
#define ACT_IN half
#define LOAD_ACT(i, p) vload_half((i), (p))
#define LOAD_ACT4(i, p) vload_half4((i), (p))
#define LOAD_ACT8(i, p) vload_half8((i), (p))
#define LOAD_ACT16(i, p) vload_half16((i), (p))
#define VLOAD_ACT CAT(vload_half, VW)
#else
#define ACT_IN float
#define LOAD_ACT(i, p) ((p)[i])
#define LOAD_ACT4(i, p) vload4((i), (p))
#define LOAD_ACT8(i, p) vload8((i), (p))
#define LOAD_ACT16(i, p) vload16((i), (p))
#define VLOAD_ACT VLOAD
#endif
#if ACT_OUT_HALF
#define ACT_OUT half
#define LOAD_OUT(i, p) vload_half((i), (p))
#define STORE_ACT(v, i, p) vstore_half_rte((v), (i), (p))
#define LOAD_OUT8(i, p) vload_half8((i), (p))
#define STORE_ACT8(v, i, p) vstore_half8_rte((v), (i), (p))
#define LOAD_OUT16(i, p) vload_half16((i), (p))
#define STORE_ACT16(v, i, p) vstore_half16_rte((v), (i), (p))
#else
#define ACT_OUT float
#define LOAD_OUT(i, p) ((p)[i])
#define STORE_ACT(v, i, p) ((p)[i] = (v))
#define LOAD_OUT8(i, p) vload8((i), (p))
#define STORE_ACT8(v, i, p) vstore8((v), (i), (p))
#define LOAD_OUT16(i, p) vload16((i), (p))
#define STORE_ACT16(v, i, p) vstore16((v), (i), (p))
#endif

// Horizontal sums in a fixed pairwise order (deterministic).
float hsum2(float2 v) { return v.s0 + v.s1; }
float hsum4(float4 v) { return hsum2(v.lo + v.hi); }
float hsum8(float8 v) { return hsum4(v.lo + v.hi); }
float hsum16(float16 v) { return hsum8(v.lo + v.hi); }

// The kernels that run along rows (pooling, Winograd transforms) take ROW_BLOCK outputs or tiles
// at a time, as a float8, from float16 loads of the input rows.
#define ROW_BLOCK 8

// A float16 moved one lane up or down, a zero shifted in: a row's left or right neighbours at
// the image's edges.
#define SHIFT_RIGHT16(v) ((float16)(0.0f, (v).s0123, (v).s4567, (v).s89ab, (v).scde))
#define SHIFT_LEFT16(v) ((float16)((v).s1234, (v).s5678, (v).s9abc, (v).sdef, 0.0f))

// Two vectors of 8 as the even and odd lanes of one of 16.
#define INTERLEAVE8(l, r) ((float16)((l).s0, (r).s0, (l).s1, (r).s1, (l).s2, (r).s2, (l).s3, (r).s3, \
                                     (l).s4, (r).s4, (l).s5, (r).s5, (l).s6, (r).s6, (l).s7, (r).s7))

// VW floats from p, those at n and beyond read as zero (the ragged end of a row).
// Its only readers read layer outputs (ACT_IN).
VEC vload_tail(__global const ACT_IN *p, const int n) {
    float t[VW];
    for (int q = 0; q < VW; ++q) t[q] = q < n ? LOAD_ACT(q, p) : 0.0f;
    return VLOAD(0, t);
}

// out (+)= value, the common ending of the gradient kernels.
void store_or_add(__global float *out, const int i, const float value, const int accumulate) {
    out[i] = accumulate ? out[i] + value : value;
}

// The first `count` floats at p (all 4 when count ≥ 4), zeros after them.
float4 vload4_upto(__global const float *p, const int count) {
    if (count >= 4) return vload4(0, p);
    return (float4)(count > 0 ? p[0] : 0.0f, count > 1 ? p[1] : 0.0f, count > 2 ? p[2] : 0.0f, 0.0f);
}
#if ACT_IN_HALF
// The same from a layer output in 16-bit storage.
float4 vload4_upto_act(__global const ACT_IN *p, const int count) {
    if (count >= 4) return LOAD_ACT4(0, p);
    return (float4)(count > 0 ? LOAD_ACT(0, p) : 0.0f, count > 1 ? LOAD_ACT(1, p) : 0.0f,
                    count > 2 ? LOAD_ACT(2, p) : 0.0f, 0.0f);
}
#else
#define vload4_upto_act vload4_upto
#endif

// Stores (or adds) the first `count` lanes of value at p.
void store4_upto(__global float *p, const int count, const float4 value, const int accumulate) {
    if (count >= 4) {
        vstore4(accumulate ? value + vload4(0, p) : value, 0, p);
    } else {
        const float values[4] = {value.x, value.y, value.z, value.w};
        for (int q = 0; q < count; ++q) store_or_add(p, q, values[q], accumulate);
    }
}

// The convolutions' epilogue after the bias: ReLU, the mask (ReLU backward fused in), then store
// or accumulate. Inlined by force: PoCL may call a helper out of line.
__attribute__((always_inline)) void conv_epilogue_store(__global ACT_OUT *output, const int index, float value,
                                                        const int relu, __global const float *mask,
                                                        const int useMask, const int accumulate) {
    if (relu) value = fmax(value, 0.0f);
    if (useMask && !(mask[index] > 0.0f)) value = 0.0f;
    STORE_ACT(accumulate ? LOAD_OUT(index, output) + value : value, index, output);
}

// The Winograd output kernels' sums + bias, ReLU applied when `relu`: what they store and pool.
float conv_bias_relu(const float sum, const float bias, const int relu) {
    return relu ? fmax(sum + bias, 0.0f) : sum + bias;
}
float16 conv_bias_relu16(const float16 sums, const float bias, const int relu) {
    const float16 value = sums + (float16)(bias);
    return relu ? fmax(value, (float16)(0.0f)) : value;
}

// The rest of conv_epilogue_store for 16 outputs from `index` whose bias and ReLU are applied
// (conv_bias_relu16: the Winograd output kernels' rows); with `stream` (WINO_STREAM_OUTPUT) stored
// past the caches.
__attribute__((always_inline)) void conv_epilogue_store16(__global ACT_OUT *output, const int index, float16 value,
                                                          __global const float *mask, const int useMask,
                                                          const int accumulate, const int stream) {
    if (useMask) value = select((float16)(0.0f), value, vload16(0, mask + index) > (float16)(0.0f));
    if (accumulate) value += LOAD_OUT16(0, output + index);
#if NT_STORES && !ACT_OUT_HALF
    if (stream) {
        __builtin_nontemporal_store(value, (__global float16 *)(output + index));
        return;
    }
#endif
    STORE_ACT16(value, 0, output + index);
}

// The first maximum of four in row-major order, lane by lane, as argmax4 picks it.
#define POOL_MAX4(v0, v1, v2, v3, best, k) { \
    best = v0; k = (int8)(0); \
    int8 wins = v1 > best; best = select(best, v1, wins); k = select(k, (int8)(1), wins); \
    wins = v2 > best; best = select(best, v2, wins); k = select(k, (int8)(2), wins); \
    wins = v3 > best; best = select(best, v3, wins); k = select(k, (int8)(3), wins); }

// Pooling fused into the Winograd output kernels (their `pool`: 0 none, 1 max, 2 average): the
// 2×2 window of top-left t0, top-right t1, bottom-left u0, bottom-right u1 as pool2x2 computes
// it from the values it reads, the same comparisons or sums in the same order.
float pool_window(const float t0, const float t1, const float u0, const float u1, const int pool) {
    if (pool == 2) return ((t0 + t1) + (u0 + u1)) * 0.25f;
    float best = t0;
    if (t1 > best) best = t1;
    if (u0 > best) best = u0;
    if (u1 > best) best = u1;
    return best;
}

// Stores from `p` the 8 windows of two rows' 16 values (t above u), pool_window's; only those
// whose two columns lie in the first `inside` pixels.
__attribute__((always_inline)) void pool_store16(__global ACT_OUT *p, const float16 t, const float16 u,
                                                 const int pool, const int inside) {
    float8 value;
    if (pool == 2) {
        value = ((t.even + t.odd) + (u.even + u.odd)) * 0.25f;
    } else {
        int8 k;
        POOL_MAX4(t.even, t.odd, u.even, u.odd, value, k)
    }
    if (inside >= 16) {
        STORE_ACT8(value, 0, p);
    } else {
        float lanes[8];
        vstore8(value, 0, lanes);
        for (int q = 0; 2 * q + 1 < inside; ++q) STORE_ACT(lanes[q], q, p);
    }
}

// The tiled products (WINO_GEMM, GRAM_GEMM, GB_GEMM): 16×16 work-groups, each item M × N results
// (WGEMM_M × WGEMM_N; 8 × 8 in the multiply's wide variant), a group 16·M × 16·N.
#define WG_TSK 16
// The loop both tiled products share: acc[i][j] (+)= Σ_c A[c][o0 + ty·M + i] ·
// B[c][t0 + 4·(tx + 16·j) … + 3] over c < channels, WG_TSK channels staged at a time in the
// kernel's __local float4 as[buffer][WG_TSK][4·M] and bs[buffer][WG_TSK][4·N].
// LOAD_A(c, o) and LOAD_B(c, t) give the float4 at A[c][o … o + 3] and B[c][t … t + 3] (zeros
// past the edges). With WGEMM_DB a step multiplies buffer cur while the group stages the next
// channels into the other; the barrier ending the step both publishes those and frees cur for
// the step after. Without, one buffer: stage, barrier, multiply, barrier. The same multiply-adds
// in the same order either way.
#define TILED_STAGE(M, N, buffer, c0, channels, LOAD_A, LOAD_B) \
    for (int l = id; l < WG_TSK * 4 * (M); l += 256) { \
        const int lc = l / (4 * (M)), lo = l - lc * (4 * (M)); \
        const int c = (c0) + lc, o = o0 + lo * 4; \
        as[buffer][lc][lo] = c < (channels) ? LOAD_A(c, o) : (float4)(0.0f); \
    } \
    for (int l = id; l < WG_TSK * 4 * (N); l += 256) { \
        const int lc = l / (4 * (N)), lt = l - lc * (4 * (N)); \
        const int c = (c0) + lc, t = t0 + lt * 4; \
        bs[buffer][lc][lt] = c < (channels) ? LOAD_B(c, t) : (float4)(0.0f); \
    }
#define TILED_PRODUCT(M, N, channels, LOAD_A, LOAD_B) \
    TILED_STAGE(M, N, 0, 0, channels, LOAD_A, LOAD_B) \
    barrier(CLK_LOCAL_MEM_FENCE); \
    for (int c0 = 0, cur = 0; c0 < (channels); c0 += WG_TSK, cur ^= WGEMM_DB) { \
        const int more = c0 + WG_TSK < (channels); \
        if (WGEMM_DB && more) { TILED_STAGE(M, N, cur ^ WGEMM_DB, c0 + WG_TSK, channels, LOAD_A, LOAD_B) } \
        _Pragma("unroll") for (int k = 0; k < WG_TSK; ++k) { \
            float4 b[(N) / 4]; \
            _Pragma("unroll") for (int j = 0; j < (N) / 4; ++j) b[j] = bs[cur][k][tx + 16 * j]; \
            _Pragma("unroll") for (int i4 = 0; i4 < (M) / 4; ++i4) { \
                const float4 a = as[cur][k][ty * ((M) / 4) + i4]; \
                _Pragma("unroll") for (int j = 0; j < (N) / 4; ++j) { \
                    acc[4 * i4][j] = MAD((float4)(a.x), b[j], acc[4 * i4][j]); \
                    acc[4 * i4 + 1][j] = MAD((float4)(a.y), b[j], acc[4 * i4 + 1][j]); \
                    acc[4 * i4 + 2][j] = MAD((float4)(a.z), b[j], acc[4 * i4 + 2][j]); \
                    acc[4 * i4 + 3][j] = MAD((float4)(a.w), b[j], acc[4 * i4 + 3][j]); \
                } \
            } \
        } \
        barrier(CLK_LOCAL_MEM_FENCE); \
        if (!WGEMM_DB && more) { \
            TILED_STAGE(M, N, 0, c0 + WG_TSK, channels, LOAD_A, LOAD_B) \
            barrier(CLK_LOCAL_MEM_FENCE); \
        } \
    }
// Calls STORE(o, t, value) with each work-item's results: output channel (row) o, the float4 of
// tiles (pixels) t … t + 3.
#define TILED_RESULTS(M, N, STORE) \
    _Pragma("unroll") for (int i = 0; i < (M); ++i) { \
        _Pragma("unroll") for (int j = 0; j < (N) / 4; ++j) { \
            const int row = o0 + ty * (M) + i, column = t0 + 4 * (tx + 16 * j); \
            STORE(row, column, acc[i][j]) \
        } \
    }
#define TILED_SETUP(M, N) \
    __local float4 as[1 + WGEMM_DB][WG_TSK][4 * (M)]; \
    __local float4 bs[1 + WGEMM_DB][WG_TSK][4 * (N)]; \
    const int tx = get_local_id(0), ty = get_local_id(1), id = ty * 16 + tx; \
    const int t0 = get_group_id(0) * 16 * (N), o0 = get_group_id(1) * 16 * (M); \
    float4 acc[M][(N) / 4]; \
    _Pragma("unroll") for (int i = 0; i < (M); ++i) { \
        _Pragma("unroll") for (int j = 0; j < (N) / 4; ++j) acc[i][j] = (float4)(0.0f); \
    }

// ---------------------------------------------------------------------------------------------
// Elementwise and vector ops

__kernel void fill(__global float *x, const float value, const int n) {
    const int i = get_global_id(0);
    if (i < n) x[i] = value;
}

// y += alpha · x
__kernel void axpy(const float alpha, __global const float *x, __global float *y, const int n) {
    const int i = get_global_id(0);
    if (i < n) y[i] = mad(alpha, x[i], y[i]);
}

// x *= alpha
__kernel void scale(__global float *x, const float alpha, const int n) {
    const int i = get_global_id(0);
    if (i < n) x[i] *= alpha;
}

// x = min(max(x, lower), upper); NaN stays NaN (fmin/fmax would hide it from the loss checks).
__kernel void clamp_in_place(__global float *x, const float lower, const float upper, const int n) {
    const int i = get_global_id(0);
    if (i < n) {
        const float v = x[i];
        x[i] = v < lower ? lower : (v > upper ? upper : v);
    }
}

// x = (float)(half)x, rounded to nearest even: what storing an activation as a 16-bit float and
// loading it back gives (--storage half). vstore_half/vload_half are core OpenCL: no cl_khr_fp16,
// so the half lives in a ushort's bytes (a half variable needs the extension). Beyond ±65504: ±inf.
__kernel void round_to_half(__global float *x, const int n) {
    const int i = get_global_id(0);
    if (i >= n) return;
    ushort bits;
    vstore_half_rte(x[i], 0, (__private half *)&bits);
    x[i] = vload_half(0, (__private const half *)&bits);
}

// target[c, ty + i, tx + j] = source[c, sy + i, sx + j] for every channel c, i < h, j < w: a
// rectangle of every plane of a C×sh×sw tensor into a C×th×tw one (a tile's image, an interior,
// a tile's layer output: halves to halves exactly, through float). Global [w, h, C]: no division,
// neighbouring work-items on neighbouring elements.
__kernel void copy_region(__global const ACT_IN *source, const int sh, const int sw, const int sy, const int sx,
                          __global ACT_OUT *target, const int th, const int tw, const int ty, const int tx) {
    const int j = get_global_id(0), i = get_global_id(1), c = get_global_id(2);
    STORE_ACT(LOAD_ACT((c * sh + sy + i) * sw + sx + j, source), (c * th + ty + i) * tw + tx + j, target);
}

__kernel void relu(__global const ACT_IN *x, __global ACT_OUT *y, const int n) {
    const int i = get_global_id(0);
    if (i < n) STORE_ACT(fmax(LOAD_ACT(i, x), 0.0f), i, y);
}

// dx = a > 0 ? dy : 0 (a is the ReLU output; dx may alias dy).
__kernel void relu_backward(__global const float *dy, __global const ACT_IN *a, __global float *dx, const int n) {
    const int i = get_global_id(0);
    if (i < n) dx[i] = LOAD_ACT(i, a) > 0.0f ? dy[i] : 0.0f;
}

// grad (+)= factor · (a − b), factor = 2·scale/N.
__kernel void mean_squared_error_gradient(__global const ACT_IN *a, __global const ACT_IN *b, const float factor,
                           __global float *grad, const int accumulate, const int n) {
    const int i = get_global_id(0);
    if (i < n) store_or_add(grad, i, factor * (LOAD_ACT(i, a) - LOAD_ACT(i, b)), accumulate);
}

// grad (+)= scale · ∂L_tv/∂x. Each pixel is the anchor of its own right and down differences
// (when i < H−1 and j < W−1) and the far end of the right difference anchored at (i, j−1) and of
// the down difference anchored at (i−1, j). Global size: [width rounded up, planes · height]: a
// row per id 1, so no work-item divides its index by the width.
__kernel void total_variation_gradient(__global const float *x, const int height, const int width, const float scale,
                          __global float *grad, const int accumulate) {
    const int j = get_global_id(0), row = get_global_id(1);
    if (j >= width) return;
    const int i = row % height, index = row * width + j;
    const float v = x[index];
    float d = 0.0f;
    if (i < height - 1 && j < width - 1) d += (v - x[index + 1]) + (v - x[index + width]);
    if (j > 0 && i < height - 1) d -= x[index - 1] - v;
    if (i > 0 && j < width - 1) d -= x[index - width] - v;
    store_or_add(grad, index, scale * d, accumulate);
}

// out[c] = image[p_c] · s_c + o_c for the three channels. Global size: [plane rounded up, 3].
__kernel void preprocess(__global const float *image, const int plane,
                         const int p0, const int p1, const int p2,
                         const float s0, const float s1, const float s2,
                         const float o0, const float o1, const float o2, __global float *out) {
    const int k = get_global_id(0), c = get_global_id(1), index = c * plane + k;
    if (k >= plane) return;
    const int p = c == 0 ? p0 : (c == 1 ? p1 : p2);
    const float s = c == 0 ? s0 : (c == 1 ? s1 : s2);
    const float o = c == 0 ? o0 : (c == 1 ? o1 : o2);
    out[index] = image[p * plane + k] * s + o;
}

// gradImage[q] (+)= Σ_{c: p_c = q} gradOut[c] · s_c. Global size: [plane rounded up, 3].
__kernel void preprocess_backward(__global const float *gradOut, const int plane,
                                  const int p0, const int p1, const int p2,
                                  const float s0, const float s1, const float s2,
                                  __global float *gradImage, const int accumulate) {
    const int k = get_global_id(0), q = get_global_id(1), index = q * plane + k;
    if (k >= plane) return;
    float g = 0.0f;
    if (p0 == q) g += gradOut[k] * s0;
    if (p1 == q) g += gradOut[plane + k] * s1;
    if (p2 == q) g += gradOut[2 * plane + k] * s2;
    store_or_add(gradImage, index, g, accumulate);
}

// round(clamp(x, 0, 255)); round() takes halves away from zero.
__kernel void clamp_round(__global const float *x, __global float *y, const int n) {
    const int i = get_global_id(0);
    if (i < n) y[i] = round(clamp(x[i], 0.0f, 255.0f));
}

// y[c, p] (+)= x[c, p] · mask[p]: a 1×H×W mask over every channel (style masks; x a layer
// output or a gradient, y float32).
__kernel void multiply_by_mask(__global const ACT_IN *x, __global const float *mask, const int plane,
                               __global float *y, const int accumulate, const int n) {
    const int i = get_global_id(0);
    if (i < n) store_or_add(y, i, LOAD_ACT(i, x) * mask[i % plane], accumulate);
}

// One bias-corrected Adam step; correction1 = 1 − β1^t and correction2 = 1 − β2^t come from the host.
__kernel void adam_step(__global float *p, __global const float *g, __global float *m, __global float *v,
                        const float beta1, const float beta2, const float correction1, const float correction2,
                        const float rate, const float epsilon, const int n) {
    const int i = get_global_id(0);
    if (i >= n) return;
    const float gi = g[i];
    const float mi = beta1 * m[i] + (1.0f - beta1) * gi;
    const float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] -= rate * (mi / correction1) / (sqrt(vi / correction2) + epsilon);
}

// ---------------------------------------------------------------------------------------------
// 3×3 convolution, stride 1, zero padding 1, cross-correlation, as an implicit GEMM with a
// register block of CONV_COB output channels (one vector) × CONV_PXB pixels of a row per
// work-item; the K = C_in·9 reduction stays in registers. Weights are laid out once at load
// time as [C_in·9][weightStride] (weightStride = C_out rounded up to CONV_COB, zero padded),
// so a block of output channels is one contiguous vector load. Zero padding by bounds checks.
//
// The same kernel computes backward-data: gradInput = conv3x3(gradOutput; W') with
// W'[i][o][ky][kx] = W[o][i][2−ky][2−kx], no bias, optionally masked by a ReLU output and
// accumulated. The epilogue, in order: + bias, ReLU, × (mask > 0), + previous output.
//
// Global size: [ceil(W / CONV_PXB), H, weightStride / CONV_COB].
__kernel void conv3x3(__global const ACT_IN *input, const int inChannels, const int height, const int width,
                      __global const float *weights, const int outChannels, const int weightStride,
                      __global const float *bias, const int useBias, const int relu,
                      __global const float *mask, const int useMask, const int accumulate,
                      __global ACT_OUT *output) {
#if CONV_CHANNELS_FIRST
    const int x0 = get_global_id(2) * CONV_PXB;
    const int o0 = get_global_id(0) * CONV_COB;
#else
    const int x0 = get_global_id(0) * CONV_PXB;
    const int o0 = get_global_id(2) * CONV_COB;
#endif
    const int y = get_global_id(1);
    if (x0 >= width || y >= height || o0 >= outChannels) return;
    const int plane = height * width;
    const int interior = x0 > 0 && x0 + CONV_PXB < width;

    COVEC acc[CONV_PXB];
    #pragma unroll
    for (int p = 0; p < CONV_PXB; ++p) acc[p] = (COVEC)(0.0f);

#if CONV_BLOCKED_WEIGHTS
    // Block-major weights [weightStride / CONV_COB][inChannels·9][CONV_COB]: this work-item's
    // weights are one contiguous stream.
    __global const float *w = weights + o0 * inChannels * 9;
    const int tapStride = CONV_COB;
#else
    __global const float *w = weights + o0;
    const int tapStride = weightStride;
#endif
    for (int i = 0; i < inChannels; ++i) {
        __global const ACT_IN *inPlane = input + i * plane;
        for (int ky = 0; ky < 3; ++ky) {
            const int yy = y + ky - 1;
            if (yy < 0 || yy >= height) continue;
            __global const ACT_IN *r = inPlane + yy * width;
            // The CONV_PXB + 2 input values this row of the window touches.
            float row[CONV_PXB + 2];
            if (CONV_FAST_INTERIOR && interior) {
                #pragma unroll
                for (int t = 0; t < CONV_PXB + 2; ++t) row[t] = LOAD_ACT(x0 + t - 1, r);
            } else {
                #pragma unroll
                for (int t = 0; t < CONV_PXB + 2; ++t) {
                    const int xx = x0 + t - 1;
                    row[t] = (xx >= 0 && xx < width) ? LOAD_ACT(xx, r) : 0.0f;
                }
            }
            __global const float *wk = w + (i * 9 + ky * 3) * tapStride;
            #pragma unroll
            for (int kx = 0; kx < 3; ++kx) {
                const COVEC wv = COLOAD(0, wk + kx * tapStride);
                #pragma unroll
                for (int p = 0; p < CONV_PXB; ++p) acc[p] = MAD((COVEC)(row[p + kx]), wv, acc[p]);
            }
        }
    }

    const COVEC b = useBias ? COLOAD(0, bias + o0) : (COVEC)(0.0f);
    // Stored channel by channel, so each channel's pixels are written as one contiguous run.
    float values[CONV_PXB][CONV_COB];
    #pragma unroll
    for (int p = 0; p < CONV_PXB; ++p) COSTORE(acc[p] + b, 0, values[p]);
    for (int c = 0; c < CONV_COB; ++c) {
        if (o0 + c >= outChannels) break;
        const int row = (o0 + c) * plane + y * width;
        for (int p = 0; p < CONV_PXB; ++p) {
            const int x = x0 + p;
            if (x >= width) break;
            conv_epilogue_store(output, row + x, values[p][c], relu, mask, useMask, accumulate);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The same 3×3 convolution for few channels on either side: conv1_1 (3 → 64) and its
// backward-data (64 → 3), where a vector of CONV_COB channels would leave most lanes idle, or
// (forward) the scalar epilogue would cost as much as the 27 taps. Here a vector holds NARROW_PX
// neighbouring pixels of a row. A work-item computes two rows of them for 4 output channels at a
// time (3 when only 3 are left: no multiplies by padding), looping over the output channels;
// each of the four input rows is loaded once per channel (three shifted vectors) and feeds both
// output rows. Every accumulator is a named variable: with arrays PoCL spilled them.
// Weights [ceil(O / 4)][I·9][4], zero past O. Global size: [ceil(W / NARROW_PX), ceil(H / 2)].
#define NVEC CAT(float, NARROW_PX)
#define NLOAD CAT(vload, NARROW_PX)
#define NSTORE CAT(vstore, NARROW_PX)
#if ACT_IN_HALF
#define NLOAD_ACT CAT(vload_half, NARROW_PX)
#else
#define NLOAD_ACT NLOAD
#endif
#if ACT_OUT_HALF
#define NLOAD_OUT CAT(vload_half, NARROW_PX)
#define NSTORE_ACT CAT(CAT(vstore_half, NARROW_PX), _rte)
#else
#define NLOAD_OUT NLOAD
#define NSTORE_ACT NSTORE
#endif

// v moved one lane up or down, a zero shifted in: the left and right neighbours at the image's
// edges, without a bounce through private memory (whose mixed-width stores and loads stalled).
#if NARROW_PX == 16
#define NARROW_SHIFT_RIGHT(v) SHIFT_RIGHT16(v)
#define NARROW_SHIFT_LEFT(v) SHIFT_LEFT16(v)
#elif NARROW_PX == 8
#define NARROW_SHIFT_RIGHT(v) ((NVEC)(0.0f, (v).s0123, (v).s456))
#define NARROW_SHIFT_LEFT(v) ((NVEC)((v).s1234, (v).s567, 0.0f))
#elif NARROW_PX == 4
#define NARROW_SHIFT_RIGHT(v) ((NVEC)(0.0f, (v).s012))
#define NARROW_SHIFT_LEFT(v) ((NVEC)((v).s123, 0.0f))
#else
#define NARROW_SHIFT_RIGHT(v) ((NVEC)(0.0f, (v).s0))
#define NARROW_SHIFT_LEFT(v) ((NVEC)((v).s1, 0.0f))
#endif

// Input row yy of one channel as three vectors shifted by −1, 0, +1 pixels (zero outside).
#define NARROW_ROW(yy, l, c, r) \
    if ((yy) < 0 || (yy) >= height) { \
        l = c = r = (NVEC)(0.0f); \
    } else if (interior) { \
        NARROW_ROW_INSIDE(yy, l, c, r) \
    } else if (x0 == 0 && NARROW_PX < width) { \
        __global const ACT_IN *p = inPlane + (yy) * width; \
        c = NLOAD_ACT(0, p); r = NLOAD_ACT(0, p + 1); l = NARROW_SHIFT_RIGHT(c); \
    } else if (x0 > 0 && x0 + NARROW_PX == width) { \
        __global const ACT_IN *p = inPlane + (yy) * width + x0; \
        l = NLOAD_ACT(0, p - 1); c = NLOAD_ACT(0, p); r = NARROW_SHIFT_LEFT(c); \
    } else { \
        float row[NARROW_PX + 2]; \
        for (int k = 0; k < NARROW_PX + 2; ++k) { \
            const int xx = x0 + k - 1; \
            row[k] = (xx >= 0 && xx < width) ? LOAD_ACT((yy) * width + xx, inPlane) : 0.0f; \
        } \
        l = NLOAD(0, row); c = NLOAD(0, row + 1); r = NLOAD(0, row + 2); \
    }

// The same for a row and columns inside the image.
#define NARROW_ROW_INSIDE(yy, l, c, r) { \
    __global const ACT_IN *p = inPlane + (yy) * width + x0; \
    l = NLOAD_ACT(0, p - 1); c = NLOAD_ACT(0, p); r = NLOAD_ACT(0, p + 1); }

// Prefetches the lines of the work-item's four input rows in channel `NARROW_PREFETCH` further on.
#if NARROW_PREFETCH
#define NARROW_FETCH_AHEAD(i) \
    if ((i) + NARROW_PREFETCH < inChannels) { \
        __global const ACT_IN *q = input + ((i) + NARROW_PREFETCH) * plane + x0; \
        for (int k = -1; k < 3; ++k) { \
            __builtin_prefetch(q + (y0 + k) * width); __builtin_prefetch(q + (y0 + k) * width + NARROW_PX); \
        } \
    }
#else
#define NARROW_FETCH_AHEAD(i)
#endif

// One tap row (ky) of the window: three shifted vectors times the weights of 4 outputs (of 3
// when FOUR is 0), each weight a scalar broadcast.
#define NW(k, j) ((NVEC)(wi[4 * (k) + (j)]))
#define NARROW_TAPS(ky, FOUR, l, c, r, a0, a1, a2, a3) { \
    a0 = MAD(l, NW(3 * (ky), 0), a0); a1 = MAD(l, NW(3 * (ky), 1), a1); a2 = MAD(l, NW(3 * (ky), 2), a2); \
    a0 = MAD(c, NW(3 * (ky) + 1, 0), a0); a1 = MAD(c, NW(3 * (ky) + 1, 1), a1); a2 = MAD(c, NW(3 * (ky) + 1, 2), a2); \
    a0 = MAD(r, NW(3 * (ky) + 2, 0), a0); a1 = MAD(r, NW(3 * (ky) + 2, 1), a1); a2 = MAD(r, NW(3 * (ky) + 2, 2), a2); \
    if (FOUR) { \
        a3 = MAD(l, NW(3 * (ky), 3), a3); a3 = MAD(c, NW(3 * (ky) + 1, 3), a3); a3 = MAD(r, NW(3 * (ky) + 2, 3), a3); \
    } }

// The accumulation over all input channels into a00 … a13, rows loaded by ROW.
#define NARROW_CHANNELS(ROW, FOUR) \
    for (int i = 0; i < inChannels; ++i) { \
        __global const ACT_IN *inPlane = input + i * plane; \
        __global const float *wi = w + i * 36; \
        NARROW_FETCH_AHEAD(i) \
        NARROW_CHANNEL(ROW, FOUR) \
    }

// One input channel's taps (its plane inPlane, its weights wi) added into a00 … a13.
#define NARROW_CHANNEL(ROW, FOUR) { \
        NVEC l, c, r; \
        ROW(y0 - 1, l, c, r) \
        NARROW_TAPS(0, FOUR, l, c, r, a00, a01, a02, a03) \
        ROW(y0, l, c, r) \
        NARROW_TAPS(1, FOUR, l, c, r, a00, a01, a02, a03) \
        NARROW_TAPS(0, FOUR, l, c, r, a10, a11, a12, a13) \
        ROW(y0 + 1, l, c, r) \
        NARROW_TAPS(2, FOUR, l, c, r, a00, a01, a02, a03) \
        NARROW_TAPS(1, FOUR, l, c, r, a10, a11, a12, a13) \
        ROW(y0 + 2, l, c, r) \
        NARROW_TAPS(2, FOUR, l, c, r, a10, a11, a12, a13) \
    }

// The same for one output row yy (sums a0 … a3), for conv3x3_narrow_strip, whose sums live only
// across one channel: one row's four sums leave registers for the inputs where both rows' would
// not (8 vectors of 16 floats fill AVX2's 16 registers).
#define NARROW_CHANNEL_ROW(ROW, FOUR, yy, a0, a1, a2, a3) { \
        NVEC l, c, r; \
        _Pragma("unroll") for (int ky = 0; ky < 3; ++ky) { \
            ROW((yy) - 1 + ky, l, c, r) \
            NARROW_TAPS(ky, FOUR, l, c, r, a0, a1, a2, a3) \
        } }
#define NARROW_CHANNEL_TOP(ROW, FOUR) NARROW_CHANNEL_ROW(ROW, FOUR, y0, a00, a01, a02, a03)
#define NARROW_CHANNEL_BOTTOM(ROW, FOUR) NARROW_CHANNEL_ROW(ROW, FOUR, y0 + 1, a10, a11, a12, a13)

// BODY(ROW, FOUR) in the copy for this work-item: rows without bounds checks where `inside`
// (with the checks between the taps, LLVM hoisted the weight broadcasts out of them and spilled
// each), and no multiplies by padding where fewer than `four` outputs are left.
#define NARROW_PATHS(BODY) \
    if (inside && four) { \
        BODY(NARROW_ROW_INSIDE, 1) \
    } else if (inside) { \
        BODY(NARROW_ROW_INSIDE, 0) \
    } else if (four) { \
        BODY(NARROW_ROW, 1) \
    } else { \
        BODY(NARROW_ROW, 0) \
    }

// Stores a vector at an aligned address whole (PoCL split vstore16 into four 128-bit stores),
// past the caches where NT_STORES.
inline void narrow_store_aligned(NVEC value, __global ACT_OUT *p) {
#if ACT_OUT_HALF
    NSTORE_ACT(value, 0, p);
#elif NT_STORES
    __builtin_nontemporal_store(value, (__global NVEC *)p);
#else
    *(__global NVEC *)p = value;
#endif
}

// The epilogue's first half: + the bias of output o, then ReLU.
inline NVEC narrow_bias_relu(NVEC value, __global const float *bias, const int o, const int useBias, const int relu) {
    value += (NVEC)(useBias ? bias[o] : 0.0f);
    return relu ? fmax(value, (NVEC)(0.0f)) : value;
}

// The plain epilogue (bias, ReLU) of one aligned vector.
inline void narrow_store_plain(NVEC value, __global const float *bias, const int o, const int useBias, const int relu,
                               __global ACT_OUT *p) {
    narrow_store_aligned(narrow_bias_relu(value, bias, o, useBias, relu), p);
}

// Stores one row of one output channel with the epilogue; whole vectors where it can.
// Inlined by force: PoCL called it out of line, and each call cost a vzeroupper.
__attribute__((always_inline)) void narrow_store(NVEC value, const int o, const int y, const int x0, const int height,
                                                 const int width, __global const float *bias, const int useBias,
                                                 const int relu, __global const float *mask, const int useMask,
                                                 const int accumulate, __global ACT_OUT *output) {
    if (y >= height) return;
    value = narrow_bias_relu(value, bias, o, useBias, relu);
    const int start = (o * height + y) * width + x0;
    if (x0 + NARROW_PX <= width && (useMask || accumulate)) {
        if (useMask) value = select((NVEC)(0.0f), value, NLOAD(0, mask + start) > (NVEC)(0.0f));
        if (accumulate) value += NLOAD_OUT(0, output + start);
        NSTORE_ACT(value, 0, output + start);
        return;
    }
    if (x0 + NARROW_PX <= width) {
        if ((((ulong)(output + start)) & (sizeof(NVEC) - 1)) == 0) {
            narrow_store_aligned(value, output + start);
        } else {
            NSTORE_ACT(value, 0, output + start);
        }
        return;
    }
    float values[NARROW_PX];
    NSTORE(value, 0, values);
    // Bias and ReLU are applied above.
    for (int k = 0; k < NARROW_PX && x0 + k < width; ++k) {
        conv_epilogue_store(output, start + k, values[k], 0, mask, useMask, accumulate);
    }
}

__kernel void conv3x3_narrow(__global const ACT_IN *input, const int inChannels, const int height, const int width,
                             __global const float *weights, const int outChannels,
                             __global const float *bias, const int useBias, const int relu,
                             __global const float *mask, const int useMask, const int accumulate,
                             __global ACT_OUT *output) {
    const int x0 = get_global_id(0) * NARROW_PX, y0 = get_global_id(1) * 2;
    if (x0 >= width || y0 >= height) return;
    const int plane = height * width;
    const int interior = x0 > 0 && x0 + NARROW_PX < width;
    const int inside = interior && y0 >= 1 && y0 + 2 < height;
    // Both rows whole aligned vectors, the epilogue bias and ReLU only (all of conv1_1's forward
    // where the width is whole vectors and the height even): each block's 8 vectors go out
    // unrolled, without narrow_store's checks.
    const int plainStores = !useMask && !accumulate && x0 + NARROW_PX <= width && y0 + 1 < height &&
        ((((ulong)(output + y0 * width + x0)) | (ulong)(plane * sizeof(float)) | (ulong)(width * sizeof(float))) &
         (sizeof(NVEC) - 1)) == 0;
    for (int o0 = 0; o0 < outChannels; o0 += 4) {
        NVEC a00 = (NVEC)(0.0f), a01 = a00, a02 = a00, a03 = a00;  // row y0, outputs o0 … o0 + 3
        NVEC a10 = a00, a11 = a00, a12 = a00, a13 = a00;            // row y0 + 1
        __global const float *w = weights + (o0 / 4) * inChannels * 36;
        const int four = outChannels - o0 >= 4;
        NARROW_PATHS(NARROW_CHANNELS)
        if (plainStores && four) {
            __global ACT_OUT *out = output + (o0 * height + y0) * width + x0;
            narrow_store_plain(a00, bias, o0, useBias, relu, out);
            narrow_store_plain(a10, bias, o0, useBias, relu, out + width);
            narrow_store_plain(a01, bias, o0 + 1, useBias, relu, out + plane);
            narrow_store_plain(a11, bias, o0 + 1, useBias, relu, out + plane + width);
            narrow_store_plain(a02, bias, o0 + 2, useBias, relu, out + 2 * plane);
            narrow_store_plain(a12, bias, o0 + 2, useBias, relu, out + 2 * plane + width);
            narrow_store_plain(a03, bias, o0 + 3, useBias, relu, out + 3 * plane);
            narrow_store_plain(a13, bias, o0 + 3, useBias, relu, out + 3 * plane + width);
            continue;
        }
        const NVEC rows0[4] = { a00, a01, a02, a03 }, rows1[4] = { a10, a11, a12, a13 };
        for (int j = 0; j < 4 && o0 + j < outChannels; ++j) {
            narrow_store(rows0[j], o0 + j, y0, x0, height, width, bias, useBias, relu, mask, useMask, accumulate,
                         output);
            narrow_store(rows1[j], o0 + j, y0 + 1, x0, height, width, bias, useBias, relu, mask, useMask, accumulate,
                         output);
        }
    }
    NT_FENCE();
}

// conv3x3_narrow for many input channels into at most 4 outputs: conv1_1's backward-data (64 → 3).
// There conv3x3_narrow's work-item reads 4 rows of every input channel for one vector, 256 rows
// at once: too many streams for a CPU's prefetchers, even with NARROW_PREFETCH. Here the loops
// swap: a work-item takes NARROW_STRIP vectors of two rows and walks them once per input channel,
// keeping their partial sums in private memory (the L1 cache), so each channel's 4 rows are read
// as 4 contiguous runs; each vector's two output rows take their taps one after the other.
// Weights as conv3x3_narrow's, one block of 4.
// Global size: [ceil(W / (NARROW_PX · NARROW_STRIP)), ceil(H / 2)]. Compiled only where it is used.
#if NARROW_STRIP
__kernel void conv3x3_narrow_strip(__global const ACT_IN *input, const int inChannels, const int height,
                                   const int width, __global const float *weights, const int outChannels,
                                   __global const float *bias, const int useBias, const int relu,
                                   __global const float *mask, const int useMask, const int accumulate,
                                   __global ACT_OUT *output) {
    const int xs = get_global_id(0) * (NARROW_PX * NARROW_STRIP), y0 = get_global_id(1) * 2;
    if (xs >= width || y0 >= height) return;
    const int plane = height * width;
    const int vectors = min(NARROW_STRIP, (width - xs + NARROW_PX - 1) / NARROW_PX);
    const int four = outChannels >= 4;
    // sums[8v … 8v + 7]: vector v's rows y0 (outputs 0 … 3) and y0 + 1 (outputs 0 … 3).
    NVEC sums[8 * NARROW_STRIP];
    for (int k = 0; k < 8 * NARROW_STRIP; ++k) sums[k] = (NVEC)(0.0f);
    for (int i = 0; i < inChannels; ++i) {
        __global const ACT_IN *inPlane = input + i * plane;
        __global const float *wi = weights + i * 36;
        for (int v = 0; v < vectors; ++v) {
            const int x0 = xs + v * NARROW_PX;
            const int interior = x0 > 0 && x0 + NARROW_PX < width;
            const int inside = interior && y0 >= 1 && y0 + 2 < height;
            NVEC *sum = sums + 8 * v;
#if NARROW_PREFETCH
            // The same vector's rows NARROW_PREFETCH channels on: the hardware prefetcher does not
            // follow one stream per channel.
            if (i + NARROW_PREFETCH < inChannels) {
                __global const ACT_IN *q = inPlane + NARROW_PREFETCH * plane + x0;
                for (int k = -1; k < 3; ++k) __builtin_prefetch(q + (y0 + k) * width);
            }
#endif
            {
                NVEC a00 = sum[0], a01 = sum[1], a02 = sum[2], a03 = sum[3];
                NARROW_PATHS(NARROW_CHANNEL_TOP)
                sum[0] = a00; sum[1] = a01; sum[2] = a02; sum[3] = a03;
            }
            {
                NVEC a10 = sum[4], a11 = sum[5], a12 = sum[6], a13 = sum[7];
                NARROW_PATHS(NARROW_CHANNEL_BOTTOM)
                sum[4] = a10; sum[5] = a11; sum[6] = a12; sum[7] = a13;
            }
        }
    }
    for (int v = 0; v < vectors; ++v) {
        for (int j = 0; j < 4 && j < outChannels; ++j) {
            const int x0 = xs + v * NARROW_PX;
            narrow_store(sums[8 * v + j], j, y0, x0, height, width, bias, useBias, relu, mask, useMask, accumulate,
                         output);
            narrow_store(sums[8 * v + 4 + j], j, y0 + 1, x0, height, width, bias, useBias, relu, mask, useMask,
                         accumulate, output);
        }
    }
    NT_FENCE();
}
#endif

// ---------------------------------------------------------------------------------------------
// The same 3×3 convolution (forward or backward-data, same epilogue) by Winograd F(2×2,3×3)
// (Lavin & Gray 2015): Y = Aᵀ [ Σ_c (G g_c Gᵀ) ⊙ (Bᵀ d_c B) ] A for each 2×2 output tile, d_c the
// 4×4 input patch around it (zero padded), with
//   Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1],  G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1],
//   Aᵀ = [1 1 1 0; 0 1 −1 −1]:
// 16 multiplies per tile and channel pair instead of 36. Every constant is exact in binary. Per
// convolution the weights are transformed (U = G g Gᵀ) into scratch, so only the raw weights stay
// resident; then three kernels run per band of tile rows: input transform → 16 matrix products
// over the channels → output transform + epilogue.
// Index ξ = 4·row + column of the 4×4 transformed tile; t = tile index within the band.

// The transforms run along tile rows, ROW_BLOCK tiles at a time, like the pooling kernels: a
// work-item takes `blocksPerItem` blocks of a tile row (CPUs: the whole row; GPUs: one). A block
// is one vector per tile column (tile t's column j is read from x = 2t − 1 + j: the even and odd
// lanes of two 16-float loads hold all four), not scalars gathered per tile; a ragged end runs one
// tile at a time. Global size: [max(1, ceil(blocks / blocksPerItem)), tileRows, channels].

// Bᵀ times a column (d0 … d3), or a row times B: scalars or vectors alike.
#define WINOGRAD_BT(d0, d1, d2, d3, r0, r1, r2, r3) \
    r0 = (d0) - (d2); r1 = (d1) + (d2); r2 = (d2) - (d1); r3 = (d1) - (d3);
// Aᵀ times a column (s0 … s3), or a row times A.
#define WINOGRAD_AT(s0, s1, s2, s3, r0, r1) \
    r0 = (s0) + (s1) + (s2); r1 = (s1) - (s2) - (s3);

// The floats from one ξ's plane of the weight transforms, transformed input or products to the
// next: rows · tileStride rounded up to an odd number of 64-byte lines (WinogradBands.plane), so
// that the 16 to 64 planes a work-item writes or reads side by side fall in different cache sets.
#define WINO_PLANE(rows, tileStride) (((((rows) * (tileStride) + 15) / 16) | 1) * 16)

// The input transforms' parameters.
#define WINOGRAD_INPUT_PARAMETERS \
    __global const ACT_IN *input, const int channels, const int height, const int width, const int tilesX, \
        const int firstTileRow, const int tileRows, const int tileStride, const int blocksPerItem, __global float *v
// The input transforms' work-item: channel c, tile row `band`, blocks [first, end) of it; y0 the
// first input row of an F(m×m) tile row (m = `tile`), `out` the band's tile 0 of channel c in V.
#define WINOGRAD_INPUT_SETUP(tile) \
    const int band = get_global_id(1), c = get_global_id(2); \
    if (band >= tileRows || c >= channels) return; \
    const int blocks = (tilesX + ROW_BLOCK - 1) / ROW_BLOCK; \
    const int first = get_global_id(0) * blocksPerItem, end = min(first + blocksPerItem, blocks); \
    const int y0 = (tile) * (firstTileRow + band) - 1; \
    __global const ACT_IN *plane = input + c * height * width; \
    const int xiStride = WINO_PLANE(channels, tileStride); \
    __global float *out = v + c * tileStride + band * tilesX;

// Whether an output kernel stores its rows' whole 16-float parts non-temporally: NT_STORES, a
// fresh float output (nothing read first) on 64-byte-aligned rows; the parts of a block of
// ROW_BLOCK tiles are then whole lines, drained by NT_FENCE at the work-item's end.
#if NT_STORES && !ACT_OUT_HALF
#define WINO_STREAM_OUTPUT(output, width, accumulate) \
    (!(accumulate) && ((width) & 15) == 0 && ((ulong)(output) & 63) == 0)
#else
#define WINO_STREAM_OUTPUT(output, width, accumulate) 0
#endif

// The output kernels' parameters and set-up: work-item (block range, band row, output channel o).
// With `pool` (1 max, 2 average; the host passes it only where nothing is masked or accumulated)
// they also store pool2x2 of their outputs into `pooled`: tiles have even sides from even rows and
// columns, so every 2×2 window lies in one tile, and the pooling input is never read back.
#define WINOGRAD_OUTPUT_PARAMETERS \
    __global const float *m, const int outChannels, const int outStride, const int height, const int width, \
        const int tilesX, const int firstTileRow, const int tileRows, const int tileStride, const int blocksPerItem, \
        __global const float *bias, const int useBias, const int relu, __global const float *mask, \
        const int useMask, const int accumulate, __global ACT_OUT *output, __global ACT_OUT *pooled, const int pool
#define WINOGRAD_OUTPUT_SETUP(tile) \
    const int band = get_global_id(1), o = get_global_id(2); \
    if (band >= tileRows || o >= outChannels) return; \
    const int blocks = (tilesX + ROW_BLOCK - 1) / ROW_BLOCK; \
    const int first = get_global_id(0) * blocksPerItem, end = min(first + blocksPerItem, blocks); \
    __global const float *in = m + o * tileStride + band * tilesX; \
    const int xiStride = WINO_PLANE(outStride, tileStride); \
    const float b = useBias ? bias[o] : 0.0f; \
    const int y0 = (tile) * (firstTileRow + band); \
    const int stream = WINO_STREAM_OUTPUT(output, width, accumulate); \
    const int pooledWidth = width / 2; \
    __global ACT_OUT *pooledPlane = pooled + o * (height / 2) * pooledWidth;

// V[ξ][c][t] = (Bᵀ d_c B)[ξ] for the band's tiles. Global size: see above.
__kernel void winograd_input(WINOGRAD_INPUT_PARAMETERS) {
    WINOGRAD_INPUT_SETUP(2)
    for (int b = first; b < end; ++b) {
        const int tx0 = b * ROW_BLOCK;
        if (tx0 + ROW_BLOCK <= tilesX && 2 * tx0 + 2 * ROW_BLOCK <= width) {
            float8 d[4][4];
            #pragma unroll
            for (int i = 0; i < 4; ++i) {
                if (y0 + i < 0 || y0 + i >= height) {
                    d[i][0] = d[i][1] = d[i][2] = d[i][3] = (float8)(0.0f);
                } else {
                    // x from 2·tx0 − 1 (left) and from 2·tx0 + 1 (right), 16 each; a zero past an edge.
                    __global const ACT_IN *p = plane + (y0 + i) * width + 2 * tx0;
                    const float16 left = tx0 > 0 ? LOAD_ACT16(0, p - 1) : SHIFT_RIGHT16(LOAD_ACT16(0, p));
                    const float16 right = 2 * tx0 + 2 * ROW_BLOCK < width ? LOAD_ACT16(0, p + 1)
                                                                          : SHIFT_LEFT16(LOAD_ACT16(0, p));
                    d[i][0] = left.even; d[i][1] = left.odd; d[i][2] = right.even; d[i][3] = right.odd;
                }
            }
            #pragma unroll
            for (int j = 0; j < 4; ++j) {  // Bᵀ d: combine rows
                float8 r0, r1, r2, r3;
                WINOGRAD_BT(d[0][j], d[1][j], d[2][j], d[3][j], r0, r1, r2, r3)
                d[0][j] = r0; d[1][j] = r1; d[2][j] = r2; d[3][j] = r3;
            }
            #pragma unroll
            for (int i = 0; i < 4; ++i) {  // (Bᵀ d) B: combine columns
                float8 r0, r1, r2, r3;
                WINOGRAD_BT(d[i][0], d[i][1], d[i][2], d[i][3], r0, r1, r2, r3)
                vstore8(r0, 0, out + (4 * i + 0) * xiStride + tx0); vstore8(r1, 0, out + (4 * i + 1) * xiStride + tx0);
                vstore8(r2, 0, out + (4 * i + 2) * xiStride + tx0); vstore8(r3, 0, out + (4 * i + 3) * xiStride + tx0);
            }
            continue;
        }
        for (int tx = tx0; tx < min(tx0 + ROW_BLOCK, tilesX); ++tx) {
            float d[4][4];
            #pragma unroll
            for (int i = 0; i < 4; ++i) {
                const int y = y0 + i;
                #pragma unroll
                for (int j = 0; j < 4; ++j) {
                    const int x = 2 * tx - 1 + j;
                    d[i][j] = (y >= 0 && y < height && x >= 0 && x < width) ? LOAD_ACT(y * width + x, plane) : 0.0f;
                }
            }
            #pragma unroll
            for (int j = 0; j < 4; ++j) {
                float r0, r1, r2, r3;
                WINOGRAD_BT(d[0][j], d[1][j], d[2][j], d[3][j], r0, r1, r2, r3)
                d[0][j] = r0; d[1][j] = r1; d[2][j] = r2; d[3][j] = r3;
            }
            #pragma unroll
            for (int i = 0; i < 4; ++i) {
                WINOGRAD_BT(d[i][0], d[i][1], d[i][2], d[i][3], out[(4 * i + 0) * xiStride + tx],
                            out[(4 * i + 1) * xiStride + tx], out[(4 * i + 2) * xiStride + tx],
                            out[(4 * i + 3) * xiStride + tx])
            }
        }
    }
}

// G times a column of 3 taps (a, b, c): (a, ½(a + b + c), ½(a − b + c), c), two roundings per entry.
#define WINOGRAD_G(a, b, c, r0, r1, r2, r3) \
    r0 = (a); r1 = 0.5f * (((a) + (b)) + (c)); r2 = 0.5f * (((a) - (b)) + (c)); r3 = (c);

// A block's WINO_COB lanes; WINO_LANES(f) the vector (f(0), f(1), …, f(WINO_COB − 1)).
#define wino_block CAT(float, WINO_COB)
#if WINO_COB == 2
#define WINO_LANES(f) ((wino_block)(f(0), f(1)))
#elif WINO_COB == 4
#define WINO_LANES(f) ((wino_block)(f(0), f(1), f(2), f(3)))
#elif WINO_COB == 8
#define WINO_LANES(f) ((wino_block)(f(0), f(1), f(2), f(3), f(4), f(5), f(6), f(7)))
#else
#define WINO_LANES(f) \
    ((wino_block)(f(0), f(1), f(2), f(3), f(4), f(5), f(6), f(7), f(8), f(9), f(10), f(11), f(12), f(13), f(14), f(15)))
#endif

// The taps of the WINO_COB pairs (columns kb·WINO_COB …, row r) of a block of the weights' layout,
// zero past the real channels; `reversed` reads each kernel's taps backwards (J g J). A block of
// real pairs builds each tap's vector straight from its lanes' loads (through a private array,
// each vector load waited for the scalar stores of its lanes); a ragged block takes the array.
// Inlined by force: PoCL called it out of line, once per work-item.
static __attribute__((always_inline)) void winograd_block_taps(__global const float *w, const int outChannels,
                                                               const int inChannels, const int flipped,
                                                               const int reversed, const int kb, const int r,
                                                               wino_block taps[9]) {
    const int k0 = kb * WINO_COB;
    if (r < (flipped ? outChannels : inChannels) && k0 + WINO_COB <= (flipped ? inChannels : outChannels)) {
        // Lane j's kernel: forward (o = k0 + j, i = r), backward-data (o = r, i = k0 + j).
        __global const float *g = w + (flipped ? r * inChannels + k0 : k0 * inChannels + r) * 9;
        const int laneStride = flipped ? 9 : 9 * inChannels;
#if WINO_TAP_PREFETCH
        {
            // The taps of the work-item WINO_TAP_PREFETCH rows on, one 36-byte run per lane
            // (forward) or one run a row of kernels away (backward-data): the transforms waited
            // on their misses.
            __global const float *next = g + WINO_TAP_PREFETCH * (flipped ? 9 * inChannels : 9);
            if (flipped) {
                #pragma unroll
                for (int k = 0; k < 9 * WINO_COB; k += 16) __builtin_prefetch(next + k);
                __builtin_prefetch(next + 9 * WINO_COB - 1);
            } else {
                #pragma unroll
                for (int j = 0; j < WINO_COB; ++j) __builtin_prefetch(next + j * laneStride + 8);
            }
        }
#endif
        #pragma unroll
        for (int q = 0; q < 9; ++q) {
            __global const float *tap = g + (reversed ? 8 - q : q);
#define WINO_TAP(j) tap[(j) * laneStride]
            taps[q] = WINO_LANES(WINO_TAP);
#undef WINO_TAP
        }
        return;
    }
    float lanes[9][WINO_COB];
    for (int j = 0; j < WINO_COB; ++j) {
        const int k = k0 + j, o = flipped ? r : k, i = flipped ? k : r;
        const int real = o < outChannels && i < inChannels;
        __global const float *g = w + (real ? (o * inChannels + i) * 9 : 0);
        #pragma unroll
        for (int q = 0; q < 9; ++q) lanes[q][j] = real ? g[reversed ? 8 - q : q] : 0.0f;
    }
    #pragma unroll
    for (int q = 0; q < 9; ++q) taps[q] = CAT(vload, WINO_COB)(0, lanes[q]);
}

// The layout winograd_multiply reads, [16][stride / WINO_COB][rows][WINO_COB] (the planes ξ
// WINO_PLANE(stride, rows) floats apart), from the raw O×I×3×3 weights w, with
// U[ξ][o][i] = (G g_{o,i} Gᵀ)[ξ]:
//   forward (flipped = 0): column k = o, row r = i, the value U[ξ][o][i];
//   backward-data (flipped = 1): column k = i, row r = o, the value U[p(ξ)][o][i], the transform
//     of the flipped, transposed kernel: the transform of J g J is U with rows and columns 0 and 3
//     swapped (G J = P G, P swapping rows 0 and 3), so U[a][b] goes to ξ = 4·s(a) + s(b), s
//     swapping 0 and 3.
// Zero past the real channels. As winograd4_weights: a work-item makes one block, the WINO_COB
// columns kb·WINO_COB … of row r, as vectors of WINO_COB lanes (each lane the scalar arithmetic),
// and neighbouring work-items make neighbouring rows. Global size: [rows, stride / WINO_COB].
__kernel void winograd_weights(__global const float *w, const int outChannels, const int inChannels,
                               const int flipped, const int stride, const int rows, __global float *u) {
    const int kb = get_global_id(1), r = get_global_id(0);
    if (kb * WINO_COB >= stride || r >= rows) return;
    wino_block taps[9];
    winograd_block_taps(w, outChannels, inChannels, flipped, 0, kb, r, taps);
    wino_block c[3][4];  // G g column by column (c[column][row]), then each row times Gᵀ
    #pragma unroll
    for (int q = 0; q < 3; ++q) {
        WINOGRAD_G(taps[q], taps[3 + q], taps[6 + q], c[q][0], c[q][1], c[q][2], c[q][3])
    }
    __global float *out = u + (kb * rows + r) * WINO_COB;
    const int xiStride = WINO_PLANE(stride, rows);
    const int s0 = flipped ? 3 : 0, s3 = 3 - s0, s[4] = {s0, 1, 2, s3};
    #pragma unroll
    for (int a = 0; a < 4; ++a) {
        wino_block t0, t1, t2, t3;
        WINOGRAD_G(c[0][a], c[1][a], c[2][a], t0, t1, t2, t3)
        __global float *row = out + 4 * s[a] * xiStride;
        CAT(vstore, WINO_COB)(t0, 0, row + s0 * xiStride);
        CAT(vstore, WINO_COB)(t1, 0, row + xiStride);
        CAT(vstore, WINO_COB)(t2, 0, row + 2 * xiStride);
        CAT(vstore, WINO_COB)(t3, 0, row + s3 * xiStride);
    }
}

// M[ξ][o][t] = Σ_c U[ξ][c][o] · V[ξ][c][t]: 16 independent products, each work-item a register
// block of WINO_COB output channels × WINO_TV vectors of WINO_TB tiles (one vector per channel),
// the channel sum in registers; its tiles are one vector load per channel and one vector store per
// output channel. The weights are winograd_weights' layout [16][outStride / WINO_COB][rows][WINO_COB]
// (rows = channels rounded up to WINO_COB): a work-item streams its block's weights contiguously.
// A work-item runs WINO_OB consecutive channel blocks over the same tiles one after the other
// (PoCL pays per work-item; the tiles stay in cache). The band's first `tiles` tiles are computed,
// a multiple of WINO_TB (tileStride, the rows' pitch, may be a vector more): the last work-item
// of a band may hold fewer than WINO_TV vectors (a one-row band of 86 tiles would otherwise
// compute 96).
// Global size: [ceil(tiles / (WINO_TB · WINO_TV)), ceil(outStride / WINO_COB / WINO_OB), 16].

// One channel block's products for `nv` vectors of tiles from `column` (nv ≤ WINO_TV, a constant
// where it is inlined, so that the loops unroll and the sums stay in registers).
static __attribute__((always_inline)) void winograd_multiply_block(const int nv, __global const float *w,
                                                                   __global const float *column, const int channels,
                                                                   const int tileStride, __global float *out) {
    TBVEC acc[WINO_TV][WINO_COB];
    #pragma unroll
    for (int k = 0; k < nv; ++k) {
        #pragma unroll
        for (int j = 0; j < WINO_COB; ++j) acc[k][j] = (TBVEC)(0.0f);
    }
    for (int c = 0; c < channels; ++c) {
#if WINO_PREFETCH
        // This work-item's tiles WINO_PREFETCH channels ahead: one stream per channel, more
        // than a CPU's prefetcher follows.
        if (c + WINO_PREFETCH < channels) {
            #pragma unroll
            for (int k = 0; k < nv * WINO_TB; k += 16)
                __builtin_prefetch(column + (c + WINO_PREFETCH) * tileStride + k);
        }
#endif
        TBVEC tiles[WINO_TV];
        #pragma unroll
        for (int k = 0; k < nv; ++k) tiles[k] = TBLOAD(k, column + c * tileStride);
        __global const float *wc = w + c * WINO_COB;
        #pragma unroll
        for (int j = 0; j < WINO_COB; ++j) {
            const TBVEC weight = (TBVEC)(wc[j]);
            #pragma unroll
            for (int k = 0; k < nv; ++k) acc[k][j] = MAD(weight, tiles[k], acc[k][j]);
        }
    }
    #pragma unroll
    for (int j = 0; j < WINO_COB; ++j) {
        #pragma unroll
        for (int k = 0; k < nv; ++k) TBSTORE(acc[k][j], k, out + j * tileStride);
    }
}

__kernel void winograd_multiply(__global const float *u, const int rows, __global const float *v, const int channels,
                                const int outStride, const int tileStride, const int tiles, __global float *m) {
    const int t0 = get_global_id(0) * WINO_TB * WINO_TV, xi = get_global_id(2);
    if (t0 >= tiles) return;
    const int vectors = min(WINO_TV, (tiles - t0) / WINO_TB);
    __global const float *column = v + xi * WINO_PLANE(channels, tileStride) + t0;
    for (int b = 0; b < WINO_OB; ++b) {
        const int block = get_global_id(1) * WINO_OB + b;
        if (block * WINO_COB >= outStride) return;
        __global const float *w = u + xi * WINO_PLANE(outStride, rows) + block * rows * WINO_COB;
        __global float *out = m + xi * WINO_PLANE(outStride, tileStride) + block * WINO_COB * tileStride + t0;
        if (vectors == WINO_TV) {
            winograd_multiply_block(WINO_TV, w, column, channels, tileStride, out);
#if WINO_TV > 2
        } else if (vectors == 2) {
            winograd_multiply_block(2, w, column, channels, tileStride, out);
#endif
        } else {
            for (int k = 0; k < vectors; ++k)
                winograd_multiply_block(1, w, column + k * WINO_TB, channels, tileStride, out + k * WINO_TB);
        }
    }
}

// The same product as winograd_multiply, M[ξ][o][t] = Σ_c U[ξ][c][o] · V[ξ][c][t], tiled the way
// GPUs run matrix products: a work-group of 16×16 work-items computes 16·M output channels ×
// 16·N tiles of one ξ. Each step stages WG_TSK channels of both operands in local memory
// (coalesced float4 loads, zeros past the edges) and every work-item accumulates its M channels ×
// N tiles in registers: its channels are consecutive (one float4 broadcast per 4), its tiles
// N / 4 float4s 64 tiles apart (consecutive work-items, consecutive float4s: no bank conflicts,
// and the stores coalesce along the tiles). The weights' layout is winograd_weights'
// ([16][outStride / WINO_COB][rows][WINO_COB], WINO_COB a multiple of 4); tileStride and tiles are
// multiples of 4. winograd_multiply_tiled has M × N = WGEMM_M × WGEMM_N; with WGEMM_WIDE,
// winograd_multiply_tiled_wide has 8 × 8 (128 × 128 a group) for the layers of at least
// WGEMM_WIDE output channels, whose products are large enough to fill a GPU with fewer groups.
// Global size: [ceil(tiles / (16·N)) · 16, ceil(outStride / (16·M)) · 16, 16], local [16, 16, 1].
// The tiled kernels exist only where their option is on: a device whose kernels cannot take
// 16×16 work-groups never compiles them.
#if WINO_GEMM
#define WINOGRAD_MULTIPLY_TILED(M, N) \
    TILED_SETUP(M, N) \
    const int xi = get_global_id(2); \
    __global const float *uxi = u + xi * WINO_PLANE(outStride, rows); \
    __global const float *vxi = v + xi * WINO_PLANE(channels, tileStride); \
    TILED_PRODUCT(M, N, channels, LOAD_U, LOAD_V) \
    TILED_RESULTS(M, N, STORE_M)
#define LOAD_U(c, o) ((o) < outStride ? vload4(0, uxi + ((o) / WINO_COB * rows + (c)) * WINO_COB + ((o) - (o) / WINO_COB * WINO_COB)) \
                                      : (float4)(0.0f))
#define LOAD_V(c, t) ((t) < tiles ? vload4(0, vxi + (c) * tileStride + (t)) : (float4)(0.0f))
#define STORE_M(o, t, value) \
    if ((o) < outStride && (t) < tiles) \
        vstore4(value, 0, m + xi * WINO_PLANE(outStride, tileStride) + (o) * tileStride + (t));
__kernel __attribute__((reqd_work_group_size(16, 16, 1)))
void winograd_multiply_tiled(__global const float *u, const int rows, __global const float *v, const int channels,
                             const int outStride, const int tileStride, const int tiles, __global float *m) {
    WINOGRAD_MULTIPLY_TILED(WGEMM_M, WGEMM_N)
}
// (Where the plain kernel is 8 × 8 already, there is none: the host runs the plain one.)
#if WGEMM_WIDE && !(WGEMM_M == 8 && WGEMM_N == 8)
__kernel __attribute__((reqd_work_group_size(16, 16, 1)))
void winograd_multiply_tiled_wide(__global const float *u, const int rows, __global const float *v,
                                  const int channels, const int outStride, const int tileStride, const int tiles,
                                  __global float *m) {
    WINOGRAD_MULTIPLY_TILED(8, 8)
}
#endif
#undef LOAD_U
#undef LOAD_V
#undef STORE_M
#endif


// output (+)= epilogue(Aᵀ M A) for the band's tiles, only the pixels inside the image; the
// epilogue is conv3x3's: + bias, ReLU, × (mask > 0), + previous output.
// Global size: as winograd_input's, over the output channels.
__kernel void winograd_output(WINOGRAD_OUTPUT_PARAMETERS) {
    WINOGRAD_OUTPUT_SETUP(2)
    for (int block = first; block < end; ++block) {
        const int tx0 = block * ROW_BLOCK;
        if (tx0 + ROW_BLOCK <= tilesX && 2 * tx0 + 2 * ROW_BLOCK <= width) {
            float8 a[2][4];
            #pragma unroll
            for (int j = 0; j < 4; ++j) {  // Aᵀ M: combine rows
                WINOGRAD_AT(vload8(0, in + j * xiStride + tx0), vload8(0, in + (4 + j) * xiStride + tx0),
                            vload8(0, in + (8 + j) * xiStride + tx0), vload8(0, in + (12 + j) * xiStride + tx0),
                            a[0][j], a[1][j])
            }
            float16 above;  // with pool: the even row's values
            #pragma unroll
            for (int i = 0; i < 2; ++i) {
                if (y0 + i < height) {  // (a break here kept LLVM from unrolling the loop)
                    float8 even, odd;  // (Aᵀ M) A: the tiles' left and right output columns
                    WINOGRAD_AT(a[i][0], a[i][1], a[i][2], a[i][3], even, odd)
                    const int index = (o * height + y0 + i) * width + 2 * tx0;
                    const float16 value = conv_bias_relu16(INTERLEAVE8(even, odd), b, relu);
                    conv_epilogue_store16(output, index, value, mask, useMask, accumulate, stream);
                    if (pool && i == 1)
                        pool_store16(pooledPlane + (y0 / 2) * pooledWidth + tx0, above, value, pool, 16);
                    above = value;
                }
            }
            continue;
        }
        for (int tx = tx0; tx < min(tx0 + ROW_BLOCK, tilesX); ++tx) {
            float a[2][4];
            #pragma unroll
            for (int j = 0; j < 4; ++j) {
                WINOGRAD_AT(in[j * xiStride + tx], in[(4 + j) * xiStride + tx], in[(8 + j) * xiStride + tx],
                            in[(12 + j) * xiStride + tx], a[0][j], a[1][j])
            }
            float above[2];  // with pool: the even row's values
            #pragma unroll
            for (int i = 0; i < 2; ++i) {
                const int y = y0 + i;
                if (y >= height) break;
                float row[2];
                WINOGRAD_AT(a[i][0], a[i][1], a[i][2], a[i][3], row[0], row[1])
                #pragma unroll
                for (int j = 0; j < 2; ++j) {
                    row[j] = conv_bias_relu(row[j], b, relu);
                    const int x = 2 * tx + j;
                    if (x < width) conv_epilogue_store(output, (o * height + y) * width + x, row[j], 0, mask, useMask,
                                                       accumulate);
                }
                if (pool && i == 1 && 2 * tx + 1 < width)
                    STORE_ACT(pool_window(above[0], above[1], row[0], row[1], pool), (y / 2) * pooledWidth + tx,
                              pooledPlane);
                above[0] = row[0];
                above[1] = row[1];
            }
        }
    }
    if (stream) NT_FENCE();
}

// ---------------------------------------------------------------------------------------------
// Winograd F(4×4,3×3) (where the host chooses it): the same convolution on 6×6 input tiles
// starting at (4·ty − 1, 4·tx − 1), 4×4 outputs per tile, at the points 0, ±1, ±2, ∞:
//   Bᵀ = [4 0 −5 0 1 0; 0 −4 −4 1 1 0; 0 4 −4 −1 1 0; 0 −2 −1 2 1 0; 0 2 −1 −2 1 0; 0 4 0 −5 0 1],
//   G = [¼ 0 0; −⅙ −⅙ −⅙; −⅙ ⅙ −⅙; 1/24 1/12 ⅙; 1/24 −1/12 ⅙; 0 0 1],
//   Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 0; 0 1 1 4 4 0; 0 1 −1 8 −8 1]:
// 36 multiplies per tile and channel pair instead of 144. A and B are integers (exact); G's
// inexact constants are applied once per convolution, in double where the device has it. The 36 products are winograd_multiply's
// (or _tiled's) with 36 for 16 in the launch; backward-data transforms the flipped kernel itself
// (no permutation: the points are not closed under x → 1/x). One work-item per tile and channel.
// Index ξ = 6·row + column of the 6×6 transformed tile.

// Bᵀ times a column (d0 … d5), or a row times B: at most 3 roundings per term.
#define WINOGRAD4_BT(d0, d1, d2, d3, d4, d5, r0, r1, r2, r3, r4, r5) \
    r0 = 4.0f * (d0) - 5.0f * (d2) + (d4); r1 = -4.0f * (d1) - 4.0f * (d2) + (d3) + (d4); \
    r2 = 4.0f * (d1) - 4.0f * (d2) - (d3) + (d4); r3 = -2.0f * (d1) - (d2) + 2.0f * (d3) + (d4); \
    r4 = 2.0f * (d1) - (d2) - 2.0f * (d3) + (d4); r5 = 4.0f * (d1) - 5.0f * (d3) + (d5);
// Aᵀ times a column (s0 … s5), or a row times A: 3 roundings per term.
#define WINOGRAD4_AT(s0, s1, s2, s3, s4, s5, r0, r1, r2, r3) \
    WINOGRAD4_AT_OF(float, s0, s1, s2, s3, s4, s5, r0, r1, r2, r3)
// The same for `type` (float or a vector of floats).
#define WINOGRAD4_AT_OF(type, s0, s1, s2, s3, s4, s5, r0, r1, r2, r3) { \
    const type p_ = (s1) + (s2), q_ = (s1) - (s2), u_ = (s3) + (s4), w_ = (s3) - (s4); \
    r0 = (s0) + p_ + u_; r1 = q_ + 2.0f * w_; r2 = p_ + 4.0f * u_; r3 = q_ + 8.0f * w_ + (s5); }
// The weight transform's arithmetic: double where the device has it (G's constants ⅙ and 1/24 are
// inexact, and its error is the same in every iteration: a slightly different network), rounded
// once to float; else float.
#ifdef cl_khr_fp64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#define WINO4_REAL double
#else
#define WINO4_REAL float
#endif
typedef WINO4_REAL wino4_real;
// WINO_COB lanes of it: the weight transforms of one block of the layout.
#define wino4_block CAT(WINO4_REAL, WINO_COB)
// G times a column of 3 taps: in float, 4 roundings per entry (two sums, the constant, its product).
#define WINOGRAD4_G(a, b, c, r0, r1, r2, r3, r4, r5) \
    r0 = (a) * (wino4_real)0.25; r1 = -(((a) + (b)) + (c)) * ((wino4_real)1 / 6); r2 = -(((a) - (b)) + (c)) * ((wino4_real)1 / 6); \
    r3 = (((a) + 2 * (b)) + 4 * (c)) * ((wino4_real)1 / 24); r4 = (((a) - 2 * (b)) + 4 * (c)) * ((wino4_real)1 / 24); \
    r5 = (c);

// One tile's V[ξ][c][t] = (Bᵀ d_c B)[ξ], d the 6×6 patch at (y0, 4·tx − 1), zero outside; `out`
// points at the band's tile 0 of channel c.
inline void winograd4_input_tile(__global const ACT_IN *plane, const int height, const int width, const int y0,
                                 const int tx, const int xiStride, __global float *out) {
    const int x0 = 4 * tx - 1;
    float d[6][6];
    #pragma unroll
    for (int i = 0; i < 6; ++i) {
        const int y = y0 + i;
        #pragma unroll
        for (int j = 0; j < 6; ++j) {
            const int x = x0 + j;
            d[i][j] = (y >= 0 && y < height && x >= 0 && x < width) ? LOAD_ACT(y * width + x, plane) : 0.0f;
        }
    }
    #pragma unroll
    for (int j = 0; j < 6; ++j) {  // Bᵀ d: combine rows
        float r0, r1, r2, r3, r4, r5;
        WINOGRAD4_BT(d[0][j], d[1][j], d[2][j], d[3][j], d[4][j], d[5][j], r0, r1, r2, r3, r4, r5)
        d[0][j] = r0; d[1][j] = r1; d[2][j] = r2; d[3][j] = r3; d[4][j] = r4; d[5][j] = r5;
    }
    out += tx;
    #pragma unroll
    for (int i = 0; i < 6; ++i) {  // (Bᵀ d) B: combine columns
        WINOGRAD4_BT(d[i][0], d[i][1], d[i][2], d[i][3], d[i][4], d[i][5], out[(6 * i + 0) * xiStride],
                     out[(6 * i + 1) * xiStride], out[(6 * i + 2) * xiStride], out[(6 * i + 3) * xiStride],
                     out[(6 * i + 4) * xiStride], out[(6 * i + 5) * xiStride])
    }
}

// V[ξ][c][t] = (Bᵀ d_c B)[ξ] for the band's tiles, along tile rows as winograd_input: a block of
// ROW_BLOCK tiles reads x = 4·tx0 − 1 … 4·tx0 + 34 in three loads (16, 16 and 4 floats; the first
// shifted in at the left edge, the last guarded at the right) and takes tile t's column j as the
// lanes 4t + j, one vector per column, in the scalar path's arithmetic; a ragged end or a block
// past the image's right edge runs one tile at a time. WINO_ROW_PREFETCH as winograd6_input's,
// and at a row's end the next tile row's first block (conv4_x and conv5_1 have rows of 1 or 2
// blocks). Global size: as winograd_input's.
__kernel void winograd4_input(WINOGRAD_INPUT_PARAMETERS) {
    WINOGRAD_INPUT_SETUP(4)
    for (int b = first; b < end; ++b) {
        const int tx0 = b * ROW_BLOCK;
#if WINO_ROW_PREFETCH
        {
            const int next = b + 1 < end ? 4 * tx0 + 31 : -1, dy = b + 1 < end ? 0 : 4;
            for (int i = 0; i < 6; ++i) {
                const int y = y0 + dy + i;
                if (y >= 0 && y < height) {
                    __global const ACT_IN *q = plane + y * width + next;
                    __builtin_prefetch(q); __builtin_prefetch(q + 16); __builtin_prefetch(q + 32);
                }
            }
        }
#endif
        if (tx0 + ROW_BLOCK > tilesX || 4 * tx0 + 31 > width) {
            for (int tx = tx0; tx < min(tx0 + ROW_BLOCK, tilesX); ++tx)
                winograd4_input_tile(plane, height, width, y0, tx, xiStride, out);
            continue;
        }
        float8 d[6][6];
        #pragma unroll
        for (int i = 0; i < 6; ++i) {
            const int y = y0 + i;
            if (y < 0 || y >= height) {
                #pragma unroll
                for (int j = 0; j < 6; ++j) d[i][j] = (float8)(0.0f);
                continue;
            }
            __global const ACT_IN *p = plane + y * width + 4 * tx0;
            const float16 lo = tx0 > 0 ? LOAD_ACT16(0, p - 1) : SHIFT_RIGHT16(LOAD_ACT16(0, p));
            const float16 mid = LOAD_ACT16(0, p + 15);
            const int x = 4 * tx0 + 31;
            const float4 hi = (float4)(x < width ? LOAD_ACT(31, p) : 0.0f, x + 1 < width ? LOAD_ACT(32, p) : 0.0f,
                                       x + 2 < width ? LOAD_ACT(33, p) : 0.0f, x + 3 < width ? LOAD_ACT(34, p) : 0.0f);
            d[i][0] = (float8)(lo.s048c, mid.s048c);
            d[i][1] = (float8)(lo.s159d, mid.s159d);
            d[i][2] = (float8)(lo.s26ae, mid.s26ae);
            d[i][3] = (float8)(lo.s37bf, mid.s37bf);
            d[i][4] = (float8)(lo.s48c, mid.s048c, hi.s0);
            d[i][5] = (float8)(lo.s59d, mid.s159d, hi.s1);
        }
        #pragma unroll
        for (int j = 0; j < 6; ++j) {  // Bᵀ d: combine rows
            float8 r0, r1, r2, r3, r4, r5;
            WINOGRAD4_BT(d[0][j], d[1][j], d[2][j], d[3][j], d[4][j], d[5][j], r0, r1, r2, r3, r4, r5)
            d[0][j] = r0; d[1][j] = r1; d[2][j] = r2; d[3][j] = r3; d[4][j] = r4; d[5][j] = r5;
        }
        #pragma unroll
        for (int i = 0; i < 6; ++i) {  // (Bᵀ d) B: combine columns
            float8 r0, r1, r2, r3, r4, r5;
            WINOGRAD4_BT(d[i][0], d[i][1], d[i][2], d[i][3], d[i][4], d[i][5], r0, r1, r2, r3, r4, r5)
            vstore8(r0, 0, out + (6 * i + 0) * xiStride + tx0); vstore8(r1, 0, out + (6 * i + 1) * xiStride + tx0);
            vstore8(r2, 0, out + (6 * i + 2) * xiStride + tx0); vstore8(r3, 0, out + (6 * i + 3) * xiStride + tx0);
            vstore8(r4, 0, out + (6 * i + 4) * xiStride + tx0); vstore8(r5, 0, out + (6 * i + 5) * xiStride + tx0);
        }
    }
}

// winograd_block_taps as vectors of wino4_real, reversed for backward-data (flipped): what the
// F(4×4) and F(6×6) weight transforms start from. Inlined by force, as winograd_block_taps.
static __attribute__((always_inline)) void winograd_block_real_taps(__global const float *w, const int outChannels,
                                                                    const int inChannels, const int flipped,
                                                                    const int kb, const int r, wino4_block taps[9]) {
    wino_block lanes[9];
    winograd_block_taps(w, outChannels, inChannels, flipped, flipped, kb, r, lanes);
    #pragma unroll
    for (int q = 0; q < 9; ++q) taps[q] = CAT(convert_, wino4_block)(lanes[q]);
}

// winograd_weights' layout with 36 transforms, [36][stride / WINO_COB][rows][WINO_COB]:
//   forward (flipped = 0): column k = o, row r = i, U[ξ][o][i] = (G g_{o,i} Gᵀ)[ξ];
//   backward-data (flipped = 1): column k = i, row r = o, the transform of the flipped kernel
//     J g_{o,i} J (taps read in reverse order).
// Zero past the real channels. A work-item makes the blocks of WINO_WEIGHT_ROWS rows, a block the
// WINO_COB columns kb·WINO_COB … of row r as vectors of WINO_COB lanes, each lane the scalar
// arithmetic, so each ξ is one vector store rather than WINO_COB scattered ones
// (benchmarks/README.md, "winograd4_weights by whole blocks"). Neighbouring rows are neighbouring
// blocks of each ξ. Where NT_STORES and WINO_COB is 8, rows are made two at a time (rows is a
// multiple of WINO_COB) and each ξ's two blocks stored as one whole 64-byte line past the caches:
// a line written in halves, or through the caches, is first read from memory, and the multiply
// reads the transforms once. One fence then drains a work-item's lines.
// Global size: [ceil(rows / WINO_WEIGHT_ROWS), stride / WINO_COB].
#if NT_STORES && WINO_COB == 8 && WINO_WEIGHT_ROWS % 2 == 0
#define WINO4_WEIGHT_PAIR 2
#else
#define WINO4_WEIGHT_PAIR 1
#endif
__kernel void winograd4_weights(__global const float *w, const int outChannels, const int inChannels,
                                const int flipped, const int stride, const int rows, __global float *u) {
    const int kb = get_global_id(1), first = get_global_id(0) * WINO_WEIGHT_ROWS;
    if (kb * WINO_COB >= stride || first >= rows) return;
    const int xiStride = WINO_PLANE(stride, rows);
    for (int r = first; r < min(first + WINO_WEIGHT_ROWS, rows); r += WINO4_WEIGHT_PAIR) {
        wino4_block c[WINO4_WEIGHT_PAIR][3][6];  // G g column by column (c[column][row]), then each row times Gᵀ
        #pragma unroll
        for (int h = 0; h < WINO4_WEIGHT_PAIR; ++h) {
            wino4_block taps[9];
            winograd_block_real_taps(w, outChannels, inChannels, flipped, kb, r + h, taps);
            #pragma unroll
            for (int q = 0; q < 3; ++q) {
                WINOGRAD4_G(taps[q], taps[3 + q], taps[6 + q], c[h][q][0], c[h][q][1], c[h][q][2], c[h][q][3],
                            c[h][q][4], c[h][q][5])
            }
        }
        __global float *out = u + (kb * rows + r) * WINO_COB;
        // Each row stored as soon as it is made: six values live instead of 36 (in double, a whole
        // 6×6 block per work-item spilled on PoCL).
        #pragma unroll
        for (int a = 0; a < 6; ++a) {
            CAT(float, WINO_COB) t[WINO4_WEIGHT_PAIR][6];
            #pragma unroll
            for (int h = 0; h < WINO4_WEIGHT_PAIR; ++h) {
                wino4_block t0, t1, t2, t3, t4, t5;
                WINOGRAD4_G(c[h][0][a], c[h][1][a], c[h][2][a], t0, t1, t2, t3, t4, t5)
                t[h][0] = CAT(convert_float, WINO_COB)(t0); t[h][1] = CAT(convert_float, WINO_COB)(t1);
                t[h][2] = CAT(convert_float, WINO_COB)(t2); t[h][3] = CAT(convert_float, WINO_COB)(t3);
                t[h][4] = CAT(convert_float, WINO_COB)(t4); t[h][5] = CAT(convert_float, WINO_COB)(t5);
            }
            #pragma unroll
            for (int b = 0; b < 6; ++b) {
                __global float *xi = out + (6 * a + b) * xiStride;
#if WINO4_WEIGHT_PAIR == 2
                __builtin_nontemporal_store((float16)(t[0][b], t[1][b]), (__global float16 *)xi);
#else
                CAT(vstore, WINO_COB)(t[0][b], 0, xi);
#endif
            }
        }
    }
    if (WINO4_WEIGHT_PAIR == 2) NT_FENCE();
}

// Four vectors of 8 lanes, lanes 0–3 (`.lo`) or 4–7 (`.hi`) of each, interleaved: (a0, b0, c0, d0, a1, …).
#define INTERLEAVE4(a, b, c, d) ((float16)((a).s0, (b).s0, (c).s0, (d).s0, (a).s1, (b).s1, (c).s1, (d).s1, \
                                           (a).s2, (b).s2, (c).s2, (d).s2, (a).s3, (b).s3, (c).s3, (d).s3))

// output (+)= epilogue(Aᵀ M A) for the band's tiles, only the pixels inside the image; the
// epilogue is conv3x3's. Along tile rows as winograd_output: a whole block of ROW_BLOCK tiles
// inside the image loads each ξ as one vector and stores each output row as two of 16; a ragged
// end or a block at the right edge runs one tile at a time. Global size: as winograd_output's.
__kernel void winograd4_output(WINOGRAD_OUTPUT_PARAMETERS) {
    WINOGRAD_OUTPUT_SETUP(4)
    for (int block = first; block < end; ++block) {
        const int tx0 = block * ROW_BLOCK;
        if (tx0 + ROW_BLOCK <= tilesX && 4 * tx0 + 4 * ROW_BLOCK <= width) {
            float8 a[4][6];
            #pragma unroll
            for (int j = 0; j < 6; ++j) {  // Aᵀ M: combine rows
                WINOGRAD4_AT_OF(float8, vload8(0, in + j * xiStride + tx0), vload8(0, in + (6 + j) * xiStride + tx0),
                                vload8(0, in + (12 + j) * xiStride + tx0), vload8(0, in + (18 + j) * xiStride + tx0),
                                vload8(0, in + (24 + j) * xiStride + tx0), vload8(0, in + (30 + j) * xiStride + tx0),
                                a[0][j], a[1][j], a[2][j], a[3][j])
            }
            float16 above[2];  // with pool: the even row's values
            #pragma unroll
            for (int i = 0; i < 4; ++i) {
                if (y0 + i < height) {
                    float8 r0, r1, r2, r3;  // (Aᵀ M) A: column j of every tile's output row
                    WINOGRAD4_AT_OF(float8, a[i][0], a[i][1], a[i][2], a[i][3], a[i][4], a[i][5], r0, r1, r2, r3)
                    const int index = (o * height + y0 + i) * width + 4 * tx0;
                    float16 halves[2] = {INTERLEAVE4(r0.lo, r1.lo, r2.lo, r3.lo),
                                         INTERLEAVE4(r0.hi, r1.hi, r2.hi, r3.hi)};
                    #pragma unroll
                    for (int h = 0; h < 2; ++h) {
                        const float16 value = conv_bias_relu16(halves[h], b, relu);
                        conv_epilogue_store16(output, index + 16 * h, value, mask, useMask, accumulate, stream);
                        if (pool && (i & 1))
                            pool_store16(pooledPlane + ((y0 + i) / 2) * pooledWidth + 2 * tx0 + 8 * h, above[h], value,
                                         pool, 16);
                        above[h] = value;
                    }
                }
            }
            continue;
        }
        for (int tx = tx0; tx < min(tx0 + ROW_BLOCK, tilesX); ++tx) {
            float a[4][6];
            #pragma unroll
            for (int j = 0; j < 6; ++j) {  // Aᵀ M: combine rows
                WINOGRAD4_AT(in[j * xiStride + tx], in[(6 + j) * xiStride + tx], in[(12 + j) * xiStride + tx],
                             in[(18 + j) * xiStride + tx], in[(24 + j) * xiStride + tx],
                             in[(30 + j) * xiStride + tx], a[0][j], a[1][j], a[2][j], a[3][j])
            }
            float above[4];  // with pool: the even row's values
            #pragma unroll
            for (int i = 0; i < 4; ++i) {
                const int y = y0 + i;
                if (y >= height) break;
                float row[4];
                WINOGRAD4_AT(a[i][0], a[i][1], a[i][2], a[i][3], a[i][4], a[i][5], row[0], row[1], row[2], row[3])
                #pragma unroll
                for (int j = 0; j < 4; ++j) {
                    row[j] = conv_bias_relu(row[j], b, relu);
                    const int x = 4 * tx + j;
                    if (x < width) conv_epilogue_store(output, (o * height + y) * width + x, row[j], 0, mask, useMask,
                                                       accumulate);
                    if (pool && (i & 1) && (j & 1) && x < width)
                        STORE_ACT(pool_window(above[j - 1], above[j], row[j - 1], row[j], pool),
                                  (y / 2) * pooledWidth + x / 2, pooledPlane);
                }
                #pragma unroll
                for (int j = 0; j < 4; ++j) above[j] = row[j];
            }
        }
    }
    if (stream) NT_FENCE();
}

// ---------------------------------------------------------------------------------------------
// Winograd F(6×6,3×3) (where the host chooses it): the same convolution on 8×8 input tiles
// starting at (6·ty − 1, 6·tx − 1), 6×6 outputs per tile, at the points 0, ±1, ±2, ±½, ∞:
//   Bᵀ = [1 0 −21/4 0 21/4 0 −1 0; 0 1 1 −17/4 −17/4 1 1 0; 0 −1 1 17/4 −17/4 −1 1 0;
//         0 ½ ¼ −5/2 −5/4 2 1 0; 0 −½ ¼ 5/2 −5/4 −2 1 0; 0 2 4 −5/2 −5 ½ 1 0;
//         0 −2 4 5/2 −5 −½ 1 0; 0 −1 0 21/4 0 −21/4 0 1],
//   G = [1 0 0; −2/9 −2/9 −2/9; −2/9 2/9 −2/9; 1/90 1/45 2/45; 1/90 −1/45 2/45;
//        32/45 16/45 8/45; 32/45 −16/45 8/45; 0 0 1],
//   Aᵀ = [1 1 1 1 1 1 1 0; 0 1 −1 2 −2 ½ −½ 0; 0 1 1 4 4 ¼ ¼ 0; 0 1 −1 8 −8 ⅛ −⅛ 0;
//         0 1 1 16 16 1/16 1/16 0; 0 1 −1 32 −32 1/32 −1/32 1]:
// 64 multiplies per tile and channel pair instead of 324 (F(4×4): 81 for 36 outputs). B's and
// A's entries are exact in binary; G's are applied once per convolution, in double where the
// device has it. The products are winograd_multiply's with 64 points; backward-data transforms
// the flipped kernel itself, as F(4×4). One work-item per tile row block and channel.
// Index ξ = 8·row + column of the 8×8 transformed tile.

// Bᵀ times a column (d0 … d7), or a row times B: at most 4 roundings per term.
#define WINOGRAD6_BT(type, d0, d1, d2, d3, d4, d5, d6, d7, r0, r1, r2, r3, r4, r5, r6, r7) { \
    r0 = ((d0) - (d6)) + 5.25f * ((d4) - (d2)); r7 = ((d7) - (d1)) + 5.25f * ((d3) - (d5)); \
    type s_ = ((d2) + (d6)) - 4.25f * (d4), t_ = ((d1) + (d5)) - 4.25f * (d3); r1 = s_ + t_; r2 = s_ - t_; \
    s_ = (0.25f * (d2) + (d6)) - 1.25f * (d4); t_ = (0.5f * (d1) - 2.5f * (d3)) + 2.0f * (d5); r3 = s_ + t_; r4 = s_ - t_; \
    s_ = (4.0f * (d2) + (d6)) - 5.0f * (d4); t_ = (2.0f * (d1) - 2.5f * (d3)) + 0.5f * (d5); r5 = s_ + t_; r6 = s_ - t_; }
// Aᵀ times a column (s0 … s7), or a row times A: at most 3 roundings per term.
#define WINOGRAD6_AT(type, s0, s1, s2, s3, s4, s5, s6, s7, r0, r1, r2, r3, r4, r5) { \
    const type p_ = (s1) + (s2), q_ = (s1) - (s2), u_ = (s3) + (s4), w_ = (s3) - (s4), \
               y_ = (s5) + (s6), z_ = (s5) - (s6); \
    r0 = ((s0) + p_) + (u_ + y_); r1 = (q_ + 2.0f * w_) + 0.5f * z_; r2 = (p_ + 4.0f * u_) + 0.25f * y_; \
    r3 = (q_ + 8.0f * w_) + 0.125f * z_; r4 = (p_ + 16.0f * u_) + 0.0625f * y_; \
    r5 = (q_ + 32.0f * w_) + (0.03125f * z_ + (s7)); }
// G times a column of 3 taps, in wino4_real: in float, 4 roundings per entry (two sums, the
// constant, its product).
#define WINOGRAD6_G(a, b, c, r0, r1, r2, r3, r4, r5, r6, r7) \
    r0 = (a); r1 = -(((a) + (b)) + (c)) * ((wino4_real)2 / 9); r2 = -(((a) - (b)) + (c)) * ((wino4_real)2 / 9); \
    r3 = (((a) + 2 * (b)) + 4 * (c)) * ((wino4_real)1 / 90); r4 = (((a) - 2 * (b)) + 4 * (c)) * ((wino4_real)1 / 90); \
    r5 = ((4 * (a) + 2 * (b)) + (c)) * ((wino4_real)8 / 45); r6 = ((4 * (a) - 2 * (b)) + (c)) * ((wino4_real)8 / 45); \
    r7 = (c);

// c[k] = (w[0].sk, …, w[7].sk): an 8×8 transpose in two-source shuffles (on AVX: 8 unpacks,
// 8 shuffles, 8 128-bit permutes), where gathering each lane by itself takes several times as many.
#define TRANSPOSE8(w, c) { \
    const float8 t0_ = (float8)(w[0].s0, w[1].s0, w[0].s1, w[1].s1, w[0].s4, w[1].s4, w[0].s5, w[1].s5), \
                 t1_ = (float8)(w[0].s2, w[1].s2, w[0].s3, w[1].s3, w[0].s6, w[1].s6, w[0].s7, w[1].s7), \
                 t2_ = (float8)(w[2].s0, w[3].s0, w[2].s1, w[3].s1, w[2].s4, w[3].s4, w[2].s5, w[3].s5), \
                 t3_ = (float8)(w[2].s2, w[3].s2, w[2].s3, w[3].s3, w[2].s6, w[3].s6, w[2].s7, w[3].s7), \
                 t4_ = (float8)(w[4].s0, w[5].s0, w[4].s1, w[5].s1, w[4].s4, w[5].s4, w[4].s5, w[5].s5), \
                 t5_ = (float8)(w[4].s2, w[5].s2, w[4].s3, w[5].s3, w[4].s6, w[5].s6, w[4].s7, w[5].s7), \
                 t6_ = (float8)(w[6].s0, w[7].s0, w[6].s1, w[7].s1, w[6].s4, w[7].s4, w[6].s5, w[7].s5), \
                 t7_ = (float8)(w[6].s2, w[7].s2, w[6].s3, w[7].s3, w[6].s6, w[7].s6, w[6].s7, w[7].s7); \
    const float8 s0_ = (float8)(t0_.s01, t2_.s01, t0_.s45, t2_.s45), s1_ = (float8)(t0_.s23, t2_.s23, t0_.s67, t2_.s67), \
                 s2_ = (float8)(t1_.s01, t3_.s01, t1_.s45, t3_.s45), s3_ = (float8)(t1_.s23, t3_.s23, t1_.s67, t3_.s67), \
                 s4_ = (float8)(t4_.s01, t6_.s01, t4_.s45, t6_.s45), s5_ = (float8)(t4_.s23, t6_.s23, t4_.s67, t6_.s67), \
                 s6_ = (float8)(t5_.s01, t7_.s01, t5_.s45, t7_.s45), s7_ = (float8)(t5_.s23, t7_.s23, t5_.s67, t7_.s67); \
    c[0] = (float8)(s0_.lo, s4_.lo); c[1] = (float8)(s1_.lo, s5_.lo); c[2] = (float8)(s2_.lo, s6_.lo); \
    c[3] = (float8)(s3_.lo, s7_.lo); c[4] = (float8)(s0_.hi, s4_.hi); c[5] = (float8)(s1_.hi, s5_.hi); \
    c[6] = (float8)(s2_.hi, s6_.hi); c[7] = (float8)(s3_.hi, s7_.hi); }

// V[ξ][c][t] = (Bᵀ d_c B)[ξ] for the band's tiles, along tile rows as winograd4_input: a block of
// ROW_BLOCK tiles reads x = 6·tx0 − 1 … 6·tx0 + 48, loads each tile's 8 pixels of a row as one
// vector (its window) and transposes the 8 windows into one vector per tile column (tile t's
// column j in lane t). Blocks of 48 pixels do not divide VGG's widths, so every block runs this
// path: at the left edge the first window has a zero shifted in, the block at the right edge goes
// through a private copy of its row with zeros past the edge, and stores only its tiles.
// Global size: as winograd_input's.
__kernel void winograd6_input(WINOGRAD_INPUT_PARAMETERS) {
    WINOGRAD_INPUT_SETUP(6)
    for (int b = first; b < end; ++b) {
        const int tx0 = b * ROW_BLOCK, count = min(ROW_BLOCK, tilesX - tx0);
#if WINO_ROW_PREFETCH
        // The next block's rows: eight streams at once are more than a CPU's prefetcher follows.
        if (b + 1 < end) {
            for (int i = 0; i < 8; ++i) {
                const int y = y0 + i;
                if (y >= 0 && y < height) {
                    __global const ACT_IN *q = plane + y * width + 6 * tx0 + 48;
                    __builtin_prefetch(q); __builtin_prefetch(q + 16); __builtin_prefetch(q + 32);
                    __builtin_prefetch(q + 47);
                }
            }
        }
#endif
        float8 d[8][8];  // each row's d B, made as soon as the row is loaded
        #pragma unroll
        for (int i = 0; i < 8; ++i) {
            const int y = y0 + i;
            if (y < 0 || y >= height) {
                #pragma unroll
                for (int j = 0; j < 8; ++j) d[i][j] = (float8)(0.0f);
                continue;
            }
            __global const ACT_IN *p = plane + y * width + 6 * tx0;
            float8 w[8];  // tile t's window: its pixels x = 6·(tx0 + t) − 1 … 6·(tx0 + t) + 6
            if (6 * tx0 + 48 < width) {
                if (tx0 > 0) {
                    w[0] = LOAD_ACT8(0, p - 1);
                } else {
                    const float8 first = LOAD_ACT8(0, p);
                    w[0] = (float8)(0.0f, first.s0123, first.s456);
                }
                #pragma unroll
                for (int t = 1; t < 8; ++t) w[t] = LOAD_ACT8(0, p + 6 * t - 1);
            } else {
                float row[50];
                for (int k = 0; k < 50; ++k) {
                    const int x = 6 * tx0 - 1 + k;
                    row[k] = x >= 0 && x < width ? LOAD_ACT(k - 1, p) : 0.0f;
                }
                #pragma unroll
                for (int t = 0; t < 8; ++t) w[t] = vload8(0, row + 6 * t);
            }
            float8 c[8];
            TRANSPOSE8(w, c)
            WINOGRAD6_BT(float8, c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], d[i][0], d[i][1], d[i][2], d[i][3],
                         d[i][4], d[i][5], d[i][6], d[i][7])
        }
        #pragma unroll
        for (int j = 0; j < 8; ++j) {  // Bᵀ (d B): combine rows
            float8 r[8];
            WINOGRAD6_BT(float8, d[0][j], d[1][j], d[2][j], d[3][j], d[4][j], d[5][j], d[6][j], d[7][j], r[0], r[1],
                         r[2], r[3], r[4], r[5], r[6], r[7])
            #pragma unroll
            for (int i = 0; i < 8; ++i) {
                __global float *xi = out + (8 * i + j) * xiStride + tx0;
                if (count == ROW_BLOCK) {
                    vstore8(r[i], 0, xi);
                } else {
                    float lanes[8];
                    vstore8(r[i], 0, lanes);
                    for (int q = 0; q < count; ++q) xi[q] = lanes[q];
                }
            }
        }
    }
}

// winograd4_weights with 64 transforms, [64][stride / WINO_COB][rows][WINO_COB], the same
// directions and blocks. Global size: [rows, stride / WINO_COB].
__kernel void winograd6_weights(__global const float *w, const int outChannels, const int inChannels,
                                const int flipped, const int stride, const int rows, __global float *u) {
    const int kb = get_global_id(1), r = get_global_id(0);
    if (kb * WINO_COB >= stride || r >= rows) return;
    wino4_block taps[9];
    winograd_block_real_taps(w, outChannels, inChannels, flipped, kb, r, taps);
    wino4_block c[3][8];  // G g column by column (c[column][row]), then each row times Gᵀ
    #pragma unroll
    for (int q = 0; q < 3; ++q) {
        WINOGRAD6_G(taps[q], taps[3 + q], taps[6 + q], c[q][0], c[q][1], c[q][2], c[q][3], c[q][4], c[q][5],
                    c[q][6], c[q][7])
    }
    __global float *out = u + (kb * rows + r) * WINO_COB;
    const int xiStride = WINO_PLANE(stride, rows);
    #pragma unroll
    for (int a = 0; a < 8; ++a) {  // each row stored as it is made, as winograd4_weights
        wino4_block t[8];
        WINOGRAD6_G(c[0][a], c[1][a], c[2][a], t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7])
        #pragma unroll
        for (int b = 0; b < 8; ++b)
            CAT(vstore, WINO_COB)(CAT(convert_float, WINO_COB)(t[b]), 0, out + (8 * a + b) * xiStride);
    }
}

// Six vectors of 8, lane t of vector j the output 6t + j of a row of 8 tiles, as the 48 outputs
// in order (three vectors of 16): transposed, so that vector t holds tile t's six, then joined.
#define INTERLEAVE6(r, parts) { \
    const float8 w_[8] = {r[0], r[1], r[2], r[3], r[4], r[5], r[0], r[0]}; \
    float8 t_[8]; \
    TRANSPOSE8(w_, t_) \
    parts[0] = (float16)(t_[0].s0123, t_[0].s45, t_[1].s0123, t_[1].s45, t_[2].s0123); \
    parts[1] = (float16)(t_[2].s45, t_[3].s0123, t_[3].s45, t_[4].s0123, t_[4].s45, t_[5].s01); \
    parts[2] = (float16)(t_[5].s2345, t_[6].s0123, t_[6].s45, t_[7].s0123, t_[7].s45); }

// output (+)= epilogue(Aᵀ M A) for the band's tiles, only the pixels inside the image, as
// winograd4_output: a block of ROW_BLOCK tiles loads each ξ as one vector and stores each output
// row as three of 16. As in winograd6_input every block runs this path: the block at the right
// edge loads its tiles lane by lane (zeros after them) and stores the pixels inside the image one
// by one. Global size: as winograd_output's.
__kernel void winograd6_output(WINOGRAD_OUTPUT_PARAMETERS) {
    WINOGRAD_OUTPUT_SETUP(6)
    for (int block = first; block < end; ++block) {
        const int tx0 = block * ROW_BLOCK, count = min(ROW_BLOCK, tilesX - tx0);
        float8 a[6][8];
        #pragma unroll
        for (int j = 0; j < 8; ++j) {  // Aᵀ M: combine rows
            float8 s[8];
            #pragma unroll
            for (int i = 0; i < 8; ++i) {
                __global const float *xi = in + (8 * i + j) * xiStride + tx0;
                if (count == ROW_BLOCK) {
                    s[i] = vload8(0, xi);
                } else {
                    float lanes[8];
                    for (int q = 0; q < 8; ++q) lanes[q] = q < count ? xi[q] : 0.0f;
                    s[i] = vload8(0, lanes);
                }
            }
            WINOGRAD6_AT(float8, s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], a[0][j], a[1][j], a[2][j], a[3][j],
                         a[4][j], a[5][j])
        }
        float16 above[3];  // with pool: the even row's values
        #pragma unroll
        for (int i = 0; i < 6; ++i) {
            if (y0 + i >= height) continue;  // (a break here kept LLVM from unrolling the loop)
            float8 r[6];  // (Aᵀ M) A: column j of every tile's output row
            WINOGRAD6_AT(float8, a[i][0], a[i][1], a[i][2], a[i][3], a[i][4], a[i][5], a[i][6], a[i][7], r[0], r[1],
                         r[2], r[3], r[4], r[5])
            const int index = (o * height + y0 + i) * width + 6 * tx0;
            float16 parts[3];
            INTERLEAVE6(r, parts)
            #pragma unroll
            for (int h = 0; h < 3; ++h) {
                const int left = width - 6 * tx0 - 16 * h;  // pixels of this part inside the image
                const float16 value = conv_bias_relu16(parts[h], b, relu);
                if (left >= 16) {
                    conv_epilogue_store16(output, index + 16 * h, value, mask, useMask, accumulate, stream);
                } else {
                    float lanes[16];
                    vstore16(value, 0, lanes);
                    for (int q = 0; q < left; ++q)
                        conv_epilogue_store(output, index + 16 * h + q, lanes[q], 0, mask, useMask, accumulate);
                }
                if (pool && (i & 1))
                    pool_store16(pooledPlane + ((y0 + i) / 2) * pooledWidth + 3 * tx0 + 8 * h, above[h], value, pool,
                                 left);
                above[h] = value;
            }
        }
    }
    if (stream) NT_FENCE();
}

// ---------------------------------------------------------------------------------------------
// 2×2 stride-2 pooling, floor for odd sizes. Max takes the first maximum in row-major order.

// The offset (0…3, row-major) of the first maximum of a window's four values.
int argmax4(const float v[4]) {
    int winner = 0;
    for (int k = 1; k < 4; ++k) if (v[k] > v[winner]) winner = k;
    return winner;
}

// The same for the window whose top-left element is at `top`.
int window_argmax(__global const ACT_IN *top, const int width) {
    const float v[4] = { LOAD_ACT(0, top), LOAD_ACT(1, top), LOAD_ACT(width, top), LOAD_ACT(width + 1, top) };
    return argmax4(v);
}

// Pooling runs along output rows, ROW_BLOCK windows at a time: their left and right columns are
// the even and odd lanes of two input rows loaded as whole vectors, not four scalars gathered per
// output. A work-item takes `blocksPerItem` such blocks of a row (CPUs: the whole row; GPUs:
// one); a ragged end runs one window at a time. Global size: [ceil(blocks / blocksPerItem), rows, C].
__kernel void pool2x2(__global const ACT_IN *x, const int height, const int width, const int isMax,
                              const int blocksPerItem, __global ACT_OUT *y) {
    const int i = get_global_id(1), c = get_global_id(2);
    const int outH = height / 2, outW = width / 2, blocks = (outW + ROW_BLOCK - 1) / ROW_BLOCK;
    if (i >= outH) return;
    __global const ACT_IN *top = x + (c * height + 2 * i) * width;
    __global ACT_OUT *out = y + (c * outH + i) * outW;
    const int first = get_global_id(0) * blocksPerItem, end = min(first + blocksPerItem, blocks);
    for (int b = first; b < end; ++b) {
        const int j0 = b * ROW_BLOCK;
        if (j0 + ROW_BLOCK <= outW) {
            const float16 t = LOAD_ACT16(0, top + 2 * j0), u = LOAD_ACT16(0, top + width + 2 * j0);
            float8 value;
            if (isMax) {
                int8 k;
                POOL_MAX4(t.even, t.odd, u.even, u.odd, value, k)
            } else {
                value = ((t.even + t.odd) + (u.even + u.odd)) * 0.25f;
            }
            STORE_ACT8(value, 0, out + j0);
        } else {
            for (int j = j0; j < outW; ++j) {
                __global const ACT_IN *window = top + 2 * j;
                const int k = window_argmax(window, width);
                STORE_ACT(isMax ? LOAD_ACT((k >> 1) * width + (k & 1), window)
                                : ((LOAD_ACT(0, window) + LOAD_ACT(1, window)) +
                                   (LOAD_ACT(width, window) + LOAD_ACT(width + 1, window))) * 0.25f,
                          j, out);
            }
        }
    }
}

// One work-item per input element: it finds the window covering it (if any) and takes its share.
// Elements outside every window (the odd last row or column) get 0, or stay as they are when accumulating.
__kernel void pool2x2_backward(__global const float *dy, __global const ACT_IN *x, const int height, const int width,
                               const int isMax, __global float *dx, const int accumulate, const int n) {
    const int index = get_global_id(0);
    if (index >= n) return;
    const int outH = height / 2, outW = width / 2;
    const int row = index / width, xx = index - row * width, c = row / height, yy = row - c * height;
    const int i = yy / 2, j = xx / 2;
    float g = 0.0f;
    if (i < outH && j < outW) {
        const float share = dy[(c * outH + i) * outW + j];
        if (isMax) {
            __global const ACT_IN *top = x + (c * height + 2 * i) * width + 2 * j;
            const int k = window_argmax(top, width);
            if (k == (yy & 1) * 2 + (xx & 1)) g = share;
        } else {
            g = share * 0.25f;
        }
    }
    store_or_add(dx, index, g, accumulate);
}

// The backward pass of ReLU then pooling: dx = pool2x2_backward's result × (a > 0), a the ReLU's
// output (the pooling input), dx the gradient w.r.t. the ReLU's input, which may be a's own
// buffer (in place: each window is read before it is written, and no other work-item touches
// it). Along rows of windows as pool2x2 (the same launch, over ceil(H / 2) rows; the odd last row
// and column get 0).
__kernel void relu_pool2x2_backward(__global const float *dy, __global const ACT_IN *a, __global float *dx,
                                    const int height, const int width, const int isMax, const int blocksPerItem) {
    const int i = get_global_id(1), c = get_global_id(2);
    const int outH = height / 2, outW = width / 2, blocks = (outW + ROW_BLOCK - 1) / ROW_BLOCK;
    if (2 * i >= height) return;
    __global const ACT_IN *top = a + (c * height + 2 * i) * width;
    __global float *out = dx + (c * height + 2 * i) * width;
    const int first = get_global_id(0) * blocksPerItem, end = min(first + blocksPerItem, blocks);
    // The work-item with the row's last block (the first one when there is none) also owns the
    // odd last column, outside every window; work-items past the last block own nothing.
    const int last = blocks == 0 ? get_global_id(0) == 0 : first < blocks && end == blocks;
    if (i == outH) {  // the odd last row, outside every window
        const int stop = last ? width : min(2 * ROW_BLOCK * end, width);
        for (int x = 2 * ROW_BLOCK * first; x < stop; ++x) out[x] = 0.0f;
        return;
    }
    __global const float *share = dy + (c * outH + i) * outW;
    for (int b = first; b < end; ++b) {
        const int j0 = b * ROW_BLOCK;
        if (j0 + ROW_BLOCK <= outW) {
            const float16 t = LOAD_ACT16(0, top + 2 * j0), u = LOAD_ACT16(0, top + width + 2 * j0);
            const float8 s = vload8(0, share + j0), zero = (float8)(0.0f);
            float8 g0, g1, g2, g3;  // routed to the window's top-left, top-right, bottom-left, bottom-right
            if (isMax) {
                float8 best;
                int8 k;
                POOL_MAX4(t.even, t.odd, u.even, u.odd, best, k)
                g0 = select(zero, s, k == 0); g1 = select(zero, s, k == 1);
                g2 = select(zero, s, k == 2); g3 = select(zero, s, k == 3);
            } else {
                g0 = g1 = g2 = g3 = s * 0.25f;
            }
            // × the ReLU's mask: its output is what the window holds.
            g0 = select(zero, g0, t.even > zero); g1 = select(zero, g1, t.odd > zero);
            g2 = select(zero, g2, u.even > zero); g3 = select(zero, g3, u.odd > zero);
            vstore16(INTERLEAVE8(g0, g1), 0, out + 2 * j0);
            vstore16(INTERLEAVE8(g2, g3), 0, out + width + 2 * j0);
        } else {
            for (int j = j0; j < outW; ++j) {
                __global const ACT_IN *window = top + 2 * j;
                const float v[4] = { LOAD_ACT(0, window), LOAD_ACT(1, window), LOAD_ACT(width, window),
                                     LOAD_ACT(width + 1, window) };
                const int winner = isMax ? argmax4(v) : -1;
                float g[4];
                #pragma unroll
                for (int k = 0; k < 4; ++k) {
                    const float routed = isMax ? (k == winner ? share[j] : 0.0f) : share[j] * 0.25f;
                    g[k] = v[k] > 0.0f ? routed : 0.0f;
                }
                __global float *o = out + 2 * j;
                o[0] = g[0]; o[1] = g[1]; o[width] = g[2]; o[width + 1] = g[3];
            }
        }
    }
    if (last && (width & 1)) out[width - 1] = out[2 * width - 1] = 0.0f;
}

// What the backward pass reads of a ReLU's output, in two bits an element (the tiled objective
// keeps these between its passes instead of the output): 0 where a ≤ 0, 1 where a > 0, 2 where
// a > 0 is also its 2×2 max-pooling window's maximum (isMax). Decoded as the values 0, 1, 2 they
// give relu_backward and the pooling backward kernels the same masks and, the first maximum
// being where the first 2 is, the same winners. Ten codes of a row (five windows) fill the
// fraction bits of a float in [1, 2): a normal number, so every copy keeps it exactly; a row of
// W elements takes ⌈W / 10⌉ floats. Along rows as pooling runs (ROW_BLOCK floats a block,
// `blocksPerItem` blocks a work-item).
#define CODES_PER_WORD 10
__kernel void encode_relu_codes(__global const ACT_IN *a, const int height, const int width, const int isMax,
                                const int blocksPerItem, __global float *codes) {
    const int y = get_global_id(1), c = get_global_id(2);
    const int words = (width + CODES_PER_WORD - 1) / CODES_PER_WORD;
    const int first = get_global_id(0) * blocksPerItem * ROW_BLOCK, end = min(first + blocksPerItem * ROW_BLOCK, words);
    __global const ACT_IN *row = a + (c * height + y) * width;
    // The window's two rows, where the row lies in one (not an odd last row).
    const int pooledRow = isMax && y < (height & ~1), pooledWidth = width & ~1;
    __global const ACT_IN *top = a + (c * height + (y & ~1)) * width, *bottom = top + width;
    __global float *out = codes + (c * height + y) * words;
    for (int j = first; j < end; ++j) {
        const int x0 = j * CODES_PER_WORD;
        uint bits = 0;
        if (x0 + CODES_PER_WORD <= pooledWidth) {
            // Five whole windows, without branches on the values.
            for (int p = 0; p < CODES_PER_WORD / 2; ++p) {
                const int x = x0 + 2 * p;
                const float v0 = LOAD_ACT(x, row), v1 = LOAD_ACT(x + 1, row);
                uint c0 = v0 > 0.0f, c1 = v1 > 0.0f;
                if (pooledRow) {
                    const float m = fmax(fmax(LOAD_ACT(x, top), LOAD_ACT(x + 1, top)),
                                         fmax(LOAD_ACT(x, bottom), LOAD_ACT(x + 1, bottom)));
                    c0 += c0 & (uint)(v0 == m);
                    c1 += c1 & (uint)(v1 == m);
                }
                bits |= (c0 | (c1 << 2)) << (4 * p);
            }
        } else {
            // The row's last float: element by element, the odd last column in no window.
            for (int k = 0; k < CODES_PER_WORD && x0 + k < width; ++k) {
                const int x = x0 + k, left = x & ~1;
                const float v = LOAD_ACT(x, row);
                uint code = v > 0.0f;
                if (code && pooledRow && x < pooledWidth) {
                    const float m = fmax(fmax(LOAD_ACT(left, top), LOAD_ACT(left + 1, top)),
                                         fmax(LOAD_ACT(left, bottom), LOAD_ACT(left + 1, bottom)));
                    code += (uint)(v == m);
                }
                bits |= code << (2 * k);
            }
        }
        out[j] = as_float(0x3F800000u | bits);
    }
}

// a = the code of each element (0, 1 or 2) from encode_relu_codes's floats; the same launch.
__kernel void decode_relu_codes(__global const float *codes, const int height, const int width,
                                const int blocksPerItem, __global ACT_OUT *a) {
    const int y = get_global_id(1), c = get_global_id(2);
    const int words = (width + CODES_PER_WORD - 1) / CODES_PER_WORD;
    const int first = get_global_id(0) * blocksPerItem * ROW_BLOCK, end = min(first + blocksPerItem * ROW_BLOCK, words);
    __global const float *in = codes + (c * height + y) * words;
    __global ACT_OUT *row = a + (c * height + y) * width;
    for (int j = first; j < end; ++j) {
        const uint bits = as_uint(in[j]);
        for (int k = 0; k < CODES_PER_WORD; ++k) {
            const int x = j * CODES_PER_WORD + k;
            if (x >= width) break;
            STORE_ACT((float)((bits >> (2 * k)) & 3u), x, row);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Gram matrix G = F Fᵀ / N (F: C × M), split along M into slices so there is enough parallel
// work on every device. Stage one: a work-item computes the GRAM_T × GRAM_T tile (bi, bj), bi ≤ bj
// only (symmetry), of one slice's F Fᵀ with VW-wide vectors along M. Stage two sums the slices in
// order and mirrors the lower triangle, so G is exactly symmetric and the same bits every run.
//
// Global size: [tiles, tiles, slices] with tiles = ceil(C / GRAM_T).
__kernel void gram_partial(__global const ACT_IN *f, const int channels, const int m, const int sliceLength,
                           __global float *partial) {
    const int bj = get_global_id(0), bi = get_global_id(1), s = get_global_id(2);
    const int tiles = (channels + GRAM_T - 1) / GRAM_T;
    if (bj >= tiles || bi > bj) return;
    const int i0 = bi * GRAM_T, j0 = bj * GRAM_T;
    const int k0 = s * sliceLength, k1 = min(m, k0 + sliceLength);

    // Rows past the last channel read the last channel; their results are not stored.
    __global const ACT_IN *a[GRAM_T], *b[GRAM_T];
    #pragma unroll
    for (int t = 0; t < GRAM_T; ++t) {
        a[t] = f + min(i0 + t, channels - 1) * m;
        b[t] = f + min(j0 + t, channels - 1) * m;
    }
    VEC acc[GRAM_T][GRAM_T];
    #pragma unroll
    for (int ti = 0; ti < GRAM_T; ++ti) {
        #pragma unroll
        for (int tj = 0; tj < GRAM_T; ++tj) acc[ti][tj] = (VEC)(0.0f);
    }

    for (int k = k0; k < k1; k += VW) {
        const int left = k1 - k;
        VEC av[GRAM_T], bv[GRAM_T];
        if (left >= VW) {
            #pragma unroll
            for (int t = 0; t < GRAM_T; ++t) { av[t] = VLOAD_ACT(0, a[t] + k); bv[t] = VLOAD_ACT(0, b[t] + k); }
        } else {
            #pragma unroll
            for (int t = 0; t < GRAM_T; ++t) {
                av[t] = vload_tail(a[t] + k, left);
                bv[t] = vload_tail(b[t] + k, left);
            }
        }
        #pragma unroll
        for (int ti = 0; ti < GRAM_T; ++ti) {
            #pragma unroll
            for (int tj = 0; tj < GRAM_T; ++tj) acc[ti][tj] = MAD(av[ti], bv[tj], acc[ti][tj]);
        }
    }

    __global float *out = partial + s * channels * channels;
    for (int ti = 0; ti < GRAM_T; ++ti) {
        if (i0 + ti >= channels) break;
        for (int tj = 0; tj < GRAM_T; ++tj) {
            if (j0 + tj >= channels) break;
            out[(i0 + ti) * channels + j0 + tj] = HSUM(acc[ti][tj]);
        }
    }
}

// Stage one as GPUs run matrix products: a work-group of 16×16 work-items computes the 64×64
// block (bi, bj), bi ≤ bj, of one slice. Each step stages 16 pixels of its 64 rows of F and of its
// 64 columns' rows in local memory (consecutive work-items read consecutive pixels; rows padded to
// 65 against bank conflicts), and each work-item accumulates rows ty + 16·a × columns tx + 16·b,
// a, b < 4 (consecutive work-items, consecutive columns: broadcast reads, coalesced stores).
// Global size: [blocks · 16, blocks · 16, slices] with blocks = ceil(C / 64), local [16, 16, 1].
#if GRAM_GEMM
__kernel __attribute__((reqd_work_group_size(16, 16, 1)))
void gram_partial_tiled(__global const ACT_IN *f, const int channels, const int m, const int sliceLength,
                        __global float *partial) {
    const int bj = get_group_id(0), bi = get_group_id(1), s = get_group_id(2);
    if (bi > bj) return;  // the whole work-group: no barrier is left waiting
    __local float as[16][65], bs[16][65];
    const int tx = get_local_id(0), ty = get_local_id(1), id = ty * 16 + tx;
    const int i0 = bi * 64, j0 = bj * 64, k0 = s * sliceLength, k1 = min(m, k0 + sliceLength);
    float acc[4][4];
    #pragma unroll
    for (int a = 0; a < 4; ++a) {
        #pragma unroll
        for (int b = 0; b < 4; ++b) acc[a][b] = 0.0f;
    }
    const int row = id / 16, pixel = id - row * 16;
    for (int k = k0; k < k1; k += 16) {
        const int p = k + pixel;
        #pragma unroll
        for (int q = 0; q < 4; ++q) {
            const int i = i0 + row + 16 * q, j = j0 + row + 16 * q;
            as[pixel][row + 16 * q] = p < k1 && i < channels ? LOAD_ACT(i * m + p, f) : 0.0f;
            bs[pixel][row + 16 * q] = p < k1 && j < channels ? LOAD_ACT(j * m + p, f) : 0.0f;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        #pragma unroll
        for (int kk = 0; kk < 16; ++kk) {
            float a[4], b[4];
            #pragma unroll
            for (int q = 0; q < 4; ++q) { a[q] = as[kk][ty + 16 * q]; b[q] = bs[kk][tx + 16 * q]; }
            #pragma unroll
            for (int x = 0; x < 4; ++x) {
                #pragma unroll
                for (int y = 0; y < 4; ++y) acc[x][y] = MAD(a[x], b[y], acc[x][y]);
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    __global float *out = partial + s * channels * channels;
    #pragma unroll
    for (int x = 0; x < 4; ++x) {
        #pragma unroll
        for (int y = 0; y < 4; ++y) {
            const int i = i0 + ty + 16 * x, j = j0 + tx + 16 * y;
            if (i < channels && j < channels) out[i * channels + j] = acc[x][y];
        }
    }
}
#endif

// G[i][j] = scale · Σ_s partial[s][i][j], read from the block with bi ≤ bj.
__kernel void gram_finish(__global const float *partial, const int channels, const int slices, const float scale,
                          __global float *g) {
    const int j = get_global_id(0), i = get_global_id(1);
    if (i >= channels || j >= channels) return;
    const int upper = i / GRAM_BLOCK <= j / GRAM_BLOCK;
    const int at = upper ? i * channels + j : j * channels + i;
    float sum = 0.0f;
    for (int s = 0; s < slices; ++s) sum += partial[s * channels * channels + at];
    g[i * channels + j] = sum * scale;
}

// sym = (dG + dGᵀ) · scale, the left factor of Gram backward: row-major for gram_backward_tiled,
// else in gram_backward's blocks [ceil(C / GB_ROWS)][C][GB_ROWS] (row i of block b is channel
// b·GB_ROWS + i; rows past C are zeros). Global size: [C, C rounded up to GB_ROWS].
__kernel void gram_symmetrize(__global const float *dg, const int channels, const float scale, __global float *sym) {
    const int j = get_global_id(0), i = get_global_id(1);
    if (j >= channels) return;
#if GB_GEMM
    if (i < channels) sym[i * channels + j] = (dg[i * channels + j] + dg[j * channels + i]) * scale;
#else
    const int block = i / GB_ROWS;
    sym[(block * channels + j) * GB_ROWS + i - block * GB_ROWS] =
        i < channels ? (dg[i * channels + j] + dg[j * channels + i]) * scale : 0.0f;
#endif
}

// out (+)= A F with A: C × C (symmetric) and F, out: C × M; where `masked`, the sum is then zeroed
// where F ≤ 0 (the backward of the ReLU whose output F is, fused). The loop order is
// winograd_multiply's: a work-item computes GB_ROWS rows × GB_VECS vectors of VW columns, each
// element of A (gram_symmetrize's blocks: a block's rows stream contiguously) feeding GB_VECS
// multiply-adds, for GB_OB row blocks one after the other over the same columns of F (PoCL pays
// per work-item; the columns stay in cache). Neighbouring work-items share the same block of A.
// Global size: [ceil(M / (VW · GB_VECS)), ceil(C / (GB_ROWS · GB_OB))].
#if GB_PREFETCH
// The next work-item's columns (GB_PREFETCH blocks of columns ahead), fetched once, as F is read
// from memory (the first row block, or the copy): its rows are a channel apart, one stream each,
// more than a CPU's prefetcher follows.
#define GB_FETCH_AHEAD(j) \
    if (ahead < m) { \
        _Pragma("unroll") for (int v = 0; v < GB_VECS * VW; v += 16) __builtin_prefetch(f + (j) * m + ahead + v); \
    }
#else
#define GB_FETCH_AHEAD(j)
#endif
#define GB_FETCH_FIRST(j) if (b == 0) { GB_FETCH_AHEAD(j) }
#define GB_NO_FETCH(j)
#define GB_COLUMNS(LOAD, FETCH) \
    for (int j = 0; j < channels; ++j) { \
        __global const float *aj = block + j * GB_ROWS; \
        FETCH(j) \
        VEC fv[GB_VECS]; \
        _Pragma("unroll") for (int v = 0; v < GB_VECS; ++v) fv[v] = LOAD(v); \
        _Pragma("unroll") for (int r = 0; r < GB_ROWS; ++r) { \
            const VEC weight = (VEC)(aj[r]); \
            _Pragma("unroll") for (int v = 0; v < GB_VECS; ++v) acc[r][v] = MAD(weight, fv[v], acc[r][v]); \
        } \
    }
#define GB_WHOLE(v) VLOAD_ACT(0, f + j * m + k + (v) * VW)
#define GB_STAGED(v) staged[j][v]
#define GB_TAIL(v) (left - (v) * VW >= VW ? VLOAD_ACT(0, f + j * m + k + (v) * VW) \
                    : left > (v) * VW ? vload_tail(f + j * m + k + (v) * VW, left - (v) * VW) : (VEC)(0.0f))

__kernel void gram_backward(__global const float *a, __global const ACT_IN *f, const int channels, const int m,
                            __global float *out, const int accumulate, const int masked) {
    const int k = get_global_id(0) * VW * GB_VECS;
    if (k >= m) return;
    const int left = m - k, ahead = k + GB_PREFETCH * GB_VECS * VW;
#if GB_STAGE
    // F's rows are a channel apart: where that is a multiple of the caches' set stride (512×384
    // and most power-of-two sizes), a work-item's columns of F all fall in one cache set and each
    // row block read them from L3 again. A contiguous private copy stays in L1.
    VEC staged[GB_STAGE][GB_VECS];
    const int staging = channels <= GB_STAGE;
    if (staging) {
        for (int j = 0; j < channels; ++j) {
            GB_FETCH_AHEAD(j)
            #pragma unroll
            for (int v = 0; v < GB_VECS; ++v) staged[j][v] = GB_TAIL(v);
        }
    }
#endif
    for (int b = 0; b < GB_OB; ++b) {
        const int i0 = (get_global_id(1) * GB_OB + b) * GB_ROWS;
        if (i0 >= channels) return;
        __global const float *block = a + i0 * channels;
#if GB_PREFETCH
        // The outputs the next work-item adds to, likewise.
        if (accumulate && ahead < m) {
            for (int r = 0; r < GB_ROWS && i0 + r < channels; ++r) {
                for (int v = 0; v < GB_VECS * VW; v += 16) __builtin_prefetch(out + (i0 + r) * m + ahead + v);
            }
        }
#endif
        VEC acc[GB_ROWS][GB_VECS];
        #pragma unroll
        for (int r = 0; r < GB_ROWS; ++r) {
            #pragma unroll
            for (int v = 0; v < GB_VECS; ++v) acc[r][v] = (VEC)(0.0f);
        }
#if GB_STAGE
        if (staging) {
            GB_COLUMNS(GB_STAGED, GB_NO_FETCH)
        } else
#endif
        if (left >= VW * GB_VECS) {
            GB_COLUMNS(GB_WHOLE, GB_FETCH_FIRST)
        } else {
            GB_COLUMNS(GB_TAIL, GB_FETCH_FIRST)
        }
        // Unrolled, so that the sums stay in registers in the loops above (with a loop here
        // GB_VECS = 3 spilled them in the loop over channels).
        #pragma unroll
        for (int r = 0; r < GB_ROWS; ++r) {
            if (i0 + r >= channels) break;
            #pragma unroll
            for (int v = 0; v < GB_VECS; ++v) {
                const int start = k + v * VW, count = m - start;
                if (count <= 0) break;
                __global float *o = out + (i0 + r) * m + start;
                __global const ACT_IN *features = f + (i0 + r) * m + start;
                if (count >= VW) {
                    VEC value = accumulate ? acc[r][v] + VLOAD(0, o) : acc[r][v];
                    if (masked) {
                        VEC feature;
#if GB_STAGE
                        if (staging) {
                            feature = staged[i0 + r][v];  // the row's own channel of F
                        } else
#endif
                        {
                            // Lane by lane: PoCL made vload_half8 here an aligned load of an unaligned row.
                            float lanes[VW];
                            #pragma unroll
                            for (int q = 0; q < VW; ++q) lanes[q] = LOAD_ACT(q, features);
                            feature = VLOAD(0, lanes);
                        }
                        value = select((VEC)(0.0f), value, feature > (VEC)(0.0f));
                    }
                    VSTORE(value, 0, o);
                } else {
                    float values[VW];
                    VSTORE(acc[r][v], 0, values);
                    for (int q = 0; q < count; ++q) {
                        store_or_add(o, q, values[q], accumulate);
                        if (masked && !(LOAD_ACT(q, features) > 0.0f)) o[q] = 0.0f;
                    }
                }
            }
        }
    }
}

// Gram backward as GPUs run matrix products (GB_GEMM): out (+)= A F by TILED_PRODUCT, A's row c
// (its column: A is symmetric) the left operand and F's pixels the tiles, masked as gram_backward.
// Rows and pixels need not be multiples of 4: loads and stores past them are partial.
// Global size: [ceil(M / (16·WGEMM_N)) · 16, ceil(C / (16·WGEMM_M)) · 16], local [16, 16].
#if GB_GEMM
__kernel __attribute__((reqd_work_group_size(16, 16, 1)))
void gram_backward_tiled(__global const float *a, __global const ACT_IN *f, const int channels, const int m,
                         __global float *out, const int accumulate, const int masked) {
    TILED_SETUP(WGEMM_M, WGEMM_N)
#define LOAD_A(c, o) vload4_upto(a + (c) * channels + (o), channels - (o))
#define LOAD_F(c, t) vload4_upto_act(f + (c) * m + (t), m - (t))
    TILED_PRODUCT(WGEMM_M, WGEMM_N, channels, LOAD_A, LOAD_F)
#define STORE_OUT(o, t, value) \
    if ((o) < channels) { \
        const int count_ = m - (t); \
        const float4 sum_ = accumulate ? (value) + vload4_upto(out + (o) * m + (t), count_) : (value); \
        store4_upto(out + (o) * m + (t), count_, \
                    masked ? select((float4)(0.0f), sum_, vload4_upto_act(f + (o) * m + (t), count_) > (float4)(0.0f)) \
                           : sum_, 0); \
    }
    TILED_RESULTS(WGEMM_M, WGEMM_N, STORE_OUT)
#undef LOAD_A
#undef LOAD_F
#undef STORE_OUT
}
#endif

// ---------------------------------------------------------------------------------------------
// Deterministic two-stage reductions: stage one runs exactly RED_GROUPS work-groups of RED_LOCAL
// work-items; each work-item sums a fixed strided subset in order, each group reduces its items
// by a fixed tree into partial[group]; stage two is one work-group that sums the partials the
// same way and stores the scalar. Same device and options, same bits.

// The sum of `value` over the work-group by a fixed tree; every work-item gets it.
float group_sum(float value, __local float *scratch) {
    const int l = get_local_id(0);
    scratch[l] = value;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int stride = RED_LOCAL / 2; stride > 0; stride >>= 1) {
        if (l < stride) scratch[l] += scratch[l + stride];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    return scratch[0];
}

// The elements i < n this work-item of stage one sums, in order.
#if RED_CONTIGUOUS
#define RED_FOR(i, n) \
    for (int run_ = ((n) + RED_LOCAL * RED_GROUPS - 1) / (RED_LOCAL * RED_GROUPS), i = get_global_id(0) * run_, \
             end_ = min(i + run_, (n)); \
         i < end_; ++i)
#else
#define RED_FOR(i, n) for (int i = get_global_id(0); i < (n); i += RED_LOCAL * RED_GROUPS)
#endif

#define REDUCE_TO_PARTIAL(sum)                                               \
    __local float scratch[RED_LOCAL];                                        \
    const float total = group_sum(sum, scratch);                             \
    if (get_local_id(0) == 0) partial[get_group_id(0)] = total;

// Σ (a − b)²
__kernel __attribute__((reqd_work_group_size(RED_LOCAL, 1, 1)))
void mean_squared_error_partial(__global const ACT_IN *a, __global const ACT_IN *b, const int n,
                                __global float *partial) {
    float sum = 0.0f;
    RED_FOR(i, n) {
        const float d = LOAD_ACT(i, a) - LOAD_ACT(i, b);
        sum = mad(d, d, sum);
    }
    REDUCE_TO_PARTIAL(sum)
}

// Σ x·y
__kernel __attribute__((reqd_work_group_size(RED_LOCAL, 1, 1)))
void dot_partial(__global const float *x, __global const float *y, const int n, __global float *partial) {
    float sum = 0.0f;
    RED_FOR(i, n) sum = mad(x[i], y[i], sum);
    REDUCE_TO_PARTIAL(sum)
}

// Σ_{c, i<H−1, j<W−1} (x[c,i,j] − x[c,i,j+1])² + (x[c,i,j] − x[c,i+1,j])²
__kernel __attribute__((reqd_work_group_size(RED_LOCAL, 1, 1)))
void total_variation_partial(__global const float *x, const int height, const int width, const int n, __global float *partial) {
    float sum = 0.0f;
    RED_FOR(index, n) {
        const int row = index / width, j = index - row * width, i = row - row / height * height;
        if (i < height - 1 && j < width - 1) {
            const float v = x[index];
            const float right = v - x[index + 1], down = v - x[index + width];
            sum += right * right + down * down;
        }
    }
    REDUCE_TO_PARTIAL(sum)
}

// scalars[slot] (+)= scale · Σ partial[0 ..< RED_GROUPS]; one work-group of RED_LOCAL.
__kernel __attribute__((reqd_work_group_size(RED_LOCAL, 1, 1)))
void reduce_finish(__global const float *partial, const float scale, __global float *scalars, const int slot,
                   const int accumulate) {
    float sum = 0.0f;
    for (int g = get_local_id(0); g < RED_GROUPS; g += RED_LOCAL) sum += partial[g];
    __local float scratch[RED_LOCAL];
    const float total = group_sum(sum, scratch);
    if (get_local_id(0) == 0) store_or_add(scalars, slot, total * scale, accumulate);
}

// ---------------------------------------------------------------------------------------------
// Video (issue 21): optical flow by TV-L1 with warping, coarse to fine; the bilinear
// backward warp and its adjoint; the reliability mask; the temporal loss (docs/DESIGN.md,
// "Optical flow", "Temporal loss"). A flow is 2×H×W: plane 0 the x displacement u, plane 1 the
// y displacement v; pixel (i, j) of the image it belongs to corresponds to (i + v, j + u) of the
// other. Every kernel is elementwise (no atomics): the adjoint of the warp scatters, so it runs
// one work-item per channel.

// (y, x) clamped into a height×width plane; NaN becomes 0, so no index leaves the plane.
#define CLAMP_POSITION(y, x, height, width)                             \
    x = x >= 0.0f ? x : 0.0f;                                           \
    x = x <= (float)(width - 1) ? x : (float)(width - 1);               \
    y = y >= 0.0f ? y : 0.0f;                                           \
    y = y <= (float)(height - 1) ? y : (float)(height - 1);

// Row i and column j of pixel p, and its four neighbours' indices, the border replicated.
#define NEIGHBOURS(p)                                                                   \
    const int i = p / width, j = p - i * width;                                         \
    const int left = i * width + max(j - 1, 0), right = i * width + min(j + 1, width - 1); \
    const int up = max(i - 1, 0) * width + j, down = min(i + 1, height - 1) * width + j;

// The bilinear sample of a height×width plane at (y, x), the position clamped into the plane
// (the border is replicated).
float bilinear_sample(__global const float *plane, const int height, const int width, float y, float x) {
    CLAMP_POSITION(y, x, height, width)
    const int x0 = (int)x, y0 = (int)y;
    const int x1 = min(x0 + 1, width - 1), y1 = min(y0 + 1, height - 1);
    const float fx = x - (float)x0, fy = y - (float)y0;
    const float top = (1.0f - fx) * plane[y0 * width + x0] + fx * plane[y0 * width + x1];
    const float bottom = (1.0f - fx) * plane[y1 * width + x0] + fx * plane[y1 * width + x1];
    return (1.0f - fy) * top + fy * bottom;
}

// out[c, i, j] = bilinear sample of image[c] at (i + v[i, j], j + u[i, j]).
__kernel void warp_bilinear(__global const float *image, __global const float *flow, const int height,
                            const int width, __global float *out, const int n) {
    const int index = get_global_id(0);
    if (index >= n) return;
    const int plane = height * width, c = index / plane, p = index - c * plane;
    const int row = p / width;
    const float y = (float)row + flow[plane + p], x = (float)(p - row * width) + flow[p];
    out[index] = bilinear_sample(image + c * plane, height, width, y, x);
}

// gradImage (+)= warpᵀ(gradOut): each pixel's gradient scattered onto the four samples it read,
// with the forward's weights. One work-item per channel, pixels in order: deterministic.
__kernel void warp_bilinear_backward(__global const float *gradOut, __global const float *flow, const int height,
                                     const int width, const int channels, __global float *gradImage,
                                     const int accumulate) {
    const int c = get_global_id(0);
    if (c >= channels) return;
    const int plane = height * width;
    __global const float *dy = gradOut + c * plane;
    __global float *g = gradImage + c * plane;
    if (!accumulate) for (int p = 0; p < plane; ++p) g[p] = 0.0f;
    for (int p = 0; p < plane; ++p) {
        const int row = p / width;
        float y = (float)row + flow[plane + p], x = (float)(p - row * width) + flow[p];
        CLAMP_POSITION(y, x, height, width)
        const int x0 = (int)x, y0 = (int)y;
        const int x1 = min(x0 + 1, width - 1), y1 = min(y0 + 1, height - 1);
        const float fx = x - (float)x0, fy = y - (float)y0;
        const float top = (1.0f - fy) * dy[p], bottom = fy * dy[p];
        g[y0 * width + x0] += (1.0f - fx) * top;
        g[y0 * width + x1] += fx * top;
        g[y1 * width + x0] += (1.0f - fx) * bottom;
        g[y1 * width + x1] += fx * bottom;
    }
}

// out = (I_x, I_y, I_t) of one warping step: the spatial derivatives averaged over the reference
// frame and the warped one (central differences, border replicated), and warped − reference.
__kernel void flow_derivatives(__global const float *reference, __global const float *warped, const int height,
                               const int width, __global float *out) {
    const int p = get_global_id(0), plane = height * width;
    if (p >= plane) return;
    NEIGHBOURS(p)
    out[p] = 0.25f * ((reference[right] - reference[left]) + (warped[right] - warped[left]));
    out[plane + p] = 0.25f * ((reference[down] - reference[up]) + (warped[down] - warped[up]));
    out[2 * plane + p] = warped[p] - reference[p];
}

// TV-L1 (Zach, Pock & Bischof 2007; Sánchez Pérez et al., IPOL 2013), one iteration in two
// kernels. Primal: with ρ = I_t + I_x(u − u₀) + I_y(v − v₀) and g = I_x² + I_y², the data step
// soft-thresholds ρ by λθ·g (u − λθ∇I where ρ < −λθg, u + λθ∇I where ρ > λθg, u − ρ∇I/g between),
// then adds θ·div p of each component's dual field (backward differences, the adjoint of the
// dual step's forward differences). p is 4×H×W: (p_x, p_y) of u, then of v.
__kernel void tvl1_primal_step(__global const float *derivatives, __global const float *base,
                               __global const float *flow, __global const float *dual, const int height,
                               const int width, const float lambdaTheta, const float theta, __global float *out) {
    const int p = get_global_id(0), plane = height * width;
    if (p >= plane) return;
    const int i = p / width, j = p - i * width;
    const float ix = derivatives[p], iy = derivatives[plane + p], it = derivatives[2 * plane + p];
    const float u = flow[p], v = flow[plane + p];
    const float rho = (it + ix * (u - base[p])) + iy * (v - base[plane + p]);
    const float g = ix * ix + iy * iy, bound = lambdaTheta * g;
    float du, dv;
    if (rho < -bound) {
        du = lambdaTheta * ix;
        dv = lambdaTheta * iy;
    } else if (rho > bound) {
        du = -lambdaTheta * ix;
        dv = -lambdaTheta * iy;
    } else if (g > 1e-10f) {
        const float q = rho / g;
        du = -q * ix;
        dv = -q * iy;
    } else {
        du = 0.0f;
        dv = 0.0f;
    }
    for (int k = 0; k < 2; ++k) {
        __global const float *px = dual + 2 * k * plane, *py = px + plane;
        float divergence = ((j < width - 1 ? px[p] : 0.0f) - (j > 0 ? px[p - 1] : 0.0f))
                           + ((i < height - 1 ? py[p] : 0.0f) - (i > 0 ? py[p - width] : 0.0f));
        out[k * plane + p] = ((k == 0 ? u : v) + (k == 0 ? du : dv)) + theta * divergence;
    }
}

// TV-L1's dual step: for each component w of the flow, with ∇w by forward differences (0 at the
// last column or row), p = (p + s∇w) / (1 + s|∇w|), s = τ/θ.
__kernel void tvl1_dual_step(__global const float *flow, __global const float *dual, const int height,
                             const int width, const float step, __global float *out) {
    const int p = get_global_id(0), plane = height * width;
    if (p >= plane) return;
    const int i = p / width, j = p - i * width;
    for (int k = 0; k < 2; ++k) {
        __global const float *w = flow + k * plane;
        const float wx = j < width - 1 ? w[p + 1] - w[p] : 0.0f;
        const float wy = i < height - 1 ? w[p + width] - w[p] : 0.0f;
        const float scale = 1.0f + step * sqrt(wx * wx + wy * wy);
        out[2 * k * plane + p] = (dual[2 * k * plane + p] + step * wx) / scale;
        out[(2 * k + 1) * plane + p] = (dual[(2 * k + 1) * plane + p] + step * wy) / scale;
    }
}

// out[c, i, j] = the median of the 3×3 neighbourhood of (i, j) in plane c, the border replicated:
// after each warp, it removes the outliers the linearisation leaves (Wedel et al. 2009; Sun,
// Roth & Black 2010). A sorting by insertion: comparisons only, so both backends agree exactly.
__kernel void median3x3(__global const float *x, const int height, const int width, __global float *out,
                        const int n) {
    const int index = get_global_id(0);
    if (index >= n) return;
    const int plane = height * width, q = index / plane, p = index - q * plane;
    __global const float *c = x + q * plane;
    NEIGHBOURS(p)
    float v[9];
    int k = 0;
    for (int di = -1; di <= 1; ++di) {
        const int row = min(max(i + di, 0), height - 1) * width;
        for (int dj = -1; dj <= 1; ++dj) {
            const float value = c[row + min(max(j + dj, 0), width - 1)];
            int m = k++;
            for (; m > 0 && v[m - 1] > value; --m) v[m] = v[m - 1];
            v[m] = value;
        }
    }
    out[index] = v[4];
}

// A flow of the next pyramid level, twice the size: fine pixel (i, j) lies at (i/2 − 1/4,
// j/2 − 1/4) of the coarse level (2×2 average pooling's grid), sampled bilinearly and doubled.
__kernel void upsample_flow(__global const float *coarse, const int coarseHeight, const int coarseWidth,
                            const int height, const int width, __global float *out, const int n) {
    const int index = get_global_id(0);
    if (index >= n) return;
    const int plane = height * width, c = index / plane, p = index - c * plane;
    const int row = p / width;
    const float y = 0.5f * (float)row - 0.25f, x = 0.5f * (float)(p - row * width) - 0.25f;
    out[index] = 2.0f * bilinear_sample(coarse + c * coarseHeight * coarseWidth, coarseHeight, coarseWidth, y, x);
}

// 1 where the flow w can be trusted, else 0 (Ruder et al. 2016): b is the other direction's flow
// sampled at x + w. Inconsistent: |w + b|² > 0.01(|w|² + |b|²) + 0.5; motion boundary:
// |∇u|² + |∇v|² > 0.01|w|² + 0.002 (central differences); or x + w outside the image. Both tests
// are written times 100 so that on flows of multiples of 1/8 every value is exact in float32.
__kernel void reliability_mask(__global const float *flow, __global const float *backward, const int height,
                               const int width, __global float *out) {
    const int p = get_global_id(0), plane = height * width;
    if (p >= plane) return;
    NEIGHBOURS(p)
    __global const float *v = flow + plane;
    const float u0 = flow[p], v0 = v[p], bu = backward[p], bv = backward[plane + p];
    const float su = u0 + bu, sv = v0 + bv;
    const float motion = u0 * u0 + v0 * v0;
    const int inconsistent = 100.0f * (su * su + sv * sv) > (motion + (bu * bu + bv * bv)) + 50.0f;
    const float ux = 0.5f * (flow[right] - flow[left]), uy = 0.5f * (flow[down] - flow[up]);
    const float vx = 0.5f * (v[right] - v[left]), vy = 0.5f * (v[down] - v[up]);
    const int boundary = 100.0f * ((ux * ux + uy * uy) + (vx * vx + vy * vy)) > motion + 0.2f;
    const float x = (float)j + u0, y = (float)i + v0;
    const int outside = x < 0.0f || x > (float)(width - 1) || y < 0.0f || y > (float)(height - 1);
    out[p] = inconsistent || boundary || outside ? 0.0f : 1.0f;
}

// Σ_{c,p} mask[p]·(x − warped)²
__kernel __attribute__((reqd_work_group_size(RED_LOCAL, 1, 1)))
void temporal_loss_partial(__global const float *x, __global const float *warped, __global const float *mask,
                           const int plane, const int n, __global float *partial) {
    float sum = 0.0f;
    RED_FOR(i, n) {
        const float d = x[i] - warped[i];
        sum += mask[i % plane] * (d * d);
    }
    REDUCE_TO_PARTIAL(sum)
}

// grad (+)= factor · mask · (x − warped), factor = 2·scale.
__kernel void temporal_loss_gradient(__global const float *x, __global const float *warped, __global const float *mask,
                                     const int plane, const float factor, __global float *grad, const int accumulate,
                                     const int n) {
    const int i = get_global_id(0);
    if (i < n) store_or_add(grad, i, factor * (mask[i % plane] * (x[i] - warped[i])), accumulate);
}
