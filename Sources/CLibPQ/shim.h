#ifndef ORION_CLIBPQ_SHIM_H
#define ORION_CLIBPQ_SHIM_H
#include <libpq-fe.h>

// libpq names the fields of an error report with character macros ('C', 'M', …); Swift sees
// these constants instead.
static const int orion_pg_diag_sqlstate = PG_DIAG_SQLSTATE;
static const int orion_pg_diag_message_primary = PG_DIAG_MESSAGE_PRIMARY;
static const int orion_pg_diag_message_detail = PG_DIAG_MESSAGE_DETAIL;
static const int orion_pg_diag_message_hint = PG_DIAG_MESSAGE_HINT;
static const int orion_pg_diag_table_name = PG_DIAG_TABLE_NAME;

#endif
