package needs

import (
	"testing"
)

// fakeT records what Command did to its test.
type fakeT struct {
	testing.TB
	skipped, failed bool
}

func (f *fakeT) Helper()               {}
func (f *fakeT) Skipf(string, ...any)  { f.skipped = true }
func (f *fakeT) Fatalf(string, ...any) { f.failed = true }

func TestCommand(t *testing.T) {
	for _, tc := range []struct {
		name            string
		require         string
		program         string
		skipped, failed bool
	}{
		{"present", "", "go", false, false},
		{"missing, go-only command: skipped", "", "surfaces-no-such-program", true, false},
		{"missing under .ci/run: failed", "1", "surfaces-no-such-program", false, true},
		{"present under .ci/run", "1", "go", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(RequireEnv, tc.require)
			f := &fakeT{TB: t}
			paths := Command(f, "a-package", tc.program)
			if f.skipped != tc.skipped || f.failed != tc.failed {
				t.Fatalf("skipped %v, failed %v; want %v, %v", f.skipped, f.failed, tc.skipped, tc.failed)
			}
			if !tc.skipped && !tc.failed && len(paths) != 1 {
				t.Fatalf("paths %q, want one", paths)
			}
		})
	}
}
