#include "raw.h"
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void *raw_open(const char *path, int synchronous) {
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        sqlite3_close_v2(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 5000);
    sqlite3_exec(db, "pragma journal_mode = wal", NULL, NULL, NULL);
    sqlite3_exec(db, synchronous == 2 ? "pragma synchronous = full" : "pragma synchronous = normal", NULL, NULL, NULL);
    sqlite3_exec(db, "pragma foreign_keys = on", NULL, NULL, NULL);
    return db;
}

void raw_close(void *db) { sqlite3_close_v2((sqlite3 *)db); }

static void read_item(sqlite3_stmt *s, raw_item *item) {
    item->id = sqlite3_column_int64(s, 0);
    const unsigned char *name = sqlite3_column_text(s, 1);
    int len = sqlite3_column_bytes(s, 1);
    if (len > 31) len = 31;
    memcpy(item->name, name, (size_t)len);
    item->name[len] = 0;
    item->qty = sqlite3_column_int64(s, 2);
    item->price = sqlite3_column_double(s, 3);
}

int64_t raw_point_reads(void *handle, const int64_t *ids, int count) {
    sqlite3 *db = handle;
    sqlite3_stmt *s = NULL;
    sqlite3_prepare_v3(db, "select id, name, qty, price from items where id = ?", -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
    int64_t sum = 0;
    raw_item item;
    for (int i = 0; i < count; i++) {
        sqlite3_bind_int64(s, 1, ids[i]);
        if (sqlite3_step(s) == SQLITE_ROW) {
            read_item(s, &item);
            sum += item.qty + item.name[0];
        }
        sqlite3_reset(s);
    }
    sqlite3_finalize(s);
    return sum;
}

int64_t raw_range_reads(void *handle, int64_t first, int rows, int repeat, raw_item *out) {
    sqlite3 *db = handle;
    sqlite3_stmt *s = NULL;
    sqlite3_prepare_v3(db, "select id, name, qty, price from items where id >= ? and id < ? order by id", -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
    int64_t sum = 0;
    for (int r = 0; r < repeat; r++) {
        sqlite3_bind_int64(s, 1, first);
        sqlite3_bind_int64(s, 2, first + rows);
        int n = 0;
        while (sqlite3_step(s) == SQLITE_ROW && n < rows) {
            read_item(s, &out[n]);
            n++;
        }
        sqlite3_reset(s);
        sum += n + out[0].qty;
    }
    sqlite3_finalize(s);
    return sum;
}

int raw_inserts(void *handle, int count) {
    sqlite3 *db = handle;
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v3(db, "insert into log (a, b) values (?, ?)", -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK) return 1;
    for (int i = 0; i < count; i++) {
        sqlite3_bind_int64(s, 1, i);
        sqlite3_bind_text(s, 2, "some text payload", -1, SQLITE_STATIC);
        if (sqlite3_step(s) != SQLITE_DONE) { sqlite3_finalize(s); return 1; }
        sqlite3_reset(s);
    }
    sqlite3_finalize(s);
    return 0;
}

static int run(sqlite3_stmt *s) {
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : rc;
}

int raw_transfers(void *handle, const int64_t *from, const int64_t *to, int count, int per_tx) {
    sqlite3 *db = handle;
    sqlite3_stmt *begin, *commit, *sp, *release, *read, *sub, *add;
    sqlite3_prepare_v3(db, "begin immediate", -1, SQLITE_PREPARE_PERSISTENT, &begin, NULL);
    sqlite3_prepare_v3(db, "commit", -1, SQLITE_PREPARE_PERSISTENT, &commit, NULL);
    sqlite3_prepare_v3(db, "savepoint t", -1, SQLITE_PREPARE_PERSISTENT, &sp, NULL);
    sqlite3_prepare_v3(db, "release t", -1, SQLITE_PREPARE_PERSISTENT, &release, NULL);
    sqlite3_prepare_v3(db, "select balance from accounts where id = ?", -1, SQLITE_PREPARE_PERSISTENT, &read, NULL);
    sqlite3_prepare_v3(db, "update accounts set balance = balance - ? where id = ?", -1, SQLITE_PREPARE_PERSISTENT, &sub, NULL);
    sqlite3_prepare_v3(db, "update accounts set balance = balance + ? where id = ?", -1, SQLITE_PREPARE_PERSISTENT, &add, NULL);
    int rc = 0;
    for (int i = 0; i < count && rc == 0; i++) {
        if (i % per_tx == 0) rc |= run(begin);
        if (per_tx > 1) rc |= run(sp);
        sqlite3_bind_int64(read, 1, from[i]);
        int64_t balance = 0;
        if (sqlite3_step(read) == SQLITE_ROW) balance = sqlite3_column_int64(read, 0);
        sqlite3_reset(read);
        int64_t amount = balance > 0 ? 1 : 0;
        sqlite3_bind_int64(sub, 1, amount); sqlite3_bind_int64(sub, 2, from[i]); rc |= run(sub);
        sqlite3_bind_int64(add, 1, amount); sqlite3_bind_int64(add, 2, to[i]); rc |= run(add);
        if (per_tx > 1) rc |= run(release);
        if (i % per_tx == per_tx - 1 || i == count - 1) rc |= run(commit);
    }
    sqlite3_finalize(begin); sqlite3_finalize(commit); sqlite3_finalize(sp); sqlite3_finalize(release);
    sqlite3_finalize(read); sqlite3_finalize(sub); sqlite3_finalize(add);
    return rc;
}

const char *raw_sqlite_version(void) { return sqlite3_libversion(); }

double raw_fsync_seconds(const char *path, int count) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < count; i++) {
        fputc('x', f);
        fflush(f);
        fsync(fileno(f));
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    fclose(f);
    return ((double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9) / count;
}

int raw_fill_accounts(void *handle, int64_t count) {
    sqlite3 *db = handle;
    if (sqlite3_exec(db, "create table accounts (id integer primary key, balance integer not null); begin", NULL, NULL, NULL) != SQLITE_OK) return 1;
    sqlite3_stmt *s = NULL;
    sqlite3_prepare_v3(db, "insert into accounts (id, balance) values (?, 1000000)", -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
    for (int64_t i = 1; i <= count; i++) {
        sqlite3_bind_int64(s, 1, i);
        if (sqlite3_step(s) != SQLITE_DONE) return 1;
        sqlite3_reset(s);
    }
    sqlite3_finalize(s);
    return sqlite3_exec(db, "commit", NULL, NULL, NULL) != SQLITE_OK;
}
