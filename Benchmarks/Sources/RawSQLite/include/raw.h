#ifndef ORION_RAW_SQLITE_H
#define ORION_RAW_SQLITE_H
#include <stdint.h>
#include <sqlite3.h>

/// The baseline: what a careful C program does with the same libsqlite3.
/// Each function opens its own connection with the store's pragmas, prepares once, and loops.

typedef struct {
    int64_t id;
    char name[32];
    int64_t qty;
    double price;
} raw_item;

/// Opens `path` with WAL, the given synchronous level (1 normal, 2 full), busy timeout and FKs.
void *raw_open(const char *path, int synchronous);
void raw_close(void *db);

/// Point reads by primary key into a struct, one autocommit statement each. Returns a checksum.
int64_t raw_point_reads(void *db, const int64_t *ids, int count);

/// Reads `rows` consecutive rows from `first` into `out`, `repeat` times. Returns a checksum.
int64_t raw_range_reads(void *db, int64_t first, int rows, int repeat, raw_item *out);

/// Autocommit single-row inserts. Returns 0 on success.
int raw_inserts(void *db, int count);

/// Transfers: read A's balance, A -= amount, B += amount. `per_tx` transfers per transaction
/// (each in a savepoint when per_tx > 1). Returns 0 on success.
int raw_transfers(void *db, const int64_t *from, const int64_t *to, int count, int per_tx);

const char *raw_sqlite_version(void);

/// The mean time of one write+fsync of a small file at `path`.
double raw_fsync_seconds(const char *path, int count);

/// Creates `accounts (id integer primary key, balance integer not null)` with `count` rows.
int raw_fill_accounts(void *db, int64_t count);

#endif
