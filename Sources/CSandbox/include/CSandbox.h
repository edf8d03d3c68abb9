#ifndef SWIFTFILE_CSANDBOX_H
#define SWIFTFILE_CSANDBOX_H

/* The kernel calls behind the runner's sandbox (Sources/swiftfile/Sandbox.swift). Linux only; elsewhere
 * every function reports "not available". Return values: >= 0 success, otherwise -errno. */

/* Landlock ABI version of the running kernel (0 when Landlock is missing or disabled). */
int csandbox_landlock_abi(void);

/* A ruleset that handles every file-system right of `abi` (and, from ABI 4, TCP bind and connect) and
 * allows only reading the files in `paths`. Returns its descriptor. */
int csandbox_landlock_ruleset(int abi, const char *const *paths, int count);

/* Enforces the ruleset on the calling thread (Landlock is per thread). Needs no_new_privs, which
 * csandbox_seccomp_install sets on every thread. */
int csandbox_landlock_restrict_self(int ruleset);

/* Sets no_new_privs and installs, on every thread of the process (TSYNC), a filter that refuses with
 * EPERM: execve/execveat, socket and connect, opening a file for writing, and the calls that change the
 * file tree or its metadata; io_uring and openat2 answer ENOSYS (so they cannot route around it). */
int csandbox_seccomp_install(void);

#endif
