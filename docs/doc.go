// Package docs holds the project's documents: the agent protocol
// (agent-protocol.md), the product's requirements (requirements.md),
// which the code and the README cite, and where cluster mode stands
// (cluster.md). Its test checks that every document
// and requirement id cited anywhere in the repository exists here.
package docs
