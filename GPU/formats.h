// Weight formats for the GPU kernels: each format decodes one 32-weight chunk of a row into floats.
// The same source compiles for the device (kernels.cu, clang's CUDA mode) and for the host
// (format_check.cpp, which compares every format with the gguf package's dequantisation). Block layouts
// are ggml's, as docs/formats.md describes them; the order of weights inside a chunk is the file's.
#pragma once

#include <stdint.h>

#if defined(__CUDA__)
#define FMT_FN static __attribute__((device)) inline
#define FMT_UNROLL _Pragma("unroll")
#else
#define FMT_FN static inline
#define FMT_UNROLL
#endif

typedef uint8_t u8;

// ggml type ids (GGUF tensor types).
enum {
    T_F32 = 0, T_F16 = 1, T_Q4_0 = 2, T_Q4_1 = 3, T_Q5_0 = 6, T_Q5_1 = 7, T_Q8_0 = 8,
    T_Q2_K = 10, T_Q3_K = 11, T_Q4_K = 12, T_Q5_K = 13, T_Q6_K = 14, T_IQ4_NL = 20, T_IQ4_XS = 23,
    T_BF16 = 30,
};

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
    default: return 0;
    }
}

FMT_FN int fmt_block_weights(int type) {
    switch (type) {
    case T_Q2_K: case T_Q3_K: case T_Q4_K: case T_Q5_K: case T_Q6_K: case T_IQ4_XS: return 256;
    default: return fmt_block_bytes(type) ? 32 : 0;
    }
}

// Chunk `sub` (32 weights) of the block at `b`, into w[0..31].
#define FMT_DEQ(name) FMT_FN void name(const u8* b, int sub, float* w)

FMT_DEQ(deq_f32) { (void)sub; FMT_UNROLL for (int i = 0; i < 32; i++) w[i] = fmt_f32(b + 4 * i); }
FMT_DEQ(deq_f16) { (void)sub; FMT_UNROLL for (int i = 0; i < 32; i++) w[i] = fmt_half(b + 2 * i); }
FMT_DEQ(deq_bf16) { (void)sub; FMT_UNROLL for (int i = 0; i < 32; i++) w[i] = fmt_bf16(b + 2 * i); }

FMT_DEQ(deq_q4_0) {
    (void)sub;
    float d = fmt_half(b);
    FMT_UNROLL
    for (int i = 0; i < 16; i++) {
        w[i] = d * (float)((b[2 + i] & 0xF) - 8);
        w[i + 16] = d * (float)((b[2 + i] >> 4) - 8);
    }
}

FMT_DEQ(deq_q4_1) {
    (void)sub;
    float d = fmt_half(b), m = fmt_half(b + 2);
    FMT_UNROLL
    for (int i = 0; i < 16; i++) {
        w[i] = d * (float)(b[4 + i] & 0xF) + m;
        w[i + 16] = d * (float)(b[4 + i] >> 4) + m;
    }
}

FMT_DEQ(deq_q5_0) {
    (void)sub;
    float d = fmt_half(b);
    uint32_t qh = (uint32_t)b[2] | ((uint32_t)b[3] << 8) | ((uint32_t)b[4] << 16) | ((uint32_t)b[5] << 24);
    FMT_UNROLL
    for (int i = 0; i < 16; i++) {
        int lo = (b[6 + i] & 0xF) | (((qh >> i) & 1) << 4);
        int hi = (b[6 + i] >> 4) | (((qh >> (i + 16)) & 1) << 4);
        w[i] = d * (float)(lo - 16);
        w[i + 16] = d * (float)(hi - 16);
    }
}

FMT_DEQ(deq_q5_1) {
    (void)sub;
    float d = fmt_half(b), m = fmt_half(b + 2);
    uint32_t qh = (uint32_t)b[4] | ((uint32_t)b[5] << 8) | ((uint32_t)b[6] << 16) | ((uint32_t)b[7] << 24);
    FMT_UNROLL
    for (int i = 0; i < 16; i++) {
        int lo = (b[8 + i] & 0xF) | (((qh >> i) & 1) << 4);
        int hi = (b[8 + i] >> 4) | (((qh >> (i + 16)) & 1) << 4);
        w[i] = d * (float)lo + m;
        w[i + 16] = d * (float)hi + m;
    }
}

FMT_DEQ(deq_q8_0) {
    (void)sub;
    float d = fmt_half(b);
    FMT_UNROLL
    for (int i = 0; i < 32; i++) w[i] = d * (float)(int8_t)b[2 + i];
}

FMT_DEQ(deq_iq4_nl) {
    (void)sub;
    float d = fmt_half(b);
    FMT_UNROLL
    for (int i = 0; i < 16; i++) {
        w[i] = d * (float)fmt_iq4_value(b[2 + i] & 0xF);
        w[i + 16] = d * (float)fmt_iq4_value(b[2 + i] >> 4);
    }
}

// Q2_K: scales[16] (low nibble scale, high nibble min), qs[64], d, dmin. Chunk c: half c/4 of the
// block, 2-bit plane c%4; its first 16 weights use scale 2c, the next 16 scale 2c+1.
FMT_DEQ(deq_q2_k) {
    const u8* scales = b;
    const u8* q = b + 16 + (sub / 4) * 32;
    float d = fmt_half(b + 80), dmin = fmt_half(b + 82);
    int shift = 2 * (sub % 4);
    FMT_UNROLL
    for (int part = 0; part < 2; part++) {
        int sc = scales[2 * sub + part];
        float dl = d * (float)(sc & 0xF), ml = dmin * (float)(sc >> 4);
        FMT_UNROLL
        for (int l = 0; l < 16; l++) w[16 * part + l] = dl * (float)((q[16 * part + l] >> shift) & 3) - ml;
    }
}

// Q3_K: hmask[32], qs[64], scales[12] (sixteen 6-bit values, offset 32), d. Chunk c: 2-bit plane c%4 of
// half c/4, high bit c of hmask (set means no -4).
FMT_DEQ(deq_q3_k) {
    const u8* hm = b;
    const u8* q = b + 32 + (sub / 4) * 32;
    const u8* s = b + 96;
    float d = fmt_half(b + 108);
    int shift = 2 * (sub % 4);
    FMT_UNROLL
    for (int part = 0; part < 2; part++) {
        int j = 2 * sub + part;  // scale index 0..15
        int low = j < 8 ? (s[j] & 0xF) : (s[j - 8] >> 4);
        int high = (s[8 + (j % 4)] >> (2 * (j / 4))) & 3;
        float dl = d * (float)((low | (high << 4)) - 32);
        FMT_UNROLL
        for (int l = 0; l < 16; l++) {
            int idx = 16 * part + l;
            int v = (q[idx] >> shift) & 3;
            if (!(hm[idx] & (1 << sub))) v -= 4;
            w[idx] = dl * (float)v;
        }
    }
}

// Q4_K: d, dmin, scales[12], qs[128]. Chunk c: bytes 32·(c/2)…, low nibbles for even c, high for odd.
FMT_DEQ(deq_q4_k) {
    float d = fmt_half(b), dmin = fmt_half(b + 2);
    int sc, m;
    fmt_scale_min_k4(sub, b + 4, &sc, &m);
    float dl = d * (float)sc, ml = dmin * (float)m;
    const u8* q = b + 16 + (sub / 2) * 32;
    int shift = (sub & 1) * 4;
    FMT_UNROLL
    for (int l = 0; l < 32; l++) w[l] = dl * (float)((q[l] >> shift) & 0xF) - ml;
}

// Q5_K: as Q4_K with qh[32] after the scales; bit c of qh[l] is the fifth bit of chunk c.
FMT_DEQ(deq_q5_k) {
    float d = fmt_half(b), dmin = fmt_half(b + 2);
    int sc, m;
    fmt_scale_min_k4(sub, b + 4, &sc, &m);
    float dl = d * (float)sc, ml = dmin * (float)m;
    const u8* qh = b + 16;
    const u8* q = b + 48 + (sub / 2) * 32;
    int shift = (sub & 1) * 4;
    FMT_UNROLL
    for (int l = 0; l < 32; l++) {
        int v = ((q[l] >> shift) & 0xF) | (((qh[l] >> sub) & 1) << 4);
        w[l] = dl * (float)v - ml;
    }
}

// Q6_K: ql[128], qh[64], scales[16] (int8), d. Chunk c: half c/4, quarter k = c%4: low bits from
// ql[64·half + 32·(k&1) + l] (high nibble when k ≥ 2), two high bits from qh[32·half + l] >> 2k.
FMT_DEQ(deq_q6_k) {
    int half = sub / 4, k = sub % 4;
    const u8* ql = b + 64 * half + 32 * (k & 1);
    const u8* qh = b + 128 + 32 * half;
    const int8_t* sc = (const int8_t*)(b + 192) + 8 * half + 2 * k;
    float d = fmt_half(b + 208);
    int nshift = k >= 2 ? 4 : 0, hshift = 2 * k;
    FMT_UNROLL
    for (int l = 0; l < 32; l++) {
        int v = (((ql[l] >> nshift) & 0xF) | (((qh[l] >> hshift) & 3) << 4)) - 32;
        w[l] = d * (float)sc[l / 16] * (float)v;
    }
}

// IQ4_XS: d, scales_h (u16), scales_l[4], qs[128]. Chunk c: 6-bit scale from the two fields, bytes 16c….
FMT_DEQ(deq_iq4_xs) {
    float d = fmt_half(b);
    uint32_t sh = (uint32_t)b[2] | ((uint32_t)b[3] << 8);
    int ls = ((b[4 + sub / 2] >> (4 * (sub % 2))) & 0xF) | (((sh >> (2 * sub)) & 3) << 4);
    float dl = d * (float)(ls - 32);
    const u8* q = b + 8 + 16 * sub;
    FMT_UNROLL
    for (int l = 0; l < 16; l++) {
        w[l] = dl * (float)fmt_iq4_value(q[l] & 0xF);
        w[l + 16] = dl * (float)fmt_iq4_value(q[l] >> 4);
    }
}

// Chunk c (0-based, 32 weights each) of a row of `type`.
FMT_FN void fmt_chunk(int type, const u8* row, int c, float* w) {
    int per = fmt_block_weights(type) / 32;
    const u8* b = row + (c / per) * fmt_block_bytes(type);
    int sub = c % per;
    switch (type) {
    case T_F32: deq_f32(b, sub, w); break;
    case T_F16: deq_f16(b, sub, w); break;
    case T_BF16: deq_bf16(b, sub, w); break;
    case T_Q4_0: deq_q4_0(b, sub, w); break;
    case T_Q4_1: deq_q4_1(b, sub, w); break;
    case T_Q5_0: deq_q5_0(b, sub, w); break;
    case T_Q5_1: deq_q5_1(b, sub, w); break;
    case T_Q8_0: deq_q8_0(b, sub, w); break;
    case T_Q2_K: deq_q2_k(b, sub, w); break;
    case T_Q3_K: deq_q3_k(b, sub, w); break;
    case T_Q4_K: deq_q4_k(b, sub, w); break;
    case T_Q5_K: deq_q5_k(b, sub, w); break;
    case T_Q6_K: deq_q6_k(b, sub, w); break;
    case T_IQ4_NL: deq_iq4_nl(b, sub, w); break;
    case T_IQ4_XS: deq_iq4_xs(b, sub, w); break;
    default: for (int i = 0; i < 32; i++) w[i] = 0; break;
    }
}
