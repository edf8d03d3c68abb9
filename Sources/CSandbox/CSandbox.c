#include "CSandbox.h"

#if defined(__linux__)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Landlock's interface, written out rather than taken from <linux/landlock.h>, which may predate the
 * rights we ask for (the kernel tells us its ABI and we only use what it has). */
#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#define __NR_landlock_add_rule 445
#define __NR_landlock_restrict_self 446
#endif
#define LL_CREATE_RULESET_VERSION (1U << 0)
#define LL_RULE_PATH_BENEATH 1
#define LL_FS_EXECUTE (1ULL << 0)
#define LL_FS_WRITE_FILE (1ULL << 1)
#define LL_FS_READ_FILE (1ULL << 2)
#define LL_FS_ALL_V1 ((1ULL << 13) - 1) /* EXECUTE … MAKE_SYM */
#define LL_FS_REFER (1ULL << 13)       /* ABI 2 */
#define LL_FS_TRUNCATE (1ULL << 14)    /* ABI 3 */
#define LL_FS_IOCTL_DEV (1ULL << 15)   /* ABI 5 */
#define LL_NET_BIND_TCP (1ULL << 0)    /* ABI 4 */
#define LL_NET_CONNECT_TCP (1ULL << 1)

struct ll_ruleset_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net;
};

struct ll_path_beneath_attr {
    uint64_t allowed_access;
    int32_t parent_fd;
} __attribute__((packed));

int csandbox_landlock_abi(void) {
    long abi = syscall(__NR_landlock_create_ruleset, NULL, 0, LL_CREATE_RULESET_VERSION);
    return abi < 0 ? 0 : (int)abi;
}

int csandbox_landlock_ruleset(int abi, const char *const *paths, int count) {
    if (abi < 1) return -ENOSYS;
    struct ll_ruleset_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.handled_access_fs = LL_FS_ALL_V1;
    if (abi >= 2) attr.handled_access_fs |= LL_FS_REFER;
    if (abi >= 3) attr.handled_access_fs |= LL_FS_TRUNCATE;
    if (abi >= 5) attr.handled_access_fs |= LL_FS_IOCTL_DEV;
    size_t size = sizeof attr.handled_access_fs;
    if (abi >= 4) {
        /* No network rule follows: binding and connecting TCP are refused (the listening socket exists). */
        attr.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
        size = sizeof attr;
    }
    int ruleset = (int)syscall(__NR_landlock_create_ruleset, &attr, size, 0);
    if (ruleset < 0) return -errno;
    for (int i = 0; i < count; i++) {
        int fd = open(paths[i], O_PATH | O_CLOEXEC);
        if (fd < 0) {
            int error = errno;
            close(ruleset);
            return -error;
        }
        struct ll_path_beneath_attr rule = {.allowed_access = LL_FS_READ_FILE, .parent_fd = fd};
        long added = syscall(__NR_landlock_add_rule, ruleset, LL_RULE_PATH_BENEATH, &rule, 0);
        int error = errno;
        close(fd);
        if (added < 0) {
            close(ruleset);
            return -error;
        }
    }
    return ruleset;
}

int csandbox_landlock_restrict_self(int ruleset) {
    return syscall(__NR_landlock_restrict_self, ruleset, 0) < 0 ? -errno : 0;
}

#if defined(__x86_64__)
#define SANDBOX_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SANDBOX_ARCH AUDIT_ARCH_AARCH64
#endif

#define ARG_LOW(n) (offsetof(struct seccomp_data, args) + 8 * (n)) /* little-endian: the low 32 bits */
#define DENY(err) BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((err) & SECCOMP_RET_DATA))

int csandbox_seccomp_install(void) {
#ifndef SANDBOX_ARCH
    return -ENOSYS;
#else
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -errno;
    const uint32_t write_flags = O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND;
    /* Calls refused outright with EPERM (the legacy ones exist on x86-64 only). */
    static const int refused[] = {
#ifdef __NR_execve
        __NR_execve,
#endif
#ifdef __NR_execveat
        __NR_execveat,
#endif
#ifdef __NR_socket
        __NR_socket,
#endif
#ifdef __NR_connect
        __NR_connect,
#endif
#ifdef __NR_unlinkat
        __NR_unlinkat,
#endif
#ifdef __NR_renameat
        __NR_renameat,
#endif
#ifdef __NR_renameat2
        __NR_renameat2,
#endif
#ifdef __NR_mkdirat
        __NR_mkdirat,
#endif
#ifdef __NR_linkat
        __NR_linkat,
#endif
#ifdef __NR_symlinkat
        __NR_symlinkat,
#endif
#ifdef __NR_truncate
        __NR_truncate,
#endif
#ifdef __NR_ftruncate
        __NR_ftruncate,
#endif
#ifdef __NR_fchmodat
        __NR_fchmodat,
#endif
#ifdef __NR_fchownat
        __NR_fchownat,
#endif
#ifdef __NR_mknodat
        __NR_mknodat,
#endif
#ifdef __NR_ptrace
        __NR_ptrace,
#endif
#ifdef __NR_creat
        __NR_creat,
#endif
#ifdef __NR_unlink
        __NR_unlink,
#endif
#ifdef __NR_rename
        __NR_rename,
#endif
#ifdef __NR_mkdir
        __NR_mkdir,
#endif
#ifdef __NR_rmdir
        __NR_rmdir,
#endif
#ifdef __NR_link
        __NR_link,
#endif
#ifdef __NR_symlink
        __NR_symlink,
#endif
#ifdef __NR_chmod
        __NR_chmod,
#endif
#ifdef __NR_chown
        __NR_chown,
#endif
#ifdef __NR_lchown
        __NR_lchown,
#endif
#ifdef __NR_mknod
        __NR_mknod,
#endif
    };
    /* Calls that answer "not implemented", so that a library falls back to one the filter can see into. */
    static const int missing[] = {
#ifdef __NR_openat2
        __NR_openat2,
#endif
#ifdef __NR_io_uring_setup
        __NR_io_uring_setup,
#endif
#ifdef __NR_io_uring_enter
        __NR_io_uring_enter,
#endif
#ifdef __NR_io_uring_register
        __NR_io_uring_register,
#endif
    };
    enum { REFUSED = sizeof refused / sizeof refused[0], MISSING = sizeof missing / sizeof missing[0] };
#ifdef __NR_open
    enum { OPEN_BLOCK = 4 };
#else
    enum { OPEN_BLOCK = 0 };
#endif
    struct sock_filter program[6 + 2 * REFUSED + 2 * MISSING + 4 + OPEN_BLOCK + 1];
    size_t n = 0;
    /* Another architecture's calls (e.g. 32-bit int 0x80) and x32 numbers: refused. */
    program[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    program[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SANDBOX_ARCH, 1, 0);
    program[n++] = (struct sock_filter)DENY(EPERM);
    program[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    program[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1);
    program[n++] = (struct sock_filter)DENY(EPERM);
    for (int i = 0; i < REFUSED; i++) {
        program[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)refused[i], 0, 1);
        program[n++] = (struct sock_filter)DENY(EPERM);
    }
    for (int i = 0; i < MISSING; i++) {
        program[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)missing[i], 0, 1);
        program[n++] = (struct sock_filter)DENY(ENOSYS);
    }
    /* openat(dirfd, path, flags): read-only opens pass (to the final ALLOW), any write flag is refused. */
    program[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_openat, 0, 3);
    program[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LOW(2));
    program[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, write_flags, 0, 1 + OPEN_BLOCK);
    program[n++] = (struct sock_filter)DENY(EPERM);
#ifdef __NR_open
    /* open(path, flags): the same on the legacy call (the accumulator still holds the number here). */
    program[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_open, 0, 3);
    program[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LOW(1));
    program[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, write_flags, 0, 1);
    program[n++] = (struct sock_filter)DENY(EPERM);
#endif
    program[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    struct sock_fprog fprog = {.len = (unsigned short)n, .filter = program};
    if (syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &fprog) != 0) return -errno;
    return 0;
#endif
}

#else
int csandbox_landlock_abi(void) { return 0; }
int csandbox_landlock_ruleset(int abi, const char *const *paths, int count) { (void)abi; (void)paths; (void)count; return -38; }
int csandbox_landlock_restrict_self(int ruleset) { (void)ruleset; return -38; }
int csandbox_seccomp_install(void) { return -38; }
#endif
