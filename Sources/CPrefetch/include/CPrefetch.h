#ifndef CPREFETCH_H
#define CPREFETCH_H

// A cache prefetch hint for the kernels: the intrinsic (_mm_prefetch, __builtin_prefetch) is a macro or a
// builtin, which Swift cannot call; a static inline function is imported and inlined.
static inline void swiftfile_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 3);
}

#endif
