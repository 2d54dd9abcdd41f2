// The libpq baseline: what a careful C program does for a point read.
#include "rawpq.h"
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rawpq { PGconn *conn; int prepared; };

typedef struct { int64_t id; char name[64]; int64_t qty; double price; } item;

rawpq *rawpq_open(const char *url) {
    PGconn *conn = PQconnectdb(url);
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "rawpq: %s", PQerrorMessage(conn));
        PQfinish(conn);
        return NULL;
    }
    rawpq *db = calloc(1, sizeof(rawpq));
    db->conn = conn;
    return db;
}

void rawpq_close(rawpq *db) { PQfinish(db->conn); free(db); }

int rawpq_exec(rawpq *db, const char *sql) {
    PGresult *r = PQexec(db->conn, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok) fprintf(stderr, "rawpq: %s", PQresultErrorMessage(r));
    PQclear(r);
    return ok ? 0 : 1;
}

int64_t rawpq_point_reads(rawpq *db, const int64_t *ids, int n) {
    if (!db->prepared) {
        PGresult *p = PQprepare(db->conn, "point", "select id, name, qty, price from items where id = $1", 0, NULL);
        int ok = PQresultStatus(p) == PGRES_COMMAND_OK;
        PQclear(p);
        if (!ok) return -1;
        db->prepared = 1;
    }
    int64_t sum = 0;
    char param[24];
    for (int i = 0; i < n; i++) {
        snprintf(param, sizeof param, "%lld", (long long)ids[i]);
        const char *values[1] = { param };
        PGresult *r = PQexecPrepared(db->conn, "point", 1, values, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) { PQclear(r); return -1; }
        item it;
        it.id = atoll(PQgetvalue(r, 0, 0));
        strncpy(it.name, PQgetvalue(r, 0, 1), sizeof it.name - 1);
        it.name[sizeof it.name - 1] = 0;
        it.qty = atoll(PQgetvalue(r, 0, 2));
        it.price = strtod(PQgetvalue(r, 0, 3), NULL);
        sum += it.qty + (it.id & 0) + (it.price < 0);
        PQclear(r);
    }
    return sum;
}
