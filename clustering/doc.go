// Package clustering makes the members of a cluster on PostgreSQL
// (persistence/pgstore's Join) a protoactor-go cluster (issue 24): Provider
// is the cluster provider that tells each member's actor system who the
// others are and where they listen.
//
// protoactor-go's providers keep membership in Consul, etcd, Kubernetes or
// ZooKeeper; the bot already has PostgreSQL, where a member's liveness is
// its session's advisory lock (pgstore.Member). So the provider advertises
// its actor system in the members table and reads the live members back
// every interval: a member killed with -9 drops out of every other
// member's topology within about one interval after PostgreSQL ends its
// session, without a heartbeat of its own to wait out.
//
// Concurrency: a Provider runs one goroutine, started by StartMember or
// StartClient and stopped by Shutdown; its methods are safe for
// concurrent use.
package clustering
