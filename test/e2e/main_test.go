package e2e

import (
	"os"
	"testing"

	"github.com/surfaces-bot/surfaces/test/harness"
)

// TestMain shares one PostgreSQL server among the tests' homeservers when
// they run on PostgreSQL (harness.HomeserverDBEnv, set by .ci/run).
func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }
