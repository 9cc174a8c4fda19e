// Package deps pins the design card's modules in go.mod while the packages
// that use them are being written, so that concurrent work never races on
// go.mod. It is deleted once every module is imported for real.
package deps

import (
	_ "github.com/asynkron/protoactor-go/actor"
	_ "github.com/coder/websocket"
	_ "github.com/dgraph-io/badger/v4"
	_ "github.com/knadh/koanf/parsers/yaml"
	_ "github.com/knadh/koanf/providers/env/v2"
	_ "github.com/knadh/koanf/providers/file"
	_ "github.com/knadh/koanf/v2"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/rs/zerolog"
	_ "go.yaml.in/yaml/v3"
	_ "maunium.net/go/mautrix"
	_ "maunium.net/go/mautrix/format"
)
