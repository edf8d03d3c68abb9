// swiftfile-gpu: the GPU worker. A small dynamically linked program that needs only glibc and the
// NVIDIA driver's libcuda.so.1 (opened with dlopen; no CUDA toolkit). It holds the offloaded layers'
// weights and KV cache on the GPU and runs them for the runner, which talks to it through shared memory
// and two pipes (protocol.h). The kernels are PTX embedded below, JIT-compiled by the driver at load.
// Why a separate process: the runner is a static executable, which cannot safely load the driver's
// shared library, and a GPU fault here cannot take the runner (or its server) down: docs/gpu.md.
//
//   swiftfile-gpu --probe     one line: the device, or why there is none (exit 0 / 1)
//   (started by the runner)   serve requests on fds 3 (shared memory), 4 (requests), 5 (replies)
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <math.h>
#include <time.h>

#include "formats.h"
#include "protocol.h"

// ---- The PTX, embedded at build time (GPU_PTX_PATH names the file) --------------------------------
#define STR2(x) #x
#define STR(x) STR2(x)
__asm__(".section .rodata\n.global sfg_ptx\n.type sfg_ptx, @object\n.balign 16\nsfg_ptx:\n.incbin \"" STR(GPU_PTX_PATH)
        "\"\n.byte 0\n.global sfg_ptx_end\nsfg_ptx_end:\n.previous\n");
extern const char sfg_ptx[];
extern const char sfg_ptx_end[];
// The module for sm_75 and later (int8 tensor cores; GPU_PTX_MMA_PATH, when the build made it).
#ifdef GPU_PTX_MMA_PATH
__asm__(".section .rodata\n.global sfg_ptx_mma\n.type sfg_ptx_mma, @object\n.balign 16\nsfg_ptx_mma:\n.incbin \"" STR(GPU_PTX_MMA_PATH)
        "\"\n.byte 0\n.previous\n");
extern const char sfg_ptx_mma[];
static const char* const g_ptx_mma = sfg_ptx_mma;
#else
static const char* const g_ptx_mma = NULL;
#endif

// ---- The driver API, declared here (documented C ABI of libcuda.so.1) -------------------------------
typedef int CUresult;
typedef int CUdevice;
typedef void* CUcontext;
typedef void* CUmodule;
typedef void* CUfunction;
typedef void* CUstream;
typedef unsigned long long CUdeviceptr;

static struct {
    CUresult (*Init)(unsigned);
    CUresult (*DriverGetVersion)(int*);
    CUresult (*DeviceGetCount)(int*);
    CUresult (*DeviceGet)(CUdevice*, int);
    CUresult (*DeviceGetName)(char*, int, CUdevice);
    CUresult (*DeviceTotalMem)(size_t*, CUdevice);
    CUresult (*DeviceGetAttribute)(int*, int, CUdevice);
    CUresult (*DevicePrimaryCtxRetain)(CUcontext*, CUdevice);
    CUresult (*CtxSetCurrent)(CUcontext);
    CUresult (*CtxSynchronize)(void);
    CUresult (*ModuleLoadDataEx)(CUmodule*, const void*, unsigned, int*, void**);
    CUresult (*ModuleGetFunction)(CUfunction*, CUmodule, const char*);
    CUresult (*MemAlloc)(CUdeviceptr*, size_t);
    CUresult (*MemFree)(CUdeviceptr);
    CUresult (*MemGetInfo)(size_t*, size_t*);
    CUresult (*MemcpyHtoD)(CUdeviceptr, const void*, size_t);
    CUresult (*MemcpyDtoH)(void*, CUdeviceptr, size_t);
    CUresult (*MemsetD8)(CUdeviceptr, unsigned char, size_t);
    CUresult (*LaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                             CUstream, void**, void**);
    CUresult (*GetErrorString)(CUresult, const char**);
    // Optional (older drivers lack some): streams, async copies, pinning, graphs.
    CUresult (*StreamCreate)(CUstream*, unsigned);
    CUresult (*StreamSynchronize)(CUstream);
    CUresult (*MemcpyHtoDAsync)(CUdeviceptr, const void*, size_t, CUstream);
    CUresult (*MemcpyDtoHAsync)(void*, CUdeviceptr, size_t, CUstream);
    CUresult (*MemHostRegister)(void*, size_t, unsigned);
    CUresult (*StreamBeginCapture)(CUstream, int);
    CUresult (*StreamEndCapture)(CUstream, void**);
    CUresult (*GraphInstantiateWithFlags)(void**, void*, unsigned long long);
    CUresult (*GraphLaunch)(void*, CUstream);
    CUresult (*GraphDestroy)(void*);
    CUresult (*EventCreate)(void**, unsigned);  // for SWIFTFILE_GPU_PROFILE=kernels
    CUresult (*EventRecord)(void*, CUstream);
    CUresult (*EventElapsedTime)(float*, void*, void*);
} cu;

enum { ATTR_SM_COUNT = 16, ATTR_CC_MAJOR = 75, ATTR_CC_MINOR = 76 };
enum { JIT_ERROR_LOG = 5, JIT_ERROR_LOG_SIZE = 6 };

static char g_error[224];

static void set_error(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_error, sizeof g_error, fmt, ap);
    va_end(ap);
}

static const char* cu_message(CUresult r) {
    const char* s = NULL;
    if (cu.GetErrorString && cu.GetErrorString(r, &s) == 0 && s) return s;
    return "unknown CUDA error";
}

#define CU(call)                                                                    \
    do {                                                                            \
        CUresult r_ = (call);                                                       \
        if (r_ != 0) {                                                              \
            set_error("%s failed: %s (%d)", #call, cu_message(r_), r_);             \
            return SFG_FAILED;                                                      \
        }                                                                           \
    } while (0)

// ---- Device discovery ------------------------------------------------------------------------------
static CUdevice g_device;
static int g_multiprocessors;
// All work goes to one stream (a graph can only be captured from a stream other than the legacy one).
static CUstream g_stream;
static CUcontext g_context;
static CUmodule g_module;
static char g_device_text[200];

static int open_driver(void) {
    void* lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        set_error("no NVIDIA driver (libcuda.so.1 not found)");
        return SFG_NO_DEVICE;
    }
#define SYM(field, name)                                                     \
    if (!(*(void**)&cu.field = dlsym(lib, name))) {                          \
        set_error("the NVIDIA driver lacks %s (too old)", name);             \
        return SFG_NO_DEVICE;                                                \
    }
    SYM(Init, "cuInit") SYM(DriverGetVersion, "cuDriverGetVersion") SYM(DeviceGetCount, "cuDeviceGetCount")
    SYM(DeviceGet, "cuDeviceGet") SYM(DeviceGetName, "cuDeviceGetName") SYM(DeviceTotalMem, "cuDeviceTotalMem_v2")
    SYM(DeviceGetAttribute, "cuDeviceGetAttribute") SYM(DevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain")
    SYM(CtxSetCurrent, "cuCtxSetCurrent") SYM(CtxSynchronize, "cuCtxSynchronize")
    SYM(ModuleLoadDataEx, "cuModuleLoadDataEx") SYM(ModuleGetFunction, "cuModuleGetFunction")
    SYM(MemAlloc, "cuMemAlloc_v2") SYM(MemFree, "cuMemFree_v2") SYM(MemGetInfo, "cuMemGetInfo_v2")
    SYM(MemcpyHtoD, "cuMemcpyHtoD_v2") SYM(MemcpyDtoH, "cuMemcpyDtoH_v2") SYM(MemsetD8, "cuMemsetD8_v2")
    SYM(LaunchKernel, "cuLaunchKernel")
    SYM(GetErrorString, "cuGetErrorString")
#undef SYM
    *(void**)&cu.StreamCreate = dlsym(lib, "cuStreamCreate");
    *(void**)&cu.StreamSynchronize = dlsym(lib, "cuStreamSynchronize");
    *(void**)&cu.MemcpyHtoDAsync = dlsym(lib, "cuMemcpyHtoDAsync_v2");
    *(void**)&cu.MemcpyDtoHAsync = dlsym(lib, "cuMemcpyDtoHAsync_v2");
    *(void**)&cu.MemHostRegister = dlsym(lib, "cuMemHostRegister_v2");
    *(void**)&cu.StreamBeginCapture = dlsym(lib, "cuStreamBeginCapture_v2");
    *(void**)&cu.StreamEndCapture = dlsym(lib, "cuStreamEndCapture");
    *(void**)&cu.GraphInstantiateWithFlags = dlsym(lib, "cuGraphInstantiateWithFlags");
    *(void**)&cu.GraphLaunch = dlsym(lib, "cuGraphLaunch");
    *(void**)&cu.GraphDestroy = dlsym(lib, "cuGraphDestroy");
    *(void**)&cu.EventCreate = dlsym(lib, "cuEventCreate");
    *(void**)&cu.EventRecord = dlsym(lib, "cuEventRecord");
    *(void**)&cu.EventElapsedTime = dlsym(lib, "cuEventElapsedTime");
    return SFG_OK;
}

// Opens device `index` (as the driver numbers them: CUDA_VISIBLE_DEVICES applies) and JIT-compiles the
// kernels. Fills g_device_text and g_device_count.
static int g_device_count, g_device_index;
static int open_device(int index) {
    int status = open_driver();
    if (status) return status;
    CUresult r = cu.Init(0);
    if (r) {
        set_error("the NVIDIA driver did not initialise: %s (%d)", cu_message(r), r);
        return SFG_NO_DEVICE;
    }
    int count = 0, driver = 0;
    cu.DriverGetVersion(&driver);
    if (cu.DeviceGetCount(&count) || count < 1) {
        set_error("no NVIDIA GPU found (driver %d.%d)", driver / 1000, driver % 1000 / 10);
        return SFG_NO_DEVICE;
    }
    g_device_count = count;
    if (index < 0 || index >= count) {
        set_error("no NVIDIA GPU %d: the driver sees %d (numbered from 0)", index, count);
        return SFG_NO_DEVICE;
    }
    CU(cu.DeviceGet(&g_device, index));
    g_device_index = index;
    char name[100] = {0};
    size_t total = 0;
    int major = 0, minor = 0, sms = 0;
    CU(cu.DeviceGetName(name, sizeof name - 1, g_device));
    CU(cu.DeviceTotalMem(&total, g_device));
    CU(cu.DeviceGetAttribute(&major, ATTR_CC_MAJOR, g_device));
    CU(cu.DeviceGetAttribute(&minor, ATTR_CC_MINOR, g_device));
    CU(cu.DeviceGetAttribute(&sms, ATTR_SM_COUNT, g_device));
    g_multiprocessors = sms;
    snprintf(g_device_text, sizeof g_device_text, "%s, %zu MiB, compute %d.%d, %d SMs, driver %d.%d", name,
             total >> 20, major, minor, sms, driver / 1000, driver % 1000 / 10);
    if (major < 7) {
        set_error("%s: compute capability %d.%d is below the 7.0 the kernels need", name, major, minor);
        return SFG_NO_DEVICE;
    }
    CU(cu.DevicePrimaryCtxRetain(&g_context, g_device));
    CU(cu.CtxSetCurrent(g_context));
    char log[4096] = {0};
    int options[2] = {JIT_ERROR_LOG, JIT_ERROR_LOG_SIZE};
    void* values[2] = {log, (void*)(uintptr_t)sizeof log};
    // Turing and later take the module with the int8 tensor cores; a driver too old for its PTX (before 440)
    // gets the sm_70 one.
    const char* kernels = "PTX ISA 6.4";
    r = 500;  // CUDA_ERROR_NOT_FOUND until a module loads
    if (g_ptx_mma && major * 10 + minor >= 75) {
        r = cu.ModuleLoadDataEx(&g_module, g_ptx_mma, 2, options, values);
        if (!r) kernels = "PTX ISA 6.5, int8 tensor cores";
    }
    if (r) {
        log[0] = 0;
        values[1] = (void*)(uintptr_t)sizeof log;  // the first load wrote the log's length there
        r = cu.ModuleLoadDataEx(&g_module, sfg_ptx, 2, options, values);
    }
    size_t used = strlen(g_device_text);
    snprintf(g_device_text + used, sizeof g_device_text - used, ", kernels: %s", kernels);
    if (r) {
        char* nl = strchr(log, '\n');
        if (nl) *nl = 0;
        set_error("the driver could not compile the kernels: %s (%d) %s", cu_message(r), r, log);
        return SFG_NO_DEVICE;
    }
    if (cu.StreamCreate && cu.StreamSynchronize && cu.MemcpyHtoDAsync && cu.MemcpyDtoHAsync) {
        CU(cu.StreamCreate(&g_stream, 1 /* non-blocking */));
    }
    return SFG_OK;
}

// ---- Model state on the GPU --------------------------------------------------------------------------
struct matrix {
    CUdeviceptr data;
    int type, rows, cols;
    unsigned long long row_bytes;
    CUfunction mv, mb, mm;  // one token, 2–8 tokens, more
    // 1–3 tokens in the CPU's row-kernel order, where it does not interleave the matrix (Q4_K and IQ4_NL with
    // rows not a multiple of 8; kernels.cu, mr_*); else null
    CUfunction mr;
    int act;  // activation rounding mode (kernels.cu round_activations), from the weight format
};

// The activation format the CPU engine pairs with each weight format (ggml's vec_dot_type).
static int activation_mode(int type) {
    switch (type) {
    case T_F16: return 1;
    case T_BF16: return 2;
    case T_Q4_0: case T_Q5_0: case T_Q8_0: case T_IQ4_NL: return 3;
    case T_Q4_1: case T_Q5_1: return 6;  // Q8_1 as integers and the blocks' unrounded scales (matvec_nibbles, _q8_0)
    case T_Q2_K: case T_Q3_K: case T_Q4_K: case T_Q5_K: case T_Q6_K: case T_IQ4_XS: return 4;
    default: return FMT_GRID(type) ? 4 : 0;
    }
}

// Long-context attention splits (attention_splits below): at most this many ranges, from this length on,
// for batches of at most this many tokens.
enum { ATTENTION_SPLITS = 32, SPLIT_FROM_LENGTH = 1024, SPLIT_BATCH = 8 };

struct layer {
    CUdeviceptr attn_norm, ffn_norm;
    struct matrix wq, wk, wv, wo, gate, up, down;
    // q, k and v (gate and up) as one matrix when they share a format and lie back to back on the device
    // (rows 0 when not): a decode step multiplies them in one launch.
    struct matrix qkv, gate_up;
};

static struct {
    uint32_t h[H_COUNT];
    float eps;
    int first, count;  // offloaded layers first ..< first + count
    int output;        // final norm and output matrix on the GPU
    struct layer* layers;
    CUdeviceptr output_norm;
    struct matrix out;
    CUdeviceptr weights, kc, vc;
    CUdeviceptr x, xb, q, k, v, att, proj, gate, up, rope, info, wanted, logits;
    struct sfg_layout layout;
    int loaded, broken;
    CUfunction add_norm, rope_store, swiglu, add, gather, attention, round_act;
    CUfunction split_stats, split_values, split_sum;  // attention over long contexts (kernels.cu)
    CUfunction shift;  // context shift of the cache
    CUdeviceptr split_scratch;  // their maxima and sums, then weighted values, per token, head and range
    CUdeviceptr xr;  // rounded activations
    CUdeviceptr xc;  // per 32-block scales of the last rounding: Q8_0's d (mode 3), Q8_1's amax/127 (6), Q8_K's d (4)
    CUdeviceptr xq;  // its int8 values (modes 3, 4, 6): the integer kernels multiply these
    CUdeviceptr rounded_src;  // what xr holds: (source, mode, rows), 0 when stale
    int rounded_mode, rounded_rows;
    // Decode steps replay one captured graph per (tokens, wanted rows): ~16 launches per layer become one.
    struct { int n, wanted, splits; void* exec; } graphs[16];
    int graph_count, graphs_off;
} M;

static unsigned char* g_shared;
// SWIFTFILE_GPU_PROFILE=1: time spent per request kind, printed to stderr when the runner lets go.
// SWIFTFILE_GPU_PROFILE=kernels also times every launch on the GPU (events around each; graphs off) and
// prints the time per kernel and batch kind (one token, 2–8, more), the largest first.
static struct { int on, kernels; long forwards, tokens; double forward_ms, wait_ms; } g_profile;
enum { KIND_DECODE, KIND_BATCH, KIND_PROMPT, KINDS, PROFILE_KERNELS = 160, PROFILE_EVENTS = 8192 };
// Matrix launches also count their weight bytes (weights read once per launch: the rate against the GPU's
// memory bandwidth says how far a matrix-vector kernel is from its bound).
static struct kernel_time { CUfunction f; char name[32]; long launches[KINDS]; double ms[KINDS], bytes[KINDS]; } g_kernel_times[PROFILE_KERNELS];
static int g_kernel_count;
static struct {
    void* start[PROFILE_EVENTS];
    void* end[PROFILE_EVENTS];
    int kernel[PROFILE_EVENTS];
    double bytes[PROFILE_EVENTS];
    int used, kind, failed;
    double next_bytes;  // the weight bytes of the launch about to be made (matmul)
} g_events;

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}
static size_t g_shared_bytes;

static const char* kernel_suffix(int type) {
    switch (type) {
    case T_F32: return "f32";
    case T_F16: return "f16";
    case T_BF16: return "bf16";
    case T_Q4_0: return "q4_0";
    case T_Q4_1: return "q4_1";
    case T_Q5_0: return "q5_0";
    case T_Q5_1: return "q5_1";
    case T_Q8_0: return "q8_0";
    case T_Q2_K: return "q2_k";
    case T_Q3_K: return "q3_k";
    case T_Q4_K: return "q4_k";
    case T_Q5_K: return "q5_k";
    case T_Q6_K: return "q6_k";
    case T_IQ4_NL: return "iq4_nl";
    case T_IQ4_XS: return "iq4_xs";
    case T_IQ2_XXS: return "iq2_xxs";
    case T_IQ2_XS: return "iq2_xs";
    case T_IQ2_S: return "iq2_s";
    case T_IQ3_XXS: return "iq3_xxs";
    case T_IQ3_S: return "iq3_s";
    case T_IQ1_S: return "iq1_s";
    case T_IQ1_M: return "iq1_m";
    default: return NULL;
    }
}

static int function(CUfunction* f, const char* name) {
    CU(cu.ModuleGetFunction(f, g_module, name));
    if (g_profile.kernels && g_kernel_count < PROFILE_KERNELS) {
        for (int i = 0; i < g_kernel_count; i++)
            if (g_kernel_times[i].f == *f) return SFG_OK;
        g_kernel_times[g_kernel_count].f = *f;
        snprintf(g_kernel_times[g_kernel_count++].name, sizeof g_kernel_times[0].name, "%s", name);
    }
    return SFG_OK;
}

// The launch's events (created once, reused every forward); 0 when this launch goes untimed.
static int profile_slot(CUfunction f) {
    if (!g_profile.kernels || g_events.failed || g_events.used == PROFILE_EVENTS || !g_stream || !cu.EventCreate ||
        !cu.EventRecord || !cu.EventElapsedTime)
        return -1;
    int k = 0;
    while (k < g_kernel_count && g_kernel_times[k].f != f) k++;
    if (k == g_kernel_count) return -1;
    int i = g_events.used;
    if (!g_events.start[i] && (cu.EventCreate(&g_events.start[i], 0) || cu.EventCreate(&g_events.end[i], 0))) {
        g_events.failed = 1;
        return -1;
    }
    g_events.kernel[i] = k;
    g_events.bytes[i] = g_events.next_bytes;
    g_events.used++;
    return i;
}

// After the stream has finished: each timed launch's GPU time into its kernel's total.
static void profile_collect(void) {
    for (int i = 0; i < g_events.used; i++) {
        float ms = 0;
        if (cu.EventElapsedTime(&ms, g_events.start[i], g_events.end[i]) == 0) {
            g_kernel_times[g_events.kernel[i]].ms[g_events.kind] += ms;
            g_kernel_times[g_events.kernel[i]].launches[g_events.kind]++;
            g_kernel_times[g_events.kernel[i]].bytes[g_events.kind] += g_events.bytes[i];
        }
    }
    g_events.used = 0;
}

static void profile_print(void) {
    static const char* kinds[KINDS] = {"1 token", "2-8 tokens", "prompt"};
    double total[KINDS] = {0};
    for (int k = 0; k < g_kernel_count; k++)
        for (int j = 0; j < KINDS; j++) total[j] += g_kernel_times[k].ms[j];
    for (int j = 0; j < KINDS; j++) {
        if (total[j] <= 0) continue;
        fprintf(stderr, "swiftfile-gpu: kernel time, %s batches: %.2f ms in all\n", kinds[j], total[j]);
        for (;;) {  // largest first
            int best = -1;
            for (int k = 0; k < g_kernel_count; k++)
                if (g_kernel_times[k].ms[j] > 0 && (best < 0 || g_kernel_times[k].ms[j] > g_kernel_times[best].ms[j])) best = k;
            if (best < 0) break;
            struct kernel_time* t = &g_kernel_times[best];
            fprintf(stderr, "  %-28s %8ld launches %10.3f ms %5.1f %% %9.2f us each", t->name, t->launches[j], t->ms[j],
                    100 * t->ms[j] / total[j], 1000 * t->ms[j] / (double)t->launches[j]);
            if (t->bytes[j] > 0) fprintf(stderr, " %8.1f GB/s of weights", t->bytes[j] / t->ms[j] / 1e6);
            fprintf(stderr, "\n");
            t->ms[j] = -t->ms[j];  // printed
        }
    }
}

// Prompt routes (SWIFTFILE_GPU_MATMUL), to compare on a GPU; all in the CPU engine's orders. Unset: Q4_0,
// Q4_1, Q5_0, IQ4_NL and the super-block formats (Q2_K … Q6_K, IQ4_XS, the grid I-quants) on their integer tiles (mm_*: int8
// tensor cores in the sm_75 module), the others through the batched matrix-vector kernel (batched_only).
// simt: the tiles on the CUDA cores (ms_*, dp4a); matvec: the tiles' formats through the batched kernel too.
enum { ROUTE_DEFAULT, ROUTE_SIMT, ROUTE_MATVEC };
static int g_route = -1;  // read once; the self-test sets it per run
static int prompt_route(void) {
    if (g_route < 0) {
        const char* choice = getenv("SWIFTFILE_GPU_MATMUL");
        g_route = !choice ? ROUTE_DEFAULT : strcmp(choice, "simt") == 0 ? ROUTE_SIMT
                : strcmp(choice, "matvec") == 0 ? ROUTE_MATVEC : ROUTE_DEFAULT;
    }
    return g_route;
}
static const char* tiled_prefix(void) { return prompt_route() == ROUTE_SIMT ? "ms" : "mm"; }

// The formats whose products follow the CPU engine's order from the rounding's integers (kernels.cu:
// matvec_q8_0, matvec_nibbles, matvec_kquant, matmul_nibbles, matmul_superblocks).
static int kquant_cpu_order(int type) {
    return type == T_Q2_K || type == T_Q3_K || type == T_Q4_K || type == T_Q5_K || type == T_Q6_K || type == T_IQ4_XS ||
           FMT_GRID(type);
}
static int nibbles(int type) { return type == T_Q4_0 || type == T_Q4_1 || type == T_IQ4_NL || type == T_Q5_0; }
static int takes_integers(int type) { return type == T_Q8_0 || type == T_Q5_1 || nibbles(type) || kquant_cpu_order(type); }
// Q8_0's order, 8 chains per row and token (kernels.cu, matvec_q8_0): Q5_0 for batches of up to 3 tokens.
static int q8_0_order(int type) { return type == T_Q8_0 || type == T_Q5_0 || type == T_Q5_1; }
// The formats whose CPU order keeps several chains per row and token at every batch size: no tile, their
// prompts go through the batched matrix-vector kernel.
// Q4_K and IQ4_NL matrices the CPU engine keeps in place (InterleavedWeights.supports): their batches of up
// to 3 tokens take its row kernels' order (mr_*).
static int not_interleaved(int type, int rows) { return (type == T_Q4_K || type == T_IQ4_NL) && rows % 8 != 0; }
static int batched_only(int type) {
    return type == T_Q8_0 || type == T_Q5_1 || type == T_F16 || type == T_F32 || type == T_BF16;
}

static int launch(CUfunction f, unsigned gx, unsigned gy, unsigned block, void** args) {
    int slot = profile_slot(f);
    g_events.next_bytes = 0;
    if (slot >= 0) CU(cu.EventRecord(g_events.start[slot], g_stream));
    CU(cu.LaunchKernel(f, gx, gy, 1, block, 1, 1, 0, g_stream, args, NULL));
    if (slot >= 0) CU(cu.EventRecord(g_events.end[slot], g_stream));
    return SFG_OK;
}

// y (n × rows) = x (n × cols) · Wᵀ
static int matmul(const struct matrix* m, CUdeviceptr x, CUdeviceptr y, int n) {
    unsigned long long rb = m->row_bytes;
    int rows = m->rows, cols = m->cols;
    CUdeviceptr corr = 0;
    int integers = takes_integers(m->type);
    if (integers) {  // the rounding's int8 values and scales rather than x's values
        x = M.xq;
        corr = M.xc;
    }
    void* args[] = {(void*)&m->data, &rb, &x, &corr, &y, &rows, &cols, &n};
    g_events.next_bytes = (double)rows * (double)rb;
    // Formats in the CPU's order without a tile in that order take the batched matrix-vector kernel for
    // prompts too, 8 tokens per block row (prompt_route).
    int by_matvec = batched_only(m->type) || (integers && prompt_route() == ROUTE_MATVEC);
    // Q8_0's one-token kernel (also Q5_0's and Q5_1's) gives each 8-lane group a row (16 per block), the
    // others a warp (4).
    unsigned per_block = q8_0_order(m->type) && n == 1 ? 16 : 4;
    if (n > 8 && by_matvec) return launch(m->mb, ((unsigned)rows + per_block - 1) / per_block, (unsigned)(n + 7) / 8, 128, args);
    if (n > 8) return launch(m->mm, (unsigned)(rows + 63) / 64, (unsigned)(n + 63) / 64, 128, args);
    if (n <= 3 && m->mr) return launch(m->mr, ((unsigned)rows + 3) / 4, 1, 128, args);
    if (n == 1) return launch(m->mv, ((unsigned)rows + per_block - 1) / per_block, 1, 128, args);
    return launch(m->mb, ((unsigned)rows + per_block - 1) / per_block, 1, 128, args);
}

// y = x · Wᵀ, with x holding the values the CPU engine would multiply for W's format: `x_mode` says how x
// is rounded already (0: not at all; then it is rounded here, once for q/k/v or gate/up together).
static int project(const struct matrix* m, CUdeviceptr x, int x_mode, CUdeviceptr y, int n) {
    if (m->act != x_mode) {
        if (x_mode != 0) { set_error("activations rounded for another format"); return SFG_FAILED; }
        if (!(M.rounded_src == x && M.rounded_mode == m->act && M.rounded_rows == n)) {
            int cols = m->cols, mode = m->act;
            void* args[] = {&x, &M.xr, &M.xc, &M.xq, &cols, &mode};
            int status = launch(M.round_act, (unsigned)n, (unsigned)(cols + 255) / 256, 256, args);
            if (status) return status;
            M.rounded_src = x; M.rounded_mode = m->act; M.rounded_rows = n;
        }
        x = M.xr;
    }
    return matmul(m, x, y, n);
}

static const struct sfg_tensor* find_tensor(const struct sfg_tensor* t, uint32_t count, uint32_t layer, uint32_t role) {
    for (uint32_t i = 0; i < count; i++)
        if (t[i].layer == layer && t[i].role == role) return &t[i];
    return NULL;
}

// Device offsets of the tensors: each 256-aligned, except that a layer's q, k, v (and gate, up) go back to
// back when they share a format and a width, so that they read as one matrix (stacked); returns the total.
static uint64_t place_weights(const struct sfg_tensor* tensors, uint32_t count, CUdeviceptr* offset) {
    const uint64_t unplaced = ~0ull;
    for (uint32_t i = 0; i < count; i++) offset[i] = unplaced;
    uint64_t at = 0;
    for (uint32_t i = 0; i < count; i++) {
        const struct sfg_tensor* t = &tensors[i];
        if (t->role != R_WQ && t->role != R_GATE) continue;
        const struct sfg_tensor* group[3] = {t, find_tensor(tensors, count, t->layer, t->role == R_WQ ? R_WK : R_UP),
                                             t->role == R_WQ ? find_tensor(tensors, count, t->layer, R_WV) : NULL};
        int members = t->role == R_WQ ? 3 : 2, same = find_tensor(tensors, count, t->layer, t->role) == t;
        for (int g = 1; g < members; g++)
            same = same && group[g] && group[g]->type == t->type && group[g]->cols == t->cols && offset[group[g] - tensors] == unplaced;
        if (!same) continue;
        for (int g = 0; g < members; g++) {
            offset[group[g] - tensors] = at;
            at += group[g]->bytes;
        }
        at = (at + 255) & ~255ull;
    }
    for (uint32_t i = 0; i < count; i++) {
        if (offset[i] != unplaced) continue;
        offset[i] = at;
        at += (tensors[i].bytes + 255) & ~255ull;
    }
    return at;
}

// a, b (and c) as one matrix of their rows together, when they share a format and lie back to back;
// rows 0 otherwise.
static struct matrix stacked(const struct matrix* a, const struct matrix* b, const struct matrix* c) {
    struct matrix m = *a;
    const struct matrix* next[2] = {b, c};
    for (int i = 0; i < 2 && next[i]; i++) {
        const struct matrix* n = next[i];
        if (n->type != m.type || n->cols != m.cols || n->row_bytes != m.row_bytes || m.mr || n->mr ||
            n->data != m.data + (CUdeviceptr)m.rows * m.row_bytes) {
            m.rows = 0;
            return m;
        }
        m.rows += n->rows;
    }
    return m;
}

static int handle_load(uint64_t length) {
    if (M.loaded) { set_error("already loaded"); return SFG_BAD_REQUEST; }
    if (length < H_COUNT * 4 || length > g_shared_bytes) { set_error("load description of %llu bytes", (unsigned long long)length); return SFG_BAD_REQUEST; }
    const unsigned char* d = g_shared;
    memcpy(M.h, d, sizeof M.h);
    uint32_t* h = M.h;
    if (h[H_MAGIC] != SFG_MAGIC || h[H_VERSION] != SFG_VERSION) { set_error("protocol version mismatch"); return SFG_BAD_REQUEST; }
    memcpy(&M.eps, &h[H_EPS_BITS], 4);
    uint64_t pos = H_COUNT * 4;
    uint32_t path_bytes = h[H_PATH_BYTES];
    if (path_bytes == 0 || path_bytes > 4096 || pos + path_bytes > length) { set_error("bad model path length"); return SFG_BAD_REQUEST; }
    char path[4097];
    memcpy(path, d + pos, path_bytes);
    path[path_bytes] = 0;
    pos = (pos + path_bytes + 7) & ~(uint64_t)7;  // records start 8-aligned
    uint32_t count = h[H_TENSORS];
    if (count > 100000 || pos + (uint64_t)count * sizeof(struct sfg_tensor) > length) { set_error("bad tensor count"); return SFG_BAD_REQUEST; }
    const struct sfg_tensor* tensors = (const struct sfg_tensor*)(d + pos);
    uint64_t embd = h[H_EMBD], heads = h[H_HEADS], kvh = h[H_KV_HEADS], hd = h[H_HEAD_DIM], ff = h[H_FF];
    uint64_t vocab = h[H_VOCAB], ropeDim = h[H_ROPE_DIM], ctx = h[H_CTX], seqs = h[H_SEQUENCES], mb = h[H_MAX_BATCH];
    M.first = (int)h[H_FIRST_LAYER];
    M.count = (int)h[H_LAYERS] - M.first;
    M.output = h[H_OUTPUT] != 0;
    if (!embd || !heads || !kvh || heads % kvh || !hd || hd > 256 || hd % 8 || !ff || !vocab || !ctx || !seqs || !mb ||
        ropeDim > hd || ropeDim % 2 || M.count < 0 || embd % 32 || (heads * hd) % 32 || ff % 32 || mb > 65536) {
        set_error("inconsistent hyper-parameters");
        return SFG_BAD_REQUEST;
    }
    M.layout = sfg_layout_of(embd, ropeDim, vocab, mb);
    if (M.layout.total > g_shared_bytes) { set_error("shared memory too small"); return SFG_BAD_REQUEST; }

    // Sizes: weights, KV cache, activations.
    for (uint32_t i = 0; i < count; i++) {
        const struct sfg_tensor* t = &tensors[i];
        if (t->source == SFG_SOURCE_INLINE && (t->offset > length || t->bytes > length - t->offset)) { set_error("inline tensor out of range"); return SFG_BAD_REQUEST; }
        if (t->bytes > (1ull << 40)) { set_error("tensor too large"); return SFG_BAD_REQUEST; }
        // before anything is uploaded: a 405B model should not spend minutes on the bus to learn this
        if (!kernel_suffix((int)t->type)) { set_error("no GPU kernel for tensor type %u", t->type); return SFG_NO_DEVICE; }
    }
    CUdeviceptr* place = calloc(count ? count : 1, sizeof *place);  // offsets first, then device addresses
    if (!place) { set_error("out of host memory"); return SFG_FAILED; }
    uint64_t weight_bytes = place_weights(tensors, count, place);
    // The cache's type (keys and values alike): bytes per 32 values, and the kernels' suffix.
    static const struct { const char* suffix; uint64_t bytes32; } kv_types[] = {{"f16", 64}, {"f32", 128}, {"q8_0", 34}, {"q4_0", 18}};
    uint32_t kv_type = h[H_KV_TYPE];
    if (kv_type >= sizeof kv_types / sizeof kv_types[0] || (kv_type >= 2 && hd % 32)) {
        free(place);
        set_error("KV cache type %u with head dimension %llu", kv_type, (unsigned long long)hd);
        return SFG_BAD_REQUEST;
    }
    uint64_t kv_bytes = (uint64_t)M.count * seqs * ctx * (kvh * hd * kv_types[kv_type].bytes32 / 32);  // exact: see the check
    uint64_t qdim = heads * hd, widest = ff > qdim ? ff : qdim;
    if (embd > widest) widest = embd;
    uint64_t act_bytes = mb * 4 * (3 * embd + 2 * qdim + 2 * kvh * hd + 2 * ff + widest + widest / 32 + ropeDim + 3) + mb * widest +
                         4 * (2 * kvh * hd + ff) + 4 * SPLIT_BATCH * heads * ATTENTION_SPLITS * (2 + hd) +
                         (M.output ? mb * vocab * 4 : 0);
    uint64_t need = weight_bytes + 2 * kv_bytes + act_bytes;
    size_t free_b = 0, total_b = 0;
    CU(cu.MemGetInfo(&free_b, &total_b));
    uint64_t reserve = 256ull << 20;  // the driver's own allocations and the JIT'd module
    if (need + reserve > free_b) {
        set_error("too little GPU memory: %llu MiB needed (weights %llu, KV %llu, buffers %llu), %llu MiB free",
                  (unsigned long long)((need + reserve) >> 20), (unsigned long long)(weight_bytes >> 20),
                  (unsigned long long)((2 * kv_bytes) >> 20), (unsigned long long)(act_bytes >> 20),
                  (unsigned long long)(free_b >> 20));
        return SFG_NO_MEMORY;
    }

    // Upload: read each tensor from the model file (or the description) and copy it to its place.
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { set_error("cannot open %s: %s", path, strerror(errno)); return SFG_BAD_REQUEST; }
    CU(cu.MemAlloc(&M.weights, weight_bytes ? weight_bytes : 256));
    size_t stage_bytes = 64u << 20;
    unsigned char* stage = malloc(stage_bytes);
    if (!stage) { close(fd); set_error("out of host memory"); return SFG_FAILED; }
    for (uint32_t i = 0; i < count; i++) {
        const struct sfg_tensor* t = &tensors[i];
        place[i] += M.weights;
        for (uint64_t done = 0; done < t->bytes;) {
            size_t piece = t->bytes - done < stage_bytes ? (size_t)(t->bytes - done) : stage_bytes;
            if (t->source == SFG_SOURCE_INLINE) {
                memcpy(stage, d + t->offset + done, piece);
            } else {
                ssize_t got = pread(fd, stage, piece, (off_t)(t->offset + done));
                if (got != (ssize_t)piece) { close(fd); set_error("short read of tensor %u from %s", i, path); return SFG_BAD_REQUEST; }
            }
            CU(cu.MemcpyHtoD(place[i] + done, stage, piece));
            done += piece;
        }
    }
    close(fd);
    free(stage);

    // Bind tensors to roles.
    M.layers = calloc(M.count ? M.count : 1, sizeof *M.layers);
    if (!M.layers) { set_error("out of host memory"); return SFG_FAILED; }
#define BIND_MATRIX(dst, layer_id, role, want_rows, want_cols)                                             \
    do {                                                                                                   \
        const struct sfg_tensor* t_ = find_tensor(tensors, count, layer_id, role);                        \
        if (!t_) { set_error("tensor role %d of layer %u missing", role, layer_id); return SFG_BAD_REQUEST; } \
        const char* sfx = kernel_suffix((int)t_->type);                                                   \
        int bw = fmt_block_weights((int)t_->type);                                                        \
        if (!sfx || !bw) { set_error("no GPU kernel for tensor type %u", t_->type); return SFG_NO_DEVICE; } \
        if (t_->rows != (want_rows) || t_->cols != (want_cols) || t_->cols % bw ||                        \
            t_->bytes != t_->rows * (t_->cols / bw) * (uint64_t)fmt_block_bytes((int)t_->type)) {          \
            set_error("tensor role %d of layer %u has a bad shape", role, layer_id);                     \
            return SFG_BAD_REQUEST;                                                                       \
        }                                                                                                 \
        (dst).data = place[t_ - tensors];                                                                 \
        (dst).type = (int)t_->type;                                                                       \
        (dst).rows = (int)t_->rows;                                                                       \
        (dst).cols = (int)t_->cols;                                                                       \
        (dst).row_bytes = t_->bytes / t_->rows;                                                           \
        (dst).act = activation_mode((int)t_->type);                                                       \
        char name_[32];                                                                                   \
        snprintf(name_, sizeof name_, "mv_%s", sfx);                                                      \
        if (function(&(dst).mv, name_)) return SFG_FAILED;                                                \
        snprintf(name_, sizeof name_, "mb_%s", sfx);                                                      \
        if (function(&(dst).mb, name_)) return SFG_FAILED;                                                \
        snprintf(name_, sizeof name_, "%s_%s", tiled_prefix(), sfx);                                      \
        if (function(&(dst).mm, name_)) return SFG_FAILED;                                                \
        (dst).mr = NULL;                                                                                  \
        if (not_interleaved((dst).type, (dst).rows)) {                                                    \
            snprintf(name_, sizeof name_, "mr_%s", sfx);                                                  \
            if (function(&(dst).mr, name_)) return SFG_FAILED;                                            \
        }                                                                                                 \
    } while (0)
#define BIND_VECTOR(dst, layer_id, role, want)                                                             \
    do {                                                                                                   \
        const struct sfg_tensor* t_ = find_tensor(tensors, count, layer_id, role);                        \
        if (!t_ || t_->type != T_F32 || t_->bytes != (want) * 4) { set_error("norm role %d of layer %u missing or not F32", role, layer_id); return SFG_BAD_REQUEST; } \
        (dst) = place[t_ - tensors];                                                                      \
    } while (0)
    for (int li = 0; li < M.count; li++) {
        uint32_t L = (uint32_t)(M.first + li);
        struct layer* l = &M.layers[li];
        BIND_VECTOR(l->attn_norm, L, R_ATTN_NORM, embd);
        BIND_VECTOR(l->ffn_norm, L, R_FFN_NORM, embd);
        BIND_MATRIX(l->wq, L, R_WQ, qdim, embd);
        BIND_MATRIX(l->wk, L, R_WK, kvh * hd, embd);
        BIND_MATRIX(l->wv, L, R_WV, kvh * hd, embd);
        BIND_MATRIX(l->wo, L, R_WO, embd, qdim);
        BIND_MATRIX(l->gate, L, R_GATE, ff, embd);
        BIND_MATRIX(l->up, L, R_UP, ff, embd);
        BIND_MATRIX(l->down, L, R_DOWN, embd, ff);
        l->qkv = stacked(&l->wq, &l->wk, &l->wv);
        l->gate_up = stacked(&l->gate, &l->up, NULL);
    }
    if (M.output) {
        BIND_VECTOR(M.output_norm, SFG_GLOBAL_LAYER, R_OUTPUT_NORM, embd);
        BIND_MATRIX(M.out, SFG_GLOBAL_LAYER, R_OUTPUT, vocab, embd);
    }
    free(place);

    const char* kv_suffix = kv_types[kv_type].suffix;
    char name[32];
    if (function(&M.add_norm, "add_norm_round") || function(&M.swiglu, "swiglu_round") || function(&M.add, "add_inplace") ||
        function(&M.gather, "gather_rows") || function(&M.round_act, "round_activations"))
        return SFG_FAILED;
    snprintf(name, sizeof name, "rope_store_%s", kv_suffix);
    if (function(&M.rope_store, name)) return SFG_FAILED;
    snprintf(name, sizeof name, "attention_%s", kv_suffix);
    if (function(&M.attention, name)) return SFG_FAILED;
    snprintf(name, sizeof name, "attention_split_stats_%s", kv_suffix);
    if (function(&M.split_stats, name)) return SFG_FAILED;
    snprintf(name, sizeof name, "shift_%s", kv_suffix);
    if (function(&M.shift, name)) return SFG_FAILED;
    snprintf(name, sizeof name, "attention_split_values_%s", kv_suffix);
    if (function(&M.split_values, name) || function(&M.split_sum, "attention_split_sum")) return SFG_FAILED;
    CU(cu.MemAlloc(&M.split_scratch, (size_t)SPLIT_BATCH * heads * ATTENTION_SPLITS * (2 + hd) * 4));

    CU(cu.MemAlloc(&M.kc, kv_bytes ? kv_bytes : 256));
    CU(cu.MemAlloc(&M.vc, kv_bytes ? kv_bytes : 256));
    CU(cu.MemAlloc(&M.x, mb * embd * 4));
    CU(cu.MemAlloc(&M.xb, mb * embd * 4));
    CU(cu.MemAlloc(&M.proj, mb * embd * 4));
    // A decode step's q, k, v (gate, up) come out of one stacked matrix into one row of q (gate).
    CU(cu.MemAlloc(&M.q, (mb * qdim > qdim + 2 * kvh * hd ? mb * qdim : qdim + 2 * kvh * hd) * 4));
    CU(cu.MemAlloc(&M.att, mb * qdim * 4));
    CU(cu.MemAlloc(&M.k, mb * kvh * hd * 4));
    CU(cu.MemAlloc(&M.v, mb * kvh * hd * 4));
    CU(cu.MemAlloc(&M.gate, (mb > 2 ? mb : 2) * ff * 4));
    CU(cu.MemAlloc(&M.xr, mb * widest * 4));
    CU(cu.MemAlloc(&M.xc, mb * (widest / 32) * 4));
    CU(cu.MemAlloc(&M.xq, mb * widest));
    CU(cu.MemAlloc(&M.up, mb * ff * 4));
    CU(cu.MemAlloc(&M.rope, mb * (ropeDim ? ropeDim : 1) * 4));
    CU(cu.MemAlloc(&M.info, mb * 8));
    CU(cu.MemAlloc(&M.wanted, mb * 4));
    if (M.output) CU(cu.MemAlloc(&M.logits, mb * vocab * 4));
    // Pin the part of the shared memory every step copies (inputs and a few rows of output): direct DMA.
    if (cu.MemHostRegister) {
        uint64_t pinned = M.layout.out + 16 * (vocab > embd ? vocab : embd) * 4;
        if (pinned > g_shared_bytes) pinned = g_shared_bytes;
        (void)cu.MemHostRegister(g_shared, (pinned + 4095) & ~(uint64_t)4095, 0);
    }
    if (!g_stream || !cu.StreamBeginCapture || !cu.StreamEndCapture || !cu.GraphInstantiateWithFlags || !cu.GraphLaunch ||
        getenv("SWIFTFILE_GPU_NO_GRAPHS") || g_profile.kernels)
        M.graphs_off = 1;
    M.loaded = 1;
    set_error("%d layer%s%s: %llu MiB weights, %llu MiB KV cache, %llu MiB buffers", M.count, M.count == 1 ? "" : "s",
              M.output ? " + output" : "", (unsigned long long)(weight_bytes >> 20),
              (unsigned long long)((2 * kv_bytes) >> 20), (unsigned long long)(act_bytes >> 20));
    return SFG_OK;
}

// How many ranges each token's attention splits its positions into: 1 (one block per token and head) unless
// the context is long and those blocks too few to fill the GPU; then enough for about two blocks per
// multiprocessor, a power of two (each count is its own CUDA graph), at most ATTENTION_SPLITS.
// SWIFTFILE_GPU_ATTENTION_SPLITS=S forces S for batches of up to 8 tokens at any length (tests).
static int attention_splits(int N, int longest) {
    if (N > SPLIT_BATCH) return 1;
    const char* forced = getenv("SWIFTFILE_GPU_ATTENTION_SPLITS");
    if (forced) {
        int s = atoi(forced);
        return s < 1 ? 1 : s > ATTENTION_SPLITS ? ATTENTION_SPLITS : s;
    }
    if (longest < SPLIT_FROM_LENGTH) return 1;
    int want = (2 * g_multiprocessors + N * (int)M.h[H_HEADS] - 1) / (N * (int)M.h[H_HEADS]), s = 1;
    while (2 * s <= want && 2 * s <= ATTENTION_SPLITS) s *= 2;
    return s;
}

// out = attention of the N tokens' queries q over the layer's cache, rounded for wo (mode; kernels.cu).
static int attend(CUdeviceptr q, CUdeviceptr kc, CUdeviceptr vc, CUdeviceptr out, CUdeviceptr corr, CUdeviceptr qint,
                  CUdeviceptr info, int N, int heads, int kvh, int hd, int ctx, int seqs, int layer, int mode, int splits) {
    float scale = 1.0f / sqrtf((float)hd);
    if (splits <= 1) {
        void* args[] = {&q, &kc, &vc, &out, &corr, &qint, &info, &heads, &kvh, &hd, &ctx, &seqs, &layer, &scale, &mode, &N};
        return launch(M.attention, (unsigned)N, (unsigned)heads, 256, args);
    }
    CUdeviceptr stats = M.split_scratch;
    CUdeviceptr values = stats + (CUdeviceptr)SPLIT_BATCH * heads * ATTENTION_SPLITS * 2 * 4;
    void* a[] = {&q, &kc, &vc, &stats, &info, &heads, &kvh, &hd, &ctx, &seqs, &layer, &scale, &splits};
    void* b[] = {&q, &kc, &vc, &stats, &values, &info, &heads, &kvh, &hd, &ctx, &seqs, &layer, &scale, &splits};
    void* c[] = {&values, &out, &corr, &qint, &heads, &hd, &splits, &mode};
    int status = launch(M.split_stats, (unsigned)N, (unsigned)(heads * splits), 256, a);
    if (!status) status = launch(M.split_values, (unsigned)N, (unsigned)(heads * splits), 256, b);
    if (!status) status = launch(M.split_sum, (unsigned)N, (unsigned)heads, 256, c);
    return status;
}

// The offloaded layers (and the output) over the N tokens already on the device; every launch goes to
// g_stream, so the same sequence can be captured as a graph.
static int run_layers(int N, int rows, int splits) {
    uint32_t* h = M.h;
    int embd = (int)h[H_EMBD], heads = (int)h[H_HEADS], kvh = (int)h[H_KV_HEADS], hd = (int)h[H_HEAD_DIM];
    int ff = (int)h[H_FF], ropeDim = (int)h[H_ROPE_DIM], ctx = (int)h[H_CTX], seqs = (int)h[H_SEQUENCES];
    int kvDim = kvh * hd, allHeads = heads + kvh;
    float eps = M.eps;
    int total = N * embd, status;
    CUdeviceptr none = 0;
    // a norm's block: 256 threads per 256 values of the row, up to 1024
    unsigned norm_threads = (unsigned)(embd + 255) / 256 * 256;
    if (norm_threads > 1024) norm_threads = 1024;
    M.rounded_src = 0;
    for (int li = 0; li < M.count; li++) {
        struct layer* l = &M.layers[li];
        // x += the previous block's output (none before the first); xb = norm(x), rounded for q/k/v
        // when they share an activation format.
        int qkv = l->wq.act == l->wk.act && l->wk.act == l->wv.act ? l->wq.act : 0;
        void* norm1[] = {&M.x, li ? &M.proj : &none, &l->attn_norm, &M.xb, &M.xc, &M.xq, &embd, &eps, &qkv};
        if ((status = launch(M.add_norm, N, 1, norm_threads, norm1))) return status;
        M.rounded_src = 0;
        CUdeviceptr q = M.q, k = M.k, v = M.v;
        if (N == 1 && l->qkv.rows) {  // one row: [q | k | v]
            k = q + (CUdeviceptr)heads * hd * 4;
            v = k + (CUdeviceptr)kvDim * 4;
            if ((status = project(&l->qkv, M.xb, qkv, q, N))) return status;
        } else if ((status = project(&l->wq, M.xb, qkv, q, N)) || (status = project(&l->wk, M.xb, qkv, k, N)) ||
                   (status = project(&l->wv, M.xb, qkv, v, N))) {
            return status;
        }
        void* rope[] = {&q, &k, &v, &M.rope, &M.kc, &M.vc, &M.info, &heads, &kvh, &hd, &ropeDim, &ctx, &seqs, &li};
        if ((status = launch(M.rope_store, N, allHeads, 64, rope))) return status;
        // The attention output comes rounded for wo when the rounding's blocks lie within a head.
        int wo = l->wo.act, in_head = wo == 1 || wo == 2 || ((wo == 3 || wo == 6) && hd % 32 == 0) ? wo : 0;
        if ((status = attend(q, M.kc, M.vc, M.att, M.xc, M.xq, M.info, N, heads, kvh, hd, ctx, seqs, li, in_head, splits)))
            return status;
        M.rounded_src = 0;
        if ((status = project(&l->wo, M.att, in_head, M.proj, N))) return status;
        int gu = l->gate.act == l->up.act ? l->gate.act : 0;
        void* norm2[] = {&M.x, &M.proj, &l->ffn_norm, &M.xb, &M.xc, &M.xq, &embd, &eps, &gu};
        if ((status = launch(M.add_norm, N, 1, norm_threads, norm2))) return status;
        M.rounded_src = 0;
        CUdeviceptr gate = M.gate, up = M.up;
        if (N == 1 && l->gate_up.rows) {  // one row: [gate | up]
            up = gate + (CUdeviceptr)ff * 4;
            if ((status = project(&l->gate_up, M.xb, gu, gate, N))) return status;
        } else if ((status = project(&l->gate, M.xb, gu, gate, N)) || (status = project(&l->up, M.xb, gu, up, N))) {
            return status;
        }
        int down = l->down.act;
        void* glu[] = {&gate, &up, &M.xc, &M.xq, &ff, &down};
        if ((status = launch(M.swiglu, N, (unsigned)(ff + 255) / 256, 256, glu))) return status;
        M.rounded_src = 0;
        if ((status = project(&l->down, M.gate, down, M.proj, N))) return status;
    }
    if (M.count) {
        void* add[] = {&M.x, &M.proj, &total};
        if ((status = launch(M.add, (total + 255) / 256, 1, 256, add))) return status;
    }
    if (M.output && rows) {
        void* g[] = {&M.proj, &M.x, &M.wanted, &embd};
        if ((status = launch(M.gather, rows, 1, 256, g))) return status;
        int mode = M.out.act;
        void* norm[] = {&M.proj, &none, &M.output_norm, &M.xb, &M.xc, &M.xq, &embd, &eps, &mode};
        if ((status = launch(M.add_norm, rows, 1, norm_threads, norm))) return status;
        M.rounded_src = 0;
        if ((status = project(&M.out, M.xb, mode, M.logits, rows))) return status;
    }
    return SFG_OK;
}

static CUresult copy_in(CUdeviceptr dst, const void* src, size_t bytes) {
    return g_stream ? cu.MemcpyHtoDAsync(dst, src, bytes, g_stream) : cu.MemcpyHtoD(dst, src, bytes);
}

static CUresult copy_out(void* dst, CUdeviceptr src, size_t bytes) {
    return g_stream ? cu.MemcpyDtoHAsync(dst, src, bytes, g_stream) : cu.MemcpyDtoH(dst, src, bytes);
}

// Context shift of sequence `seq` in every loaded layer: positions keep…keep+discard−1 are dropped and
// keep+discard…count−1 move down by discard (the shared memory's x holds keep, discard, count as int32, its
// rope area the −discard rotation table). In launches of at most `discard` positions, so that none writes a
// row another reads.
static int handle_shift(uint32_t seq) {
    if (!M.loaded) { set_error("not loaded"); return SFG_BAD_REQUEST; }
    uint32_t* h = M.h;
    int kvh = (int)h[H_KV_HEADS], hd = (int)h[H_HEAD_DIM], ropeDim = (int)h[H_ROPE_DIM], ctx = (int)h[H_CTX];
    int seqs = (int)h[H_SEQUENCES];
    const int32_t* a = (const int32_t*)(g_shared + M.layout.x);
    int keep = a[0], discard = a[1], count = a[2], s = (int)seq;
    if (seq >= (uint32_t)seqs || keep < 0 || discard <= 0 || count < 0 || count > ctx || keep > count - discard) {
        set_error("bad context shift: sequence %u, keep %d, discard %d of %d positions", seq, keep, discard, count);
        return SFG_BAD_REQUEST;
    }
    if (ropeDim) CU(copy_in(M.rope, g_shared + M.layout.rope, (size_t)ropeDim * 4));
    for (int done = 0; done < count - keep - discard && M.count; done += discard) {
        int n = count - keep - discard - done < discard ? count - keep - discard - done : discard;
        int to = keep + done, from = keep + discard + done;
        void* args[] = {&M.kc, &M.vc, &M.rope, &to, &from, &s, &kvh, &hd, &ropeDim, &ctx, &seqs};
        int status = launch(M.shift, (unsigned)n, (unsigned)M.count, 64, args);
        if (status) return status;
    }
    return SFG_OK;
}

static int handle_forward(uint32_t n, uint64_t payload) {
    int hidden = payload == SFG_HIDDEN;
    uint64_t wanted = hidden ? 0 : payload;
    if (!M.loaded) { set_error("not loaded"); return SFG_BAD_REQUEST; }
    uint32_t* h = M.h;
    int embd = (int)h[H_EMBD], vocab = (int)h[H_VOCAB], ropeDim = (int)h[H_ROPE_DIM], ctx = (int)h[H_CTX];
    int seqs = (int)h[H_SEQUENCES];
    if (n == 0 || n > h[H_MAX_BATCH] || wanted > n) { set_error("bad batch: %u tokens, %llu wanted", n, (unsigned long long)wanted); return SFG_BAD_REQUEST; }
    const int* info = (const int*)(g_shared + M.layout.info);
    for (uint32_t i = 0; i < n; i++) {
        if (info[2 * i] < 0 || info[2 * i] >= ctx || info[2 * i + 1] < 0 || info[2 * i + 1] >= seqs) { set_error("token %u: position or sequence out of range", i); return SFG_BAD_REQUEST; }
    }
    const int* want = (const int*)(g_shared + M.layout.wanted);
    for (uint64_t i = 0; i < wanted; i++)
        if (want[i] < 0 || (uint32_t)want[i] >= n) { set_error("wanted row out of range"); return SFG_BAD_REQUEST; }
    int N = (int)n;
    g_events.used = 0;
    g_events.kind = N == 1 ? KIND_DECODE : N <= 8 ? KIND_BATCH : KIND_PROMPT;
    CU(copy_in(M.x, g_shared + M.layout.x, (size_t)N * embd * 4));
    if (ropeDim) CU(copy_in(M.rope, g_shared + M.layout.rope, (size_t)N * ropeDim * 4));
    CU(copy_in(M.info, info, (size_t)N * 8));
    if (wanted) CU(copy_in(M.wanted, want, wanted * 4));
    int rows = M.output ? (int)wanted : 0;
    int longest = 0;
    for (int i = 0; i < N; i++) longest = info[2 * i] + 1 > longest ? info[2 * i] + 1 : longest;
    int splits = attention_splits(N, longest);
    int status = SFG_OK;
    void* exec = NULL;
    if (!M.graphs_off && N <= 8) {
        for (int i = 0; i < M.graph_count; i++)
            if (M.graphs[i].n == N && M.graphs[i].wanted == rows && M.graphs[i].splits == splits) exec = M.graphs[i].exec;
        if (!exec && M.graph_count < 16) {
            void* graph = NULL;
            if (cu.StreamBeginCapture(g_stream, 1 /* thread-local */) == 0) {
                status = run_layers(N, rows, splits);
                CUresult end = cu.StreamEndCapture(g_stream, &graph);
                if (status == SFG_OK && end == 0 && graph && cu.GraphInstantiateWithFlags(&exec, graph, 0) == 0) {
                    M.graphs[M.graph_count].n = N;
                    M.graphs[M.graph_count].wanted = rows;
                    M.graphs[M.graph_count].splits = splits;
                    M.graphs[M.graph_count++].exec = exec;
                } else {
                    exec = NULL;
                    M.graphs_off = 1;  // capture is not available here: launch directly from now on
                }
                if (graph && cu.GraphDestroy) cu.GraphDestroy(graph);
                status = SFG_OK;
            } else {
                M.graphs_off = 1;
            }
        }
    }
    if (exec) {
        CU(cu.GraphLaunch(exec, g_stream));
    } else if ((status = run_layers(N, rows, splits))) {
        return status;
    }
    if (M.output && !hidden) {
        if (rows) CU(copy_out(g_shared + M.layout.out, M.logits, (size_t)rows * vocab * 4));
    } else {
        CU(copy_out(g_shared + M.layout.out, M.x, (size_t)N * embd * 4));
    }
    double wait_start = g_profile.on ? now_ms() : 0;
    if (g_stream) CU(cu.StreamSynchronize(g_stream));
    if (g_profile.on) g_profile.wait_ms += now_ms() - wait_start;
    if (g_profile.kernels) profile_collect();
    return SFG_OK;
}

static int write_all(int fd, const void* p, size_t n) {
    const char* c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, void* p, size_t n) {
    char* c = p;
    while (n) {
        ssize_t r = read(fd, c, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        c += r;
        n -= (size_t)r;
    }
    return 0;
}


// ---- Self-test: every kernel against a double-precision host reference (device checks) ----------
// swiftfile-gpu --selftest FIXTURE_DIR: matrices built from the block fixtures of every format
// (Tests/TensorsTests/Fixtures), random activations, several token counts (both matrix kernels and
// their edges), attention at several lengths and head sizes, the elementwise kernels. Exit 1 on any miss.
static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static float frand(void) {
    g_rng ^= g_rng << 13; g_rng ^= g_rng >> 7; g_rng ^= g_rng << 17;
    return (float)((g_rng >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}

static unsigned char* read_file(const char* path, long* size) {
    FILE* f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char* p = malloc(*size > 0 ? (size_t)*size : 1);
    if (p && fread(p, 1, (size_t)*size, f) != (size_t)*size) { free(p); p = NULL; }
    fclose(f);
    return p;
}

// Relative to the largest |want|; `slack` (or NULL) is an absolute allowance per element on top.
static int check(const char* what, const float* got, const double* want, const double* slack, size_t n, double tolerance) {
    double worst = 0, scale = 0;
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(want[i]));
    for (size_t i = 0; i < n; i++) {
        double off = fabs((double)got[i] - want[i]) - (slack ? slack[i] : 0);
        double err = (off > 0 ? off : 0) / (scale > 0 ? scale : 1);
        if (!(err <= tolerance)) bad++;
        if (err > worst || err != err) worst = err;
    }
    printf("%s %-34s max error %.2e (of max |ref| %.3g)\n", bad ? "FAIL" : "ok  ", what, worst, scale);
    return bad ? 1 : 0;
}

static float host_round(const float* row, int i, int cols, int mode);
static float half_round(float v);
static float host_q8_1_correction(const float* row, int b);

// Q8_K as the CPU engine rounds a 256-block: the first element of largest magnitude x_max maps to −127,
// q = round-half-even(x · (−127/x_max)) at most 127, d = 1/scale; d into the 8 per-32 slots.
static void host_q8_k(const float* x, signed char* q, float* d) {
    int at = 0;
    for (int j = 1; j < 256; j++)
        if (fabsf(x[j]) > fabsf(x[at])) at = j;
    float scale = x[at] != 0 ? -127.0f / x[at] : 0;
    for (int j = 0; j < 256; j++) q[j] = (signed char)(scale != 0 ? fminf(127, nearbyintf(scale * x[j])) : 0);
    for (int b = 0; b < 8; b++) d[b] = scale != 0 ? 1.0f / scale : 0;
}

// The stored value of element e of a super-block (as the CPU's kernels multiply it: Q6_K 0…63, Q3_K 0…7,
// IQ4_XS its level, the grid I-quants their integer v — IQ1 as its row kernels split it: IQ1_S 8(g + 1) =
// v + 8 − shift, IQ1_M v + 9), the scale of its 16 or 32 columns, and for Q2_K/Q3_K/Q6_K/IQ1_M the 16-column
// scale or minimum `o` of element e's 16 columns; Q4_K/Q5_K: the minimum of its 32; IQ1_S: s·(shift − 8).
static int host_kq_value(int type, const unsigned char* b, int e, int* scale, int* o) {
    int g = e / 32, l = e % 32, j = e / 16, m;
    if (FMT_GRID(type)) {
        int v = fmt_grid_value(type, b, e), shift = type == T_IQ1_S || type == T_IQ1_M ? fmt_grid_shift(type, b, e) : 0;
        *scale = fmt_grid_scale(type, b, j);
        *o = type == T_IQ1_S ? *scale * (shift - 8) : *scale;
        return type == T_IQ1_S ? v + 8 - shift : type == T_IQ1_M ? v + 9 : v;
    }
    switch (type) {
    case T_Q4_K: case T_Q5_K:
        fmt_scale_min_k4(g, b + 4, scale, o);
        m = (b[(type == T_Q5_K ? 48 : 16) + 32 * (g / 2) + l] >> (4 * (g & 1))) & 15;
        return type == T_Q5_K ? m | ((b[16 + l] >> g) & 1) << 4 : m;
    case T_Q6_K:
        *scale = *o = (signed char)b[192 + j];
        return ((b[64 * (g / 4) + 32 * (g & 1) + l] >> ((g & 3) >= 2 ? 4 : 0)) & 15) | ((b[128 + 32 * (g / 4) + l] >> (2 * (g & 3))) & 3) << 4;
    case T_Q3_K: {
        const unsigned char* sc = b + 96;
        int low = j < 8 ? (sc[j] & 0xF) : (sc[j - 8] >> 4);
        *scale = *o = (low | ((sc[8 + j % 4] >> (2 * (j / 4))) & 3) << 4) - 32;
        return ((b[32 + 32 * (g / 4) + l] >> (2 * (g & 3))) & 3) | ((b[l] >> g) & 1) << 2;
    }
    case T_Q2_K:
        *scale = b[j] & 0xF;
        *o = b[j] >> 4;
        return (b[16 + 32 * (g / 4) + l] >> (2 * (g & 3))) & 3;
    default: {  // IQ4_XS
        unsigned sh = (unsigned)b[2] | (unsigned)b[3] << 8;
        *scale = (((b[4 + g / 2] >> (4 * (g % 2))) & 0xF) | ((sh >> (2 * g)) & 3) << 4) - 32;
        *o = 0;
        return fmt_iq4_value((b[8 + 16 * g + (l & 15)] >> (4 * (l >> 4))) & 15);
    }
    }
}

// A super-block row against Q8_K integers in the CPU engine's order (kernels.cu, matvec_kquant; Sources/
// Tensors/AVX2: AVX2Dot's row kernels, interleavedQ4K, superBlockPanel), `n` the batch's token count —
// element by element, not as the kernel computes it.
static float host_kquant_dot(int type, int n, int interleaved, const unsigned char* row, const signed char* q, const float* d,
                             int cols) {
    int bytes = fmt_block_bytes(type), minima = type == T_Q2_K || type == T_Q4_K || type == T_Q5_K;
    int one_chain = (type == T_Q4_K && interleaved) || n >= 4;
    float chain = 0, lanes[8] = {0}, mins[8] = {0};
    for (int b = 0; b < cols / 256; b++) {
        const unsigned char* blk = row + (size_t)bytes * b;
        const signed char* a = q + 256 * b;
        float dx = d[8 * b], dw = FMT_GRID(type) ? fmt_grid_d(type, blk)
                                : fmt_half(blk + (type == T_Q6_K ? 208 : type == T_Q3_K ? 108 : type == T_Q2_K ? 80 : 0));
        float mw = type == T_Q2_K ? fmt_half(blk + 82) : minima ? fmt_half(blk + 2) : 0;
        int L[8] = {0}, N[8] = {0};
        for (int e = 0; e < 256; e++) {
            int scale, o, v = host_kq_value(type, blk, e, &scale, &o);
            L[e % 32 / 4] += scale * v * a[e];
            // lane p's offsets and minima: columns 32p … 32p + 31 (by 16 columns; Q4_K/Q5_K by 32)
            int lane = e / 32;
            if (type == T_Q6_K) L[lane] -= 32 * o * a[e];
            if (type == T_Q3_K) L[lane] -= 4 * o * a[e];
            if (type == T_IQ1_S) L[lane] += o * a[e];
            if (type == T_IQ1_M) L[lane] -= 9 * o * a[e];
            if (minima) N[lane] += o * a[e];
        }
        if (one_chain) {
            int S = 0, M = 0;
            for (int p = 0; p < 8; p++) { S += L[p]; M += N[p]; }
            chain = fmaf(dw * dx, (float)S, chain);
            if (minima) chain = fmaf(-(mw * dx), (float)M, chain);
            continue;
        }
        for (int p = 0; p < 8; p++) lanes[p] = fmaf(dx * dw, (float)L[p], lanes[p]);
        if (type == T_Q2_K)
            for (int p = 0; p < 8; p++) mins[p] = fmaf(dx * mw, (float)N[p], mins[p]);
        if (type == T_Q5_K || type == T_Q4_K)
            for (int k = 0; k < 4; k++) mins[k] = fmaf(dx * mw, (float)(N[2 * k] + N[2 * k + 1]), mins[k]);
    }
    if (one_chain) return chain;
    float s = ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6])) + ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]));
    if (type == T_Q2_K) s -= ((mins[0] + mins[4]) + (mins[2] + mins[6])) + ((mins[1] + mins[5]) + (mins[3] + mins[7]));
    if (type == T_Q5_K || type == T_Q4_K) s -= (mins[0] + mins[2]) + (mins[1] + mins[3]);
    return s;
}

// A Q8_0, Q5_0, Q5_1 or IQ4_NL row against Q8_0 (Q5_1: Q8_1) integers in the CPU engine's order (kernels.cu,
// matvec_q8_0, matvec_nibbles; Sources/Tensors/AVX2: LegacyDots, the block panels, the interleaved tiles),
// element by element: 8 chains of 4 columns per block, Q5_1's lane 0 adding m·s after each block; Q5_0 from
// 4 tokens and an interleaved IQ4_NL matrix at every batch size one chain. d: the f16-valued scales of Q8_0,
// the unrounded amax/127 of Q8_1.
static float host_legacy_dot(int type, int n, int interleaved, const unsigned char* row, const signed char* q, const float* d,
                             int cols) {
    int bytes = fmt_block_bytes(type), one_chain = (type == T_Q5_0 || type == T_IQ4_NL) && (n >= 4 || (type == T_IQ4_NL && interleaved));
    int qh_at = type == T_Q5_1 ? 4 : 2, qs_at = type == T_Q5_1 ? 8 : 6;
    float lanes[8] = {0}, chain = 0;
    for (int b = 0; b < cols / 32; b++) {
        const unsigned char* blk = row + (size_t)bytes * b;
        const signed char* a = q + 32 * b;
        unsigned qh = blk[qh_at] | blk[qh_at + 1] << 8 | blk[qh_at + 2] << 16 | (unsigned)blk[qh_at + 3] << 24;
        int L[8] = {0}, sum = 0, total = 0;
        for (int e = 0; e < 32; e++) {
            int v = type == T_Q8_0 ? (signed char)blk[2 + e]
                  : type == T_IQ4_NL ? fmt_iq4_value((blk[2 + (e & 15)] >> (4 * (e >> 4))) & 15)
                  : (((blk[qs_at + (e & 15)] >> (4 * (e >> 4))) & 15) | (int)((qh >> e) & 1) << 4) - (type == T_Q5_0 ? 16 : 0);
            L[e / 4] += v * a[e];
            sum += a[e];
        }
        float dw = fmt_half(blk), dx = type == T_Q5_1 ? half_round(d[b]) : d[b];
        if (one_chain) {
            for (int p = 0; p < 8; p++) total += L[p];
            chain = fmaf(dw * dx, (float)total, chain);
            continue;
        }
        for (int p = 0; p < 8; p++) lanes[p] = fmaf(dw * dx, (float)L[p], lanes[p]);
        if (type == T_Q5_1) lanes[0] = lanes[0] + fmt_half(blk + 2) * half_round((float)sum * d[b]);
    }
    if (one_chain) return chain;
    return ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6])) + ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]));
}

// An F32 or BF16 row against f32 activations in the CPU engine's order (kernels.cu, matvec_float; Sources/
// Tensors/AVX2/FloatDots.swift), element by element. (The self-test's BF16 activations are not rounded to
// BF16: the order is the same.)
static float host_float_dot(int type, const unsigned char* row, const float* x, int cols) {
    float chains[32] = {0}, lanes[8];
    int whole = cols / 32 * 32, eights = cols / 8 * 8;
    for (int c = 0; c < eights; c++) {
        float w = type == T_F32 ? fmt_f32(row + 4 * c) : fmt_bf16(row + 2 * c);
        int chain = c < whole ? c % 32 : (c - whole) % 8;
        chains[chain] = fmaf(w, x[c], chains[chain]);
    }
    for (int j = 0; j < 8; j++) lanes[j] = (chains[j] + chains[j + 8]) + (chains[j + 16] + chains[j + 24]);
    float s = ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6])) + ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]));
    for (int c = eights; c < cols; c++) s = s + (type == T_F32 ? fmt_f32(row + 4 * c) : fmt_bf16(row + 2 * c)) * x[c];
    return s;
}

static int selftest_matrix(const char* dir, const char* name, int type, int rows, int cols) {
    char path[4096];
    long nb = 0;
    snprintf(path, sizeof path, "%s/%s.bin", dir, name);
    unsigned char* blocks = read_file(path, &nb);
    if (!blocks) { printf("FAIL %s: no fixture %s\n", name, path); return 1; }
    int bw = fmt_block_weights(type), bb = fmt_block_bytes(type);
    long available = nb / bb;
    size_t row_bytes = (size_t)(cols / bw) * bb, total = row_bytes * rows;
    unsigned char* w = malloc(total);
    for (size_t b = 0; b < total / bb; b++) memcpy(w + b * bb, blocks + (b % available) * bb, bb);
    free(blocks);
    int failures = 0;
    int counts[] = {1, 2, 5, 8, 9, 33, 100};
    CUdeviceptr dw, dx, dy;
    int maxn = 100;
    if (cu.MemAlloc(&dw, total) || cu.MemAlloc(&dx, (size_t)maxn * cols * 4) || cu.MemAlloc(&dy, (size_t)maxn * rows * 4)) { printf("FAIL alloc\n"); return 1; }
    cu.MemcpyHtoD(dw, w, total);
    float* x = malloc((size_t)maxn * cols * 4);
    float* y = malloc((size_t)maxn * rows * 4);
    double* ref = malloc((size_t)maxn * rows * sizeof(double));
    float* deq = malloc((size_t)rows * cols * 4);
    float* corrections = malloc((size_t)maxn * cols / 32 * 4);
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols / 32; c++) fmt_chunk(type, w + r * row_bytes, c, deq + (size_t)r * cols + c * 32);
    struct matrix m = {.data = dw, .type = type, .rows = rows, .cols = cols, .row_bytes = row_bytes};
    char fn[32];
    snprintf(fn, sizeof fn, "mv_%s", kernel_suffix(type));
    if (function(&m.mv, fn)) { printf("FAIL %s: %s\n", fn, g_error); return 1; }
    snprintf(fn, sizeof fn, "mb_%s", kernel_suffix(type));
    if (function(&m.mb, fn)) { printf("FAIL %s: %s\n", fn, g_error); return 1; }
    snprintf(fn, sizeof fn, "mm_%s", kernel_suffix(type));
    if (function(&m.mm, fn)) { printf("FAIL %s: %s\n", fn, g_error); return 1; }
    snprintf(fn, sizeof fn, "mr_%s", kernel_suffix(type));
    if (not_interleaved(type, rows) && function(&m.mr, fn)) { printf("FAIL %s: %s\n", fn, g_error); return 1; }
    // every count on the default routes, then the tiled counts again on the CUDA-core tiles
    int counted = (int)(sizeof counts / sizeof counts[0]);
    for (int run = 0; run < counted + 3; run++) {
        int simt = run >= counted;
        int n = simt ? counts[4 + run - counted] : counts[run];
        g_route = simt ? ROUTE_SIMT : ROUTE_DEFAULT;
        snprintf(fn, sizeof fn, "%s_%s", simt ? "ms" : "mm", kernel_suffix(type));
        if (function(&m.mm, fn)) { printf("FAIL %s: %s\n", fn, g_error); failures++; break; }
        for (size_t k = 0; k < (size_t)n * cols; k++) x[k] = frand();
        int integers = takes_integers(type), blocks = cols / 32;
        signed char* q = NULL;
        float* d = NULL;
        if (integers) {
            // their kernels take the activations as the rounding leaves them (mode 3, Q4_1: 6, K-quants: 4):
            // integers and per block a scale; Q4_1 also adds its minima times what the CPU's Q8_1 sum adds to
            // the values
            int mode = activation_mode(type);
            q = malloc((size_t)n * cols);
            d = malloc((size_t)n * blocks * 4);
            for (int t = 0; t < n; t++) {
                float* xt = x + (size_t)t * cols;
                if (mode == 4) {
                    for (int b = 0; b < blocks; b += 8) host_q8_k(xt + 32 * b, q + (size_t)t * cols + 32 * b, d + (size_t)t * blocks + b);
                    for (int j = 0; j < cols; j++) xt[j] = (float)q[(size_t)t * cols + j] * d[(size_t)t * blocks + j / 32];
                    continue;
                }
                for (int b = 0; b < blocks; b++) {
                    float amax = 0;
                    for (int j = 32 * b; j < 32 * b + 32; j++) amax = fmaxf(amax, fabsf(xt[j]));
                    float scale = amax / 127.0f, inv = amax != 0 ? 127.0f / amax : 0;
                    d[(size_t)t * blocks + b] = mode == 3 ? half_round(scale) : scale;
                    corrections[(size_t)t * blocks + b] = mode == 6 ? host_q8_1_correction(xt, b) : 0;
                    for (int j = 32 * b; j < 32 * b + 32; j++) q[(size_t)t * cols + j] = (signed char)fminf(127, fmaxf(-128, nearbyintf(xt[j] * inv)));
                }
                for (int j = 0; j < cols; j++) xt[j] = half_round(d[(size_t)t * blocks + j / 32]) * (float)q[(size_t)t * cols + j];
            }
            if ((!M.xq && cu.MemAlloc(&M.xq, (size_t)maxn * cols)) || (!M.xc && cu.MemAlloc(&M.xc, (size_t)maxn * cols / 32 * 4))) {
                printf("FAIL alloc\n");
                return 1;
            }
            cu.MemcpyHtoD(M.xq, q, (size_t)n * cols);
            cu.MemcpyHtoD(M.xc, d, (size_t)n * blocks * 4);
        }
        for (int t = 0; t < n; t++)
            for (int r = 0; r < rows; r++) {
                double s = 0;
                for (int c = 0; c < cols; c++) s += (double)deq[(size_t)r * cols + c] * x[(size_t)t * cols + c];
                if (activation_mode(type) == 6)
                    for (int b = 0; b < blocks; b++) s += (double)fmt_block_min(type, w + r * row_bytes, b) * corrections[(size_t)t * blocks + b];
                ref[(size_t)t * rows + r] = s;
            }
        cu.MemsetD8(dy, 0xFF, (size_t)maxn * rows * 4);  // NaN poison: unwritten outputs fail
        cu.CtxSynchronize();
        cu.MemcpyHtoD(dx, x, (size_t)n * cols * 4);
        int status = 0;
        for (int t0 = 0; t0 < n && !status; t0 += (n > 8 ? n : 8)) status = matmul(&m, dx, dy, n);
        if (status || cu.CtxSynchronize()) { printf("FAIL %s n=%d: %s\n", name, n, g_error); failures++; free(q); free(d); continue; }
        cu.MemcpyDtoH(y, dy, (size_t)n * rows * 4);
        char what[64];
        const char* kind = n <= 8 || batched_only(type) ? "matvec" : simt ? "tile, simt" : "tile";
        snprintf(what, sizeof what, "%s %dx%d n=%d (%s)", name, rows, cols, n, kind);
        failures += check(what, y, ref, NULL, (size_t)n * rows, 2e-5);
        if (kquant_cpu_order(type) || q8_0_order(type) || type == T_IQ4_NL || type == T_F32 || type == T_BF16) {
            // the CPU engine's order, computed here element by element: the same bits
            int same = 1;
            for (int t = 0; t < n && same; t++)
                for (int r = 0; r < rows && same; r++) {
                    const unsigned char* wr = w + r * row_bytes;
                    const signed char* qt = q ? q + (size_t)t * cols : NULL;
                    const float* dt = d ? d + (size_t)t * blocks : NULL;
                    float want = type == T_F32 || type == T_BF16 ? host_float_dot(type, wr, x + (size_t)t * cols, cols)
                               : q8_0_order(type) || type == T_IQ4_NL ? host_legacy_dot(type, n, !not_interleaved(type, rows), wr, qt, dt, cols)
                               : host_kquant_dot(type, n, !not_interleaved(type, rows), wr, qt, dt, cols);
                    same = want == y[(size_t)t * rows + r];
                }
            printf("%s %s %dx%d n=%d: the CPU engine's order %s\n", same ? "ok  " : "FAIL", name, rows, cols, n, same ? "bit for bit" : "differs");
            failures += !same;
        }
        if (nibbles(type) && n > 8) {
            // both tiles and the batched matrix-vector kernel sum in the same order: the same bits
            float* again = malloc((size_t)n * rows * 4);
            int ntok = n;
            unsigned long long rb = row_bytes;
            void* args[] = {&dw, &rb, &M.xq, &M.xc, &dy, &rows, &cols, &ntok};
            cu.MemsetD8(dy, 0xFF, (size_t)maxn * rows * 4);
            if (launch(m.mb, (unsigned)(rows + 3) / 4, (unsigned)(n + 7) / 8, 128, args) || cu.CtxSynchronize()) {
                printf("FAIL %s n=%d batched matrix-vector: %s\n", name, n, g_error);
                failures++;
            } else {
                cu.MemcpyDtoH(again, dy, (size_t)n * rows * 4);
                int same = memcmp(again, y, (size_t)n * rows * 4) == 0;
                printf("%s %s %dx%d n=%d: %s and batched matrix-vector %s\n", same ? "ok  " : "FAIL", name, rows, cols, n,
                       simt ? "CUDA-core tile" : "tile", same ? "bit for bit" : "differ");
                failures += !same;
            }
            free(again);
        }
        free(q); free(d);
    }
    g_route = -1;
    cu.MemFree(dw); cu.MemFree(dx); cu.MemFree(dy);
    if (M.xq) { cu.MemFree(M.xq); M.xq = 0; }
    if (M.xc) { cu.MemFree(M.xc); M.xc = 0; }
    free(w); free(x); free(y); free(ref); free(deq); free(corrections);
    return failures;
}

static float half_round(float v) {
    // round to nearest even F16 and back (host), for the query rounding the kernel does
    uint32_t u; memcpy(&u, &v, 4);
    uint32_t sign = u & 0x80000000u; float a = fabsf(v);
    if (a >= 65520.0f) return sign ? -INFINITY : INFINITY;
    if (a < 6.103515625e-05f) { float q = nearbyintf(a / 5.9604644775390625e-08f) * 5.9604644775390625e-08f; return sign ? -q : q; }
    int e; float mant = frexpf(a, &e);
    float q = ldexpf(nearbyintf(ldexpf(mant, 11)), e - 11);
    return sign ? -q : q;
}

static uint16_t to_half_bits(float v) {
    float r = half_round(v);
    uint32_t u; memcpy(&u, &r, 4);
    uint32_t sign = (u >> 16) & 0x8000u;
    float a = fabsf(r);
    if (a == 0) return (uint16_t)sign;
    if (isinf(a)) return (uint16_t)(sign | 0x7c00u);
    int e; float mant = frexpf(a, &e);  // a = mant · 2^e, mant in [0.5, 1)
    int exp = e - 1 + 15;
    if (exp <= 0) return (uint16_t)(sign | (uint32_t)nearbyintf(a / 5.9604644775390625e-08f));
    uint32_t frac = (uint32_t)nearbyintf((mant * 2 - 1) * 1024);
    return (uint16_t)(sign | ((uint32_t)exp << 10) | frac);
}

static int selftest_attention(int heads, int kvHeads, int hd, int ctx, int n, int first_pos) {
    int seqs = 2, layer = 1, layers = 2, kvDim = kvHeads * hd, seq = 1;
    size_t cache = (size_t)layers * seqs * ctx * kvDim;
    uint16_t* kc = malloc(cache * 2);
    uint16_t* vc = malloc(cache * 2);
    float* kf = malloc(cache * 4);
    float* vf = malloc(cache * 4);
    for (size_t i = 0; i < cache; i++) {
        kc[i] = to_half_bits(frand()); vc[i] = to_half_bits(frand());
        kf[i] = fmt_half((const u8*)&kc[i]); vf[i] = fmt_half((const u8*)&vc[i]);
    }
    float* q = malloc((size_t)n * heads * hd * 4);
    for (size_t i = 0; i < (size_t)n * heads * hd; i++) q[i] = frand() * 3;
    int* info = malloc((size_t)n * 8);
    for (int i = 0; i < n; i++) { info[2 * i] = first_pos + i; info[2 * i + 1] = seq; }
    double* ref = malloc((size_t)n * heads * hd * sizeof(double));
    double* slack = calloc((size_t)n * heads * hd, sizeof(double));
    double* p = malloc((size_t)ctx * sizeof(double));
    float scale = 1.0f / sqrtf((float)hd);
    for (int i = 0; i < n; i++)
        for (int h = 0; h < heads; h++) {
            int kvh = h / (heads / kvHeads), len = info[2 * i] + 1;
            const float* qv = q + ((size_t)i * heads + h) * hd;
            size_t base = (((size_t)layer * seqs + seq) * ctx) * kvDim + (size_t)kvh * hd;
            double mx = -1e300, sum = 0;
            for (int j = 0; j < len; j++) {
                double s = 0;
                for (int d = 0; d < hd; d++) s += (double)half_round(qv[d]) * kf[base + (size_t)j * kvDim + d];
                p[j] = s * scale;
                if (p[j] > mx) mx = p[j];
            }
            for (int j = 0; j < len; j++) { p[j] = exp(p[j] - mx); sum += p[j]; }
            double* out_slack = slack + ((size_t)i * heads + h) * hd;
            for (int j = 0; j < len; j++) {
                // F16 weights, as the kernel. A weight within 1% of an F16 ulp of a rounding tie may round
                // either way in the kernel's f32 (and ex2.approx): that ulp times |v| is allowed on top.
                double w = p[j] / sum;
                p[j] = half_round((float)w);
                int e;
                frexp(w, &e);
                double ulp = ldexp(1, (e - 11 > -24 ? e - 11 : -24));
                if (fabs(fabs(w - p[j]) - ulp / 2) < ulp / 100)
                    for (int d = 0; d < hd; d++) out_slack[d] += ulp * fabs(vf[base + (size_t)j * kvDim + d]);
            }
            for (int d = 0; d < hd; d++) {
                double o = 0;
                for (int j = 0; j < len; j++) o += p[j] * vf[base + (size_t)j * kvDim + d];
                ref[((size_t)i * heads + h) * hd + d] = o;
            }
        }
    CUdeviceptr dk, dv, dq, dout, dinfo;
    cu.MemAlloc(&dk, cache * 2); cu.MemAlloc(&dv, cache * 2);
    cu.MemAlloc(&dq, (size_t)n * heads * hd * 4); cu.MemAlloc(&dout, (size_t)n * heads * hd * 4); cu.MemAlloc(&dinfo, (size_t)n * 8);
    cu.MemcpyHtoD(dk, kc, cache * 2); cu.MemcpyHtoD(dv, vc, cache * 2);
    cu.MemcpyHtoD(dq, q, (size_t)n * heads * hd * 4); cu.MemcpyHtoD(dinfo, info, (size_t)n * 8);
    cu.MemsetD8(dout, 0xFF, (size_t)n * heads * hd * 4);
    cu.CtxSynchronize();
    CUfunction f;
    int failures = 0;
    if (function(&f, "attention_f16") || function(&M.attention, "attention_f16") ||
        function(&M.split_stats, "attention_split_stats_f16") || function(&M.split_values, "attention_split_values_f16") ||
        function(&M.split_sum, "attention_split_sum") ||
        cu.MemAlloc(&M.split_scratch, (size_t)SPLIT_BATCH * heads * ATTENTION_SPLITS * (2 + hd) * 4)) {
        printf("FAIL attention: %s\n", g_error);
        return 1;
    }
    size_t values = (size_t)n * heads * hd;
    float* out = malloc(values * 4);
    float* rounded = malloc(values * 4);
    char what[96];
    // Plain, then rounded as Q8_0 for the output projection (hd % 32 == 0): each head's rounded output must
    // be the plain one rounded, exactly.
    for (int mode = 0; mode <= (hd % 32 == 0 ? 3 : 0); mode += 3) {
        CUdeviceptr dcorr = 0;
        void* args[] = {&dq, &dk, &dv, &dout, &dcorr, &dcorr, &dinfo, &heads, &kvHeads, &hd, &ctx, &seqs, &layer, &scale, &mode, &n};
        if (launch(f, n, heads, 256, args) || cu.CtxSynchronize()) { printf("FAIL attention: %s\n", g_error); failures++; break; }
        if (mode == 0) {
            cu.MemcpyDtoH(out, dout, values * 4);
            snprintf(what, sizeof what, "attention hd=%d heads=%d/%d pos %d..%d", hd, heads, kvHeads, first_pos, first_pos + n - 1);
            failures += check(what, out, ref, slack, values, 1e-4);
            continue;
        }
        cu.MemcpyDtoH(rounded, dout, values * 4);
        size_t wrong = 0;
        for (size_t i = 0; i < values; i++)
            if (rounded[i] != host_round(out + i / hd * hd, (int)(i % hd), hd, mode)) wrong++;
        snprintf(what, sizeof what, "attention hd=%d heads=%d/%d pos %d..%d, Q8_0-rounded output", hd, heads, kvHeads,
                 first_pos, first_pos + n - 1);
        if (wrong) { printf("FAIL %s: %zu of %zu values differ\n", what, wrong, values); failures++; }
        else printf("ok   %s: exact\n", what);
    }
    // The long-context path: positions split into 3 (uneven, one range empty) and 8 ranges.
    for (int splits = 3; n <= SPLIT_BATCH && splits <= 8; splits += 5) {
        cu.MemsetD8(dout, 0xFF, values * 4);
        if (attend(dq, dk, dv, dout, 0, 0, dinfo, n, heads, kvHeads, hd, ctx, seqs, layer, 0, splits) || cu.CtxSynchronize()) {
            printf("FAIL split attention: %s\n", g_error);
            failures++;
            break;
        }
        cu.MemcpyDtoH(out, dout, values * 4);
        snprintf(what, sizeof what, "attention hd=%d heads=%d/%d pos %d..%d, %d ranges", hd, heads, kvHeads, first_pos,
                 first_pos + n - 1, splits);
        failures += check(what, out, ref, slack, values, 1e-4);
    }
    cu.MemFree(M.split_scratch);
    cu.MemFree(dk); cu.MemFree(dv); cu.MemFree(dq); cu.MemFree(dout); cu.MemFree(dinfo);
    free(kc); free(vc); free(kf); free(vf); free(q); free(info); free(ref); free(slack); free(p); free(out); free(rounded);
    return failures;
}


static float host_round(const float* row, int i, int cols, int mode) {
    float v = row[i];
    if (mode == 1) return half_round(v);
    if (mode == 2) {
        uint32_t u; memcpy(&u, &v, 4);
        u = (u + (0x7fffu + ((u >> 16) & 1u))) & 0xffff0000u;
        float r; memcpy(&r, &u, 4); return r;
    }
    if (mode == 3 || mode == 6) {
        int b = i / 32 * 32; float amax = 0;
        for (int j = b; j < b + 32; j++) amax = fmaxf(amax, fabsf(row[j]));
        float d = half_round(amax / 127.0f), inv = amax != 0 ? 127.0f / amax : 0;
        float q = nearbyintf(v * inv);
        return d * fminf(127, fmaxf(-128, q));
    }
    int b = i / 256 * 256; float amax = 0, ext = 0;
    for (int j = b; j < b + 256 && j < cols; j++) if (fabsf(row[j]) > amax) { amax = fabsf(row[j]); ext = row[j]; }
    if (amax == 0) return 0;
    float scale = -127.0f / ext, q = fminf(127, nearbyintf(scale * v));
    return q * (1.0f / scale);
}

// What the CPU's Q8_1 block adds to the values' sum, for the self-test's references: s − Σ values for block b of
// a row, s = f16(Σq · amax/127) as Q8_1 keeps it.
static float host_q8_1_correction(const float* row, int b) {
    float amax = 0;
    for (int j = 32 * b; j < 32 * b + 32; j++) amax = fmaxf(amax, fabsf(row[j]));
    float d = amax / 127.0f, inv = amax != 0 ? 127.0f / amax : 0;
    float sum = 0;
    for (int j = 32 * b; j < 32 * b + 32; j++) sum += fminf(127, fmaxf(-128, nearbyintf(row[j] * inv)));
    return half_round(sum * d) - half_round(d) * sum;
}

// Modes 3 and 6 also leave the int8 values and per-block scales that Q8_0, Q4_0 and Q4_1 weights multiply:
// each value must be exactly its f16 scale times its integer. The scale kept is the f16 value of amax/127
// (mode 3) or amax/127 itself (mode 6), amax over the block of `input`, the values before rounding.
static int check_q8_0_parts(const char* what, const float* input, const float* values, CUdeviceptr dq, CUdeviceptr dd,
                            size_t n, int mode) {
    signed char* q = malloc(n);
    float* d = malloc(n / 32 * 4);
    cu.MemcpyDtoH(q, dq, n);
    cu.MemcpyDtoH(d, dd, n / 32 * 4);
    size_t wrong = 0;
    if (mode == 4) {  // Q8_K: the integers and d (in each 32-column slot) as the CPU rounds each 256-block
        signed char want[256];
        float dw[8];
        for (size_t b = 0; b < n / 256; b++) {
            host_q8_k(input + 256 * b, want, dw);
            for (int i = 0; i < 256; i++) wrong += q[256 * b + i] != want[i] || values[256 * b + i] != (float)want[i] * dw[0];
            for (int k = 0; k < 8; k++) wrong += d[8 * b + k] != dw[k];
        }
    }
    for (size_t b = 0; b < n / 32 && mode != 4; b++) {
        float amax = 0;
        for (size_t i = 32 * b; i < 32 * b + 32; i++) amax = fmaxf(amax, fabsf(input[i]));
        float scale = amax / 127.0f, kept = mode == 3 ? half_round(scale) : scale;
        if (d[b] != kept) wrong++;
        for (size_t i = 32 * b; i < 32 * b + 32; i++)
            if (values[i] != half_round(d[b]) * (float)q[i]) wrong++;
    }
    if (wrong) printf("FAIL %s: %zu of %zu integers and scales do not give the values\n", what, wrong, n + n / 32);
    else printf("ok   %s: exact\n", what);
    free(q);
    free(d);
    return wrong ? 1 : 0;
}

static int selftest_rounding(void) {
    int rows = 3, cols = 768, failures = 0;
    float* x = malloc((size_t)rows * cols * 4);
    float* y = malloc((size_t)rows * cols * 4);
    double* ref = malloc((size_t)rows * cols * sizeof(double));
    CUdeviceptr dx, dy, dc, dq;
    CUfunction f;
    if (function(&f, "round_activations") || cu.MemAlloc(&dx, (size_t)rows * cols * 4) || cu.MemAlloc(&dy, (size_t)rows * cols * 4) ||
        cu.MemAlloc(&dc, (size_t)rows * cols / 32 * 4) || cu.MemAlloc(&dq, (size_t)rows * cols)) { printf("FAIL rounding setup\n"); return 1; }
    for (int mode = 1; mode <= 6; mode++) {
        if (mode == 5) continue;  // (no mode 5)
        for (int i = 0; i < rows * cols; i++) x[i] = frand() * (i % 97 == 0 ? 40.0f : 3.0f);
        for (int i = 0; i < 32; i++) x[cols + i] = 0;  // an all-zero block
        for (int r = 0; r < rows; r++)
            for (int i = 0; i < cols; i++) ref[(size_t)r * cols + i] = host_round(x + (size_t)r * cols, i, cols, mode);
        cu.MemcpyHtoD(dx, x, (size_t)rows * cols * 4);
        cu.MemsetD8(dy, 0xFF, (size_t)rows * cols * 4);
        cu.CtxSynchronize();
        void* args[] = {&dx, &dy, &dc, &dq, &cols, &mode};
        if (launch(f, rows, (unsigned)(cols + 255) / 256, 256, args) || cu.CtxSynchronize()) { printf("FAIL rounding mode %d: %s\n", mode, g_error); failures++; continue; }
        cu.MemcpyDtoH(y, dy, (size_t)rows * cols * 4);
        char what[48];
        snprintf(what, sizeof what, "activation rounding mode %d", mode);
        failures += check(what, y, ref, NULL, (size_t)rows * cols, 1e-7);
        if (mode == 3) failures += check_q8_0_parts("Q8_0 integers and scales (mode 3)", x, y, dq, dc, (size_t)rows * cols, 3);
        if (mode == 6) failures += check_q8_0_parts("Q8_1 integers and scales (mode 6)", x, y, dq, dc, (size_t)rows * cols, 6);
        if (mode == 4) failures += check_q8_0_parts("Q8_K integers and scales (mode 4)", x, y, dq, dc, (size_t)rows * cols, 4);
    }
    cu.MemFree(dx); cu.MemFree(dy); cu.MemFree(dc); cu.MemFree(dq); free(x); free(y); free(ref);
    return failures;
}

// add_norm_round on rows of 2048 (a block of 1024 threads, two passes of rounding, four Q8_K blocks at
// once): x += add, then the norm in float with the squares summed in double (any order gives the same
// float), then each mode's rounding, which must come out exactly.
static int selftest_norm(void) {
    int rows = 3, cols = 2048, failures = 0;
    float eps = 1e-5f;
    size_t n = (size_t)rows * cols;
    float* x = malloc(n * 4), *add = malloc(n * 4), *w = malloc((size_t)cols * 4), *y = malloc(n * 4), *normed = malloc(n * 4);
    double* ref = malloc(n * sizeof(double));
    CUdeviceptr dx, da, dw, dy, dc, dq;
    CUfunction f;
    if (function(&f, "add_norm_round") || cu.MemAlloc(&dx, n * 4) || cu.MemAlloc(&da, n * 4) || cu.MemAlloc(&dw, (size_t)cols * 4) ||
        cu.MemAlloc(&dy, n * 4) || cu.MemAlloc(&dc, n / 32 * 4) || cu.MemAlloc(&dq, n)) { printf("FAIL norm setup: %s\n", g_error); return 1; }
    for (int mode = 0; mode <= 6; mode++) {
        if (mode == 5) continue;  // (no mode 5)
        for (size_t i = 0; i < n; i++) { x[i] = frand() * (i % 89 == 0 ? 30.0f : 2.0f); add[i] = frand(); }
        for (int i = 0; i < cols; i++) w[i] = 0.5f + frand();
        for (int r = 0; r < rows; r++) {
            float* v = normed + (size_t)r * cols;
            double sum = 0;
            for (int i = 0; i < cols; i++) {
                v[i] = x[(size_t)r * cols + i] + add[(size_t)r * cols + i];
                sum += (double)(v[i] * v[i]);
            }
            float scale = 1.0f / sqrtf((float)(sum / (double)cols) + eps);
            for (int i = 0; i < cols; i++) v[i] = v[i] * scale * w[i];
            for (int i = 0; i < cols; i++) ref[(size_t)r * cols + i] = mode ? host_round(v, i, cols, mode) : v[i];
        }
        cu.MemcpyHtoD(dx, x, n * 4); cu.MemcpyHtoD(da, add, n * 4); cu.MemcpyHtoD(dw, w, (size_t)cols * 4);
        cu.MemsetD8(dy, 0xFF, n * 4);
        cu.CtxSynchronize();
        void* args[] = {&dx, &da, &dw, &dy, &dc, &dq, &cols, &eps, &mode};
        if (launch(f, rows, 1, 1024, args) || cu.CtxSynchronize()) { printf("FAIL norm mode %d: %s\n", mode, g_error); failures++; continue; }
        cu.MemcpyDtoH(y, dy, n * 4);
        char what[48];
        snprintf(what, sizeof what, "norm of 2048, rounding mode %d", mode);
        failures += check(what, y, ref, NULL, n, 1e-7);
        if (mode == 3) failures += check_q8_0_parts("norm, Q8_0 integers and scales", normed, y, dq, dc, n, 3);
        if (mode == 6) failures += check_q8_0_parts("norm, Q8_1 integers and scales", normed, y, dq, dc, n, 6);
        if (mode == 4) failures += check_q8_0_parts("norm, Q8_K integers and scales", normed, y, dq, dc, n, 4);
    }
    cu.MemFree(dx); cu.MemFree(da); cu.MemFree(dw); cu.MemFree(dy); cu.MemFree(dc); cu.MemFree(dq);
    free(x); free(add); free(w); free(y); free(normed); free(ref);
    return failures;
}

// Q4_1/Q5_1 weights with Q8_1 activations as the CPU multiplies them: per block d_w·q_w·v + m_w·s, where
// v are the rounded values and s the block's stored f16 sum, the activations rounded on the device
// (round_activations mode 6 gives the integers and scales, from which the kernels form s).
static int selftest_q8_1(const char* dir, const char* name, int type) {
    int rows = 80, cols = 512, failures = 0, maxn = 33;
    char path[4096];
    long nb = 0;
    snprintf(path, sizeof path, "%s/%s.bin", dir, name);
    unsigned char* blocks = read_file(path, &nb);
    if (!blocks) { printf("FAIL %s: no fixture %s\n", name, path); return 1; }
    int bb = fmt_block_bytes(type);
    size_t row_bytes = (size_t)(cols / 32) * bb, total = row_bytes * rows;
    unsigned char* w = malloc(total);
    for (size_t b = 0; b < total / bb; b++) memcpy(w + b * bb, blocks + (b % (size_t)(nb / bb)) * bb, bb);
    free(blocks);
    float* x = malloc((size_t)maxn * cols * 4);
    float* y = malloc((size_t)maxn * rows * 4);
    double* ref = malloc((size_t)maxn * rows * sizeof(double));
    CUdeviceptr dw, dx, dxr, dy;
    CUfunction round;
    if (cu.MemAlloc(&dw, total) || cu.MemAlloc(&dx, (size_t)maxn * cols * 4) || cu.MemAlloc(&dxr, (size_t)maxn * cols * 4) ||
        cu.MemAlloc(&dy, (size_t)maxn * rows * 4) || cu.MemAlloc(&M.xc, (size_t)maxn * cols / 32 * 4) ||
        cu.MemAlloc(&M.xq, (size_t)maxn * cols) || function(&round, "round_activations")) {
        printf("FAIL %s Q8_1 setup: %s\n", name, g_error);
        return 1;
    }
    cu.MemcpyHtoD(dw, w, total);
    struct matrix m = {.data = dw, .type = type, .rows = rows, .cols = cols, .row_bytes = row_bytes, .act = activation_mode(type)};
    char fn[32];
    snprintf(fn, sizeof fn, "mv_%s", kernel_suffix(type));
    if (function(&m.mv, fn)) { printf("FAIL %s: %s\n", fn, g_error); return 1; }
    snprintf(fn, sizeof fn, "mb_%s", kernel_suffix(type));
    if (function(&m.mb, fn)) { printf("FAIL %s: %s\n", fn, g_error); return 1; }
    int counts[] = {1, 5, 33, 33};
    for (int run = 0; run < 4; run++) {
        int n = counts[run];
        snprintf(fn, sizeof fn, "%s_%s", run == 3 ? "ms" : "mm", kernel_suffix(type));
        if (function(&m.mm, fn)) { printf("FAIL %s: %s\n", fn, g_error); failures++; break; }
        for (size_t k = 0; k < (size_t)n * cols; k++) x[k] = frand() * 2;
        for (int t = 0; t < n; t++)
            for (int r = 0; r < rows; r++) {
                double s = 0;
                for (int c = 0; c < cols / 32; c++) {
                    float chunk[32];
                    fmt_chunk(type, w + r * row_bytes, c, chunk);
                    const float* xt = x + (size_t)t * cols;
                    for (int j = 0; j < 32; j++) s += (double)chunk[j] * host_round(xt, c * 32 + j, cols, 6);
                    s += (double)fmt_block_min(type, w + r * row_bytes, c) * host_q8_1_correction(xt, c);
                }
                ref[(size_t)t * rows + r] = s;
            }
        cu.MemsetD8(dy, 0xFF, (size_t)maxn * rows * 4);
        cu.MemcpyHtoD(dx, x, (size_t)n * cols * 4);
        int mode = m.act;
        void* args[] = {&dx, &dxr, &M.xc, &M.xq, &cols, &mode};
        if (launch(round, n, (unsigned)(cols + 255) / 256, 256, args) || matmul(&m, dxr, dy, n) || cu.CtxSynchronize()) {
            printf("FAIL %s Q8_1 n=%d: %s\n", name, n, g_error);
            failures++;
            continue;
        }
        cu.MemcpyDtoH(y, dy, (size_t)n * rows * 4);
        char what[64];
        snprintf(what, sizeof what, "%s x Q8_1 n=%d (%s)", name, n, n <= 8 || type == T_Q5_1 ? "matvec" : run == 3 ? "tile, simt" : "tile");
        failures += check(what, y, ref, NULL, (size_t)n * rows, 2e-6);
    }
    cu.MemFree(dw); cu.MemFree(dx); cu.MemFree(dxr); cu.MemFree(dy); cu.MemFree(M.xc); cu.MemFree(M.xq);
    M.xc = 0;
    M.xq = 0;
    free(w); free(x); free(y); free(ref);
    return failures;
}

static int selftest(const char* dir) {
    if (open_device(0)) { printf("FAIL device: %s\n", g_error); return 1; }
    printf("device: %s\n", g_device_text);
    struct { const char* name; int type; } types[] = {
        {"F32", T_F32}, {"F16", T_F16}, {"BF16", T_BF16}, {"Q4_0", T_Q4_0}, {"Q4_1", T_Q4_1}, {"Q5_0", T_Q5_0},
        {"Q5_1", T_Q5_1}, {"Q8_0", T_Q8_0}, {"Q2_K", T_Q2_K}, {"Q3_K", T_Q3_K}, {"Q4_K", T_Q4_K},
        {"Q5_K", T_Q5_K}, {"Q6_K", T_Q6_K}, {"IQ4_NL", T_IQ4_NL}, {"IQ4_XS", T_IQ4_XS},
        {"IQ2_XXS", T_IQ2_XXS}, {"IQ2_XS", T_IQ2_XS}, {"IQ2_S", T_IQ2_S}, {"IQ3_XXS", T_IQ3_XXS}, {"IQ3_S", T_IQ3_S},
        {"IQ1_S", T_IQ1_S}, {"IQ1_M", T_IQ1_M},
    };
    int failures = 0;
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        failures += selftest_matrix(dir, types[t].name, types[t].type, 80, 512);
        if (fmt_block_weights(types[t].type) == 32) failures += selftest_matrix(dir, types[t].name, types[t].type, 70, 96);
        // Q4_0/Q4_1 rows of more than one 32-block chunk (matvec_nibbles), the last one partial
        if (nibbles(types[t].type)) failures += selftest_matrix(dir, types[t].name, types[t].type, 40, 1120);
        // the super-block formats: 5 super-blocks per row, one step of the warp's 4 groups and a partial one;
        // rows not a multiple of 8 (Q4_K: the CPU's row-kernel order, mr_q4_k)
        if (kquant_cpu_order(types[t].type)) failures += selftest_matrix(dir, types[t].name, types[t].type, 44, 1280);
    }
    failures += selftest_rounding();
    failures += selftest_norm();
    failures += selftest_q8_1(dir, "Q4_1", T_Q4_1);
    failures += selftest_q8_1(dir, "Q5_1", T_Q5_1);
    failures += selftest_attention(8, 4, 32, 300, 1, 299);
    failures += selftest_attention(8, 2, 64, 300, 40, 0);
    failures += selftest_attention(8, 8, 128, 600, 3, 250);
    failures += selftest_attention(4, 1, 256, 200, 2, 130);
    failures += selftest_attention(8, 2, 64, 1100, 2, 1000);
    printf("selftest: %d failed\n", failures);
    return failures ? 1 : 0;
}

int main(int argc, char** argv) {
    if (argc > 1 && strcmp(argv[1], "--probe") == 0) {
        int status = open_device(argc > 2 ? atoi(argv[2]) : 0);
        printf("%s\n", status ? g_error : g_device_text);
        return status ? 1 : 0;
    }
    if (argc > 2 && strcmp(argv[1], "--selftest") == 0) return selftest(argv[2]);
    if (argc > 1) {
        fprintf(stderr, "usage: swiftfile-gpu --probe [DEVICE] | --selftest FIXTURE_DIR   (otherwise started by swiftfile)\n");
        return 2;
    }
    struct stat st;
    if (fstat(3, &st) != 0 || st.st_size <= 0) { fprintf(stderr, "swiftfile-gpu: no shared memory on fd 3\n"); return 2; }
    g_shared_bytes = (size_t)st.st_size;
    g_shared = mmap(NULL, g_shared_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, 3, 0);
    if (g_shared == MAP_FAILED) { fprintf(stderr, "swiftfile-gpu: cannot map shared memory\n"); return 2; }
    int device_status = -1;
    const char* profile = getenv("SWIFTFILE_GPU_PROFILE");
    g_profile.on = profile != NULL;
    g_profile.kernels = profile && strcmp(profile, "kernels") == 0;
    for (;;) {
        struct sfg_request rq;
        if (read_all(4, &rq, sizeof rq) || rq.op == SFG_QUIT) {  // done, or the runner went away
            if (g_profile.on)
                fprintf(stderr, "swiftfile-gpu: %ld forwards (%ld tokens): %.1f ms in the worker, %.1f ms of it waiting for the GPU; graphs %s\n",
                        g_profile.forwards, g_profile.tokens, g_profile.forward_ms, g_profile.wait_ms, M.graphs_off ? "off" : "on");
            if (g_profile.kernels) profile_print();
            return 0;
        }
        struct sfg_reply rp;
        memset(&rp, 0, sizeof rp);
        g_error[0] = 0;
        if (rq.op == SFG_QUIT) return 0;
        // The first request opens the device: a probe names which (its n), anything else gets device 0.
        if (device_status < 0) device_status = open_device(rq.op == SFG_PROBE ? (int)rq.n : 0);
        int status = device_status;
        if (status == SFG_OK) {
            if (M.broken) {
                status = SFG_FAILED;
                set_error("an earlier CUDA error left the GPU worker unusable");
            } else if (rq.op == SFG_PROBE && (int)rq.n != g_device_index) {
                status = SFG_BAD_REQUEST;  // one worker, one device
                set_error("this worker has GPU %d open, not %u", g_device_index, rq.n);
            } else if (rq.op == SFG_PROBE) {
                set_error("%s", g_device_text);
            } else if (rq.op == SFG_LOAD) {
                status = handle_load(rq.payload);
            } else if (rq.op == SFG_FORWARD || rq.op == SFG_SHIFT) {
                double start = g_profile.on ? now_ms() : 0;
                if (rq.op == SFG_SHIFT) {
                    status = handle_shift(rq.n);
                } else {
                    status = handle_forward(rq.n, rq.payload);
                    if (g_profile.on) { g_profile.forward_ms += now_ms() - start; g_profile.forwards++; g_profile.tokens += rq.n; }
                }
                if (status == SFG_OK) {
                    CUresult r = cu.CtxSynchronize();
                    if (r) { status = SFG_FAILED; set_error("GPU error: %s (%d)", cu_message(r), r); }
                }
            } else {
                status = SFG_BAD_REQUEST;
                set_error("unknown request %u", rq.op);
            }
            if (status == SFG_FAILED) M.broken = 1;
        }
        rp.status = status;
        if (rq.op == SFG_PROBE) rp.value = (uint32_t)g_device_count;  // how many the driver sees, 0 if none
        size_t free_b = 0, total_b = 0;
        if (device_status == SFG_OK && cu.MemGetInfo) cu.MemGetInfo(&free_b, &total_b);
        rp.free_bytes = free_b;
        rp.total_bytes = total_b;
        snprintf(rp.text, sizeof rp.text, "%s", g_error);
        if (write_all(5, &rp, sizeof rp)) return 0;
    }
}
