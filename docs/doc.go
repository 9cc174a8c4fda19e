// Package docs holds the project's documents: the agent protocol
// (agent-protocol.md) and the product's requirements (requirements.md),
// which the code and the README cite. Its test checks that every document
// and requirement id cited anywhere in the repository exists here.
package docs
