// Weight formats for the GPU kernels: each format decodes one 32-weight chunk of a row into floats.
// The same source compiles for the device (kernels.cu, clang's CUDA mode) and for the host
// (format_check.cpp, which compares every format with the gguf package's dequantisation). Block layouts
// are ggml's, as docs/formats.md describes them; the order of weights inside a chunk is the file's.
#pragma once

#include <stdint.h>

#if defined(__CUDA__)
#define FMT_FN static __attribute__((device)) inline
#define FMT_UNROLL _Pragma("unroll")
// (not const: clang puts a const device array in the constant bank, whose cache serializes a warp's 32
// different grid entries; global memory's L1 serves them together)
#define FMT_TABLE static __attribute__((device))
#else
#define FMT_FN static inline
#define FMT_UNROLL
#define FMT_TABLE static const
#endif

typedef uint8_t u8;

// ggml type ids (GGUF tensor types).
enum {
    T_F32 = 0, T_F16 = 1, T_Q4_0 = 2, T_Q4_1 = 3, T_Q5_0 = 6, T_Q5_1 = 7, T_Q8_0 = 8,
    T_Q2_K = 10, T_Q3_K = 11, T_Q4_K = 12, T_Q5_K = 13, T_Q6_K = 14, T_IQ2_XXS = 16, T_IQ2_XS = 17,
    T_IQ3_XXS = 18, T_IQ1_S = 19, T_IQ4_NL = 20, T_IQ3_S = 21, T_IQ2_S = 22, T_IQ4_XS = 23, T_IQ1_M = 29,
    T_BF16 = 30,
};

#include "iquant_grids.h"

// IEEE half to float by bit manipulation: exact for every input, the same on host and device.
FMT_FN float fmt_half(const u8* p) {
    uint32_t h = (uint32_t)p[0] | ((uint32_t)p[1] << 8);
    uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    uint32_t bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13);
    } else if (exp != 0) {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    } else if (man == 0) {
        bits = sign;
    } else {  // subnormal: normalise
        int e = -1;
        do { man <<= 1; e++; } while ((man & 0x400) == 0);
        bits = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3ff) << 13);
    }
    union { uint32_t u; float f; } v; v.u = bits;
    return v.f;
}

FMT_FN float fmt_bf16(const u8* p) {
    union { uint32_t u; float f; } v;
    v.u = ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 24);
    return v.f;
}

FMT_FN float fmt_f32(const u8* p) {
    union { uint32_t u; float f; } v;
    v.u = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
    return v.f;
}

// The 6-bit scale and min of sub-block j of a Q4_K/Q5_K block (12 packed bytes).
FMT_FN void fmt_scale_min_k4(int j, const u8* q, int* sc, int* m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

FMT_FN int fmt_iq4_value(int i) {
    const int8_t values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
    return values[i];
}

// Bytes per block and weights per block of each supported type; 0 for an unsupported type.
FMT_FN int fmt_block_bytes(int type) {
    switch (type) {
    case T_F32: return 128;  // (32-weight chunks)
    case T_F16: case T_BF16: return 64;
    case T_Q4_0: case T_IQ4_NL: return 18;
    case T_Q4_1: return 20;
    case T_Q5_0: return 22;
    case T_Q5_1: return 24;
    case T_Q8_0: return 34;
    case T_Q2_K: return 84;
    case T_Q3_K: return 110;
    case T_Q4_K: return 144;
    case T_Q5_K: return 176;
    case T_Q6_K: return 210;
    case T_IQ4_XS: return 136;
    case T_IQ2_XXS: return 66;
    case T_IQ2_XS: return 74;
    case T_IQ2_S: return 82;
    case T_IQ3_XXS: return 98;
    case T_IQ3_S: return 110;
    case T_IQ1_S: return 50;
    case T_IQ1_M: return 56;
    default: return 0;
    }
}

#define FMT_GRID(type) ((type) == T_IQ2_XXS || (type) == T_IQ2_XS || (type) == T_IQ2_S || (type) == T_IQ3_XXS || \
                        (type) == T_IQ3_S || (type) == T_IQ1_S || (type) == T_IQ1_M)

FMT_FN int fmt_block_weights(int type) {
    switch (type) {
    case T_Q2_K: case T_Q3_K: case T_Q4_K: case T_Q5_K: case T_Q6_K: case T_IQ4_XS: return 256;
    default: return FMT_GRID(type) ? 256 : fmt_block_bytes(type) ? 32 : 0;
    }
}

// Weight i (0…31) of chunk `sub` (32 weights) of the block at `b`. The chunk decoders below call these for
// every i; the compiler hoists the per-chunk scale work out of the unrolled loop.
#define FMT_ONE(name) FMT_FN float name(const u8* b, int sub, int i)

FMT_ONE(one_f32) { (void)sub; return fmt_f32(b + 4 * i); }
FMT_ONE(one_f16) { (void)sub; return fmt_half(b + 2 * i); }
FMT_ONE(one_bf16) { (void)sub; return fmt_bf16(b + 2 * i); }

FMT_ONE(one_q4_0) {
    (void)sub;
    return fmt_half(b) * (float)(((b[2 + (i & 15)] >> ((i >> 4) * 4)) & 0xF) - 8);
}

FMT_ONE(one_q4_1) {
    (void)sub;
    return fmt_half(b) * (float)((b[4 + (i & 15)] >> ((i >> 4) * 4)) & 0xF) + fmt_half(b + 2);
}

FMT_ONE(one_q5_0) {
    (void)sub;
    uint32_t qh = (uint32_t)b[2] | ((uint32_t)b[3] << 8) | ((uint32_t)b[4] << 16) | ((uint32_t)b[5] << 24);
    int v = ((b[6 + (i & 15)] >> ((i >> 4) * 4)) & 0xF) | (((qh >> i) & 1) << 4);
    return fmt_half(b) * (float)(v - 16);
}

FMT_ONE(one_q5_1) {
    (void)sub;
    uint32_t qh = (uint32_t)b[4] | ((uint32_t)b[5] << 8) | ((uint32_t)b[6] << 16) | ((uint32_t)b[7] << 24);
    int v = ((b[8 + (i & 15)] >> ((i >> 4) * 4)) & 0xF) | (((qh >> i) & 1) << 4);
    return fmt_half(b) * (float)v + fmt_half(b + 2);
}

FMT_ONE(one_q8_0) { (void)sub; return fmt_half(b) * (float)(int8_t)b[2 + i]; }

FMT_ONE(one_iq4_nl) {
    (void)sub;
    return fmt_half(b) * (float)fmt_iq4_value((b[2 + (i & 15)] >> ((i >> 4) * 4)) & 0xF);
}

// Q2_K: scales[16] (low nibble scale, high nibble min), qs[64], d, dmin. Chunk c: half c/4 of the
// block, 2-bit plane c%4; its first 16 weights use scale 2c, the next 16 scale 2c+1.
FMT_ONE(one_q2_k) {
    int sc = b[2 * sub + (i >> 4)];
    int q = (b[16 + (sub / 4) * 32 + i] >> (2 * (sub % 4))) & 3;
    return fmt_half(b + 80) * (float)(sc & 0xF) * (float)q - fmt_half(b + 82) * (float)(sc >> 4);
}

// Q3_K: hmask[32], qs[64], scales[12] (sixteen 6-bit values, offset 32), d. Chunk c: 2-bit plane c%4 of
// half c/4, high bit c of hmask (set means no -4).
FMT_ONE(one_q3_k) {
    const u8* s = b + 96;
    int j = 2 * sub + (i >> 4);  // scale index 0..15
    int low = j < 8 ? (s[j] & 0xF) : (s[j - 8] >> 4);
    int high = (s[8 + (j % 4)] >> (2 * (j / 4))) & 3;
    int v = (b[32 + (sub / 4) * 32 + i] >> (2 * (sub % 4))) & 3;
    if (!(b[i] & (1 << sub))) v -= 4;
    return fmt_half(b + 108) * (float)((low | (high << 4)) - 32) * (float)v;
}

// Q4_K: d, dmin, scales[12], qs[128]. Chunk c: bytes 32·(c/2)…, low nibbles for even c, high for odd.
FMT_ONE(one_q4_k) {
    int sc, m;
    fmt_scale_min_k4(sub, b + 4, &sc, &m);
    int v = (b[16 + (sub / 2) * 32 + i] >> ((sub & 1) * 4)) & 0xF;
    return fmt_half(b) * (float)sc * (float)v - fmt_half(b + 2) * (float)m;
}

// Q5_K: as Q4_K with qh[32] after the scales; bit c of qh[l] is the fifth bit of chunk c.
FMT_ONE(one_q5_k) {
    int sc, m;
    fmt_scale_min_k4(sub, b + 4, &sc, &m);
    int v = ((b[48 + (sub / 2) * 32 + i] >> ((sub & 1) * 4)) & 0xF) | (((b[16 + i] >> sub) & 1) << 4);
    return fmt_half(b) * (float)sc * (float)v - fmt_half(b + 2) * (float)m;
}

// Q6_K: ql[128], qh[64], scales[16] (int8), d. Chunk c: half c/4, quarter k = c%4: low bits from
// ql[64·half + 32·(k&1) + l] (high nibble when k ≥ 2), two high bits from qh[32·half + l] >> 2k.
FMT_ONE(one_q6_k) {
    int half = sub / 4, k = sub % 4;
    int lo = (b[64 * half + 32 * (k & 1) + i] >> (k >= 2 ? 4 : 0)) & 0xF;
    int hi = (b[128 + 32 * half + i] >> (2 * k)) & 3;
    int8_t sc = (int8_t)b[192 + 8 * half + 2 * k + (i >> 4)];
    return fmt_half(b + 208) * (float)sc * (float)((lo | (hi << 4)) - 32);
}

// IQ4_XS: d, scales_h (u16), scales_l[4], qs[128]. Chunk c: 6-bit scale from the two fields, bytes 16c….
FMT_ONE(one_iq4_xs) {
    uint32_t sh = (uint32_t)b[2] | ((uint32_t)b[3] << 8);
    int ls = ((b[4 + sub / 2] >> (4 * (sub % 2))) & 0xF) | (((sh >> (2 * sub)) & 3) << 4);
    int v = (b[8 + 16 * sub + (i & 15)] >> ((i >> 4) * 4)) & 0xF;
    return fmt_half(b) * (float)(ls - 32) * (float)fmt_iq4_value(v);
}

// The grid I-quants: per super-block of 256 values a float d', an odd scale s per 16 values and integers v
// (grid values with a sign per value, or IQ1's 8·g ± 1 with d' = d/8 so that it stays an integer), y =
// d'·s·v — the CPU engine's form of them (Sources/Tensors/IQuants.swift), element by element.
FMT_FN uint32_t fmt_u16(const u8* p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
FMT_FN uint32_t fmt_u32(const u8* p) { return fmt_u16(p) | fmt_u16(p + 2) << 16; }
// A 7-bit sign index as 8 sign bits: the eighth makes the count of ones even.
FMT_FN uint32_t fmt_even_signs(uint32_t index) {
    uint32_t seven = index & 127, ones = seven;
    ones ^= ones >> 4; ones ^= ones >> 2; ones ^= ones >> 1;
    return seven | (ones & 1) << 7;
}
FMT_FN float fmt_grid_d(int type, const u8* b) {
    if (type == T_IQ1_M) {
        uint32_t bits = fmt_u16(b + 48) >> 12 | (fmt_u16(b + 50) >> 8 & 0x00F0) | (fmt_u16(b + 52) >> 4 & 0x0F00) |
                        (fmt_u16(b + 54) & 0xF000);
        u8 h[2] = {(u8)bits, (u8)(bits >> 8)};
        return fmt_half(h) * 0.125f;
    }
    return fmt_half(b) * (type == T_IQ3_XXS ? 0.25f : type == T_IQ3_S ? 1.0f : 0.125f);
}
// The scale of 16-value group j (2·field + 1).
FMT_FN int fmt_grid_scale(int type, const u8* b, int j) {
    int g = j / 2, field;
    switch (type) {
    case T_IQ2_XXS: field = (int)(fmt_u32(b + 6 + 8 * g) >> 28); break;
    case T_IQ3_XXS: field = (int)(fmt_u32(b + 66 + 4 * g) >> 28); break;
    case T_IQ2_XS: field = (b[66 + g] >> (4 * (j & 1))) & 15; break;
    case T_IQ2_S: field = (b[74 + g] >> (4 * (j & 1))) & 15; break;
    case T_IQ3_S: field = (b[106 + g / 2] >> (4 * (g & 1))) & 15; break;
    case T_IQ1_S: field = (int)(fmt_u16(b + 34 + 2 * g) >> 12) & 7; break;
    default: field = (int)(fmt_u16(b + 48 + 2 * (j / 4)) >> (3 * (j % 4))) & 7; break;  // IQ1_M
    }
    return 2 * field + 1;
}
// IQ1's shift (±1) of element e.
FMT_FN int fmt_grid_shift(int type, const u8* b, int e) {
    if (type == T_IQ1_S) return fmt_u16(b + 34 + 2 * (e / 32)) & 0x8000 ? -1 : 1;
    int q = e / 8;  // IQ1_M: per 8 values, bit 3 of the entry's nibble
    return (b[32 + q / 2] >> (4 * (q & 1))) & 8 ? -1 : 1;
}
// The integer v of element e (0…255).
FMT_FN int fmt_grid_value(int type, const u8* b, int e) {
    int g = e / 32, l = (e % 32) / 8, k = e % 8, q = e / 8;
    uint64_t entry8 = 0;
    uint32_t entry4 = 0, signs = 0;
    switch (type) {
    case T_IQ2_XXS:
        entry8 = fmt_grid_iq2xxs[b[2 + 8 * g + l]];
        signs = fmt_even_signs(fmt_u32(b + 6 + 8 * g) >> (7 * l));
        break;
    case T_IQ2_XS: {
        uint32_t w = fmt_u16(b + 2 + 2 * q);
        entry8 = fmt_grid_iq2xs[w & 511];
        signs = fmt_even_signs(w >> 9);
        break;
    }
    case T_IQ2_S:
        entry8 = fmt_grid_iq2s[b[2 + q] | ((b[66 + g] >> (2 * l)) & 3) << 8];
        signs = b[34 + q];
        break;
    case T_IQ3_XXS:
        entry4 = fmt_grid_iq3xxs[b[2 + e / 4]];
        signs = fmt_even_signs(fmt_u32(b + 66 + 4 * g) >> (7 * l)) >> (k & 4);
        break;
    case T_IQ3_S:
        entry4 = fmt_grid_iq3s[b[2 + e / 4] | ((b[66 + g] >> ((e % 32) / 4)) & 1) << 8];
        signs = b[74 + e / 8] >> (k & 4);
        break;
    case T_IQ1_S:
        entry8 = fmt_grid_iq1s[b[2 + q] | ((fmt_u16(b + 34 + 2 * g) >> (3 * l)) & 7) << 8];
        return 8 * (int8_t)(entry8 >> (8 * k)) + fmt_grid_shift(type, b, e);
    default:  // IQ1_M
        entry8 = fmt_grid_iq1s[b[q] | ((b[32 + q / 2] >> (4 * (q & 1))) & 7) << 8];
        return 8 * (int8_t)(entry8 >> (8 * k)) + fmt_grid_shift(type, b, e);
    }
    int v = type == T_IQ3_XXS || type == T_IQ3_S ? (int8_t)(entry4 >> (8 * (k & 3))) : (int8_t)(entry8 >> (8 * k));
    int bit = type == T_IQ3_XXS || type == T_IQ3_S ? k & 3 : k;
    return (signs >> bit) & 1 ? -v : v;
}
// Weights `first` … `first + count - 1` of chunk c of a row of `type`, into w.
FMT_FN void fmt_weights(int type, const u8* row, int c, int first, int count, float* w) {
    int per = fmt_block_weights(type) / 32;
    const u8* b = row + (c / per) * fmt_block_bytes(type);
    int sub = c % per;
#define FMT_CASE(T, f) case T: FMT_UNROLL for (int i = 0; i < count; i++) w[i] = f(b, sub, first + i); break;
    switch (type) {
    FMT_CASE(T_F32, one_f32) FMT_CASE(T_F16, one_f16) FMT_CASE(T_BF16, one_bf16) FMT_CASE(T_Q4_0, one_q4_0)
    FMT_CASE(T_Q4_1, one_q4_1) FMT_CASE(T_Q5_0, one_q5_0) FMT_CASE(T_Q5_1, one_q5_1) FMT_CASE(T_Q8_0, one_q8_0)
    FMT_CASE(T_Q2_K, one_q2_k) FMT_CASE(T_Q3_K, one_q3_k) FMT_CASE(T_Q4_K, one_q4_k) FMT_CASE(T_Q5_K, one_q5_k)
    FMT_CASE(T_Q6_K, one_q6_k) FMT_CASE(T_IQ4_NL, one_iq4_nl) FMT_CASE(T_IQ4_XS, one_iq4_xs)
    default:
        if (FMT_GRID(type)) {
            float d = fmt_grid_d(type, b);
            for (int i = 0; i < count; i++) {
                int e = 32 * sub + first + i;
                w[i] = d * (float)fmt_grid_scale(type, b, e / 16) * (float)fmt_grid_value(type, b, e);
            }
        } else {
            for (int i = 0; i < count; i++) w[i] = 0;
        }
        break;
    }
#undef FMT_CASE
}

// Q4_1 and Q5_1 add a per-block minimum m to d · q. The CPU engine multiplies them by Q8_1 activations,
// whose m-term uses the block's stored sum s rather than the sum of the values (kernels.cu, round_row, mode 6).
#define FMT_HAS_MIN(type) ((type) == T_Q4_1 || (type) == T_Q5_1)
// The minimum of chunk c (= block c) of a row of a format with one; 0 otherwise.
FMT_FN float fmt_block_min(int type, const u8* row, int c) {
    return FMT_HAS_MIN(type) ? fmt_half(row + (unsigned long long)c * fmt_block_bytes(type) + 2) : 0.0f;
}

// Chunk c (0-based, 32 weights each) of a row of `type`, into w[0..31].
FMT_FN void fmt_chunk(int type, const u8* row, int c, float* w) { fmt_weights(type, row, c, 0, 32, w); }
