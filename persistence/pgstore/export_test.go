package pgstore

import "fmt"

// ExclusiveUseSessionsQuery is the query of the process ids of the
// database sessions holding the exclusive-use lock exclusively: a tool's
// (or a bot's outside a cluster) open Store.
func ExclusiveUseSessionsQuery() string {
	return fmt.Sprintf(`SELECT pid FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND objsubid = 1 AND mode = 'ExclusiveLock'
		  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
		  AND classid::bigint = %d AND objid::bigint = %d`, lockExclusiveUse>>32, lockExclusiveUse&0xffff_ffff)
}
