// Checks of the stand-in driver's own emulation (GPU/emulator.h), with small kernels written against it
// directly: a shuffle reduction and a barrier give the values a GPU gives, in both thread orders, and the
// three misuses it promises to catch fail the launch with a message instead of returning something.
// Usage: emulator_check   (compiled with -fsanitize=alignment as the kernels are, linked against
// stand-in-driver/libcuda.so.1; exit 1 on any miss)
#include <stdio.h>
#include <string.h>

#include "emulator.h"

typedef int CUresult;
CUresult cuLaunchKernel(void* f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned shared, void* stream, void** args, void** extra);
CUresult cuGetErrorString(CUresult r, const char** s);

// out[block · threads + t] = Σ over the warp of (t + 1), then the block's total after a barrier.
static unsigned g_shared[1024];
static void sums(void** args) {
    unsigned* out = *(unsigned**)args[0];
    int t = emulated_thread(), n = emulated_block_size();
    uint32_t v = (uint32_t)t + 1;
    for (int o = 16; o > 0; o >>= 1) v += emulated_shuffle_xor(v, o);
    g_shared[t] = v;
    emulated_block_barrier();
    unsigned total = 0;
    for (int w = 0; w < n; w += 32) total += g_shared[w];
    out[emulated_block(0) * n + t] = total;
}
static void shuffle_after_exit(void** args) {
    (void)args;
    if (emulated_thread() & 1) return;
    emulated_shuffle_xor(1, 2);
}
static void shuffle_against_barrier(void** args) {
    (void)args;
    if (emulated_thread() < 16) emulated_shuffle_xor(1, 1);
    else emulated_block_barrier();
}

// A 4-byte load 2 bytes into a word: the host reads it, a GPU faults.
static unsigned g_words[65];
static void misaligned_load(void** args) {
    (void)args;
    const unsigned* p = (const unsigned*)((const char*)&g_words[emulated_thread()] + 2);
    g_words[emulated_thread()] = *p + 1;
}

static int failures;
static void expect_failure(struct emulated_kernel* k, const char* phrase) {
    void* args[1] = {NULL};
    CUresult r = cuLaunchKernel(k, 1, 1, 1, 64, 1, 1, 0, NULL, args, NULL);
    const char* message = "";
    cuGetErrorString(r, &message);
    int ok = r != 0 && strstr(message, phrase) != NULL;
    printf("%s %s: %s\n", ok ? "ok  " : "FAIL", k->name, r ? message : "launched without complaint");
    failures += !ok;
}

int main(void) {
    static unsigned out[2 * 128];
    struct emulated_kernel k = {"sums", sums, 1, {8}};
    for (int launch = 0; launch < 2; launch++) {  // ascending, then descending thread order
        unsigned* p = out;
        void* args[1] = {&p};
        memset(out, 0, sizeof out);
        CUresult r = cuLaunchKernel(&k, 2, 1, 1, 128, 1, 1, 0, NULL, args, NULL);
        int bad = r != 0;
        for (int i = 0; i < 2 * 128; i++) bad |= out[i] != 128u * 129u / 2u;  // Σ 1…128
        printf("%s sums (launch %d)\n", bad ? "FAIL" : "ok  ", launch);
        failures += bad;
    }
    struct emulated_kernel exit_kernel = {"shuffle_after_exit", shuffle_after_exit, 0, {0}};
    struct emulated_kernel mixed = {"shuffle_against_barrier", shuffle_against_barrier, 0, {0}};
    expect_failure(&exit_kernel, "exited lanes");
    expect_failure(&mixed, "different barriers");
    struct emulated_kernel misaligned = {"misaligned_load", misaligned_load, 0, {0}};
    expect_failure(&misaligned, "needs 4-byte alignment");
    printf("emulator_check: %d failed\n", failures);
    return failures ? 1 : 0;
}
