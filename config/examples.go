package config

import _ "embed"

// The example files ship inside the binary so that `surfaces config
// example` (or a README generator) can print them without the source tree.

//go:embed surfaces.example.yaml
var exampleConfig []byte

//go:embed matrix-agents.example.yaml
var exampleRegistry []byte

// ExampleConfig returns config/surfaces.example.yaml: every key, commented,
// with placeholders that Validate rejects until they are replaced.
func ExampleConfig() []byte { return append([]byte(nil), exampleConfig...) }

// ExampleRegistry returns config/matrix-agents.example.yaml, the agent
// registry in the seed's format (parsed by agents/).
func ExampleRegistry() []byte { return append([]byte(nil), exampleRegistry...) }
