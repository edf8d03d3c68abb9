// The host emulation of the device that GPU/kernels.cu runs on in the stand-in driver
// (GPU/stand_in_driver.c): every CUDA thread of a block is a fiber on one host thread, and the only
// points where fibers wait for each other are the ones a GPU has — a block barrier and a warp shuffle.
// Blocks run one after another, so a `static` array is a block's shared memory.
//
// The C part is the interface between the driver (which schedules the fibers) and the host build of the
// kernels; the C++ part gives kernels.cu the device primitives it uses, computed as the PTX instructions
// compute them (round-to-nearest-even conversions, IEEE square root).
#pragma once

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { EMULATED_MAX_ARGUMENTS = 16 };

// A kernel's host build: `entry` runs one CUDA thread of it with the launch's arguments.
struct emulated_kernel {
    const char* name;
    void (*entry)(void** args);
    int arguments;
    unsigned char sizes[EMULATED_MAX_ARGUMENTS];  // each argument's size in bytes
};
extern const struct emulated_kernel emulated_kernels[];  // ends with a null name

// Implemented by the driver, for the running fiber.
int emulated_thread(void);
int emulated_block_size(void);
int emulated_block(int axis);
void emulated_block_barrier(void);
uint32_t emulated_shuffle_xor(uint32_t bits, int lanes);
// Every lane's `bytes` (at most 64) into all[32][bytes], once the whole warp has offered its own.
void emulated_warp_gather(const void* mine, void* all, int bytes);
// Marks the launch failed (what the device would fault on), with the reason; the thread goes on.
void emulated_fault(const char* why);

#ifdef __cplusplus
}

#include <math.h>
#include <string.h>
#include <utility>

#define KERNEL extern "C" __attribute__((visibility("hidden")))
#define LAUNCH_BOUNDS(threads, blocks)
#define DEV static inline
#define SHARED static __attribute__((aligned(16)))

DEV half_t to_half(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) return (half_t)(sign | 0x7e00u);     // NaN
    if (ax >= 0x477ff000u) return (half_t)(sign | 0x7c00u);    // rounds to infinity (≥ 65520)
    if (ax < 0x38800000u) {                                    // F16 subnormal: a multiple of 2⁻²⁴
        float a;
        memcpy(&a, &ax, 4);
        return (half_t)(sign | (uint32_t)nearbyintf(a * 16777216.0f));
    }
    uint32_t r = ax - 0x38000000u;                             // rebias the exponent (127 − 15)
    r += 0xfffu + ((r >> 13) & 1u);                            // round the 13 dropped bits, ties to even
    return (half_t)(sign | (r >> 13));
}
DEV float from_half(half_t h) { return fmt_half((const u8*)&h); }
DEV float round_nearest_even(float v) { return nearbyintf(v); }
DEV float sqrt_rn(float x) { return sqrtf(x); }
DEV int tid() { return emulated_thread(); }
DEV int ntid() { return emulated_block_size(); }
DEV int bidx() { return emulated_block(0); }
DEV int bidy() { return emulated_block(1); }
DEV void sync_block() { emulated_block_barrier(); }
DEV void fail_launch(const char* why) { emulated_fault(why); }
DEV float shfl_xor(float v, int lanes) {
    uint32_t bits;
    memcpy(&bits, &v, 4);
    bits = emulated_shuffle_xor(bits, lanes);
    memcpy(&v, &bits, 4);
    return v;
}
DEV int shfl_xor(int v, int lanes) { return (int)emulated_shuffle_xor((uint32_t)v, lanes); }
DEV void sync_warp() { (void)emulated_shuffle_xor(0, 0); }  // a shuffle waits for the whole warp
// kernels.cu's mma_halves, one mma.sync m8n8k16 s8 per token piece and 16-column half: the warp's A and B
// registers gathered once, then this lane's elements of C as the instruction lays them out (row lane/4,
// columns 2(lane%4) + i; A's row r, columns 4j…4j+3 in lane 4r + j; B's column n, rows 4j…4j+3 in lane
// 4n + j). mma_block: the two halves' sums added.
DEV void mma_halves(int (*c)[2][2], int a0, int a1, const int (*b)[2]) {
    int mine[6] = {a0, a1, b[0][0], b[0][1], b[1][0], b[1][1]}, all[32][6];
    emulated_warp_gather(mine, all, sizeof mine);
    int lane = emulated_thread() & 31, row = lane >> 2;
    for (int t = 0; t < 2; t++)
        for (int h = 0; h < 2; h++)
            for (int i = 0; i < 2; i++) {
                int n = 2 * (lane & 3) + i, s = 0;
                for (int k = 0; k < 16; k++)
                    s += (int)(signed char)(all[4 * row + k / 4][h] >> (8 * (k % 4))) *
                         (int)(signed char)(all[4 * n + k / 4][2 + 2 * t + h] >> (8 * (k % 4)));
                c[t][h][i] = s;
            }
}
DEV void mma_block(int (*c)[2], int a0, int a1, const int (*b)[2]) {
    int halves[2][2][2];
    mma_halves(halves, a0, a1, b);
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < 2; i++) c[t][i] = halves[t][0][i] + halves[t][1][i];
}
DEV int dot4(int a, int b, int c) {
    for (int i = 0; i < 4; i++) c += (int)(signed char)(a >> (8 * i)) * (int)(signed char)(b >> (8 * i));
    return c;
}

template <typename... A, size_t... I>
static void emulated_call(void (*kernel)(A...), void** args, std::index_sequence<I...>) {
    kernel(*(A*)args[I]...);
}
template <typename... A>
static constexpr int emulated_arity(void (*)(A...)) { return sizeof...(A); }
template <typename... A>
static emulated_kernel emulated_entry(const char* name, void (*entry)(void**), void (*)(A...)) {
    static_assert(sizeof...(A) <= EMULATED_MAX_ARGUMENTS, "too many kernel arguments");
    return {name, entry, sizeof...(A), {(unsigned char)sizeof(A)...}};
}
#define EMULATED(name)                                                                                    \
    emulated_entry(#name, [](void** args) { emulated_call(name, args, std::make_index_sequence<emulated_arity(name)>{}); }, name)
#endif
