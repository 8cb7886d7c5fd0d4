/* Inner loops of the tile kernels, with their sums held in vector registers.
 *
 * A vector is 32 bytes. A chunk is a row (or a block of R rows) of a layer's output for a few
 * consecutive samples of a tile stored by units: for every nonzero (block)
 * of the row, a contiguous row of the input is scaled and added to the sums.
 * GCC and Clang vector extensions keep the sums in registers whatever the
 * target (two SSE registers stand for one 32-byte vector on a baseline
 * x86-64 build); other compilers get plain loops over the same chunk.
 *
 * SKP_CHUNK(T, V, SPLAT, I, N) adds N vectors of sums per row;
 * SKP_BLOCK(T, I, R) handles blocks of R rows by C columns with 8 / R
 * vectors of sums per row, so that each input row loaded serves R rows.
 * With AVX-512, the block kernels of 4 and 8 rows and the CSR chunks take
 * 64-byte vectors, which made them faster; the blocks of 1 and 2 rows were
 * measured no faster, and keep 32 bytes.
 */
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define SKP_VECTORS 1
#define SKP_VECTOR_BYTES 32
typedef float skp_vf __attribute__((vector_size(SKP_VECTOR_BYTES)));
typedef double skp_vd __attribute__((vector_size(SKP_VECTOR_BYTES)));
#else
#define SKP_VECTORS 0
#define SKP_VECTOR_BYTES 32
#endif

/* The variant built with SKP_AVX512_BLOCKS (and SKP_WIDE_CHUNKS) compiles
 * only those kernels for AVX-512F (GCC's target pragma), the rest exactly as
 * the AVX2 one. */
#if SKP_VECTORS && defined(SKP_AVX512_BLOCKS) && defined(__GNUC__) && !defined(__clang__)
#define SKP_WIDE 1
typedef float skp_bf __attribute__((vector_size(64)));
typedef double skp_bd __attribute__((vector_size(64)));
#else
#define SKP_WIDE 0
#endif

/* Bytes of a vector of the CSR chunks: 64 in the variant built with
 * SKP_WIDE_CHUNKS too. */
#if SKP_WIDE && defined(SKP_WIDE_CHUNKS)
#define SKP_CHUNK_BYTES 64
#else
#define SKP_CHUNK_BYTES SKP_VECTOR_BYTES
#endif

/* Bytes of a vector of the block kernel of R rows, and its samples per
 * chunk for values of SIZE bytes. */
#define SKP_BLOCK_BYTES(R) (SKP_WIDE && (R) >= 4 ? 64 : SKP_VECTOR_BYTES)
#define SKP_BLOCK_CHUNK(R, SIZE) (8 / (R) * SKP_BLOCK_BYTES(R) / (SIZE))

/* Nonzeros ahead whose input rows are prefetched: the rows are scattered
 * through a tile's activations, where no hardware prefetcher finds them. */
#ifndef SKP_AHEAD
#define SKP_AHEAD 5
#endif

#define SKP_LANES(T) (SKP_CHUNK_BYTES / (int)sizeof(T))
#define SKP_V_LANES(V, T) ((int)(sizeof(V) / sizeof(T)))

#if SKP_VECTORS

/* A vector of copies of x: one broadcast (``(V){0} + x`` would add zero
 * first, which the compiler must keep, since it turns -0.0 into +0.0). */
#define SKP_SPLAT_float(x) ((skp_vf){(x), (x), (x), (x), (x), (x), (x), (x)})
#define SKP_SPLAT_double(x) ((skp_vd){(x), (x), (x), (x)})
#if SKP_WIDE
#define SKP_BSPLAT_float(x)                                                   \
    ((skp_bf){(x), (x), (x), (x), (x), (x), (x), (x),                         \
              (x), (x), (x), (x), (x), (x), (x), (x)})
#define SKP_BSPLAT_double(x)                                                  \
    ((skp_bd){(x), (x), (x), (x), (x), (x), (x), (x)})
#else
#define SKP_BSPLAT_float SKP_SPLAT_float
#define SKP_BSPLAT_double SKP_SPLAT_double
#endif

#define SKP_CHUNK(T, V, SPLAT, I, N)                                          \
    static inline void skp_chunk##N##_##T##_##I(                              \
        const I *indices, const T *data, int64_t p0, int64_t p1, T b,        \
        const T *H, Py_ssize_t width, T *out)                                 \
    {                                                                         \
        V acc[N], x;                                                          \
        int v;                                                                \
        int64_t p;                                                            \
        for (v = 0; v < N; v++) acc[v] = SPLAT##_##T(b);                      \
        for (p = p0; p < p1; p++) {                                           \
            const T *row = H + (Py_ssize_t)indices[p] * width;                \
            V w = SPLAT##_##T(data[p]);                                       \
            if (p + SKP_AHEAD < p1) {                                         \
                const char *next =                                            \
                    (const char *)(H + (Py_ssize_t)indices[p + SKP_AHEAD] * width); \
                for (v = 0; v < N * (int)sizeof(V); v += 64)                  \
                    __builtin_prefetch(next + v);                             \
            }                                                                 \
            for (v = 0; v < N; v++) {                                         \
                memcpy(&x, row + v * SKP_V_LANES(V, T), sizeof x);            \
                acc[v] += w * x;                                              \
            }                                                                 \
        }                                                                     \
        memcpy(out, acc, sizeof acc);                                         \
    }

#define SKP_BLOCK(T, V, SPLAT, I, R)                                          \
    static inline void skp_block##R##_##T##_##I(                              \
        const I *indices, const T *data, int64_t p0, int64_t p1,             \
        const T *bias, Py_ssize_t C, const T *H, Py_ssize_t width, T *acc_out)\
    {                                                                         \
        V acc[R][8 / R], x[8 / R];                                            \
        int r, v;                                                             \
        int64_t p;                                                            \
        Py_ssize_t c;                                                         \
        for (r = 0; r < R; r++)                                               \
            for (v = 0; v < 8 / R; v++) acc[r][v] = SPLAT##_##T(bias[r]);     \
        /* The same loop with C known to be 1, the fastest shapes. */         \
        if (C == 1)                                                           \
            SKP_BLOCK_LOOP(T, V, SPLAT, R, 1)                                 \
        else                                                                  \
            SKP_BLOCK_LOOP(T, V, SPLAT, R, C)                                 \
        memcpy(acc_out, acc, sizeof acc);                                     \
    }

/* With one row per block, each input vector is loaded just before its
 * multiply-add: eight loaded ahead and eight sums would not fit in
 * sixteen vector registers. */
#define SKP_BLOCK_LOOP(T, V, SPLAT, R, CC)                                    \
    for (p = p0; p < p1; p++) {                                               \
        const T *block = data + p * R * (CC);                                 \
        if (p + SKP_AHEAD < p1) {                                             \
            const T *next =                                                   \
                H + (Py_ssize_t)indices[p + SKP_AHEAD] * (CC) * width;        \
            for (c = 0; c < (CC); c++)                                        \
                for (v = 0; v < 8 / R * (int)sizeof(V); v += 64)              \
                    __builtin_prefetch((const char *)(next + c * width) + v); \
        }                                                                     \
        for (c = 0; c < (CC); c++) {                                          \
            const T *row = H + ((Py_ssize_t)indices[p] * (CC) + c) * width;   \
            if (R == 1) {                                                     \
                V w = SPLAT##_##T(block[c]);                                  \
                for (v = 0; v < 8; v++) {                                     \
                    memcpy(&x[0], row + v * SKP_V_LANES(V, T), sizeof x[0]);  \
                    acc[0][v] += w * x[0];                                    \
                }                                                             \
                continue;                                                     \
            }                                                                 \
            for (v = 0; v < 8 / R; v++)                                       \
                memcpy(&x[v], row + v * SKP_V_LANES(V, T), sizeof x[v]);      \
            for (r = 0; r < R; r++) {                                         \
                V w = SPLAT##_##T(block[r * (CC) + c]);                       \
                for (v = 0; v < 8 / R; v++) acc[r][v] += w * x[v];            \
            }                                                                 \
        }                                                                     \
    }

#else /* plain loops */

#define SKP_CHUNK(T, V, SPLAT, I, N)                                          \
    static void skp_chunk##N##_##T##_##I(                                     \
        const I *indices, const T *data, int64_t p0, int64_t p1, T b,        \
        const T *H, Py_ssize_t width, T *out)                                 \
    {                                                                         \
        int t;                                                                \
        int64_t p;                                                            \
        for (t = 0; t < N * SKP_LANES(T); t++) out[t] = b;                    \
        for (p = p0; p < p1; p++) {                                           \
            const T *row = H + (Py_ssize_t)indices[p] * width;                \
            for (t = 0; t < N * SKP_LANES(T); t++) out[t] += data[p] * row[t];\
        }                                                                     \
    }

#define SKP_BLOCK(T, V, SPLAT, I, R)                                          \
    static void skp_block##R##_##T##_##I(                                     \
        const I *indices, const T *data, int64_t p0, int64_t p1,             \
        const T *bias, Py_ssize_t C, const T *H, Py_ssize_t width, T *acc)    \
    {                                                                         \
        const int n = SKP_BLOCK_CHUNK(R, (int)sizeof(T));                     \
        int r, t;                                                             \
        int64_t p;                                                            \
        Py_ssize_t c;                                                         \
        for (r = 0; r < R; r++)                                               \
            for (t = 0; t < n; t++) acc[r * n + t] = bias[r];                 \
        for (p = p0; p < p1; p++)                                             \
            for (c = 0; c < C; c++) {                                         \
                const T *row = H + ((Py_ssize_t)indices[p] * C + c) * width;  \
                for (r = 0; r < R; r++)                                       \
                    for (t = 0; t < n; t++)                                   \
                        acc[r * n + t] += data[(p * R + r) * C + c] * row[t]; \
            }                                                                 \
    }

#endif

#define SKP_ALL(T, V, I)                                                      \
    SKP_BLOCK(T, V, SKP_SPLAT, I, 1)                                          \
    SKP_BLOCK(T, V, SKP_SPLAT, I, 2)

#define SKP_CHUNKS(T, V, I)                                                   \
    SKP_CHUNK(T, V, SKP_SPLAT, I, 8)                                          \
    SKP_CHUNK(T, V, SKP_SPLAT, I, 2)

#define SKP_CHUNKS_WIDE(T, V, I)                                              \
    SKP_CHUNK(T, V, SKP_BSPLAT, I, 8)                                         \
    SKP_CHUNK(T, V, SKP_BSPLAT, I, 2)

#define SKP_ALL_WIDE(T, B, I)                                                 \
    SKP_BLOCK(T, B, SKP_BSPLAT, I, 4)                                         \
    SKP_BLOCK(T, B, SKP_BSPLAT, I, 8)

#if !SKP_VECTORS
typedef float skp_vf;
typedef double skp_vd;
#endif
#if !SKP_WIDE
typedef skp_vf skp_bf;
typedef skp_vd skp_bd;
#endif

/* MACRO(T, V, I) for both value types (vectors VF and VD) and every index
 * type. */
#define SKP_FOR_TYPES(MACRO, VF, VD)                                          \
    MACRO(float, VF, uint8_t)                                                 \
    MACRO(float, VF, uint16_t)                                                \
    MACRO(float, VF, uint32_t)                                                \
    MACRO(double, VD, uint8_t)                                                \
    MACRO(double, VD, uint16_t)                                               \
    MACRO(double, VD, uint32_t)

SKP_FOR_TYPES(SKP_ALL, skp_vf, skp_vd)
#if SKP_CHUNK_BYTES == SKP_VECTOR_BYTES
SKP_FOR_TYPES(SKP_CHUNKS, skp_vf, skp_vd)
#endif

#if SKP_WIDE
#pragma GCC push_options
#pragma GCC target("avx512f")
#endif
SKP_FOR_TYPES(SKP_ALL_WIDE, skp_bf, skp_bd)
#if SKP_CHUNK_BYTES != SKP_VECTOR_BYTES
SKP_FOR_TYPES(SKP_CHUNKS_WIDE, skp_bf, skp_bd)
#endif
#if SKP_WIDE
#pragma GCC pop_options
#endif

/* One entry point per value type; the index type is given by its size and
 * passed to CALL after the width N (or rows R) and the value type T. */
#define SKP_INDEX_SWITCH(SIZE, CALL, N, T)                                    \
    switch (SIZE) {                                                           \
    case 1: CALL(N, T, uint8_t); break;                                       \
    case 2: CALL(N, T, uint16_t); break;                                      \
    default: CALL(N, T, uint32_t); break;                                     \
    }

/* The same, choosing first the routine for blocks of R rows. */
#define SKP_ROWS_SWITCH(R, SIZE, CALL, T)                                     \
    switch (R) {                                                              \
    case 1: SKP_INDEX_SWITCH(SIZE, CALL, 1, T) break;                         \
    case 2: SKP_INDEX_SWITCH(SIZE, CALL, 2, T) break;                         \
    case 4: SKP_INDEX_SWITCH(SIZE, CALL, 4, T) break;                         \
    default: SKP_INDEX_SWITCH(SIZE, CALL, 8, T) break;                        \
    }

#define SKP_CHUNK_ENTRY(T, N)                                                 \
    static inline void skp_chunk##N##_##T(                                    \
        const void *indices, int index_size, const T *data, int64_t p0,       \
        int64_t p1, T b, const T *H, Py_ssize_t width, T *out)                \
    {                                                                         \
        SKP_INDEX_SWITCH(index_size, SKP_CALL_CHUNK, N, T)                    \
    }

#define SKP_ENTRY(T)                                                          \
    SKP_CHUNK_ENTRY(T, 8)                                                     \
    SKP_CHUNK_ENTRY(T, 2)                                                     \
    static inline void skp_block_##T(                                         \
        const void *indices, int index_size, int R, const T *data,            \
        int64_t p0, int64_t p1, const T *bias, Py_ssize_t C, const T *H,      \
        Py_ssize_t width, T *acc)                                             \
    {                                                                         \
        SKP_ROWS_SWITCH(R, index_size, SKP_CALL_BLOCK, T)                     \
    }

#define SKP_CALL_CHUNK(N, T, I)                                               \
    skp_chunk##N##_##T##_##I((const I *)indices, data, p0, p1, b, H, width, out)
#define SKP_CALL_BLOCK(R, T, I)                                               \
    skp_block##R##_##T##_##I((const I *)indices, data, p0, p1, bias, C, H,    \
                             width, acc)

SKP_ENTRY(float)
SKP_ENTRY(double)

/* One row of a matrix-vector product: sum of data[p] * x[indices[p]].
 * With AVX2, the input is gathered eight floats (four doubles) at a time;
 * otherwise four scalar sums hide the latency of the loads. */
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

static inline __m256i skp_index8(const void *indices, int size, int64_t p)
{
    if (size == 1) {
        return _mm256_cvtepu8_epi32(
            _mm_loadl_epi64((const __m128i *)((const uint8_t *)indices + p)));
    }
    if (size == 2) {
        return _mm256_cvtepu16_epi32(
            _mm_loadu_si128((const __m128i *)((const uint16_t *)indices + p)));
    }
    return _mm256_loadu_si256((const __m256i *)((const uint32_t *)indices + p));
}

static inline __m128i skp_index4(const void *indices, int size, int64_t p)
{
    if (size == 1) {
        int32_t four;
        memcpy(&four, (const uint8_t *)indices + p, 4);
        return _mm_cvtepu8_epi32(_mm_cvtsi32_si128(four));
    }
    if (size == 2) {
        return _mm_cvtepu16_epi32(
            _mm_loadl_epi64((const __m128i *)((const uint16_t *)indices + p)));
    }
    return _mm_loadu_si128((const __m128i *)((const uint32_t *)indices + p));
}

static inline int64_t skp_index_at(const void *indices, int size, int64_t p)
{
    if (size == 1) return ((const uint8_t *)indices)[p];
    if (size == 2) return ((const uint16_t *)indices)[p];
    return ((const uint32_t *)indices)[p];
}

/* Horizontal sums of a vector of sums. */
static inline float skp_sum_ps(__m256 a)
{
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

static inline double skp_sum_pd(__m256d a)
{
    __m128d h = _mm_add_pd(_mm256_castpd256_pd128(a), _mm256_extractf128_pd(a, 1));
    h = _mm_add_sd(h, _mm_unpackhi_pd(h, h));
    return _mm_cvtsd_f64(h);
}

/* acc + data[q:q + LANES] * x[indices[q:q + LANES]], S being the intrinsics'
 * suffix (ps or pd) and INDEX the loader of LANES indices. */
#define SKP_GATHER_FMA(T, S, INDEX, q, acc)                                   \
    _mm256_fmadd_##S(_mm256_loadu_##S(data + (q)),                            \
                     _mm256_i32gather_##S(x, INDEX(indices, size, (q)),       \
                                          sizeof(T)),                         \
                     acc)

/* Two vectors of sums a step, then one vector, then the scalar tail. */
#define SKP_GATHER_DOT(T, V, S, LANES, INDEX)                                 \
    static inline T skp_dot_##T(const void *indices, int size, const T *data, \
                                int64_t p, int64_t end, const T *x)           \
    {                                                                         \
        V a0 = _mm256_setzero_##S(), a1 = _mm256_setzero_##S();               \
        T tail = 0;                                                           \
        for (; p + 2 * (LANES) <= end; p += 2 * (LANES)) {                    \
            a0 = SKP_GATHER_FMA(T, S, INDEX, p, a0);                          \
            a1 = SKP_GATHER_FMA(T, S, INDEX, p + (LANES), a1);                \
        }                                                                     \
        if (p + (LANES) <= end) {                                             \
            a0 = SKP_GATHER_FMA(T, S, INDEX, p, a0);                          \
            p += (LANES);                                                     \
        }                                                                     \
        for (; p < end; p++) tail += data[p] * x[skp_index_at(indices, size, p)]; \
        return skp_sum_##S(_mm256_add_##S(a0, a1)) + tail;                    \
    }

SKP_GATHER_DOT(float, __m256, ps, 8, skp_index8)
SKP_GATHER_DOT(double, __m256d, pd, 4, skp_index4)

#else

#define SKP_DOT(T, I)                                                         \
    static inline T skp_dot_##T##_##I(const I *indices, const T *data,      \
                                      int64_t p, int64_t end, const T *x)    \
    {                                                                         \
        T a0 = 0, a1 = 0, a2 = 0, a3 = 0;                                     \
        for (; p + 4 <= end; p += 4) {                                        \
            a0 += data[p] * x[indices[p]];                                    \
            a1 += data[p + 1] * x[indices[p + 1]];                            \
            a2 += data[p + 2] * x[indices[p + 2]];                            \
            a3 += data[p + 3] * x[indices[p + 3]];                            \
        }                                                                     \
        for (; p < end; p++) a0 += data[p] * x[indices[p]];                   \
        return (a0 + a1) + (a2 + a3);                                         \
    }

SKP_DOT(float, uint8_t)
SKP_DOT(float, uint16_t)
SKP_DOT(float, uint32_t)
SKP_DOT(double, uint8_t)
SKP_DOT(double, uint16_t)
SKP_DOT(double, uint32_t)

#define SKP_DOT_ENTRY(T)                                                      \
    static inline T skp_dot_##T(const void *indices, int size, const T *data, \
                                int64_t p, int64_t end, const T *x)           \
    {                                                                         \
        if (size == 1)                                                        \
            return skp_dot_##T##_uint8_t((const uint8_t *)indices, data, p, end, x); \
        if (size == 2)                                                        \
            return skp_dot_##T##_uint16_t((const uint16_t *)indices, data, p, end, x); \
        return skp_dot_##T##_uint32_t((const uint32_t *)indices, data, p, end, x); \
    }

SKP_DOT_ENTRY(float)
SKP_DOT_ENTRY(double)

#endif

/* One block row of a matrix-vector product with blocks of R x C: the R
 * sums stay in registers, and with C = 1 each input value read is
 * multiplied by the R contiguous values of its block at once. */
#define SKP_BLOCK_VECTOR(T, I, R)                                             \
    static inline void skp_block_vector##R##_##T##_##I(                       \
        const I *indices, const T *data, int64_t p0, int64_t p1,             \
        Py_ssize_t C, const T *x, T *out)                                     \
    {                                                                         \
        T acc[R] = {0};                                                       \
        int64_t p;                                                            \
        int r;                                                                \
        Py_ssize_t c;                                                         \
        if (C == 1) {                                                         \
            for (p = p0; p < p1; p++) {                                       \
                const T value = x[indices[p]];                                \
                for (r = 0; r < R; r++) acc[r] += data[p * R + r] * value;    \
            }                                                                 \
        } else {                                                              \
            for (p = p0; p < p1; p++) {                                       \
                const T *block = data + p * R * C;                            \
                const T *xs = x + (Py_ssize_t)indices[p] * C;                 \
                for (r = 0; r < R; r++)                                       \
                    for (c = 0; c < C; c++) acc[r] += block[r * C + c] * xs[c]; \
            }                                                                 \
        }                                                                     \
        for (r = 0; r < R; r++) out[r] = acc[r];                              \
    }

#define SKP_BLOCK_VECTOR_ALL(T, I)                                            \
    SKP_BLOCK_VECTOR(T, I, 1)                                                 \
    SKP_BLOCK_VECTOR(T, I, 2)                                                 \
    SKP_BLOCK_VECTOR(T, I, 4)                                                 \
    SKP_BLOCK_VECTOR(T, I, 8)

SKP_BLOCK_VECTOR_ALL(float, uint8_t)
SKP_BLOCK_VECTOR_ALL(float, uint16_t)
SKP_BLOCK_VECTOR_ALL(float, uint32_t)
SKP_BLOCK_VECTOR_ALL(double, uint8_t)
SKP_BLOCK_VECTOR_ALL(double, uint16_t)
SKP_BLOCK_VECTOR_ALL(double, uint32_t)

#define SKP_CALL_BLOCK_VECTOR(R, T, I)                                        \
    skp_block_vector##R##_##T##_##I((const I *)indices, data, p0, p1, C, x, out)

#define SKP_BLOCK_VECTOR_ENTRY(T)                                             \
    static inline void skp_block_vector_##T(                                  \
        const void *indices, int index_size, int R, const T *data,           \
        int64_t p0, int64_t p1, Py_ssize_t C, const T *x, T *out)            \
    {                                                                         \
        SKP_ROWS_SWITCH(R, index_size, SKP_CALL_BLOCK_VECTOR, T)              \
    }

SKP_BLOCK_VECTOR_ENTRY(float)
SKP_BLOCK_VECTOR_ENTRY(double)
