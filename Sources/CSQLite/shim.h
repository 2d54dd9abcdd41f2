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
// hard links. Linux: renameat2(RENAME_NOREPLACE), by syscall number (glibc hides it without
// _GNU_SOURCE); Apple: renamex_np(RENAME_EXCL).
#if defined(__linux__)
#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>
static inline int orion_rename_noreplace(const char *from, const char *to) {
#ifdef SYS_renameat2
    return (int)syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, 1);
#else
    errno = ENOSYS;
    return -1;
#endif
}
#elif defined(__APPLE__)
#include <stdio.h>
static inline int orion_rename_noreplace(const char *from, const char *to) {
    return renamex_np(from, to, RENAME_EXCL);
}
#endif

#endif
