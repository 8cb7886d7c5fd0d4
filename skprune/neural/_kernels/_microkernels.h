/* Inner loops of the tile kernels, with their sums held in vector registers.
 *
 * A vector is 32 bytes. A chunk is a row (or a block of R rows) of a layer's output for a few
 * consecutive samples of a tile stored by units: for every nonzero (block)
 * of the row, a contiguous row of the input is scaled and added to the sums.
 * GCC and Clang vector extensions keep the sums in registers whatever the
 * target (two SSE registers stand for one 32-byte vector on a baseline
 * x86-64 build); other compilers get plain loops over the same chunk.
 *
 * SKP_CHUNK(T, I, N) adds N vectors of sums per row;
 * SKP_BLOCK(T, I, R) handles blocks of R rows by C columns with 8 / R
 * vectors of sums per row, so that each input row loaded serves R rows.
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

/* Nonzeros ahead whose input rows are prefetched: the rows are scattered
 * through a tile's activations, where no hardware prefetcher finds them. */
#ifndef SKP_AHEAD
#define SKP_AHEAD 5
#endif

#define SKP_LANES(T) (SKP_VECTOR_BYTES / (int)sizeof(T))

#if SKP_VECTORS

#define SKP_CHUNK(T, V, I, N)                                                 \
    static inline void skp_chunk##N##_##T##_##I(                              \
        const I *indices, const T *data, int64_t p0, int64_t p1, T b,        \
        const T *H, Py_ssize_t width, T *out)                                 \
    {                                                                         \
        V acc[N], x;                                                          \
        int v;                                                                \
        int64_t p;                                                            \
        for (v = 0; v < N; v++) acc[v] = (V){0} + b;                          \
        for (p = p0; p < p1; p++) {                                           \
            const T *row = H + (Py_ssize_t)indices[p] * width;                \
            V w = (V){0} + data[p];                                           \
            if (p + SKP_AHEAD < p1) {                                         \
                const char *next =                                            \
                    (const char *)(H + (Py_ssize_t)indices[p + SKP_AHEAD] * width); \
                for (v = 0; v < N * SKP_VECTOR_BYTES; v += 64)                \
                    __builtin_prefetch(next + v);                             \
            }                                                                 \
            for (v = 0; v < N; v++) {                                         \
                memcpy(&x, row + v * SKP_LANES(T), sizeof x);                 \
                acc[v] += w * x;                                              \
            }                                                                 \
        }                                                                     \
        memcpy(out, acc, sizeof acc);                                         \
    }

#define SKP_BLOCK(T, V, I, R)                                                 \
    static inline void skp_block##R##_##T##_##I(                              \
        const I *indices, const T *data, int64_t p0, int64_t p1,             \
        const T *bias, Py_ssize_t C, const T *H, Py_ssize_t width, T *acc_out)\
    {                                                                         \
        V acc[R][8 / R], x[8 / R];                                            \
        int r, v;                                                             \
        int64_t p;                                                            \
        Py_ssize_t c;                                                         \
        for (r = 0; r < R; r++)                                               \
            for (v = 0; v < 8 / R; v++) acc[r][v] = (V){0} + bias[r];         \
        for (p = p0; p < p1; p++) {                                           \
            const T *block = data + p * R * C;                                \
            if (p + SKP_AHEAD < p1) {                                         \
                const T *next =                                               \
                    H + (Py_ssize_t)indices[p + SKP_AHEAD] * C * width;       \
                for (c = 0; c < C; c++)                                       \
                    for (v = 0; v < 8 / R * SKP_VECTOR_BYTES; v += 64)        \
                        __builtin_prefetch((const char *)(next + c * width) + v); \
            }                                                                 \
            for (c = 0; c < C; c++) {                                         \
                const T *row = H + ((Py_ssize_t)indices[p] * C + c) * width;  \
                for (v = 0; v < 8 / R; v++)                                   \
                    memcpy(&x[v], row + v * SKP_LANES(T), sizeof x[v]);       \
                for (r = 0; r < R; r++) {                                     \
                    V w = (V){0} + block[r * C + c];                          \
                    for (v = 0; v < 8 / R; v++) acc[r][v] += w * x[v];        \
                }                                                             \
            }                                                                 \
        }                                                                     \
        memcpy(acc_out, acc, sizeof acc);                                     \
    }

#else /* plain loops */

#define SKP_CHUNK(T, V, I, N)                                                 \
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

#define SKP_BLOCK(T, V, I, R)                                                 \
    static void skp_block##R##_##T##_##I(                                     \
        const I *indices, const T *data, int64_t p0, int64_t p1,             \
        const T *bias, Py_ssize_t C, const T *H, Py_ssize_t width, T *acc)    \
    {                                                                         \
        const int n = 8 / R * SKP_LANES(T);                                   \
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
    SKP_CHUNK(T, V, I, 8)                                                     \
    SKP_CHUNK(T, V, I, 2)                                                     \
    SKP_BLOCK(T, V, I, 1)                                                     \
    SKP_BLOCK(T, V, I, 2)                                                     \
    SKP_BLOCK(T, V, I, 4)                                                     \
    SKP_BLOCK(T, V, I, 8)

#if !SKP_VECTORS
typedef float skp_vf;
typedef double skp_vd;
#endif

SKP_ALL(float, skp_vf, uint8_t)
SKP_ALL(float, skp_vf, uint16_t)
SKP_ALL(float, skp_vf, uint32_t)
SKP_ALL(double, skp_vd, uint8_t)
SKP_ALL(double, skp_vd, uint16_t)
SKP_ALL(double, skp_vd, uint32_t)

/* One entry point per value type; the index type is given by its size. */
#define SKP_INDEX_SWITCH(SIZE, CALL)                                          \
    switch (SIZE) {                                                           \
    case 1: CALL(uint8_t); break;                                             \
    case 2: CALL(uint16_t); break;                                            \
    default: CALL(uint32_t); break;                                           \
    }

#define SKP_ENTRY(T)                                                          \
    static inline void skp_chunk8_##T(                                        \
        const void *indices, int index_size, const T *data, int64_t p0,      \
        int64_t p1, T b, const T *H, Py_ssize_t width, T *out)                \
    {                                                                         \
        SKP_INDEX_SWITCH(index_size, SKP_CALL_CHUNK8_##T)                     \
    }                                                                         \
    static inline void skp_chunk2_##T(                                        \
        const void *indices, int index_size, const T *data, int64_t p0,      \
        int64_t p1, T b, const T *H, Py_ssize_t width, T *out)                \
    {                                                                         \
        SKP_INDEX_SWITCH(index_size, SKP_CALL_CHUNK2_##T)                     \
    }                                                                         \
    static inline void skp_block_##T(                                         \
        const void *indices, int index_size, int R, const T *data,           \
        int64_t p0, int64_t p1, const T *bias, Py_ssize_t C, const T *H,     \
        Py_ssize_t width, T *acc)                                             \
    {                                                                         \
        switch (R) {                                                          \
        case 1: SKP_INDEX_SWITCH(index_size, SKP_CALL_BLOCK1_##T) break;      \
        case 2: SKP_INDEX_SWITCH(index_size, SKP_CALL_BLOCK2_##T) break;      \
        case 4: SKP_INDEX_SWITCH(index_size, SKP_CALL_BLOCK4_##T) break;      \
        default: SKP_INDEX_SWITCH(index_size, SKP_CALL_BLOCK8_##T) break;     \
        }                                                                     \
    }

#define SKP_CALL_CHUNK(N, T, I)                                               \
    skp_chunk##N##_##T##_##I((const I *)indices, data, p0, p1, b, H, width, out)
#define SKP_CALL_BLOCK(R, T, I)                                               \
    skp_block##R##_##T##_##I((const I *)indices, data, p0, p1, bias, C, H,   \
                             width, acc)
#define SKP_CALL_CHUNK8_float(I) SKP_CALL_CHUNK(8, float, I)
#define SKP_CALL_CHUNK2_float(I) SKP_CALL_CHUNK(2, float, I)
#define SKP_CALL_CHUNK8_double(I) SKP_CALL_CHUNK(8, double, I)
#define SKP_CALL_CHUNK2_double(I) SKP_CALL_CHUNK(2, double, I)
#define SKP_CALL_BLOCK1_float(I) SKP_CALL_BLOCK(1, float, I)
#define SKP_CALL_BLOCK2_float(I) SKP_CALL_BLOCK(2, float, I)
#define SKP_CALL_BLOCK4_float(I) SKP_CALL_BLOCK(4, float, I)
#define SKP_CALL_BLOCK8_float(I) SKP_CALL_BLOCK(8, float, I)
#define SKP_CALL_BLOCK1_double(I) SKP_CALL_BLOCK(1, double, I)
#define SKP_CALL_BLOCK2_double(I) SKP_CALL_BLOCK(2, double, I)
#define SKP_CALL_BLOCK4_double(I) SKP_CALL_BLOCK(4, double, I)
#define SKP_CALL_BLOCK8_double(I) SKP_CALL_BLOCK(8, double, I)

SKP_ENTRY(float)
SKP_ENTRY(double)
