#ifndef ORION_CSQLITE_SHIM_H
#define ORION_CSQLITE_SHIM_H

#include <sqlite3.h>

// sqlite3_db_config is variadic, which Swift cannot call: these wrappers give it a fixed shape.
static inline int orion_db_config_int(sqlite3 *db, int op, int value) {
    return sqlite3_db_config(db, op, value, (int *)0);
}

// The same for a flag: sets it to `value` (1 on, 0 off, -1 unchanged) and returns what it is then.
static inline int orion_db_config_flag(sqlite3 *db, int op, int value) {
    int now = -1;
    sqlite3_db_config(db, op, value, &now);
    return now;
}

// SQLITE_TRANSIENT is a cast of -1 to a function pointer, which Swift cannot import.
static inline sqlite3_destructor_type orion_transient(void) {
    return SQLITE_TRANSIENT;
}

// sqlite3_config is variadic too. Turning memory statistics off removes a process-wide mutex
// that every SQLite allocation takes; it only works before SQLite initializes (else it
// returns SQLITE_MISUSE and changes nothing).
static inline int orion_config_memstatus_off(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

// Renames `from` to `to` unless `to` exists (then fails with EEXIST): for file systems without
// hard links. Linux: the renameat2 system call with RENAME_NOREPLACE, by number (glibc's
// wrapper needs glibc 2.28 and _GNU_SOURCE); Apple: renamex_np(RENAME_EXCL). No system header is
// included for Linux: this module would then own their types (`timespec`, `stat`) in Swift's
// eyes, and files that use them through Glibc would fail to compile depending on import order.
#if defined(__linux__)
extern long syscall(long number, ...);
extern int *__errno_location(void);
static inline int orion_rename_noreplace(const char *from, const char *to) {
    // AT_FDCWD is -100 and RENAME_NOREPLACE is 1 on every Linux architecture.
#if defined(__x86_64__)
    return (int)syscall(316, -100, from, -100, to, 1);
#elif defined(__aarch64__)
    return (int)syscall(276, -100, from, -100, to, 1);
#else
    *__errno_location() = 38; // ENOSYS: the caller falls back to a hard link.
    return -1;
#endif
}
#elif defined(__APPLE__)
#include <stdio.h>
static inline int orion_rename_noreplace(const char *from, const char *to) {
    return renamex_np(from, to, RENAME_EXCL);
}
#endif

// Names the calling thread (at most 15 bytes show), for the store's lane threads in `top`,
// gdb and perf. Linux: prctl(PR_SET_NAME), declared here rather than from <sys/prctl.h> for the
// reason above; Apple: pthread_setname_np, which names only the calling thread there.
#if defined(__linux__)
extern int prctl(int option, ...);
static inline void orion_name_thread(const char *name) {
    (void)prctl(15, name, 0, 0, 0); // PR_SET_NAME
}
#elif defined(__APPLE__)
#include <pthread.h>
static inline void orion_name_thread(const char *name) {
    (void)pthread_setname_np(name);
}
#else
static inline void orion_name_thread(const char *name) { (void)name; }
#endif

#endif
