// GPU kernels of the offloaded layers, compiled ahead of time to PTX (clang's CUDA mode, no CUDA toolkit:
// see docs/gpu.md) and JIT-compiled by the driver at load. Plain CUDA C with clang's NVPTX builtins;
// every kernel is extern "C" so the worker finds it by name. Shapes follow the CPU engine
// (Sources/Model/Llama.swift): activations are token-major rows, the KV cache is
// [layer][sequence][position][kvDimension].
//
// The same source also compiles as host C++ for the stand-in driver (GPU/stand_in_driver.c), which runs
// every CUDA thread of a block as a fiber (GPU/emulator.h): the device primitives below are the only
// code that differs, so the tests without a GPU execute these kernels, not a model of them.
#include "formats.h"

typedef unsigned short half_t;  // F16 bits (clang 14 has no arithmetic F16 type for NVPTX)

#ifdef __CUDA_ARCH__
#define KERNEL extern "C" __attribute__((global))
#define LAUNCH_BOUNDS(threads, blocks) __attribute__((launch_bounds(threads, blocks)))
#define DEV static __attribute__((device)) inline
#define SHARED __attribute__((shared))

DEV half_t to_half(float f) { unsigned short h; asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f)); return h; }
DEV float from_half(half_t h) { float f; asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h)); return f; }
DEV float round_nearest_even(float v) { float r; asm("cvt.rni.f32.f32 %0, %1;" : "=f"(r) : "f"(v)); return r; }
DEV float sqrt_rn(float x) { return __nvvm_sqrt_rn_f(x); }
DEV int tid() { return __nvvm_read_ptx_sreg_tid_x(); }
DEV int ntid() { return __nvvm_read_ptx_sreg_ntid_x(); }
DEV int bidx() { return __nvvm_read_ptx_sreg_ctaid_x(); }
DEV int bidy() { return __nvvm_read_ptx_sreg_ctaid_y(); }
DEV void sync_block() { __syncthreads(); }
DEV void fail_launch(const char* why) { (void)why; asm volatile("trap;"); }  // the launch fails with an error
DEV float shfl_xor(float v, int lanes) { return __nvvm_shfl_sync_bfly_f32(0xffffffffu, v, lanes, 0x1f); }
DEV int shfl_xor(int v, int lanes) { return __nvvm_shfl_sync_bfly_i32(0xffffffffu, v, lanes, 0x1f); }
DEV void sync_warp() { __nvvm_bar_warp_sync(0xffffffffu); }
// Σ of the four signed byte products of a and b, plus c (exact).
DEV int dot4(int a, int b, int c) { int d; asm("dp4a.s32.s32 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(c)); return d; }
// The int8 tensor cores (sm_75 on, PTX ISA 6.5: the module built with INT8_MMA): C (8 × 8, int32) += A (8 × 16,
// int8, row-major) · B (16 × 8, int8, column-major) by the whole warp, exactly. Lane l holds A's row l/4,
// columns 4(l%4) … +3; B's column l/4, rows 4(l%4) … +3; C's row l/4, columns 2(l%4) and 2(l%4) + 1.
// mma_block: the 32 columns of a row piece (a0: columns 0–15, a1: 16–31) against two token pieces (b[t][0],
// b[t][1] alike): c[t] = the 8 × 8 block sums, from zero.
#ifdef INT8_MMA
DEV void mma_s8(int& c0, int& c1, int a, int b) {
    asm volatile("mma.sync.aligned.m8n8k16.row.col.s32.s8.s8.s32 {%0, %1}, {%2}, {%3}, {%0, %1};"
                 : "+r"(c0), "+r"(c1) : "r"(a), "r"(b));
}
DEV void mma_block(int (*c)[2], int a0, int a1, const int (*b)[2]) {
    for (int t = 0; t < 2; t++) {
        c[t][0] = c[t][1] = 0;
        mma_s8(c[t][0], c[t][1], a0, b[t][0]);
        mma_s8(c[t][0], c[t][1], a1, b[t][1]);
    }
}
// mma_halves: as mma_block, the two 16-column halves' sums apart: c[t][h] (h = 0: columns 0–15).
DEV void mma_halves(int (*c)[2][2], int a0, int a1, const int (*b)[2]) {
    for (int t = 0; t < 2; t++) {
        for (int h = 0; h < 2; h++) {
            c[t][h][0] = c[t][h][1] = 0;
            mma_s8(c[t][h][0], c[t][h][1], h ? a1 : a0, b[t][h]);
        }
    }
}
#else
__attribute__((unused)) DEV void mma_block(int (*c)[2], int a0, int a1, const int (*b)[2]) {
    (void)c; (void)a0; (void)a1; (void)b;
    fail_launch("no int8 tensor cores in this module");
}
__attribute__((unused)) DEV void mma_halves(int (*c)[2][2], int a0, int a1, const int (*b)[2]) {
    (void)c; (void)a0; (void)a1; (void)b;
    fail_launch("no int8 tensor cores in this module");
}
#endif
#else
#include "emulator.h"
#endif

// Cache element conversions: F16 (bits) or F32.
DEV void kv_put(half_t* p, float v) { *p = to_half(v); }
DEV void kv_put(float* p, float v) { *p = v; }
DEV float kv_get(const half_t* p) { return from_half(*p); }
DEV float kv_get(const float* p) { return *p; }
// A quantized cache (-ctk/-ctv q8_0|q4_0) keeps rows of 32-value blocks, as the CPU's KVCache: f16 d, then
// the 32 int8 values (Q8_0) or 16 bytes of nibbles n, value (n − 8)·d, element j low in byte j, j + 16 high
// (Q4_0). Blocks start 2-byte aligned.
struct q8_0_block { u8 b[34]; };
struct q4_0_block { u8 b[18]; };
// Cache values per unit of KV: a row of kvDimension values is kvDimension / PER units.
template <typename KV> struct kv_unit { enum { PER = 1, QUANTIZED = 0 }; };
template <> struct kv_unit<q8_0_block> { enum { PER = 32, QUANTIZED = 1 }; };
template <> struct kv_unit<q4_0_block> { enum { PER = 32, QUANTIZED = 1 }; };
struct __attribute__((aligned(16))) float4 { float x, y, z, w; };
struct __attribute__((aligned(16))) uint4 { unsigned x, y, z, w; };
// c + Σ of the 16 signed byte products of w and a (exact); the 16 signed bytes of a summed.
DEV int dot16(uint4 w, uint4 a, int c) {
    return dot4((int)w.w, (int)a.w, dot4((int)w.z, (int)a.z, dot4((int)w.y, (int)a.y, dot4((int)w.x, (int)a.x, c))));
}
DEV int byte_sum16(uint4 a) { return dot16(uint4{0x01010101u, 0x01010101u, 0x01010101u, 0x01010101u}, a, 0); }

DEV double shfl_xor(double v, int lanes) {
    union { double d; int i[2]; } u;
    u.d = v;
    u.i[0] = shfl_xor(u.i[0], lanes);
    u.i[1] = shfl_xor(u.i[1], lanes);
    return u.d;
}
template <typename T>
DEV T warp_sum(T v) {
    for (int o = 16; o > 0; o >>= 1) v += shfl_xor(v, o);
    return v;
}
DEV float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = __builtin_fmaxf(v, shfl_xor(v, o));
    return v;
}
// e^x as the CPU engine computes it (Sources/Tensors/Activations.swift, llama.cpp's AVX-512 construction):
// a range-reduced polynomial with these fused multiply-adds, p · 2^n rounded once. The same operations
// give the same bits here, so SiLU and the softmax see the CPU's values (the kernels are compiled with
// -ffp-contract=off: every fused multiply-add is one written as such).
DEV float scale_by_power_of_two(float p, int k) {  // p · 2^k for |k| ≤ 126, exactly (one rounding)
    union { unsigned u; float f; } two;
    two.u = (unsigned)(k + 127) << 23;
    return p * two.f;
}
DEV float fast_exp(float x) {
    const float shifter = 0x1.8p23f;
    float z = __builtin_fmaf(x, 0x1.715476p+0f, shifter);
    float n = z - shifter;
    float b = __builtin_fmaf(-n, 0x1.62e4p-1f, x);
    b = __builtin_fmaf(-n, 0x1.7f7d1cp-20f, b);
    float u = b * b;
    float high = __builtin_fmaf(0x1.0e4020p-7f, b, 0x1.573e2ep-5f);
    float low = __builtin_fmaf(0x1.555e66p-3f, b, 0x1.fffdb6p-2f);
    float p = __builtin_fmaf(0x1.ffffecp-1f, b, 1.0f);
    p = __builtin_fmaf(__builtin_fmaf(high, u, low), u, p);
    if (n != n) return n;
    if (__builtin_fabsf(n) > 192.0f) return n <= 0.0f ? 0.0f : __builtin_inff();
    int k = (int)n;
    if (k >= -126 && k <= 126) return scale_by_power_of_two(p, k);
    int adjust = k < 0 ? 100 : -100;
    return scale_by_power_of_two(scale_by_power_of_two(p, k + adjust), -adjust);
}

// Sum over the block (blockDim a multiple of 32, at most 1024); every thread gets the result.
template <typename T>
DEV T block_sum(T v, T* scratch) {
    v = warp_sum(v);
    int lane = tid() & 31, warp = tid() >> 5, warps = ntid() >> 5;
    sync_block();
    if (lane == 0) scratch[warp] = v;
    sync_block();
    T total = 0;
    for (int i = 0; i < warps; i++) total += scratch[i];
    return total;
}
DEV float block_max(float v, float* scratch) {
    v = warp_max(v);
    int lane = tid() & 31, warp = tid() >> 5, warps = ntid() >> 5;
    sync_block();
    if (lane == 0) scratch[warp] = v;
    sync_block();
    float m = scratch[0];
    for (int i = 1; i < warps; i++) m = __builtin_fmaxf(m, scratch[i]);
    return m;
}

// ---- Matrix × few tokens (decode, small batches) in the CPU engine's summation orders ------------------
// y[t·rows + r] = Σ_c W[r, c] · x[t·cols + c]. One token (mv_*) and 2–8 (mb_*) are separate kernels: a
// kernel's register count is its widest path's. Each format family has its layout below; every one sums in
// the order the CPU engine's kernels use for the same batch, because every layer's output is rounded again
// for the next product and one different last bit can flip a rounding.
// Q8_0 weights against Q8_0 activations in the CPU engine's (and llama.cpp's) order, because every layer's
// output is quantized again and one different last bit can flip a rounding: per token, 8 chains — chain g
// takes columns 4g…4g+3 of each block as an exact integer sum s and adds d_w·d_x·s with one fused
// multiply-add, block after block — then ((g0+g4)+(g2+g6))+((g1+g5)+(g3+g7)). Lane p of an 8-lane group is
// chain p. The activations come as the rounding left them (round_row, mode 3): int8 values xq, cols per
// token, and one f16-valued scale xd per 32-block. Q5_0 (row kernel: batches of up to 3 tokens) and Q5_1
// (every batch) sum in the same order on the CPU; Q5_1's lane 0 adds m_w·s_x after each block's step, its
// activations as Q8_1 (mode 6: the unrounded amax/127 in xd, from which d_x and s_x = f16(Σq · amax/127)
// are rounded).
// The 4 bytes at `at` as one word (two 2-byte loads: Q6_K's, Q3_K's and Q5_0's blocks are only 2-byte aligned).
DEV unsigned kq_word(const u8* at) { return (unsigned)*(const unsigned short*)at | (unsigned)*(const unsigned short*)(at + 2) << 16; }
// Bits 0…3 of x into bit 4 of bytes 0…3 (Q5_0's and Q5_1's fifth bits).
DEV unsigned fifth_bits(unsigned x) { return ((x & 1) | (x & 2) << 7 | (x & 4) << 14 | (x & 8) << 21) << 4; }
DEV unsigned iq4_levels(unsigned n) {  // each byte's index (0…15) to its level as a signed byte
    unsigned v = 0;
    _Pragma("unroll")
    for (int k = 0; k < 4; k++) v |= ((unsigned)fmt_iq4_value((int)((n >> (8 * k)) & 0xF)) & 0xFFu) << (8 * k);
    return v;
}
// Columns 4·part … +3 of a Q8_0, Q5_0, Q5_1 or IQ4_NL block as signed bytes (Q5_0's values less 16, IQ4_NL's
// levels).
template <int TYPE>
DEV int legacy_word(const u8* b, int part) {
    if (TYPE == T_Q8_0) return (int)kq_word(b + 2 + 4 * part);
    if (TYPE == T_IQ4_NL) return (int)iq4_levels((kq_word(b + 2 + 4 * (part & 3)) >> (4 * (part >> 2))) & 0x0F0F0F0Fu);
    enum { QH = TYPE == T_Q5_1 ? 4 : 2, QS = TYPE == T_Q5_1 ? 8 : 6 };
    unsigned v = ((kq_word(b + QS + 4 * (part & 3)) >> (4 * (part >> 2))) & 0x0F0F0F0Fu) | fifth_bits((kq_word(b + QH) >> (4 * part)) & 0xF);
    return (int)(TYPE == T_Q5_0 ? (v + 0x70707070u) ^ 0x80808080u : v);  // v − 16 in each byte, no carries
}
// Σ of the 4 signed byte products (as dot4, in plain arithmetic: inline asm is convergent to the compiler and
// keeps the one-token loop below from unrolling).
DEV int byte_products(int w, int a) {
    int sum = 0;
    _Pragma("unroll")
    for (int i = 0; i < 4; i++) sum += (int)(signed char)(w >> (8 * i)) * (int)(signed char)(a >> (8 * i));
    return sum;
}
template <int TYPE>
DEV float q8_0_chain_step(const u8* b, int part, int xq4, float dx, float chain) {
    if constexpr (TYPE == T_Q5_1) {  // d_x and s_x from the unrounded scale, s_x over the block's 32 integers
        int q = dot4(0x01010101, xq4, 0);
        q += shfl_xor(q, 4); q += shfl_xor(q, 2); q += shfl_xor(q, 1);
        float sx = from_half(to_half((float)q * dx));
        chain = __builtin_fmaf(fmt_half(b) * from_half(to_half(dx)), (float)byte_products(legacy_word<TYPE>(b, part), xq4), chain);
        return chain + (part == 0 ? fmt_half(b + 2) * sx : 0.0f);
    }
    return __builtin_fmaf(fmt_half(b) * dx, (float)byte_products(legacy_word<TYPE>(b, part), xq4), chain);
}
DEV float q8_0_fold(float chain) {  // every lane of the group gets ((g0+g4)+(g2+g6))+((g1+g5)+(g3+g7))
    chain += shfl_xor(chain, 4);
    chain += shfl_xor(chain, 2);
    return chain + shfl_xor(chain, 1);
}
// The 4 int8 activations of lane `part` in block c of a token's row (one 4-byte load: rows are whole blocks).
DEV int q8_0_activations(const signed char* xq, int c, int part) { return *(const int*)(xq + c * 32 + 4 * part); }
// F32 and BF16 weights (BF16 against BF16-rounded activations: every product exact) as the CPU's floatDot,
// at every batch size: column i of the whole 32-column blocks in chain i % 32, the whole 8-column groups after
// them in chains 0…7, chains j, j+8, j+16, j+24 added as (j + j+8) + (j+16 + j+24), then
// ((c0+c4)+(c2+c6))+((c1+c5)+(c3+c7)), and the last cols % 8 columns one product and add at a time. A warp
// per row, lane l chain l; lane 0 adds every token's last columns.
template <int TYPE, int NT>
DEV void matvec_float(const u8* row, const float* x, float* y, int rows, int cols, int r, int lane) {
    float chain[NT];
    _Pragma("unroll")
    for (int t = 0; t < NT; t++) chain[t] = 0;
    int whole = cols / 32 * 32, eights = cols / 8 * 8;
    for (int c = lane; c < whole; c += 32) {
        float w = TYPE == T_F32 ? fmt_f32(row + 4 * c) : fmt_bf16(row + 2 * c);
        _Pragma("unroll")
        for (int t = 0; t < NT; t++) chain[t] = __builtin_fmaf(w, x[(unsigned long long)t * cols + c], chain[t]);
    }
    for (int c = whole + lane; lane < 8 && c < eights; c += 8) {
        float w = TYPE == T_F32 ? fmt_f32(row + 4 * c) : fmt_bf16(row + 2 * c);
        _Pragma("unroll")
        for (int t = 0; t < NT; t++) chain[t] = __builtin_fmaf(w, x[(unsigned long long)t * cols + c], chain[t]);
    }
    _Pragma("unroll")
    for (int t = 0; t < NT; t++) {
        float a = chain[t] + shfl_xor(chain[t], 8);
        float s = q8_0_fold(a + shfl_xor(a, 16));
        if (lane == 0) {
            for (int c = eights; c < cols; c++) {
                float w = TYPE == T_F32 ? fmt_f32(row + 4 * c) : fmt_bf16(row + 2 * c);
                s = s + w * x[(unsigned long long)t * cols + c];
            }
            y[(unsigned long long)t * rows + r] = s;
        }
    }
}
// Several tokens: group k of the warp takes tokens k, k+4 of row r.
template <int TYPE, int NT>
DEV void matvec_q8_0(const u8* row, const signed char* xq, const float* xd, float* y, int rows, int cols, int r, int lane) {
    enum { PER_GROUP = (NT + 3) / 4 };
    int group = lane >> 3, part = lane & 7, chunks = cols / 32;
    float chain[PER_GROUP];
    _Pragma("unroll")
    for (int k = 0; k < PER_GROUP; k++) chain[k] = 0;
    for (int c = 0; c < chunks; c++) {
        const u8* b = row + (unsigned long long)c * fmt_block_bytes(TYPE);
        _Pragma("unroll")
        for (int k = 0; k < PER_GROUP; k++) {
            int t = group + 4 * k < NT ? group + 4 * k : 0;
            chain[k] = q8_0_chain_step<TYPE>(b, part, q8_0_activations(xq + (unsigned long long)t * cols, c, part),
                                             xd[(unsigned long long)t * chunks + c], chain[k]);
        }
    }
    _Pragma("unroll")
    for (int k = 0; k < PER_GROUP; k++) {
        float s = q8_0_fold(chain[k]);
        int t = group + 4 * k;
        if (part == 0 && t < NT) y[(unsigned long long)t * rows + r] = s;
    }
}
// One token: each 8-lane group takes its own row, 16 rows per block of 4 warps (the several-token layout
// would leave three groups of four idle). Groups past the last row compute the last row again without
// storing it, so every lane of the warp reaches the fold's shuffles.
template <int TYPE>
DEV void matvec_q8_0_rows(const u8* W, unsigned long long rowBytes, const signed char* xq, const float* xd, float* y,
                          int rows, int cols) {
    int lane = tid() & 31, part = lane & 7;
    int r = bidx() * 16 + (tid() >> 5) * 4 + (lane >> 3);
    int rr = r < rows ? r : rows - 1;
    const u8* row = W + (unsigned long long)rr * rowBytes;
    float chain = 0;
    if constexpr (TYPE == T_Q5_1) {  // its shuffles (s_x) keep the loop rolled
        for (int c = 0; c < cols / 32; c++)
            chain = q8_0_chain_step<TYPE>(row + (unsigned long long)c * 24, part, q8_0_activations(xq, c, part), xd[c], chain);
    } else {
        enum { BYTES = TYPE == T_Q8_0 ? 34 : 22 };
        _Pragma("unroll 4")
        for (int c = 0; c < cols / 32; c++)
            chain = q8_0_chain_step<TYPE>(row + (unsigned long long)c * BYTES, part, q8_0_activations(xq, c, part), xd[c], chain);
    }
    float s = q8_0_fold(chain);
    if (part == 0 && r < rows) y[r] = s;
}

// Q4_0, Q4_1 and IQ4_NL weights against the rounding's int8 activations in the CPU engine's order (its
// interleaved kernels, as llama.cpp's repacked ones): per row and token one chain over the blocks in order,
// fma(d_w·d_x, Σ q_w·q_x, chain), the block's integer sum exact (Q4_0's nibbles less 8, IQ4_NL's the
// levels they index); Q4_1 adds a second
// chain of m_w·s_x at the end, s_x the block's f16 sum of the activations. The rounding (round_row, mode 3
// for Q4_0 and IQ4_NL, 6 for Q4_1) leaves the integers and per block d_x (mode 6: the unrounded amax/127, from which
// d_x and s_x are rounded as the CPU rounds them).
// The 4-byte words of a block's 32 nibbles as signed bytes: lo[k] elements 4k…4k+3, hi[k] elements 16+4k…
// (byte j of a block holds element j in its low nibble and j + 16 in its high one). Q4_0 and IQ4_NL: f16 d,
// then the bytes (2-byte aligned); Q4_1: f16 d, f16 m, then the bytes (4-byte aligned); Q5_0 (its prompt
// panels, batches from 4 tokens): f16 d, the fifth bits (u32), then the bytes.
template <int TYPE>
DEV void nibble_words(const u8* b, int* lo, int* hi) {
    _Pragma("unroll")
    for (int k = 0; k < 4; k++) {
        unsigned w = TYPE == T_Q4_1 ? *(const unsigned*)(b + 4 + 4 * k) : kq_word(b + (TYPE == T_Q5_0 ? 6 : 2) + 4 * k);
        unsigned l = w & 0x0F0F0F0Fu, h = (w >> 4) & 0x0F0F0F0Fu;
        if (TYPE == T_Q5_0) {  // the fifth bits, then v − 16 in each byte
            unsigned qh = kq_word(b + 2);
            l = ((l | fifth_bits((qh >> (4 * k)) & 0xF)) + 0x70707070u) ^ 0x80808080u;
            h = ((h | fifth_bits((qh >> (16 + 4 * k)) & 0xF)) + 0x70707070u) ^ 0x80808080u;
        }
        if (TYPE == T_Q4_0) {  // n − 8 in each byte: n + 0x78 stays below 0x88, so no byte carries into the next
            l = (l + 0x78787878u) ^ 0x80808080u;
            h = (h + 0x78787878u) ^ 0x80808080u;
        }
        if (TYPE == T_IQ4_NL) {
            l = iq4_levels(l);
            h = iq4_levels(h);
        }
        lo[k] = (int)l;
        hi[k] = (int)h;
    }
}
// Lane l of the warp takes block l of each 32-block chunk for every token and leaves d_w·d_x, the integer
// sum (and s_x) in shared memory; lane t then carries token t's chains over the chunk. One warp per row.
// One set of arrays for every token count (each instantiation's own would add up in mb_*): [warp][token]
// [block], 33 apart so that lanes 0…7 read different banks.
SHARED float nibble_scaled[4][8][33], nibble_sums[4][8][33], nibble_mins[4][33];
SHARED int nibble_ints[4][8][33];
template <int TYPE, int NT>
DEV void matvec_nibbles(const u8* W, unsigned long long rowBytes, const signed char* xq, const float* xs, float* y,
                        int rows, int cols) {
    enum { BLOCK = TYPE == T_Q4_1 ? 20 : TYPE == T_Q5_0 ? 22 : 18 };
    float(*scaled)[8][33] = nibble_scaled, (*sums)[8][33] = nibble_sums, (*mins)[33] = nibble_mins;
    int(*ints)[8][33] = nibble_ints;
    int lane = tid() & 31, warp = tid() >> 5;
    int r = bidx() * 4 + warp;
    if (r >= rows) return;
    const u8* row = W + (unsigned long long)r * rowBytes;
    int blocks = cols / 32;
    float chain = 0, offsets = 0;
    for (int c0 = 0; c0 < blocks; c0 += 32) {
        int b = c0 + lane;
        if (b < blocks) {
            const u8* block = row + (unsigned long long)b * BLOCK;
            int lo[4], hi[4];
            nibble_words<TYPE>(block, lo, hi);
            float dw = fmt_half(block);
            if (TYPE == T_Q4_1) mins[warp][lane] = fmt_half(block + 2);
            _Pragma("unroll")
            for (int t = 0; t < NT; t++) {
                const uint4* a = (const uint4*)(xq + (unsigned long long)t * cols + 32 * b);
                uint4 a0 = a[0], a1 = a[1];
                uint4 wl = {(unsigned)lo[0], (unsigned)lo[1], (unsigned)lo[2], (unsigned)lo[3]};
                uint4 wh = {(unsigned)hi[0], (unsigned)hi[1], (unsigned)hi[2], (unsigned)hi[3]};
                int sum = dot16(wh, a1, dot16(wl, a0, 0));
                float dx = xs[(unsigned long long)t * blocks + b];
                if (TYPE == T_Q4_1) {  // d_x and s_x = f16(Σq · amax/127), each rounded once
                    int q = byte_sum16(a0) + byte_sum16(a1);
                    sums[warp][t][lane] = from_half(to_half((float)q * dx));
                    dx = from_half(to_half(dx));
                }
                scaled[warp][t][lane] = dw * dx;
                ints[warp][t][lane] = sum;
            }
        }
        sync_warp();
        if (lane < NT) {
            int n = blocks - c0 < 32 ? blocks - c0 : 32;
            for (int j = 0; j < n; j++) {
                chain = __builtin_fmaf(scaled[warp][lane][j], (float)ints[warp][lane][j], chain);
                if (TYPE == T_Q4_1) offsets = __builtin_fmaf(mins[warp][j], sums[warp][lane][j], offsets);
            }
        }
        sync_warp();
    }
    if (lane < NT) y[(unsigned long long)lane * rows + r] = TYPE == T_Q4_1 ? chain + offsets : chain;
}

// The super-block formats (Q2_K … Q6_K, IQ4_XS) against the rounding's int8 activations (round_row, mode 4
// with integers: Q8_K's values, and its super-block scale d_x once per 32 columns) in the CPU engine's
// orders, each super-block's integer sums exact (their own order does not matter). Lane p of an 8-lane group
// holds, per super-block and token, the integer L_p of columns 32g + 4p … +3 of each 32-column group g:
// Σ_g s·Σ q·a with the stored values q (Q6_K 0…63, Q3_K 0…7 with its high bit, Q2_K 0…3, Q4_K/Q5_K 0…15/31,
// IQ4_XS its levels) and the scale of those columns (one per 16 or per 32); Q6_K and Q3_K less 32 and 4 times
// (s_{2p}·Σa over columns 32p…+15 + s_{2p+1}·Σa over 32p+16…+31); and the minimum term n_p: Q2_K
// m_{2p}·Σa + m_{2p+1}·Σa over the same, Q4_K/Q5_K m_p·Σa over sub-block p (32p…+31). Then, as the CPU:
// - its row kernels (batches of up to 3 tokens, one token at a time; not Q4_K, whose rows are interleaved):
//   8 chains, chain p adding fma(d_x·d_w, L_p, chain) per super-block, folded ((c0+c4)+(c2+c6))+
//   ((c1+c5)+(c3+c7)); minus Q2_K's 8 chains of dmin terms folded the same way, or Q5_K's 4 chains k of
//   fma(d_x·dmin, n_2k + n_2k+1, chain) folded (c0+c2)+(c1+c3);
// - its interleaved tiles and prompt panels (Q4_K always, the others from 4 tokens): one chain,
//   fma(d_w·d_x, Σ_p L_p, chain), then for formats with minima fma(−(dmin·d_x), Σ_p n_p, chain).
// The grid I-quants (IQ1_S … IQ3_S) take the same kernels, as the CPU's row kernels and panels do (their
// 8 lane chains of integers, Sources/Tensors/AVX2/GridIQuantKernels.swift) — IQ1's integers split as there:
// lane p's sums of 8(g + 1)·a (IQ1_M: 8(g + 1) + shift + 1), then chunk p's s·(shift − 8)·Σa added (IQ1_M:
// 9·(s_2p·Σa_2p + s_2p+1·Σa_2p+1) taken away).
#define KQUANT_CPU_ORDER(TYPE) ((TYPE) == T_Q2_K || (TYPE) == T_Q3_K || (TYPE) == T_Q4_K || (TYPE) == T_Q5_K || \
                                (TYPE) == T_Q6_K || (TYPE) == T_IQ4_XS || FMT_GRID(TYPE))
DEV int q3_k_scale(const u8* s, int j) {  // the 6-bit scale j of Q3_K's packed 12 bytes, less 32
    int low = j < 8 ? (s[j] & 0xF) : (s[j - 8] >> 4);
    return (low | ((s[8 + (j % 4)] >> (2 * (j / 4))) & 3) << 4) - 32;
}
// Signed bytes from magnitudes (1…127: no grid value is 0) and 4 sign bits, bit k for byte k.
DEV unsigned with_signs(unsigned magnitudes, unsigned signs) {
    unsigned mask = (signs & 1) * 0xFFu | (signs >> 1 & 1) * 0xFF00u | (signs >> 2 & 1) * 0xFF0000u | (signs >> 3 & 1) * 0xFF000000u;
    return (magnitudes ^ mask) + (mask & 0x01010101u);  // −m = ~m + 1 in each byte, no carries
}
// IQ1: 8(g + 1) in each byte (0, 8, 16) for 4 grid values g ∈ {−1, 0, 1} (bytes 0xFF, 0, 1).
DEV unsigned iq1_eightfold(unsigned g) {
    unsigned odd = g & 0x01010101u, high = (g >> 1) & 0x01010101u;
    return ((odd ^ 0x01010101u) + 2 * (odd & ~high)) << 3;
}
// Columns 32g + 4p … +3 of a grid I-quant super-block: its integers v as signed bytes, or (ROW) IQ1's in the
// CPU row kernels' split (IQ1_S 8(g + 1), IQ1_M 8(g + 1) + shift + 1; v = that − 8 + shift, − 9).
template <int TYPE, bool ROW>
DEV int grid_values(const u8* blk, int g, int p) {
    int l = p >> 1, half = p & 1;
    if (TYPE == T_IQ1_S || TYPE == T_IQ1_M) {
        unsigned high, shift_plus_one;
        if (TYPE == T_IQ1_S) {
            unsigned qh = (unsigned)*(const unsigned short*)(blk + 34 + 2 * g);
            high = (qh >> (3 * l)) & 7;
            shift_plus_one = qh & 0x8000u ? 0 : 2;
        } else {
            unsigned nibble = (blk[32 + 2 * g + (l >> 1)] >> (4 * (l & 1))) & 15;
            high = nibble & 7;
            shift_plus_one = nibble & 8 ? 0 : 2;
        }
        unsigned entry = (unsigned)(fmt_grid_iq1s[blk[(TYPE == T_IQ1_S ? 2 : 0) + 4 * g + l] | high << 8] >> (32 * half));
        unsigned u = iq1_eightfold(entry);
        if (ROW && TYPE == T_IQ1_S) return (int)u;
        u += shift_plus_one * 0x01010101u;  // 0 … 18
        return (int)(ROW ? u : (u + 0x77777777u) ^ 0x80808080u);  // u − 9 in each byte
    }
    unsigned magnitudes, signs;
    if (TYPE == T_IQ2_XXS || TYPE == T_IQ2_XS || TYPE == T_IQ2_S) {
        unsigned long long entry;
        if (TYPE == T_IQ2_XXS) {
            entry = fmt_grid_iq2xxs[blk[2 + 8 * g + l]];
            signs = fmt_even_signs(kq_word(blk + 6 + 8 * g) >> (7 * l));
        } else if (TYPE == T_IQ2_XS) {
            unsigned w = (unsigned)*(const unsigned short*)(blk + 2 + 2 * (4 * g + l));
            entry = fmt_grid_iq2xs[w & 511];
            signs = fmt_even_signs(w >> 9);
        } else {
            entry = fmt_grid_iq2s[blk[2 + 4 * g + l] | ((blk[66 + g] >> (2 * l)) & 3) << 8];
            signs = blk[34 + 4 * g + l];
        }
        magnitudes = (unsigned)(entry >> (32 * half));
        signs >>= 4 * half;
    } else if (TYPE == T_IQ3_XXS) {
        magnitudes = fmt_grid_iq3xxs[blk[2 + 8 * g + p]];
        signs = fmt_even_signs(kq_word(blk + 66 + 4 * g) >> (7 * l)) >> (4 * half);
    } else {  // IQ3_S
        magnitudes = fmt_grid_iq3s[blk[2 + 8 * g + p] | ((blk[66 + g] >> p) & 1) << 8];
        signs = blk[74 + 4 * g + l] >> (4 * half);
    }
    return (int)with_signs(magnitudes, signs & 15);
}
// The stored values of columns 32g + 4p … +3 of a super-block as a word of bytes (Q6_K 0…63, Q3_K 0…7 with its
// high bit, Q2_K 0…3, Q4_K/Q5_K 0…15/31, IQ4_XS its signed levels, the grid I-quants their integers).
template <int TYPE>
DEV int kq_values(const u8* blk, int g, int p) {
    const unsigned nib = 0x0F0F0F0Fu, two = 0x03030303u, one = 0x01010101u;
    if (FMT_GRID(TYPE)) return grid_values<TYPE, false>(blk, g, p);
    if (TYPE == T_Q4_K || TYPE == T_Q5_K) {
        unsigned v = (kq_word(blk + (TYPE == T_Q5_K ? 48 : 16) + 32 * (g >> 1) + 4 * p) >> (4 * (g & 1))) & nib;
        if (TYPE == T_Q5_K) v |= ((kq_word(blk + 16 + 4 * p) >> g) & one) << 4;
        return (int)v;
    }
    if (TYPE == T_Q6_K) {
        int half = g >> 2, quarter = g & 3;
        unsigned lo = (kq_word(blk + 64 * half + 32 * (quarter & 1) + 4 * p) >> (quarter >= 2 ? 4 : 0)) & nib;
        return (int)(lo | ((kq_word(blk + 128 + 32 * half + 4 * p) >> (2 * quarter)) & two) << 4);
    }
    if (TYPE == T_Q3_K)
        return (int)(((kq_word(blk + 32 + 32 * (g >> 2) + 4 * p) >> (2 * (g & 3))) & two) | ((kq_word(blk + 4 * p) >> g) & one) << 2);
    if (TYPE == T_Q2_K) return (int)((kq_word(blk + 16 + 32 * (g >> 2) + 4 * p) >> (2 * (g & 3))) & two);
    // IQ4_XS: the nibbles of columns 4p … are bytes 4(p % 4) … of group g, low nibbles for p < 4
    unsigned n = (kq_word(blk + 8 + 16 * g + 4 * (p & 3)) >> (4 * (p >> 2))) & nib, v = 0;
    _Pragma("unroll")
    for (int k = 0; k < 4; k++) v |= ((unsigned)fmt_iq4_value((int)((n >> (8 * k)) & 0xF)) & 0xFFu) << (8 * k);
    return (int)v;
}
// The scale of 16-column group j (formats with one per 32 columns: that one) and its minimum (Q2_K per 16,
// Q4_K/Q5_K per 32; 0 for the others).
template <int TYPE>
DEV int kq_scale16(const u8* blk, int j) {
    int sc, m;
    if (FMT_GRID(TYPE)) return fmt_grid_scale(TYPE, blk, j);
    if (TYPE == T_Q4_K || TYPE == T_Q5_K) { fmt_scale_min_k4(j >> 1, blk + 4, &sc, &m); return sc; }
    if (TYPE == T_Q6_K) return ((const signed char*)blk)[192 + j];
    if (TYPE == T_Q3_K) return q3_k_scale(blk + 96, j);
    if (TYPE == T_Q2_K) return blk[j] & 0xF;
    unsigned sh = (unsigned)blk[2] | (unsigned)blk[3] << 8;  // IQ4_XS
    int g = j >> 1;
    return (((blk[4 + g / 2] >> (4 * (g % 2))) & 0xF) | ((sh >> (2 * g)) & 3) << 4) - 32;
}
template <int TYPE>
DEV int kq_minimum16(const u8* blk, int j) {
    int sc, m;
    if (TYPE == T_Q4_K || TYPE == T_Q5_K) { fmt_scale_min_k4(j >> 1, blk + 4, &sc, &m); return m; }
    return TYPE == T_Q2_K ? blk[j] >> 4 : 0;
}
// Lane p's part of one super-block: values w[g] (columns 32g + 4p …; IQ1 in the row kernels' split), their
// scales sl[g], and the scales of its offset or minimum terms o0, o1 (Q6_K/Q3_K/IQ1_M: scales 2p, 2p + 1;
// Q2_K: minima 2p, 2p + 1; Q4_K/Q5_K: minimum p; IQ1_S: chunk p's s·(shift − 8), twice).
template <int TYPE>
DEV void kq_lane(const u8* blk, int p, int* w, int* sl, int& o0, int& o1) {
    _Pragma("unroll")
    for (int g = 0; g < 8; g++) {
        w[g] = FMT_GRID(TYPE) ? grid_values<TYPE, true>(blk, g, p) : kq_values<TYPE>(blk, g, p);
        sl[g] = kq_scale16<TYPE>(blk, 2 * g + (p >> 2));
    }
    if (TYPE == T_IQ1_S) {
        o0 = o1 = kq_scale16<TYPE>(blk, 2 * p) * (*(const unsigned short*)(blk + 34 + 2 * p) & 0x8000u ? -9 : -7);
        return;
    }
    bool offsets = TYPE == T_Q6_K || TYPE == T_Q3_K || TYPE == T_IQ1_M;
    o0 = offsets ? kq_scale16<TYPE>(blk, 2 * p) : kq_minimum16<TYPE>(blk, 2 * p);
    o1 = offsets ? kq_scale16<TYPE>(blk, 2 * p + 1) : TYPE == T_Q2_K ? kq_minimum16<TYPE>(blk, 2 * p + 1) : 0;
}
// d (or dmin) of super-block b of a row: each lane reads them for every super-block it chains.
template <int TYPE>
DEV float kq_scale(const u8* row, int b, bool minimum) {
    const u8* blk = row + (unsigned long long)b * fmt_block_bytes(TYPE);
    if (FMT_GRID(TYPE)) return fmt_grid_d(TYPE, blk);
    if (TYPE == T_Q6_K) return fmt_half(blk + 208);
    if (TYPE == T_Q3_K) return fmt_half(blk + 108);
    if (TYPE == T_Q2_K) return fmt_half(blk + (minimum ? 82 : 80));
    return fmt_half(blk + (minimum ? 2 : 0));
}
// A warp per row; its 8-lane group G takes super-blocks G, G + 4, …, and after each step of 4 the chains take
// the groups' integers in super-block order (lane p of every group holds chain p). `batch`: the tokens of
// the whole batch (the CPU's order depends on it, not on this launch's NT).
// INTERLEAVED: whether the CPU interleaves the matrix (Q4_K: one chain at every batch size); else Q4_K sums
// as Q5_K for up to 3 tokens.
template <int TYPE, int NT, bool INTERLEAVED = true>
DEV void matvec_kquant(const u8* W, unsigned long long rowBytes, const signed char* xq, const float* xd, float* y,
                       int rows, int cols, int batch) {
    enum { MINIMA = TYPE == T_Q2_K || TYPE == T_Q4_K || TYPE == T_Q5_K };
    int lane = tid() & 31, p = lane & 7, group = lane >> 3;
    int r = bidx() * 4 + (tid() >> 5);
    if (r >= rows) return;
    const u8* row = W + (unsigned long long)r * rowBytes;
    int supers = cols / 256, blocks = cols / 32;
    bool one_chain = (TYPE == T_Q4_K && INTERLEAVED) || batch >= 4;
    float chain[NT], minima[NT];
    _Pragma("unroll")
    for (int t = 0; t < NT; t++) chain[t] = minima[t] = 0;
    for (int b0 = 0; b0 < supers; b0 += 4) {
        int b = b0 + group, step = supers - b0 < 4 ? supers - b0 : 4;
        bool live = b < supers;
        int w[8], sl[8], o0, o1;
        kq_lane<TYPE>(row + (unsigned long long)(live ? b : b0) * fmt_block_bytes(TYPE), p, w, sl, o0, o1);
        _Pragma("unroll")
        for (int t = 0; t < NT; t++) {
            const signed char* a = xq + (unsigned long long)t * cols + 256 * (live ? b : b0);
            int L = 0;
            _Pragma("unroll")
            for (int g = 0; g < 8; g++) L += sl[g] * dot4(w[g], *(const int*)(a + 32 * g + 4 * p), 0);
            uint4 a0 = *(const uint4*)(a + 32 * p), a1 = *(const uint4*)(a + 32 * p + 16);
            int s0 = byte_sum16(a0), s1 = byte_sum16(a1);
            int n = 0;
            if (TYPE == T_Q6_K) L -= 32 * (o0 * s0 + o1 * s1);
            if (TYPE == T_Q3_K) L -= 4 * (o0 * s0 + o1 * s1);
            if (TYPE == T_IQ1_S) L += o0 * s0 + o1 * s1;
            if (TYPE == T_IQ1_M) L -= 9 * (o0 * s0 + o1 * s1);
            if (TYPE == T_Q2_K) n = o0 * s0 + o1 * s1;
            if (TYPE == T_Q4_K || TYPE == T_Q5_K) n = o0 * (s0 + s1);
            if (one_chain) {  // each group's sums over its super-block
                L += shfl_xor(L, 4); L += shfl_xor(L, 2); L += shfl_xor(L, 1);
                if (MINIMA) { n += shfl_xor(n, 4); n += shfl_xor(n, 2); n += shfl_xor(n, 1); }
            } else if (TYPE == T_Q5_K || TYPE == T_Q4_K) {
                n += shfl_xor(n, 1);  // lane 2k: m_2k·Σa_2k + m_2k+1·Σa_2k+1
            }
            // super-blocks b0 … b0 + 3 in order: group k's values reach group 0's lanes by xor 8k
            int Lk[4] = {L, shfl_xor(L, 8), shfl_xor(L, 16), shfl_xor(L, 24)};
            int nk[4] = {n, MINIMA ? shfl_xor(n, 8) : 0, MINIMA ? shfl_xor(n, 16) : 0, MINIMA ? shfl_xor(n, 24) : 0};
            for (int k = 0; k < step; k++) {
                float dx = xd[(unsigned long long)t * blocks + 8 * (b0 + k)];
                float d = kq_scale<TYPE>(row, b0 + k, false), dm = MINIMA ? kq_scale<TYPE>(row, b0 + k, true) : 0;
                if (one_chain) {
                    chain[t] = __builtin_fmaf(d * dx, (float)Lk[k], chain[t]);
                    if (MINIMA) chain[t] = __builtin_fmaf(-(dm * dx), (float)nk[k], chain[t]);
                } else {
                    chain[t] = __builtin_fmaf(dx * d, (float)Lk[k], chain[t]);
                    if (MINIMA) minima[t] = __builtin_fmaf(dx * dm, (float)nk[k], minima[t]);
                }
            }
        }
    }
    _Pragma("unroll")
    for (int t = 0; t < NT; t++) {
        float s = chain[t];
        if (!one_chain) {
            s = q8_0_fold(s);
            if (TYPE == T_Q2_K) s -= q8_0_fold(minima[t]);
            if (TYPE == T_Q5_K || TYPE == T_Q4_K) {  // chains k in lanes 2k: (c0 + c2) + (c1 + c3)
                float m = minima[t] + shfl_xor(minima[t], 4);
                s -= m + shfl_xor(m, 2);
            }
        }
        if (lane == 0) y[(unsigned long long)t * rows + r] = s;
    }
}

// F16 weights against F16-rounded activations in the CPU engine's (and llama.cpp's) orders — every product
// is exact in f32, so the order alone decides the sums. One token (ggml's vec_dot): column i of the first
// whole 64-column blocks in chain i % 64, chains l, l+32, l+16, l+48 folded as (l + l+32) + (l+16 + l+48)
// into 16, then the tree k + k+8, 4 apart, 2 apart, 1 apart — which is warp_sum of lane l's two chains l and
// l+32 — and the columns past the whole blocks added one by one in double.
DEV float f16_weight(const u8* row, int i) { return from_half(*(const half_t*)(row + 2 * i)); }
DEV void matvec_f16_single(const u8* W, unsigned long long rowBytes, const float* x, float* y, int rows, int cols) {
    int lane = tid() & 31;
    int r = bidx() * 4 + (tid() >> 5);
    if (r >= rows) return;
    const u8* row = W + (unsigned long long)r * rowBytes;
    int whole = cols & ~63;
    float low = 0, high = 0;  // chains lane and lane + 32
    int b = 0;
    for (; b + 256 <= whole; b += 256) {  // four blocks' loads in flight, then their products in order
        float w[8], v[8];
        _Pragma("unroll")
        for (int u = 0; u < 8; u++) {
            w[u] = f16_weight(row, b + 32 * u + lane);
            v[u] = x[b + 32 * u + lane];
        }
        _Pragma("unroll")
        for (int u = 0; u < 8; u += 2) {
            low = __builtin_fmaf(w[u], v[u], low);
            high = __builtin_fmaf(w[u + 1], v[u + 1], high);
        }
    }
    for (; b < whole; b += 64) {
        low = __builtin_fmaf(f16_weight(row, b + lane), x[b + lane], low);
        high = __builtin_fmaf(f16_weight(row, b + lane + 32), x[b + lane + 32], high);
    }
    float total = warp_sum(low + high);
    if (lane != 0) return;
    if (whole == cols) {
        y[r] = total;
        return;
    }
    double wide = total;
    for (int i = whole; i < cols; i++) wide += (double)(f16_weight(row, i) * x[i]);
    y[r] = (float)wide;
}
// Batches (tinyBLAS): column i in chain i % 16, then the same tree over the 16 chains. Half-warp h takes
// tokens h, h+2, …; lane l of it chain l.
template <int NT>
DEV void matvec_f16_batch(const u8* row, const float* x, float* y, int rows, int cols, int r, int lane) {
    enum { PER_HALF = (NT + 1) / 2 };
    int half = lane >> 4, l = lane & 15;
    float chain[PER_HALF];
    _Pragma("unroll")
    for (int k = 0; k < PER_HALF; k++) chain[k] = 0;
    for (int i = l; i < cols; i += 16) {
        float w = f16_weight(row, i);
        _Pragma("unroll")
        for (int k = 0; k < PER_HALF; k++) {
            int t = half + 2 * k < NT ? half + 2 * k : 0;
            chain[k] = __builtin_fmaf(w, x[(unsigned long long)t * cols + i], chain[k]);
        }
    }
    _Pragma("unroll")
    for (int k = 0; k < PER_HALF; k++) {
        float s = chain[k];
        s += shfl_xor(s, 8);
        s += shfl_xor(s, 4);
        s += shfl_xor(s, 2);
        s += shfl_xor(s, 1);
        int t = half + 2 * k;
        if (l == 0 && t < NT) y[(unsigned long long)t * rows + r] = s;
    }
}

// `batch`: the tokens of the whole batch, of which this launch takes NT.
template <int TYPE, int NT>
DEV void matvec(const u8* W, unsigned long long rowBytes, const float* x, const float* corr, float* y, int rows, int cols,
                int batch = NT) {
    if (KQUANT_CPU_ORDER(TYPE)) {  // x: the int8 activations, corr: their scales
        matvec_kquant<TYPE, NT>(W, rowBytes, (const signed char*)x, corr, y, rows, cols, batch);
        return;
    }
    // x: the int8 activations, corr: their block scales (Q5_0: the CPU's panel order from 4 tokens on)
    if (TYPE == T_Q4_0 || TYPE == T_Q4_1 || TYPE == T_IQ4_NL || (TYPE == T_Q5_0 && batch >= 4)) {
        matvec_nibbles<TYPE, NT>(W, rowBytes, (const signed char*)x, corr, y, rows, cols);
        return;
    }
    int lane = tid() & 31;
    int r = bidx() * 4 + (tid() >> 5);
    if (r >= rows) return;
    const u8* row = W + (unsigned long long)r * rowBytes;
    if (TYPE == T_Q8_0 || TYPE == T_Q5_0 || TYPE == T_Q5_1) matvec_q8_0<TYPE, NT>(row, (const signed char*)x, corr, y, rows, cols, r, lane);
    else if (TYPE == T_F16) matvec_f16_batch<NT>(row, x, y, rows, cols, r, lane);  // the CPU's batch order, whatever NT
    else matvec_float<TYPE, NT>(row, x, y, rows, cols, r, lane);
}

// Which of the tile's 64 rows and 64 tokens chain (k, l) of this thread is. CUDA cores: rows ty + 16k, tokens
// tx + 8l. Tensor cores (mma_stage): the warp takes tokens 16·warp … +15, all 64 rows; chain (k, l) is C
// element l % 2 of 8-row tile k · 2 + l / 4 and 8-token tile (l / 2) % 2 — row 8·tile + lane/4, token
// 8·tile + 2(lane%4) + l % 2.
template <bool TENSOR>
DEV int tile_row(int k, int l) { return TENSOR ? 8 * (2 * k + l / 4) + ((tid() & 31) >> 2) : (tid() >> 3) + 16 * k; }
template <bool TENSOR>
DEV int tile_token(int k, int l) {
    return TENSOR ? 16 * (tid() >> 5) + 8 * ((l / 2) % 2) + 2 * (tid() & 3) + l % 2 : (tid() & 7) + 8 * l;
}
// One staged block on the tensor cores: each 8 × 8 piece of the warp's 64 rows × 16 tokens is two mma.sync
// (columns 0–15, 16–31 of the block: words q and 4 + q of a row or token), whose int32 results are the
// block's exact integer sums; then each chain takes them in block order as matmul_nibbles' CUDA-core path.
template <int TYPE>
DEV void mma_stage(const int (*sw)[12], const int (*sa)[12], const float* sdw, const float* smw, const float* sdx,
                   const float* ssx, float (*acc)[8], float (*off)[8]) {
    int lane = tid() & 31, g = lane >> 2, q = lane & 3, t16 = 16 * (tid() >> 5);
    int bt[2][2];
    _Pragma("unroll")
    for (int tt = 0; tt < 2; tt++) {
        bt[tt][0] = sa[t16 + 8 * tt + g][q];
        bt[tt][1] = sa[t16 + 8 * tt + g][4 + q];
    }
    _Pragma("unroll")
    for (int rt = 0; rt < 8; rt++) {
        int row = 8 * rt + g;
        int a0 = sw[row][q], a1 = sw[row][4 + q];
        float dw = sdw[row], mw = TYPE == T_Q4_1 ? smw[row] : 0.0f;
        int c[2][2];
        mma_block(c, a0, a1, bt);
        _Pragma("unroll")
        for (int tt = 0; tt < 2; tt++) {
            _Pragma("unroll")
            for (int i = 0; i < 2; i++) {
                int k = rt / 2, l = 4 * (rt % 2) + 2 * tt + i, tok = t16 + 8 * tt + 2 * q + i;
                acc[k][l] = __builtin_fmaf(dw * sdx[tok], (float)c[tt][i], acc[k][l]);
                if (TYPE == T_Q4_1) off[k][l] = __builtin_fmaf(mw, ssx[tok], off[k][l]);
            }
        }
    }
}
// Prompt batches of Q4_0, Q4_1, IQ4_NL and Q5_0 in the CPU engine's order, as matvec_nibbles: a block of 128 threads takes
// 64 rows × 64 tokens, each thread 32 of their chains (tile_row, tile_token). Four blocks
// (128 columns) of weights and activations at a time are staged in shared memory as words of signed bytes
// (the nibbles unpacked once per tile, not once per token), 48 bytes apart so that a warp's loads of 4 or 8
// rows or tokens fall in different banks; each block's integer sums by the int8 tensor cores (mma_stage)
// where the module has them, else by dp4a, then the chains in block order.
#ifdef INT8_MMA
#define HAVE_INT8_MMA true
#else
#define HAVE_INT8_MMA false
#endif
// (Not inlined into the kernels: see matmul_superblocks.)
template <int TYPE, bool TENSOR>
__attribute__((noinline)) DEV void matmul_nibbles(const u8* W, unsigned long long rowBytes, const signed char* xq, const float* xs, float* y,
                        int rows, int cols, int ntok) {
    enum { KB = 4, STRIDE = 12, BLOCK = TYPE == T_Q4_1 ? 20 : TYPE == T_Q5_0 ? 22 : 18 };
    SHARED __attribute__((aligned(16))) int sw[KB][64][STRIDE], sa[KB][64][STRIDE];
    SHARED float sdw[KB][64], smw[KB][64], sdx[KB][64], ssx[KB][64];
    int t = tid();
    int r0 = bidx() * 64, t0 = bidy() * 64, blocks = cols / 32;
    float acc[4][8], off[4][8];
    _Pragma("unroll")
    for (int k = 0; k < 4; k++) {
        _Pragma("unroll")
        for (int l = 0; l < 8; l++) acc[k][l] = off[k][l] = 0;
    }
    for (int c0 = 0; c0 < blocks; c0 += KB) {
        int nb = blocks - c0 < KB ? blocks - c0 : KB;
        sync_block();  // the previous stage is read
        // Thread t stages block t % 4 of row and token t / 4, then of row and token 32 + t / 4 (rows and
        // tokens past the last repeat the last one; their results are not stored).
        for (int p = t; p < 64 * KB; p += 128) {
            int i = p / KB, b = p % KB;
            if (b >= nb) continue;
            int r = r0 + i < rows ? r0 + i : rows - 1, tok = t0 + i < ntok ? t0 + i : ntok - 1;
            const u8* block = W + (unsigned long long)r * rowBytes + (unsigned long long)(c0 + b) * BLOCK;
            int lo[4], hi[4];
            nibble_words<TYPE>(block, lo, hi);
            _Pragma("unroll")
            for (int k = 0; k < 4; k++) { sw[b][i][k] = lo[k]; sw[b][i][4 + k] = hi[k]; }
            sdw[b][i] = fmt_half(block);
            if (TYPE == T_Q4_1) smw[b][i] = fmt_half(block + 2);
            const uint4* a = (const uint4*)(xq + (unsigned long long)tok * cols + 32 * (c0 + b));
            uint4 a0 = a[0], a1 = a[1];
            *(uint4*)&sa[b][i][0] = a0;
            *(uint4*)&sa[b][i][4] = a1;
            float dx = xs[(unsigned long long)tok * blocks + c0 + b];
            if (TYPE == T_Q4_1) {  // as matvec_nibbles: d_x and s_x rounded from the unrounded amax/127
                int q = byte_sum16(a0) + byte_sum16(a1);
                ssx[b][i] = from_half(to_half((float)q * dx));
                dx = from_half(to_half(dx));
            }
            sdx[b][i] = dx;
        }
        sync_block();
        if constexpr (TENSOR) {
            for (int b = 0; b < nb; b++) mma_stage<TYPE>(sw[b], sa[b], sdw[b], smw[b], sdx[b], ssx[b], acc, off);
            continue;
        }
        int ty = t >> 3, tx = t & 7;
        for (int b = 0; b < nb; b++) {
            uint4 w[4][2];
            float dw[4], mw[4];
            _Pragma("unroll")
            for (int k = 0; k < 4; k++) {
                w[k][0] = *(const uint4*)&sw[b][ty + 16 * k][0];
                w[k][1] = *(const uint4*)&sw[b][ty + 16 * k][4];
                dw[k] = sdw[b][ty + 16 * k];
                mw[k] = TYPE == T_Q4_1 ? smw[b][ty + 16 * k] : 0.0f;
            }
            _Pragma("unroll")
            for (int l = 0; l < 8; l++) {
                int j = tx + 8 * l;
                uint4 a0 = *(const uint4*)&sa[b][j][0], a1 = *(const uint4*)&sa[b][j][4];
                float dx = sdx[b][j], sx = TYPE == T_Q4_1 ? ssx[b][j] : 0.0f;
                _Pragma("unroll")
                for (int k = 0; k < 4; k++) {
                    int sum = dot16(w[k][1], a1, dot16(w[k][0], a0, 0));
                    acc[k][l] = __builtin_fmaf(dw[k] * dx, (float)sum, acc[k][l]);
                    if (TYPE == T_Q4_1) off[k][l] = __builtin_fmaf(mw[k], sx, off[k][l]);
                }
            }
        }
    }
    _Pragma("unroll")
    for (int k = 0; k < 4; k++) {
        _Pragma("unroll")
        for (int l = 0; l < 8; l++) {
            int r = r0 + tile_row<TENSOR>(k, l), tok = t0 + tile_token<TENSOR>(k, l);
            if (r < rows && tok < ntok) y[(unsigned long long)tok * rows + r] = TYPE == T_Q4_1 ? acc[k][l] + off[k][l] : acc[k][l];
        }
    }
}

// Prompt batches of the super-block formats in the order of the CPU engine's prompt panels (matvec_kquant's
// one chain per row and token): as matmul_nibbles, a block of 128 threads takes 64 rows × 64 tokens, 32 chains
// per thread (tile_row, tile_token). Half a super-block (4 sub-blocks of 32 columns) at a time is staged in
// shared memory, the weights as signed bytes — Q6_K's and Q3_K's with their offsets taken off (q − 32,
// v − 4: Σ s·(q − 32)·a is the integer the CPU forms) — with the scale of each 16 columns; each 16 columns'
// integer sum comes from the int8 tensor cores (the sm_75 module) or dp4a and is scaled into the chain's S.
// The minima's Σ m·Σa (per 16 or 32 columns) is formed at the end of each super-block from the rows' minima
// and the tokens' sums of 16 columns, kept in shared memory for the whole super-block.
// Not inlined into the kernels (as matmul_nibbles): inlined, ptxas for sm_100 and sm_120 spilled up to 304 bytes
// in the formats without minima at the 168 registers of 3 blocks per SM; compiled apart, every architecture
// from sm_75 to sm_120 fits without spills (Tools/ptxas-report.sh all), and ptxas still inlines the call.
template <int TYPE, bool TENSOR>
__attribute__((noinline)) DEV void matmul_superblocks(const u8* W, unsigned long long rowBytes, const signed char* xq, const float* xs, float* y,
                            int rows, int cols, int ntok) {
    enum { KB = 4, STRIDE = 12, MINIMA = TYPE == T_Q2_K || TYPE == T_Q4_K || TYPE == T_Q5_K };
    SHARED __attribute__((aligned(16))) int kw[KB][64][STRIDE], ka[KB][64][STRIDE];
    SHARED int kscale[KB][64][2], kmin[16][64], ksum[16][64];
    SHARED float kd[64], kdm[64], kdx[64];
    int t = tid();
    int r0 = bidx() * 64, t0 = bidy() * 64, blocks = cols / 32, bytes = fmt_block_bytes(TYPE);
    float acc[4][8];
    int S[4][8];
    _Pragma("unroll")
    for (int k = 0; k < 4; k++) {
        _Pragma("unroll")
        for (int l = 0; l < 8; l++) { acc[k][l] = 0; S[k][l] = 0; }
    }
    for (int c0 = 0; c0 < blocks; c0 += KB) {  // rows are whole super-blocks: every stage has 4 sub-blocks
        int super = c0 / 8;
        sync_block();  // the previous stage is read
        // Thread t stages sub-block t % 4 of row and token t / 4, then of row and token 32 + t / 4 (rows and
        // tokens past the last repeat the last one; their results are not stored).
        for (int p = t; p < 64 * KB; p += 128) {
            int i = p / KB, b = p % KB, j = c0 % 8 + b;  // j: the sub-block within the super-block
            int r = r0 + i < rows ? r0 + i : rows - 1, tok = t0 + i < ntok ? t0 + i : ntok - 1;
            const u8* blk = W + (unsigned long long)r * rowBytes + (unsigned long long)super * bytes;
            _Pragma("unroll")
            for (int k = 0; k < 8; k++) {
                unsigned v = (unsigned)kq_values<TYPE>(blk, j, k);
                if (TYPE == T_Q6_K) v = (v + 0x60606060u) ^ 0x80808080u;  // q − 32 in each byte, no carries
                if (TYPE == T_Q3_K) v = (v + 0x7C7C7C7Cu) ^ 0x80808080u;  // v − 4
                kw[b][i][k] = (int)v;
            }
            kscale[b][i][0] = kq_scale16<TYPE>(blk, 2 * j);
            kscale[b][i][1] = kq_scale16<TYPE>(blk, 2 * j + 1);
            const uint4* a = (const uint4*)(xq + (unsigned long long)tok * cols + 32 * (c0 + b));
            uint4 a0 = a[0], a1 = a[1];
            *(uint4*)&ka[b][i][0] = a0;
            *(uint4*)&ka[b][i][4] = a1;
            if (MINIMA) {
                kmin[2 * j][i] = kq_minimum16<TYPE>(blk, 2 * j);
                kmin[2 * j + 1][i] = kq_minimum16<TYPE>(blk, 2 * j + 1);
                ksum[2 * j][i] = byte_sum16(a0);
                ksum[2 * j + 1][i] = byte_sum16(a1);
            }
            if (j == 0) {
                kd[i] = kq_scale<TYPE>(W + (unsigned long long)r * rowBytes, super, false);
                if (MINIMA) kdm[i] = kq_scale<TYPE>(W + (unsigned long long)r * rowBytes, super, true);
                kdx[i] = xs[(unsigned long long)tok * blocks + 8 * super];
            }
        }
        sync_block();
        if constexpr (TENSOR) {
            int lane = t & 31, g = lane >> 2, q = lane & 3, t16 = 16 * (t >> 5);
            for (int b = 0; b < KB; b++) {
                int bt[2][2];
                _Pragma("unroll")
                for (int tt = 0; tt < 2; tt++) {
                    bt[tt][0] = ka[b][t16 + 8 * tt + g][q];
                    bt[tt][1] = ka[b][t16 + 8 * tt + g][4 + q];
                }
                _Pragma("unroll")
                for (int rt = 0; rt < 8; rt++) {
                    int row = 8 * rt + g, c[2][2][2];
                    int s0 = kscale[b][row][0], s1 = kscale[b][row][1];
                    mma_halves(c, kw[b][row][q], kw[b][row][4 + q], bt);
                    _Pragma("unroll")
                    for (int tt = 0; tt < 2; tt++) {
                        _Pragma("unroll")
                        for (int i = 0; i < 2; i++) S[rt / 2][4 * (rt % 2) + 2 * tt + i] += s0 * c[tt][0][i] + s1 * c[tt][1][i];
                    }
                }
            }
        } else {
            int ty = t >> 3, tx = t & 7;
            for (int b = 0; b < KB; b++) {
                uint4 w[4][2];
                int s0[4], s1[4];
                _Pragma("unroll")
                for (int k = 0; k < 4; k++) {
                    w[k][0] = *(const uint4*)&kw[b][ty + 16 * k][0];
                    w[k][1] = *(const uint4*)&kw[b][ty + 16 * k][4];
                    s0[k] = kscale[b][ty + 16 * k][0];
                    s1[k] = kscale[b][ty + 16 * k][1];
                }
                _Pragma("unroll")
                for (int l = 0; l < 8; l++) {
                    int j = tx + 8 * l;
                    uint4 a0 = *(const uint4*)&ka[b][j][0], a1 = *(const uint4*)&ka[b][j][4];
                    _Pragma("unroll")
                    for (int k = 0; k < 4; k++) {
                        int lo = dot16(w[k][0], a0, 0), hi = dot16(w[k][1], a1, 0);
                        S[k][l] += s0[k] * lo + s1[k] * hi;
                    }
                }
            }
        }
        if (c0 % 8 == KB) {  // the super-block's last stage: its chain steps
            _Pragma("unroll")
            for (int k = 0; k < 4; k++) {
                _Pragma("unroll")
                for (int l = 0; l < 8; l++) {
                    int row = tile_row<TENSOR>(k, l), tok = tile_token<TENSOR>(k, l);
                    float dx = kdx[tok];
                    acc[k][l] = __builtin_fmaf(kd[row] * dx, (float)S[k][l], acc[k][l]);
                    S[k][l] = 0;
                    if (MINIMA) {
                        int M = 0;
                        for (int jj = 0; jj < 16; jj++) M += kmin[jj][row] * ksum[jj][tok];
                        acc[k][l] = __builtin_fmaf(-(kdm[row] * dx), (float)M, acc[k][l]);
                    }
                }
            }
        }
    }
    _Pragma("unroll")
    for (int k = 0; k < 4; k++) {
        _Pragma("unroll")
        for (int l = 0; l < 8; l++) {
            int r = r0 + tile_row<TENSOR>(k, l), tok = t0 + tile_token<TENSOR>(k, l);
            if (r < rows && tok < ntok) y[(unsigned long long)tok * rows + r] = acc[k][l];
        }
    }
}

// Q8_0, Q5_1, F16, F32 and BF16 batches of any size go through mb_* (the CPU's orders, which keep several
// chains per row and token): their tiled kernels are empty and fail if launched. Q4_0, Q4_1, IQ4_NL and Q5_0
// have a tiled kernel in the CPU's order, matmul_nibbles, and the super-block formats matmul_superblocks: mm_
// sums each block on the int8 tensor cores where the module has them (INT8_MMA), ms_ on the CUDA cores.
#define NIBBLES(TYPE) ((TYPE) == T_Q4_0 || (TYPE) == T_Q4_1 || (TYPE) == T_IQ4_NL || (TYPE) == T_Q5_0)
#define CPU_ORDER_ONLY(TYPE) ((TYPE) == T_Q8_0 || (TYPE) == T_F16 || (TYPE) == T_Q5_1 || (TYPE) == T_F32 || (TYPE) == T_BF16)
#define INTEGER_ACTIVATIONS(TYPE) ((TYPE) == T_Q8_0 || (TYPE) == T_Q5_1 || NIBBLES(TYPE) || KQUANT_CPU_ORDER(TYPE))
#define NOT_TILED "Q8_0, Q5_1, F16, F32 and BF16 take no tiled kernel: their batches go through mb_*"
#define MATRIX_KERNELS(name, TYPE)                                                                          \
    KERNEL LAUNCH_BOUNDS(128, KQUANT_CPU_ORDER(TYPE) ? 5 : 8) void mv_##name(const u8* W, unsigned long long rowBytes, const float* x,  \
                                                const float* corr, float* y, int rows, int cols, int ntok) { \
        (void)ntok;                                                                                       \
        if (TYPE == T_Q8_0 || TYPE == T_Q5_0 || TYPE == T_Q5_1) /* int8 activations and scales; 16 rows per block */ \
            matvec_q8_0_rows<TYPE>(W, rowBytes, (const signed char*)x, corr, y, rows, cols);              \
        else if (TYPE == T_F16) matvec_f16_single(W, rowBytes, x, y, rows, cols);                         \
        else matvec<TYPE, 1>(W, rowBytes, x, corr, y, rows, cols);                                        \
    }                                                                                                     \
    KERNEL LAUNCH_BOUNDS(128, 4) void mb_##name(const u8* W, unsigned long long rowBytes, const float* x,  \
                                                const float* corr, float* y, int rows, int cols, int ntok) { \
        /* tokens 8·bidy() … (formats multiplied in the CPU's order take every batch this way) */          \
        int t0 = 8 * bidy(), batch = ntok;                                                                \
        if (INTEGER_ACTIVATIONS(TYPE)) x = (const float*)((const signed char*)x + (unsigned long long)t0 * cols); \
        else x += (unsigned long long)t0 * cols;                                                          \
        y += (unsigned long long)t0 * rows;                                                               \
        if (corr) corr += (unsigned long long)t0 * (cols / 32);                                           \
        ntok -= t0;                                                                                       \
        switch (ntok) {                                                                                   \
        case 1: matvec<TYPE, 1>(W, rowBytes, x, corr, y, rows, cols, batch); break;                       \
        case 2: matvec<TYPE, 2>(W, rowBytes, x, corr, y, rows, cols, batch); break;                       \
        case 3: matvec<TYPE, 3>(W, rowBytes, x, corr, y, rows, cols, batch); break;                       \
        case 4: matvec<TYPE, 4>(W, rowBytes, x, corr, y, rows, cols, batch); break;                       \
        case 5: matvec<TYPE, 5>(W, rowBytes, x, corr, y, rows, cols, batch); break;                       \
        case 6: matvec<TYPE, 6>(W, rowBytes, x, corr, y, rows, cols, batch); break;                       \
        case 7: matvec<TYPE, 7>(W, rowBytes, x, corr, y, rows, cols, batch); break;                       \
        default: matvec<TYPE, 8>(W, rowBytes, x, corr, y, rows, cols, batch); break;                      \
        }                                                                                                 \
    }                                                                                                     \
    KERNEL LAUNCH_BOUNDS(128, 3) void mm_##name(const u8* W, unsigned long long rowBytes, const float* x,  \
                                                const float* corr, float* y, int rows, int cols, int ntok) { \
        if constexpr (CPU_ORDER_ONLY(TYPE)) fail_launch(NOT_TILED);                                       \
        else if constexpr (NIBBLES(TYPE)) matmul_nibbles<TYPE, HAVE_INT8_MMA>(W, rowBytes, (const signed char*)x, corr, y, rows, cols, ntok); \
        else matmul_superblocks<TYPE, HAVE_INT8_MMA>(W, rowBytes, (const signed char*)x, corr, y, rows, cols, ntok); \
    }                                                                                                     \
    KERNEL LAUNCH_BOUNDS(128, 4) void ms_##name(const u8* W, unsigned long long rowBytes, const float* x,  \
                                                const float* corr, float* y, int rows, int cols, int ntok) { \
        if constexpr (CPU_ORDER_ONLY(TYPE)) fail_launch(NOT_TILED);                                       \
        else if constexpr (NIBBLES(TYPE)) matmul_nibbles<TYPE, false>(W, rowBytes, (const signed char*)x, corr, y, rows, cols, ntok); \
        else matmul_superblocks<TYPE, false>(W, rowBytes, (const signed char*)x, corr, y, rows, cols, ntok); \
    }

// Every weight format the worker offloads: kernel name suffix, ggml type.
#define WEIGHT_FORMATS(X)                                                                                    \
    X(f32, T_F32) X(f16, T_F16) X(bf16, T_BF16) X(q4_0, T_Q4_0) X(q4_1, T_Q4_1) X(q5_0, T_Q5_0)             \
    X(q5_1, T_Q5_1) X(q8_0, T_Q8_0) X(q2_k, T_Q2_K) X(q3_k, T_Q3_K) X(q4_k, T_Q4_K) X(q5_k, T_Q5_K)         \
    X(q6_k, T_Q6_K) X(iq4_nl, T_IQ4_NL) X(iq4_xs, T_IQ4_XS) X(iq2_xxs, T_IQ2_XXS) X(iq2_xs, T_IQ2_XS)        \
    X(iq2_s, T_IQ2_S) X(iq3_xxs, T_IQ3_XXS) X(iq3_s, T_IQ3_S) X(iq1_s, T_IQ1_S) X(iq1_m, T_IQ1_M)

WEIGHT_FORMATS(MATRIX_KERNELS)

// Q4_K and IQ4_NL matrices the CPU engine does not interleave (rows not a multiple of 8): batches of 1–3
// tokens in its row kernels' order — Q4_K in Q5_K's 8 + 4 chains, IQ4_NL in Q8_0's 8 chains (worker.c binds
// these for such matrices; from 4 tokens the CPU's panels sum in the interleaved order's one chain).
template <int TYPE, int NT>
DEV void matvec_row_order(const u8* W, unsigned long long rowBytes, const float* x, const float* corr, float* y, int rows,
                          int cols) {
    if (TYPE == T_Q4_K) {
        matvec_kquant<TYPE, NT, false>(W, rowBytes, (const signed char*)x, corr, y, rows, cols, NT);
        return;
    }
    int lane = tid() & 31, r = bidx() * 4 + (tid() >> 5);
    if (r >= rows) return;
    matvec_q8_0<TYPE, NT>(W + (unsigned long long)r * rowBytes, (const signed char*)x, corr, y, rows, cols, r, lane);
}
#define ROW_ORDER_KERNEL(name, TYPE)                                                                       \
    KERNEL LAUNCH_BOUNDS(128, 4) void mr_##name(const u8* W, unsigned long long rowBytes, const float* x,  \
                                                const float* corr, float* y, int rows, int cols, int ntok) { \
        if (ntok == 1) matvec_row_order<TYPE, 1>(W, rowBytes, x, corr, y, rows, cols);                    \
        else if (ntok == 2) matvec_row_order<TYPE, 2>(W, rowBytes, x, corr, y, rows, cols);               \
        else matvec_row_order<TYPE, 3>(W, rowBytes, x, corr, y, rows, cols);                              \
    }
ROW_ORDER_KERNEL(q4_k, T_Q4_K)
ROW_ORDER_KERNEL(iq4_nl, T_IQ4_NL)


// ---- Activations as the CPU engine (and llama.cpp's CPU backend) feed them to each weight format ----
// The CPU multiplies quantized weights by quantized activations (Q8_0, Q8_K; F16 for F16 weights); the
// GPU multiplies in f32, so for the same logits it first replaces each activation by the value its
// quantized form stands for. Modes: 1 F16, 2 BF16, 3 Q8_0 (32-blocks: d = amax/127 kept in F16,
// q = round-half-even(x·127/amax)), 4 Q8_K (256-blocks: scale −127/x_max, x_max the first element of
// largest magnitude, q clamped at 127, d = 1/scale in f32), 6 Q8_1 (the values of Q8_0). When qint is
// given they also write the integers there and per 32 columns a scale into corr, which the integer kernels
// multiply: mode 3 d (Q8_0, Q4_0, Q5_0, IQ4_NL), mode 6 the unrounded amax/127 from which d and the block's
// sum s = f16(Σq · amax/127) are rounded (Q4_1, Q5_1), mode 4 the super-block's d (the K-quants).
// One row, by a block of a multiple of 256 threads (at most 1024), ntid() values at a time; src may equal
// dst (each thread reads only its own elements before the block's reductions and writes them after).
DEV void round_row(const float* src, float* dst, float* corr, signed char* qint, int cols, int mode) {
    SHARED float wmag[32], wval[32];
    SHARED int widx[32];
    int t = tid(), lane = t & 31, warp = t >> 5;
    for (int base = 0; base < cols; base += ntid()) {
        int i = base + t;
        bool live = i < cols;
        float v = live ? src[i] : 0.0f;
        float r = v;
        if (mode == 1) {
            r = from_half(to_half(v));
        } else if (mode == 2) {
            union { float f; unsigned u; } b; b.f = v;
            if ((b.u & 0x7fffffffu) > 0x7f800000u) b.u |= 0x00400000u;
            else b.u = (b.u + (0x7fffu + ((b.u >> 16) & 1u))) & 0xffff0000u;
            r = b.f;
        } else if (mode == 3 || mode == 6) {
            float amax = warp_max(__builtin_fabsf(v));
            float d = from_half(to_half(amax / 127.0f));
            float inv = amax != 0.0f ? 127.0f / amax : 0.0f;
            float q = round_nearest_even(v * inv);
            q = q > 127.0f ? 127.0f : (q < -128.0f ? -128.0f : q);
            r = d * q;
            if (qint) {  // the integers and scale too (matvec_q8_0, matvec_nibbles)
                if (live) qint[i] = (signed char)q;
                if (lane == 0 && live) corr[i / 32] = mode == 3 ? d : amax / 127.0f;
            }
        } else if (mode == 4) {
            // the first element of largest magnitude in this 256-block, carried with its value
            float a = live ? __builtin_fabsf(v) : -1.0f, value = v;
            int idx = i;
            for (int o = 16; o > 0; o >>= 1) {
                float oa = shfl_xor(a, o);
                float ov = shfl_xor(value, o);
                int oi = shfl_xor(idx, o);
                if (oa > a || (oa == a && oi < idx)) { a = oa; idx = oi; value = ov; }
            }
            if (lane == 0) { wmag[warp] = a; widx[warp] = idx; wval[warp] = value; }
            sync_block();
            int first = warp & ~7;  // the 8 warps of this 256-block
            float best = wmag[first], extreme = wval[first];
            int bi = widx[first];
            for (int w = first + 1; w < first + 8; w++)
                if (wmag[w] > best || (wmag[w] == best && widx[w] < bi)) { best = wmag[w]; bi = widx[w]; extreme = wval[w]; }
            sync_block();
            float q = 0.0f, d = 0.0f;
            if (best > 0.0f) {
                float scale = -127.0f / extreme;
                q = round_nearest_even(scale * v);
                q = q > 127.0f ? 127.0f : q;
                d = 1.0f / scale;
            }
            r = q * d;
            if (qint) {  // the integers and d once per 32 columns (matvec_kquant)
                if (live) qint[i] = (signed char)q;
                if (lane == 0 && live) corr[i / 32] = d;
            }
        }
        if (live) dst[i] = r;
    }
}

DEV signed char* at_or_null(signed char* p, unsigned long long at) { return p ? p + at : p; }

// Row bidx(), columns 256·bidy() … (a slice per block: every mode's blocks, 32 or 256 values, lie inside one).
// corr and qint as round_row (qint may be null), with the rows' layout of x.
KERNEL void round_activations(const float* x, float* out, float* corr, signed char* qint, int cols, int mode) {
    unsigned long long at = (unsigned long long)bidx() * cols + 256 * bidy();
    int n = cols - 256 * bidy() < 256 ? cols - 256 * bidy() : 256;
    round_row(x + at, out + at, corr + at / 32, at_or_null(qint, at), n, mode);
}

// ---- Elementwise pieces ----------------------------------------------------------------------------

// x[row] += add[row] (when add is given); out[row] = x[row] · rsqrt(mean(x[row]²) + eps) · weight, then
// rounded for the next products (mode as round_activations; 0: not). One block per row, up to 1024
// threads: a single token's norm is one block, and its chain of dependent steps is what a decode step
// waits for.
KERNEL LAUNCH_BOUNDS(1024, 1) void add_norm_round(float* x, const float* add, const float* weight, float* out, float* corr,
                                                  signed char* qint, int cols, float eps, int mode) {
    SHARED double scratch[32];
    float* src = x + (unsigned long long)bidx() * cols;
    float* dst = out + (unsigned long long)bidx() * cols;
    // As the CPU engine (and llama.cpp): the float squares summed in double, so the mean, rounded to float,
    // comes out the same whatever the order; one ulp in the scale would move every value of the row and
    // flip the 8-bit rounding of some.
    double s = 0;
    for (int i = tid(); i < cols; i += ntid()) {
        float v = src[i];
        if (add) { v += add[(unsigned long long)bidx() * cols + i]; src[i] = v; }
        s += (double)(v * v);
    }
    s = block_sum(s, scratch);
    float scale = 1.0f / sqrt_rn((float)(s / (double)cols) + eps);
    for (int i = tid(); i < cols; i += ntid()) dst[i] = src[i] * scale * weight[i];
    if (mode) {
        sync_block();
        round_row(dst, dst, corr + (unsigned long long)bidx() * (cols / 32), at_or_null(qint, (unsigned long long)bidx() * cols),
                  cols, mode);
    }
}

// gate[row] = silu(gate[row]) · up[row], then rounded for the down projection. A block of 256 threads per
// row bidx() and 256 columns from 256·bidy(): one block per row left a 1B model's 8192 values to a single
// multiprocessor, 32 steps in a row, at every decode step.
KERNEL void swiglu_round(float* gate, const float* up, float* corr, signed char* qint, int cols, int mode) {
    unsigned long long at = (unsigned long long)bidx() * cols + 256 * bidy();
    int n = cols - 256 * bidy() < 256 ? cols - 256 * bidy() : 256;
    int i = tid();
    if (i < n) {
        float v = gate[at + i];
        gate[at + i] = v / (1.0f + fast_exp(-v)) * up[at + i];
    }
    if (mode) {
        sync_block();
        round_row(gate + at, gate + at, corr + at / 32, at_or_null(qint, at), n, mode);
    }
}

KERNEL void add_inplace(float* x, const float* y, int n) {
    int i = bidx() * ntid() + tid();
    if (i < n) x[i] += y[i];
}

// dst row r = src row index[r].
KERNEL void gather_rows(float* dst, const float* src, const int* index, int cols) {
    int r = bidx();
    const float* s = src + (unsigned long long)index[r] * cols;
    float* d = dst + (unsigned long long)r * cols;
    for (int i = tid(); i < cols; i += ntid()) d[i] = s[i];
}

// ---- KV cache and attention ----------------------------------------------------------------------
// info[2·i] = position, info[2·i+1] = sequence of token i.

// The 32 values x as the CPU rounds a block to Q8_0 (its activation rounding): the integers into q, d returned
// as F16 bits.
DEV half_t q8_0_round(const float* x, signed char* q) {
    float amax = 0;
    for (int j = 0; j < 32; j++) amax = __builtin_fmaxf(amax, __builtin_fabsf(x[j]));
    float inverse = amax != 0.0f ? 127.0f / amax : 0.0f;
    for (int j = 0; j < 32; j++) {
        float r = round_nearest_even(x[j] * inverse);
        r = r > 127.0f ? 127.0f : (r < -128.0f ? -128.0f : r);
        q[j] = (signed char)(r == r ? r : 0.0f);
    }
    return to_half(amax / 127.0f);
}
// (a, b) turned by the angle whose cosine and sine are c and s, as the CPU's RoPE turns a pair.
DEV void turn_pair(float c, float s, float* a, float* b) {
    float ra = *a * c - *b * s, rb = *a * s + *b * c;
    *a = ra;
    *b = rb;
}
// The 32 values x as the CPU's KVCache quantizes a row's block (its Q8_0 and Q4_0 activation rounding).
DEV void store_block(q8_0_block* out, const float* x) { *(half_t*)out->b = q8_0_round(x, (signed char*)out->b + 2); }
DEV void store_block(q4_0_block* out, const float* x) {
    float amax = 0, extreme = 0;  // the first value of largest magnitude, with its sign
    for (int j = 0; j < 32; j++)
        if (__builtin_fabsf(x[j]) > amax) { amax = __builtin_fabsf(x[j]); extreme = x[j]; }
    float d = extreme / -8.0f, inverse = d != 0.0f ? 1.0f / d : 0.0f;
    *(half_t*)out->b = to_half(d);
    for (int j = 0; j < 16; j++) {
        float lo = x[j] * inverse + 8.5f, hi = x[j + 16] * inverse + 8.5f;
        int l = lo != lo ? 8 : (int)(lo < 0.0f ? 0.0f : lo > 15.0f ? 15.0f : lo);
        int h = hi != hi ? 8 : (int)(hi < 0.0f ? 0.0f : hi > 15.0f ? 15.0f : hi);
        out->b[2 + j] = (u8)(l | h << 4);
    }
}

// Token bidx(): heads of q for bidy() < heads are rotated in place; for bidy() = heads + h, kv head h of k is
// rotated and stored in the cache with v's (k itself is not kept: attention reads the cache). Rotation
// turns adjacent pairs of a head's first ropeDim elements by the host's cos/sin table, ropeDim values per
// token (0: no rotation). A quantized cache takes a block per thread: 32 values rotated, then quantized.
template <typename KV>
DEV void rope_store(float* q, const float* k, const float* v, const float* table, KV* kc, KV* vc, const int* info,
                    int heads, int kvHeads, int headDim, int ropeDim, int ctx, int sequences, int layer) {
    int token = bidx(), head = bidy();
    const float* cs = table + (unsigned long long)token * ropeDim;
    if (head < heads) {
        float* x = q + ((unsigned long long)token * heads + head) * headDim;
        for (int p = tid(); p < ropeDim / 2; p += ntid()) turn_pair(cs[2 * p], cs[2 * p + 1], &x[2 * p], &x[2 * p + 1]);
        return;
    }
    int h = head - heads, kvDim = kvHeads * headDim;
    int pos = info[2 * token], seq = info[2 * token + 1];
    unsigned long long from = (unsigned long long)token * kvDim + (unsigned long long)h * headDim;
    unsigned long long to = (((unsigned long long)layer * sequences + seq) * ctx + pos) * kvDim + (unsigned long long)h * headDim;
    auto rotated = [&](int p, float* a, float* b) {  // pair p of the key
        *a = k[from + 2 * p];
        *b = k[from + 2 * p + 1];
        if (2 * p < ropeDim) turn_pair(cs[2 * p], cs[2 * p + 1], a, b);
    };
    if constexpr (kv_unit<KV>::QUANTIZED) {
        int blocks = headDim / 32;
        for (int u = tid(); u < 2 * blocks; u += ntid()) {
            int block = u % blocks;
            float x[32];
            if (u < blocks) {
                for (int p = 0; p < 16; p++) rotated(16 * block + p, &x[2 * p], &x[2 * p + 1]);
            } else {
                for (int j = 0; j < 32; j++) x[j] = v[from + 32 * block + j];
            }
            store_block((u < blocks ? kc : vc) + (to / 32 + block), x);
        }
        return;
    } else {
        for (int p = tid(); p < headDim / 2; p += ntid()) {
            float a, b;
            rotated(p, &a, &b);
            kv_put(kc + to + 2 * p, a);
            kv_put(kc + to + 2 * p + 1, b);
            kv_put(vc + to + 2 * p, v[from + 2 * p]);
            kv_put(vc + to + 2 * p + 1, v[from + 2 * p + 1]);
        }
    }
}
#define ROPE_STORE_KERNEL(name, KV)                                                                               \
    KERNEL void rope_store_##name(float* q, const float* k, const float* v, const float* table, KV* kc, KV* vc,  \
                                  const int* info, int heads, int kvHeads, int headDim, int ropeDim, int ctx,    \
                                  int sequences, int layer) {                                                    \
        rope_store<KV>(q, k, v, table, kc, vc, info, heads, kvHeads, headDim, ropeDim, ctx, sequences, layer);   \
    }
ROPE_STORE_KERNEL(f16, half_t)
ROPE_STORE_KERNEL(f32, float)
ROPE_STORE_KERNEL(q8_0, q8_0_block)
ROPE_STORE_KERNEL(q4_0, q4_0_block)

// q·k over a head, 8 elements per 16-byte load (headDim % 8 == 0): the loads of a row are independent,
// so a thread's dot costs about one memory latency rather than headDim of them.
DEV float dot8(float dot, const float* qs, uint4 v) {
    unsigned words[4] = {v.x, v.y, v.z, v.w};
    _Pragma("unroll")
    for (int i = 0; i < 4; i++) {
        dot += qs[2 * i] * from_half((half_t)(words[i] & 0xffff));
        dot += qs[2 * i + 1] * from_half((half_t)(words[i] >> 16));
    }
    return dot;
}
DEV float score(const float* qs, const half_t* kr, int headDim) {
    float dot = 0;
    int d = 0;
    for (; d + 32 <= headDim; d += 32) {  // four loads issued before their sums
        uint4 v[4];
        _Pragma("unroll")
        for (int u = 0; u < 4; u++) v[u] = *(const uint4*)(kr + d + 8 * u);
        _Pragma("unroll")
        for (int u = 0; u < 4; u++) dot = dot8(dot, qs + d + 8 * u, v[u]);
    }
    for (; d < headDim; d += 8) dot = dot8(dot, qs + d, *(const uint4*)(kr + d));
    return dot;
}
// F32 keys: in order, one product and one add at a time, as the CPU's Attention.scores.
DEV float score(const float* qs, const float* kr, int headDim) {
    float dot = 0;
    for (int d = 0; d < headDim; d += 4) {
        float4 v = *(const float4*)(kr + d);
        dot = dot + qs[d] * v.x;
        dot = dot + qs[d + 1] * v.y;
        dot = dot + qs[d + 2] * v.z;
        dot = dot + qs[d + 3] * v.w;
    }
    return dot;
}

// Causal attention of one token and head over positions 0…position of its sequence. Short contexts take one
// block per token and head (attention_*), in the CPU engine's orders (below). Long ones, when those blocks are
// too few to fill the GPU, split the positions into S ranges (attention_split_*), each in two passes over
// tiles of AT positions (any context length, fixed shared memory): per range the softmax's maximum and sum,
// then per range the weighted values with the combined maximum and sum (the same weights) — each weight
// rounded to F16 before it meets an F16 cache, as the CPU engine and llama.cpp do — then their sum. A block of
// AT threads: each scores one position of a tile; for the weighted sum they split into groups that each take
// every G-th position, one head dimension per thread.
#define AT 256
#define MAX_HEAD_DIM 256
template <typename KV>
struct attention_head {
    const KV* kc;
    const KV* vc;
    unsigned long long base;  // this token's sequence and kv head in the layer's cache, in units of KV
    int length, stride, headDim;  // stride: units of KV from one position's row to the next
    float scale;
    const signed char* qq;  // quantized keys: the query as Q8_0, its integers and per block d
    const float* qd;
};
// Loads the query into qs — rounded to F16 when it meets an F16 cache, also quantized to Q8_0 (qq, qd) when
// it meets quantized keys, as the CPU engine takes it — and describes the head's cache.
template <typename KV>
DEV attention_head<KV> open_head(float* qs, const float* q, const KV* kc, const KV* vc, const int* info, int token,
                                 int head, int heads, int kvHeads, int headDim, int ctx, int sequences, int layer,
                                 float scale) {
    SHARED int qwords[MAX_HEAD_DIM / 4];  // the query's int8 values, read a word at a time: 4-byte aligned
    SHARED float qd[MAX_HEAD_DIM / 32];
    signed char* qq = (signed char*)qwords;
    int t = tid();
    int pos = info[2 * token], seq = info[2 * token + 1];
    int kvHead = head / (heads / kvHeads), kvDim = kvHeads * headDim;
    const float* qv = q + ((unsigned long long)token * heads + head) * headDim;
    if (t < headDim) qs[t] = sizeof(KV) == 2 ? from_half(to_half(qv[t])) : qv[t];
    sync_block();
    if constexpr (kv_unit<KV>::QUANTIZED) {
        if (t < headDim / 32) qd[t] = from_half(q8_0_round(qs + 32 * t, qq + 32 * t));
        sync_block();
    }
    enum { PER = kv_unit<KV>::PER };
    attention_head<KV> h = {kc, vc, ((((unsigned long long)layer * sequences + seq) * ctx) * kvDim + kvHead * headDim) / PER,
                            pos + 1, kvDim / PER, headDim, scale, qq, qd};
    return h;
}
// q·k_j (unscaled) and element `dim` of v_j for position j of the head: the F16 and F32 caches directly, the
// quantized ones as the CPU's dot products of their blocks with the Q8_0 query and their dequantized values.
// Per block an exact integer sum times both scales, summed in the CPU's order: Q4_0 in one chain, Q8_0 in 8
// (chain g: columns 4g…4g+3 of each block; folded as matvec_q8_0's).
template <typename KV>
__attribute__((always_inline)) DEV float key_score(attention_head<KV> h, const float* qs, int j) {
    const KV* row = h.kc + h.base + (unsigned long long)j * h.stride;
    if constexpr (kv_unit<KV>::QUANTIZED) {
        float dot = 0, chains[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        for (int c = 0; c < h.headDim / 32; c++) {
            const u8* b = row[c].b;
            const int* x = (const int*)(h.qq + 32 * c);
            float d = from_half(*(const half_t*)b) * h.qd[c];
            if constexpr (sizeof(KV) == sizeof(q8_0_block)) {
                _Pragma("unroll")
                for (int w = 0; w < 8; w++) chains[w] = __builtin_fmaf(d, (float)dot4((int)kq_word(b + 2 + 4 * w), x[w], 0), chains[w]);
            } else {
                int lo[4], hi[4], sum = 0;
                nibble_words<T_Q4_0>(b, lo, hi);
                _Pragma("unroll")
                for (int w = 0; w < 4; w++) sum = dot4(hi[w], x[4 + w], dot4(lo[w], x[w], sum));
                dot = __builtin_fmaf(d, (float)sum, dot);
            }
        }
        if constexpr (sizeof(KV) == sizeof(q8_0_block))
            dot = ((chains[0] + chains[4]) + (chains[2] + chains[6])) + ((chains[1] + chains[5]) + (chains[3] + chains[7]));
        return dot;
    } else {
        return score(qs, row, h.headDim);
    }
}
template <typename KV>
__attribute__((always_inline)) DEV float value_at(const KV* row, int dim) {
    if constexpr (sizeof(KV) == sizeof(q8_0_block)) {
        const u8* b = row[dim / 32].b;
        return from_half(*(const half_t*)b) * (float)(signed char)b[2 + dim % 32];
    } else if constexpr (sizeof(KV) == sizeof(q4_0_block)) {
        const u8* b = row[dim / 32].b;
        int e = dim % 32;
        return from_half(*(const half_t*)b) * (float)(((b[2 + (e & 15)] >> (e >> 4) * 4) & 0xF) - 8);
    } else {
        return kv_get(row + dim);
    }
}
// Context shift: in offloaded layer bidy(), the row of sequence `seq` at position from + bidx() moves to
// to + bidx() (launches never overlap what they read and write), its key turned by the table's −discard rotation
// (ropeDim values: cos, sin per pair) as the CPU's KVCache.shift does — read as floats, rotated, stored again
// in the cache's type — its value copied as it is.
template <typename KV>
DEV void shift_row(KV* kc, KV* vc, const float* turns, int to, int from, int seq, int kvHeads, int headDim, int ropeDim,
                   int ctx, int sequences) {
    enum { PER = kv_unit<KV>::PER };
    int kvDim = kvHeads * headDim;
    unsigned long long layer = (unsigned long long)bidy() * sequences + seq;
    unsigned long long source = ((layer * ctx + from + bidx()) * kvDim) / PER, target = ((layer * ctx + to + bidx()) * kvDim) / PER;
    auto turn = [&](int e, float* a, float* b) {  // element e (even) of a head and the one after it
        if (e < ropeDim) turn_pair(turns[e], turns[e + 1], a, b);
    };
    if constexpr (kv_unit<KV>::QUANTIZED) {
        for (int u = tid(); u < kvDim / 32; u += ntid()) {  // a block per thread (blocks lie within a head)
            float x[32];
            for (int j = 0; j < 32; j++) x[j] = value_at(kc + source + u, j);
            for (int p = 0; p < 16; p++) turn((32 * u) % headDim + 2 * p, &x[2 * p], &x[2 * p + 1]);
            store_block(kc + target + u, x);
            vc[target + u] = vc[source + u];
        }
    } else {
        for (int i = tid(); i < kvDim / 2; i += ntid()) {
            float a = kv_get(kc + source + 2 * i), b = kv_get(kc + source + 2 * i + 1);
            turn((2 * i) % headDim, &a, &b);
            kv_put(kc + target + 2 * i, a);
            kv_put(kc + target + 2 * i + 1, b);
            vc[target + 2 * i] = vc[source + 2 * i];
            vc[target + 2 * i + 1] = vc[source + 2 * i + 1];
        }
    }
}
#define SHIFT_KERNEL(name, KV)                                                                                   \
    KERNEL void shift_##name(KV* kc, KV* vc, const float* turns, int to, int from, int seq, int kvHeads, int headDim, \
                             int ropeDim, int ctx, int sequences) {                                             \
        shift_row<KV>(kc, vc, turns, to, from, seq, kvHeads, headDim, ropeDim, ctx, sequences);                 \
    }
SHIFT_KERNEL(f16, half_t)
SHIFT_KERNEL(f32, float)
SHIFT_KERNEL(q8_0, q8_0_block)
SHIFT_KERNEL(q4_0, q4_0_block)

// Maximum m and sum l of the scores' exponentials over positions lo…hi−1 (m = −3e38, l = 0 when empty).
struct softmax_stats_t { float m, l; };
// (The helpers of the attention kernels are inlined: as calls they pass their arguments through local memory.)
template <typename KV>
__attribute__((always_inline)) DEV softmax_stats_t softmax_stats(attention_head<KV> h, const float* qs, int lo, int hi, float* scratch) {
    int t = tid();
    float mx = -3.0e38f, sum = 0;
    for (int start = lo; start < hi; start += AT) {
        int j = start + t;
        float s = j < hi ? key_score(h, qs, j) * h.scale : -3.0e38f;
        float newMax = __builtin_fmaxf(mx, block_max(s, scratch));
        float e = j < hi ? fast_exp(s - newMax) : 0.0f;
        sum = sum * fast_exp(mx - newMax) + block_sum(e, scratch);
        mx = newMax;
    }
    return {mx, sum};
}
// Σ w_j·v_j over positions lo…hi−1 with w_j = exp(score_j − m)/l (F16-rounded for an F16 cache): thread
// t < headDim gets dimension t of the sum (every thread must call it).
template <typename KV>
__attribute__((always_inline)) DEV float weighted_values(attention_head<KV> h, const float* qs, int lo, int hi, float m, float inverse, float* p,
                          float* partial) {
    int t = tid(), headDim = h.headDim;
    int groups = AT / headDim, group = t / headDim, dim = t % headDim;
    float acc = 0;
    for (int start = lo; start < hi; start += AT) {
        int j = start + t;
        float w = 0;
        if (j < hi) {
            w = fast_exp(key_score(h, qs, j) * h.scale - m) * inverse;
            if (sizeof(KV) == 2) w = from_half(to_half(w));
        }
        p[t] = w;
        sync_block();
        int tileLength = hi - start < AT ? hi - start : AT;
        if (group < groups) {
            // eight positions' value loads in flight at once instead of one latency per position
            const KV* rows = h.vc + h.base + (unsigned long long)start * h.stride;
            int count = (tileLength - group + groups - 1) / groups, n = 0;
            for (; n + 8 <= count; n += 8) {
                float values[8];
                _Pragma("unroll")
                for (int u = 0; u < 8; u++) values[u] = value_at(rows + (unsigned long long)(group + (n + u) * groups) * h.stride, dim);
                _Pragma("unroll")
                for (int u = 0; u < 8; u++) acc += p[group + (n + u) * groups] * values[u];
            }
            for (; n < count; n++) acc += p[group + n * groups] * value_at(rows + (unsigned long long)(group + n * groups) * h.stride, dim);
        }
        sync_block();
    }
    partial[t] = acc;
    sync_block();
    float s = 0;
    if (t < headDim)
        for (int g = 0; g < groups; g++) s += partial[g * headDim + t];
    return s;
}
// The output of token bidx()'s heads is rounded for the output projection (round_activations' mode; 0: not),
// which the worker asks for only when the mode's blocks lie within a head.
DEV void finish_head(float* out, float* corr, signed char* qint, unsigned long long at, int headDim, float value, int mode) {
    if (tid() < headDim) out[at + tid()] = value;
    if (mode) {
        sync_block();
        round_row(out + at, out + at, corr + at / 32, at_or_null(qint, at), headDim, mode);
    }
}

// ---- Attention over an F16 cache in the CPU engine's (and llama.cpp's) orders -------------------------
// Every product is exact in f32 (F16 query times F16 key, F16 weight times F16 value), so the order alone
// decides the sums, and the CPU's orders make the GPU's bits the CPU's. A single token (the CPU batch of one)
// sums as ggml's vec_dot — element i of the whole 64-blocks in chain i % 64, chains folded
// (l + l+32) + (l+16 + l+48) into 16, then the tree; the rest added one by one in double — and a batch as
// tinyBLAS: element i in chain i % 16, then the tree (k + k+8, 4 apart, 2 apart, 1 apart).
DEV float tree16(const float* c) {
    float e[8], f[4];
    _Pragma("unroll")
    for (int k = 0; k < 8; k++) e[k] = c[k] + c[k + 8];
    _Pragma("unroll")
    for (int k = 0; k < 4; k++) f[k] = e[k] + e[k + 4];
    return (f[0] + f[2]) + (f[1] + f[3]);
}
// q·k over a head in those orders, the key read 8 halves per 16-byte load (headDim % 8 == 0) into chains
// kept in registers (64 for a single token, 16 for a batch).
DEV void halves8(uint4 v, float* out) {
    unsigned words[4] = {v.x, v.y, v.z, v.w};
    _Pragma("unroll")
    for (int i = 0; i < 4; i++) {
        out[2 * i] = from_half((half_t)(words[i] & 0xffff));
        out[2 * i + 1] = from_half((half_t)(words[i] >> 16));
    }
}
__attribute__((always_inline)) DEV float score_cpu_order(const float* qs, const half_t* key, int headDim, bool single) {
    if (!single) {
        float c[16];
        _Pragma("unroll")
        for (int l = 0; l < 16; l++) c[l] = 0;
        int o = 0;
        for (; o + 16 <= headDim; o += 16) {
            float k[16];
            halves8(*(const uint4*)(key + o), k);
            halves8(*(const uint4*)(key + o + 8), k + 8);
            _Pragma("unroll")
            for (int e = 0; e < 16; e++) c[e] = __builtin_fmaf(qs[o + e], k[e], c[e]);
        }
        if (o < headDim) {  // the last 8 (headDim % 16 == 8): chains 0–7
            float k[8];
            halves8(*(const uint4*)(key + o), k);
            _Pragma("unroll")
            for (int e = 0; e < 8; e++) c[e] = __builtin_fmaf(qs[o + e], k[e], c[e]);
        }
        return tree16(c);
    }
    float chain[64];
    _Pragma("unroll")
    for (int l = 0; l < 64; l++) chain[l] = 0;
    int whole = headDim & ~63;
    for (int o = 0; o < whole; o += 64) {
        _Pragma("unroll")
        for (int u = 0; u < 8; u++) {
            float k[8];
            halves8(*(const uint4*)(key + o + 8 * u), k);
            _Pragma("unroll")
            for (int e = 0; e < 8; e++) chain[8 * u + e] = __builtin_fmaf(qs[o + 8 * u + e], k[e], chain[8 * u + e]);
        }
    }
    float c[16];
    _Pragma("unroll")
    for (int l = 0; l < 16; l++) c[l] = (chain[l] + chain[l + 32]) + (chain[l + 16] + chain[l + 48]);
    float total = tree16(c);
    if (whole == headDim) return total;
    double wide = total;
    for (int i = whole; i < headDim; i++) wide += (double)(qs[i] * from_half(key[i]));
    return (float)wide;
}

// Passes 1 and 2 of the CPU's softmax over positions 0…length−1 (scoreAt(j): position j's scaled score): the
// maximum m, then 1 / Σ exp(score − m) with the exponentials summed as the CPU does — 16 consecutive positions
// as the tree k + k+8, 4, 2, 1 apart, those sums added in double in order.
template <typename Score>
__attribute__((always_inline)) DEV float softmax_cpu_order(Score scoreAt, int length, float* maximum) {
    SHARED float scratch[32], groupSums[AT / 16];
    SHARED double total;
    int t = tid();
    // 1: the maximum
    float m = -3.0e38f;
    for (int start = 0; start < length; start += AT) {
        int j = start + t;
        m = __builtin_fmaxf(m, block_max(j < length ? scoreAt(j) : -3.0e38f, scratch));
    }
    // 2: the sum, in the CPU's grouping
    if (t == 0) total = 0;
    for (int start = 0; start < length; start += AT) {
        int j = start + t;
        float e = j < length ? fast_exp(scoreAt(j) - m) : 0.0f;
        e += shfl_xor(e, 8);
        e += shfl_xor(e, 4);
        e += shfl_xor(e, 2);
        e += shfl_xor(e, 1);
        sync_block();
        if ((t & 15) == 0) groupSums[t / 16] = e;
        sync_block();
        if (t == 0)
            for (int g = 0; g < AT / 16 && start + 16 * g < length; g++) total += (double)groupSums[g];
    }
    sync_block();
    *maximum = m;
    return (float)(1.0 / total);
}

// Token bidx(), head bidy(), F16 cache, in the CPU's orders (see above): three passes over the keys — the
// scores' maximum; their exponentials summed as the CPU's softmax does (16 consecutive positions with the
// tree k + k+8, 4, 2, 1 apart, those sums added in double in order); the F16-rounded weights against the
// values — and the values summed per dimension in the same chains as a dot product over positions.
__attribute__((always_inline)) DEV void attention_cpu_order(const float* q, const half_t* kc, const half_t* vc, float* out,
                                                            float* corr, signed char* qint, const int* info, int heads,
                                                            int kvHeads, int headDim, int ctx, int sequences, int layer,
                                                            float scale, int mode, bool single) {
    SHARED float qs[AT], p[AT], tailWeights[64];
    SHARED float folded[16 * MAX_HEAD_DIM];  // per dimension, the 16 folded chains
    int token = bidx(), head = bidy(), t = tid();
    attention_head<half_t> h = open_head(qs, q, kc, vc, info, token, head, heads, kvHeads, headDim, ctx, sequences, layer, scale);
    int length = h.length;
    auto scoreAt = [&](int j) { return score_cpu_order(qs, h.kc + h.base + (unsigned long long)j * h.stride, headDim, single) * h.scale; };
    float m, inverse = softmax_cpu_order(scoreAt, length, &m);
    // 3: weights against values. Single token: positions below `chained` go to chains j % 64 (the CPU sums
    // over its cache view padded to 32 positions: chained = min(padded & ~63, length)), the rest to a tail
    // in double; a batch: chains j % 16. Thread t takes dimension t % headDim and the chain groups
    // l = t / headDim, l + AT / headDim, … of 16; group l holds chains l, l+16, l+32, l+48 (one for a batch).
    int padded = (length + 31) / 32 * 32;
    padded = padded < 32 ? 32 : padded > ctx ? ctx : padded;
    int chained = single ? ((padded & ~63) < length ? (padded & ~63) : length) : length;
    // (threads past groupStep · headDim idle: a head dimension that does not divide AT leaves some over)
    int dim = t % headDim, groupStep = AT / headDim, firstGroup = t < groupStep * headDim ? t / headDim : 16;
    float chains[16][4];  // [slot][k]: group firstGroup + slot · groupStep, chain l + 16k
    for (int g = 0; g < 16; g++)
        for (int k = 0; k < 4; k++) chains[g][k] = 0;
    for (int start = 0; start < length; start += AT) {
        int j = start + t;
        float w = 0;
        if (j < length) w = from_half(to_half(fast_exp(scoreAt(j) - m) * inverse));
        p[t] = w;
        if (j >= chained && j < length) tailWeights[j - chained] = w;
        sync_block();
        int end = length - start < AT ? length - start : AT;
        const half_t* column = h.vc + h.base + (unsigned long long)start * h.stride + dim;
        int stop = chained - start < end ? chained - start : end;  // positions from `stop` on: the tail
        for (int g = firstGroup, slot = 0; g < 16; g += groupStep, slot++) {
            if (!single) {
                for (int i = g; i < stop; i += 16)
                    chains[slot][0] = __builtin_fmaf(p[i], from_half(column[(unsigned long long)i * h.stride]), chains[slot][0]);
                continue;
            }
            for (int k = 0; k < 4; k++)  // position i is in chain i % 64 = g + 16k (tiles start at multiples of 64)
                for (int i = g + 16 * k; i < stop; i += 64)
                    chains[slot][k] = __builtin_fmaf(p[i], from_half(column[(unsigned long long)i * h.stride]), chains[slot][k]);
        }
        sync_block();
    }
    for (int g = firstGroup, slot = 0; g < 16; g += groupStep, slot++)
        folded[g * headDim + dim] = single ? (chains[slot][0] + chains[slot][2]) + (chains[slot][1] + chains[slot][3]) : chains[slot][0];
    sync_block();
    float value = 0;
    if (t < headDim) {
        float c[16];
        _Pragma("unroll")
        for (int l = 0; l < 16; l++) c[l] = folded[l * headDim + t];
        value = tree16(c);
        if (chained < length) {
            double wide = value;
            for (int j = chained; j < length; j++)
                wide += (double)(tailWeights[j - chained] * from_half(h.vc[h.base + (unsigned long long)j * h.stride + t]));
            value = (float)wide;
        }
    }
    finish_head(out, corr, qint, ((unsigned long long)token * heads + head) * headDim, headDim, value, mode);
}

// Token bidx(), head bidy(), an F32 or quantized cache, in the CPU's orders: the scores as the CPU's dot
// products (key_score), the softmax as above, the weights in f32, and per dimension the values summed position
// after position, one product and one add each (Attention.swift, QuantizedAttention.swift).
template <typename KV>
__attribute__((always_inline)) DEV void attention_in_order(const float* q, const KV* kc, const KV* vc, float* out,
                                                           float* corr, signed char* qint, const int* info, int heads,
                                                           int kvHeads, int headDim, int ctx, int sequences, int layer,
                                                           float scale, int mode) {
    SHARED float qs[AT], p[AT];
    int token = bidx(), head = bidy(), t = tid();
    attention_head<KV> h = open_head(qs, q, kc, vc, info, token, head, heads, kvHeads, headDim, ctx, sequences, layer, scale);
    int length = h.length;
    auto scoreAt = [&](int j) { return key_score(h, qs, j) * h.scale; };
    float m, inverse = softmax_cpu_order(scoreAt, length, &m);
    float value = 0;
    for (int start = 0; start < length; start += AT) {
        int j = start + t;
        p[t] = j < length ? fast_exp(scoreAt(j) - m) * inverse : 0.0f;
        sync_block();
        int end = length - start < AT ? length - start : AT;
        if (t < headDim) {
            const KV* rows = h.vc + h.base + (unsigned long long)start * h.stride;
            for (int i = 0; i < end; i++) value = value + p[i] * value_at(rows + (unsigned long long)i * h.stride, t);
        }
        sync_block();
    }
    finish_head(out, corr, qint, ((unsigned long long)token * heads + head) * headDim, headDim, value, mode);
}

// Split: token bidx(), head bidy() / S, range bidy() % S of S equal ranges (rounded up to whole tiles).
DEV void split_range(int length, int splits, int* lo, int* hi) {
    int per = (length + splits - 1) / splits;
    per = (per + AT - 1) / AT * AT;
    int r = bidy() % splits;
    *lo = r * per < length ? r * per : length;
    *hi = *lo + per < length ? *lo + per : length;
}
// stats[(token · heads + head) · S + range] = (maximum, sum) over the range.
template <typename KV>
DEV void attention_split_stats(const float* q, const KV* kc, const KV* vc, float* stats, const int* info, int heads,
                               int kvHeads, int headDim, int ctx, int sequences, int layer, float scale, int splits) {
    SHARED float qs[AT], scratch[32];
    int token = bidx(), head = bidy() / splits, lo, hi;
    attention_head<KV> h = open_head(qs, q, kc, vc, info, token, head, heads, kvHeads, headDim, ctx, sequences, layer, scale);
    split_range(h.length, splits, &lo, &hi);
    softmax_stats_t st = softmax_stats(h, qs, lo, hi, scratch);
    float* at = stats + 2 * (((unsigned long long)token * heads + head) * splits + bidy() % splits);
    if (tid() == 0) { at[0] = st.m; at[1] = st.l; }
}
// values[((token · heads + head) · S + range) · headDim + d]: the range's weighted values, with the maximum
// and sum of all ranges combined in range order (every range's block combines them alike).
template <typename KV>
DEV void attention_split_values(const float* q, const KV* kc, const KV* vc, const float* stats, float* values,
                                const int* info, int heads, int kvHeads, int headDim, int ctx, int sequences, int layer,
                                float scale, int splits) {
    SHARED float qs[AT], p[AT], partial[AT];
    int token = bidx(), head = bidy() / splits, lo, hi;
    attention_head<KV> h = open_head(qs, q, kc, vc, info, token, head, heads, kvHeads, headDim, ctx, sequences, layer, scale);
    split_range(h.length, splits, &lo, &hi);
    const float* st = stats + 2 * ((unsigned long long)token * heads + head) * splits;
    float m = -3.0e38f, l = 0;
    for (int r = 0; r < splits; r++) m = __builtin_fmaxf(m, st[2 * r]);
    for (int r = 0; r < splits; r++) l += st[2 * r + 1] * fast_exp(st[2 * r] - m);
    float value = weighted_values(h, qs, lo, hi, m, 1.0f / l, p, partial);
    unsigned long long at = (((unsigned long long)token * heads + head) * splits + bidy() % splits) * headDim;
    if (tid() < headDim) values[at + tid()] = value;
}
// out = the ranges' values summed in range order, then rounded as finish_head. Token bidx(), head bidy().
DEV void split_sum(const float* values, float* out, float* corr, signed char* qint, int heads, int headDim, int splits, int mode) {
    int token = bidx(), head = bidy();
    unsigned long long at = ((unsigned long long)token * heads + head) * headDim;
    float s = 0;
    if (tid() < headDim)
        for (int r = 0; r < splits; r++) s += values[(at * splits) + (unsigned long long)r * headDim + tid()];
    finish_head(out, corr, qint, at, headDim, s, mode);
}

// One block per token and head: an F16 cache in the CPU's orders (tokens, the batch size, picks which),
// the others (F32, Q8_0, Q4_0) in theirs (attention_in_order).
KERNEL void attention_f16(const float* q, const half_t* kc, const half_t* vc, float* out, float* corr, signed char* qint,
                          const int* info, int heads, int kvHeads, int headDim, int ctx, int sequences, int layer,
                          float scale, int mode, int tokens) {
    attention_cpu_order(q, kc, vc, out, corr, qint, info, heads, kvHeads, headDim, ctx, sequences, layer, scale, mode,
                        tokens == 1);
}
#define ATTENTION_KERNEL(name, KV)                                                                                  \
    KERNEL void attention_##name(const float* q, const KV* kc, const KV* vc, float* out, float* corr, signed char* qint, \
                                 const int* info, int heads, int kvHeads, int headDim, int ctx, int sequences,      \
                                 int layer, float scale, int mode, int tokens) {                                    \
        (void)tokens;                                                                                             \
        attention_in_order<KV>(q, kc, vc, out, corr, qint, info, heads, kvHeads, headDim, ctx, sequences, layer, scale, mode); \
    }
ATTENTION_KERNEL(f32, float)
ATTENTION_KERNEL(q8_0, q8_0_block)
ATTENTION_KERNEL(q4_0, q4_0_block)
// Long contexts, split into ranges.
#define SPLIT_ATTENTION_KERNELS(name, KV)                                                                           \
    KERNEL void attention_split_stats_##name(const float* q, const KV* kc, const KV* vc, float* stats, const int* info, \
                                             int heads, int kvHeads, int headDim, int ctx, int sequences, int layer, \
                                             float scale, int splits) {                                       \
        attention_split_stats<KV>(q, kc, vc, stats, info, heads, kvHeads, headDim, ctx, sequences, layer, scale, splits); \
    }                                                                                                         \
    KERNEL void attention_split_values_##name(const float* q, const KV* kc, const KV* vc, const float* stats,   \
                                              float* values, const int* info, int heads, int kvHeads, int headDim, \
                                              int ctx, int sequences, int layer, float scale, int splits) {   \
        attention_split_values<KV>(q, kc, vc, stats, values, info, heads, kvHeads, headDim, ctx, sequences, layer, \
                                   scale, splits);                                                            \
    }
SPLIT_ATTENTION_KERNELS(f16, half_t)
SPLIT_ATTENTION_KERNELS(f32, float)
SPLIT_ATTENTION_KERNELS(q8_0, q8_0_block)
SPLIT_ATTENTION_KERNELS(q4_0, q4_0_block)
KERNEL void attention_split_sum(const float* values, float* out, float* corr, signed char* qint, int heads, int headDim,
                                int splits, int mode) {
    split_sum(values, out, corr, qint, heads, headDim, splits, mode);
}

#ifndef __CUDA_ARCH__
// The stand-in driver finds the host build of each kernel by name, with its argument count.
#define CACHE_FORMATS(X) X(f16) X(f32) X(q8_0) X(q4_0)
#define EMULATED_CACHE(name) EMULATED(rope_store_##name), EMULATED(attention_##name), EMULATED(attention_split_stats_##name), \
    EMULATED(attention_split_values_##name), EMULATED(shift_##name),
#define EMULATED_MATRIX(name, TYPE) EMULATED(mv_##name), EMULATED(mb_##name), EMULATED(mm_##name), EMULATED(ms_##name),
extern "C" const struct emulated_kernel emulated_kernels[] = {
    WEIGHT_FORMATS(EMULATED_MATRIX)
    EMULATED(mr_q4_k), EMULATED(mr_iq4_nl),
    EMULATED(round_activations), EMULATED(add_norm_round), EMULATED(swiglu_round), EMULATED(add_inplace),
    EMULATED(gather_rows), EMULATED(attention_split_sum),
    CACHE_FORMATS(EMULATED_CACHE) {nullptr, nullptr, 0},
};
#endif
