#ifndef RAWPQ_H
#define RAWPQ_H
#include <stdint.h>

typedef struct rawpq rawpq;

/// Connects, or returns NULL and prints libpq's reason.
rawpq *rawpq_open(const char *url);
void rawpq_close(rawpq *db);
/// Runs SQL with the simple protocol; 0 on success.
int rawpq_exec(rawpq *db, const char *sql);
/// n point reads of `select id, name, qty, price from items where id = $1` through one
/// prepared statement, each row parsed into a C struct; returns the sum of qty, or -1.
int64_t rawpq_point_reads(rawpq *db, const int64_t *ids, int n);

#endif
