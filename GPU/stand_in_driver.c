// A stand-in for the NVIDIA driver's libcuda.so.1, for tests on machines without a GPU: the real
// swiftfile-gpu worker loads it (LD_LIBRARY_PATH) and runs unchanged — protocol, load, the forward pass's
// launch sequence, graph capture and replay — and every launch runs the kernel's own code from
// GPU/kernels.cu, compiled for the host, with each CUDA thread of a block as a fiber (GPU/emulator.h).
// What it cannot tell is speed, or a race that only the GPU's timing exposes: threads run one at a time,
// in ascending order on even launches and descending on odd ones, so a read of shared memory that misses
// a barrier sees stale data in one of the two orders. A block barrier passes once every thread that has
// not exited waits at one; a shuffle in a warp with exited lanes, or threads left waiting at a shuffle and
// a barrier at once, fail the launch (undefined behaviour on the device). GPU/emulator_check.c checks this.
// Built by Tools/build-gpu-worker.sh as stand-in-driver/libcuda.so.1 beside the worker; never shipped.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "emulator.h"

typedef int CUresult;
typedef unsigned long long CUdeviceptr;
enum { OK = 0, NOT_FOUND = 500, INVALID = 1, LAUNCH_FAILED = 719 };
static char g_error[256];

// ---- Fibers: the threads of one block -----------------------------------------------------------------
enum { MAX_THREADS = 1024, STACK_BYTES = 64 << 10 };
enum { RUNNING, AT_BARRIER, AT_SHUFFLE, EXITED };
struct fiber { void* sp; int thread, state, parity; };
static struct fiber g_fibers[MAX_THREADS];
static struct fiber* g_current;
static void* g_scheduler_sp;
static char* g_stacks;
static uint32_t g_slots[MAX_THREADS / 32][2][32];  // shuffle values: [warp][parity][lane]
static struct {
    const struct emulated_kernel* kernel;
    void** args;
    int threads, block[2];
} g_run;

// switch_context(save, to): saves the callee-saved registers on this stack and its pointer in *save, then
// resumes the stack `to` (which was saved the same way, or prepared by fiber_stack).
#if defined(__x86_64__)
__attribute__((visibility("hidden"))) void switch_context(void** save, void* to);
__asm__(".text\n.hidden switch_context\n.type switch_context,@function\nswitch_context:\n"
        "pushq %rbp\npushq %rbx\npushq %r12\npushq %r13\npushq %r14\npushq %r15\n"
        "movq %rsp, (%rdi)\nmovq %rsi, %rsp\n"
        "popq %r15\npopq %r14\npopq %r13\npopq %r12\npopq %rbx\npopq %rbp\nret\n");
#elif defined(__aarch64__)
__attribute__((visibility("hidden"))) void switch_context(void** save, void* to);
__asm__(".text\n.hidden switch_context\n.type switch_context,%function\nswitch_context:\n"
        "sub sp, sp, #160\n"
        "stp x19, x20, [sp, #0]\nstp x21, x22, [sp, #16]\nstp x23, x24, [sp, #32]\nstp x25, x26, [sp, #48]\n"
        "stp x27, x28, [sp, #64]\nstp x29, x30, [sp, #80]\nstp d8, d9, [sp, #96]\nstp d10, d11, [sp, #112]\n"
        "stp d12, d13, [sp, #128]\nstp d14, d15, [sp, #144]\n"
        "mov x9, sp\nstr x9, [x0]\nmov sp, x1\n"
        "ldp x19, x20, [sp, #0]\nldp x21, x22, [sp, #16]\nldp x23, x24, [sp, #32]\nldp x25, x26, [sp, #48]\n"
        "ldp x27, x28, [sp, #64]\nldp x29, x30, [sp, #80]\nldp d8, d9, [sp, #96]\nldp d10, d11, [sp, #112]\n"
        "ldp d12, d13, [sp, #128]\nldp d14, d15, [sp, #144]\n"
        "add sp, sp, #160\nret\n");
#else
#error "the stand-in driver switches fibers on x86-64 and arm64 only"
#endif

static void to_scheduler(void) { switch_context(&g_current->sp, g_scheduler_sp); }

static void fiber_main(void) {
    g_run.kernel->entry(g_run.args);
    g_current->state = EXITED;
    to_scheduler();
}

// A fresh stack whose first switch into it "returns" to fiber_main.
static void* fiber_stack(int i) {
    uintptr_t top = ((uintptr_t)(g_stacks + (size_t)(i + 1) * STACK_BYTES)) & ~(uintptr_t)15;
#if defined(__x86_64__)
    void** sp = (void**)(top - 16);  // fiber_main starts with rsp ≡ 8 (mod 16), as after a call
    sp[0] = (void*)fiber_main;
    sp -= 6;                          // rbp rbx r12–r15
    for (int r = 0; r < 6; r++) sp[r] = 0;
    return sp;
#else
    void** sp = (void**)(top - 160);
    memset(sp, 0, 160);
    sp[11] = (void*)fiber_main;       // x30, the return address
    return sp;
#endif
}

int emulated_thread(void) { return g_current->thread; }
int emulated_block_size(void) { return g_run.threads; }
int emulated_block(int axis) { return g_run.block[axis]; }
void emulated_block_barrier(void) {
    g_current->state = AT_BARRIER;
    to_scheduler();
}
// The value of lane (this lane ^ lanes), once every lane of the warp has offered its own. Two slot sets
// alternate, so a lane may offer its next value while slower lanes still read this one.
uint32_t emulated_shuffle_xor(uint32_t bits, int lanes) {
    struct fiber* f = g_current;
    int warp = f->thread >> 5, lane = f->thread & 31, parity = f->parity;
    g_slots[warp][parity][lane] = bits;
    f->state = AT_SHUFFLE;
    to_scheduler();
    f->parity ^= 1;
    return g_slots[warp][parity][(lane ^ lanes) & 31];
}

static unsigned char g_gathered[MAX_THREADS / 32][2][32][64];  // [warp][parity][lane][bytes]
void emulated_warp_gather(const void* mine, void* all, int bytes) {
    struct fiber* f = g_current;
    int warp = f->thread >> 5, lane = f->thread & 31, parity = f->parity;
    memcpy(g_gathered[warp][parity][lane], mine, (size_t)bytes);
    f->state = AT_SHUFFLE;
    to_scheduler();
    f->parity ^= 1;
    for (int l = 0; l < 32; l++) memcpy((unsigned char*)all + (size_t)l * bytes, g_gathered[warp][parity][l], (size_t)bytes);
}
static int g_faulted;
void emulated_fault(const char* why) {
    if (!g_faulted) snprintf(g_error, sizeof g_error, "%s: %s", g_run.kernel->name, why);
    g_faulted = 1;
}

// A GPU faults on a load or store that is not aligned to its size ("misaligned address"), where the host
// goes on, so the kernels are compiled for the host with -fsanitize=alignment and the compiler calls this on
// each such access: the launch fails naming the source line. The arguments are that sanitizer's interface:
// the access's source location and type, log2 of the alignment it needs, and its kind (0 load, 1 store).
struct sanitizer_location { const char* file; uint32_t line, column; };
struct sanitizer_mismatch { struct sanitizer_location where; const void* type; unsigned char log_alignment, kind; };
void __ubsan_handle_type_mismatch_v1(const struct sanitizer_mismatch* m, uintptr_t address) {
    const char* file = m->where.file ? m->where.file : "?";
    const char* base = strrchr(file, '/');
    char why[200];
    snprintf(why, sizeof why, "%s:%u: misaligned address: a %s at %#lx needs %u-byte alignment", base ? base + 1 : file,
             m->where.line, m->kind == 0 ? "load" : m->kind == 1 ? "store" : "access", (unsigned long)address,
             1u << m->log_alignment);
    emulated_fault(why);
}

// Runs one block to the end: every running fiber until it waits or exits, then releases what can go on.
static int run_block(int descending) {
    int n = g_run.threads;
    for (int i = 0; i < n; i++) g_fibers[i] = (struct fiber){fiber_stack(i), i, RUNNING, 0};
    for (;;) {
        for (int k = 0; k < n; k++) {
            struct fiber* f = &g_fibers[descending ? n - 1 - k : k];
            if (f->state != RUNNING) continue;
            g_current = f;
            switch_context(&g_scheduler_sp, f->sp);
        }
        int exited = 0, waiting = 0, released = 0;
        for (int i = 0; i < n; i++) {
            exited += g_fibers[i].state == EXITED;
            waiting += g_fibers[i].state == AT_BARRIER;
        }
        if (exited == n) return OK;
        for (int w = 0; w < (n + 31) / 32; w++) {
            int lanes = n - 32 * w < 32 ? n - 32 * w : 32, shuffling = 0, gone = 0;
            for (int l = 0; l < lanes; l++) {
                shuffling += g_fibers[32 * w + l].state == AT_SHUFFLE;
                gone += g_fibers[32 * w + l].state == EXITED;
            }
            if (shuffling == 0) continue;
            if (shuffling + gone == lanes && gone > 0) {
                snprintf(g_error, sizeof g_error, "%s: a shuffle in warp %d with %d exited lanes", g_run.kernel->name, w, gone);
                return LAUNCH_FAILED;
            }
            if (shuffling == lanes) {
                for (int l = 0; l < lanes; l++) g_fibers[32 * w + l].state = RUNNING;
                released = 1;
            }
        }
        if (!released && waiting + exited == n) {
            for (int i = 0; i < n; i++)
                if (g_fibers[i].state == AT_BARRIER) g_fibers[i].state = RUNNING;
            released = 1;
        }
        if (!released) {
            snprintf(g_error, sizeof g_error, "%s: threads wait at different barriers (block %d,%d)", g_run.kernel->name,
                     g_run.block[0], g_run.block[1]);
            return LAUNCH_FAILED;
        }
    }
}

// ---- Launches and graphs: a graph is the list of launches captured, with their arguments copied ------
struct launch {
    const struct emulated_kernel* kernel;
    unsigned gx, gy, threads;
    _Alignas(8) unsigned char args[EMULATED_MAX_ARGUMENTS][8];  // each as aligned as the kernel's parameter
};
struct graph { struct launch* launches; int count, capacity; };
static struct graph* g_capture;
static unsigned long long g_launches;

static CUresult run_launch(struct launch* l) {
    void* pointers[EMULATED_MAX_ARGUMENTS];
    for (int i = 0; i < l->kernel->arguments; i++) pointers[i] = l->args[i];
    if (!g_stacks) {
        g_stacks = mmap(NULL, (size_t)MAX_THREADS * STACK_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (g_stacks == MAP_FAILED) { g_stacks = NULL; snprintf(g_error, sizeof g_error, "no memory for fiber stacks"); return LAUNCH_FAILED; }
    }
    g_run.kernel = l->kernel;
    g_run.args = pointers;
    g_run.threads = (int)l->threads;
    int descending = (int)(g_launches++ & 1);
    for (unsigned y = 0; y < l->gy; y++)
        for (unsigned x = 0; x < l->gx; x++) {
            g_run.block[0] = (int)x;
            g_run.block[1] = (int)y;
            g_faulted = 0;
            CUresult status = run_block(descending);
            if (status) return status;
            if (g_faulted) return LAUNCH_FAILED;
        }
    return OK;
}

// ---- The driver API ---------------------------------------------------------------------------------
CUresult cuInit(unsigned flags) { (void)flags; return OK; }
CUresult cuDriverGetVersion(int* v) { *v = 12000; return OK; }
// SWIFTFILE_STAND_IN_DEVICES="8192,4096@6.1" (test-only): that many devices, of those MiB each (free: 7/8
// of it), of compute capability 9.0 unless @MAJOR.MINOR says otherwise; unset: one of 8 GiB. The worker
// process opens one; its memory is what cuMemGetInfo reports.
static int g_open_device;
struct stand_in_device { size_t mib; int major, minor; };
static int stand_in_devices(struct stand_in_device* d, int most) {
    const char* list = getenv("SWIFTFILE_STAND_IN_DEVICES");
    if (!list || !*list) { d[0] = (struct stand_in_device){8192, 9, 0}; return 1; }
    int n = 0;
    for (const char* p = list; *p && n < most;) {
        char* end;
        unsigned long long v = strtoull(p, &end, 10);
        if (end == p) break;
        d[n] = (struct stand_in_device){(size_t)v, 9, 0};
        if (*end == '@') {
            d[n].major = (int)strtol(end + 1, &end, 10);
            if (*end == '.') d[n].minor = (int)strtol(end + 1, &end, 10);
        }
        n++;
        p = *end == ',' ? end + 1 : end;
    }
    return n;
}
static struct stand_in_device stand_in_device(int i) {
    struct stand_in_device d[16];
    int n = stand_in_devices(d, 16);
    return i >= 0 && i < n ? d[i] : (struct stand_in_device){0, 0, 0};
}
static size_t stand_in_total(int i) { return stand_in_device(i).mib << 20; }
CUresult cuDeviceGetCount(int* n) { struct stand_in_device d[16]; *n = stand_in_devices(d, 16); return OK; }
CUresult cuDeviceGet(int* d, int i) { int n; cuDeviceGetCount(&n); *d = i; return i >= 0 && i < n ? OK : INVALID; }
CUresult cuDeviceGetName(char* name, int len, int d) {
    if (d == 0) snprintf(name, (size_t)len, "Stand-in CUDA device (host)");
    else snprintf(name, (size_t)len, "Stand-in CUDA device %d (host)", d);
    return OK;
}
CUresult cuDeviceTotalMem_v2(size_t* bytes, int d) { *bytes = stand_in_total(d); return OK; }
CUresult cuDeviceGetAttribute(int* v, int attribute, int d) {
    struct stand_in_device device = stand_in_device(d);
    *v = attribute == 75 ? device.major : attribute == 76 ? device.minor : attribute == 16 ? 1 : 0;
    return OK;
}
CUresult cuDevicePrimaryCtxRetain(void** c, int d) { g_open_device = d; *c = (void*)1; return OK; }
CUresult cuCtxSetCurrent(void* c) { (void)c; return OK; }
CUresult cuCtxSynchronize(void) { return OK; }
CUresult cuModuleLoadDataEx(void** m, const void* image, unsigned n, int* o, void** v) {
    (void)n; (void)o; (void)v;
    if (!image || !strstr((const char*)image, ".entry mv_q4_0")) return 218;  // CUDA_ERROR_INVALID_PTX
    // A real driver compiles the PTX here when its cache lacks it (seconds); tests ask for such a pause.
    const char* jit = getenv("SWIFTFILE_STAND_IN_JIT_MS");
    if (jit) {
        long ms = atol(jit);
        struct timespec pause = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&pause, NULL);
    }
    *m = (void*)1;
    return OK;
}
CUresult cuModuleGetFunction(void** f, void* m, const char* name) {
    (void)m;
    for (const struct emulated_kernel* k = emulated_kernels; k->name; k++)
        if (!strcmp(k->name, name)) { *f = (void*)k; return OK; }
    return NOT_FOUND;
}
CUresult cuMemAlloc_v2(CUdeviceptr* p, size_t bytes) {
    if (bytes > SIZE_MAX - 255) return 2;  // CUDA_ERROR_OUT_OF_MEMORY
    size_t rounded = (bytes + 255) & ~(size_t)255;
    void* m = aligned_alloc(256, rounded ? rounded : 256);  // as aligned as the driver's allocations
    if (!m) return 2;  // CUDA_ERROR_OUT_OF_MEMORY
    // As uninitialised as real device memory, the first GiB of it: beyond, pages stay untouched, so a test can
    // give the stand-in the KV cache of a context longer than the host could hold.
    memset(m, 0xA5, bytes < (1ull << 30) ? bytes : (1ull << 30));
    *p = (CUdeviceptr)(uintptr_t)m;
    return OK;
}
CUresult cuMemFree_v2(CUdeviceptr p) { free((void*)(uintptr_t)p); return OK; }
CUresult cuMemGetInfo_v2(size_t* free_bytes, size_t* total) {
    *total = stand_in_total(g_open_device);
    *free_bytes = *total / 8 * 7;
    return OK;
}
CUresult cuMemcpyHtoD_v2(CUdeviceptr d, const void* s, size_t n) { memcpy((void*)(uintptr_t)d, s, n); return OK; }
CUresult cuMemcpyDtoH_v2(void* d, CUdeviceptr s, size_t n) { memcpy(d, (void*)(uintptr_t)s, n); return OK; }
CUresult cuMemsetD8_v2(CUdeviceptr d, unsigned char v, size_t n) { memset((void*)(uintptr_t)d, v, n); return OK; }
CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr d, const void* s, size_t n, void* st) { (void)st; return cuMemcpyHtoD_v2(d, s, n); }
CUresult cuMemcpyDtoHAsync_v2(void* d, CUdeviceptr s, size_t n, void* st) { (void)st; return cuMemcpyDtoH_v2(d, s, n); }
CUresult cuMemHostRegister_v2(void* p, size_t n, unsigned f) { (void)p; (void)n; (void)f; return OK; }
CUresult cuStreamCreate(void** s, unsigned f) { (void)f; *s = (void*)2; return OK; }
CUresult cuStreamSynchronize(void* s) { (void)s; return OK; }
CUresult cuGetErrorString(CUresult r, const char** s) {
    *s = r == NOT_FOUND ? "named symbol not found" : r == LAUNCH_FAILED ? g_error : "stand-in driver error";
    return OK;
}

CUresult cuLaunchKernel(void* f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned shared, void* stream, void** args, void** extra) {
    (void)shared; (void)stream; (void)extra;
    // The hardware's limits: a grid's y at most 65535 blocks (x: 2³¹ − 1), a block at most 1024 threads.
    if (gz != 1 || by != 1 || bz != 1 || bx == 0 || bx > MAX_THREADS || gx == 0 || gy == 0 || gy > 65535 || gx > 0x7fffffffu)
        return INVALID;
    struct launch l = {f, gx, gy, bx, {{0}}};
    for (int i = 0; i < l.kernel->arguments; i++) memcpy(l.args[i], args[i], l.kernel->sizes[i]);
    if (g_capture) {
        if (g_capture->count == g_capture->capacity) {
            g_capture->capacity = g_capture->capacity ? 2 * g_capture->capacity : 64;
            g_capture->launches = realloc(g_capture->launches, (size_t)g_capture->capacity * sizeof(struct launch));
        }
        g_capture->launches[g_capture->count++] = l;
        return OK;
    }
    return run_launch(&l);
}

CUresult cuStreamBeginCapture_v2(void* s, int mode) { (void)s; (void)mode; g_capture = calloc(1, sizeof *g_capture); return OK; }
CUresult cuStreamEndCapture(void* s, void** graph) { (void)s; *graph = g_capture; g_capture = NULL; return OK; }
CUresult cuGraphInstantiateWithFlags(void** exec, void* graph, unsigned long long flags) {
    (void)flags;
    struct graph* copy = calloc(1, sizeof *copy);
    const struct graph* g = graph;
    copy->count = copy->capacity = g->count;
    copy->launches = malloc((size_t)(g->count ? g->count : 1) * sizeof(struct launch));
    memcpy(copy->launches, g->launches, (size_t)g->count * sizeof(struct launch));
    *exec = copy;
    return OK;
}
CUresult cuGraphLaunch(void* exec, void* stream) {
    (void)stream;
    struct graph* g = exec;
    for (int i = 0; i < g->count; i++) {
        CUresult status = run_launch(&g->launches[i]);
        if (status) return status;
    }
    return OK;
}
// Events: the host's clock when recorded (launches run at once here), for the worker's kernel profile.
CUresult cuEventCreate(void** event, unsigned flags) {
    (void)flags;
    *event = calloc(1, sizeof(double));
    return *event ? OK : 2;
}
CUresult cuEventRecord(void* event, void* stream) {
    (void)stream;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    *(double*)event = ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
    return OK;
}
CUresult cuEventElapsedTime(float* ms, void* start, void* end) { *ms = (float)(*(double*)end - *(double*)start); return OK; }

CUresult cuGraphDestroy(void* graph) {
    struct graph* g = graph;
    free(g->launches);
    free(g);
    return OK;
}
