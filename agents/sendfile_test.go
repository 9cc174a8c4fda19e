package agents

import (
	"errors"
	"testing"
)

func TestNormalizeSendFilePath(t *testing.T) {
	for _, tc := range []struct{ name, in, ws, want string }{
		{"relative", "output/report.pdf", "/agents/7", "output/report.pdf"},
		{"relative with dot", "./output/report.pdf", "/agents/7", "output/report.pdf"},
		{"relative inner dotdot", "output/x/../report.pdf", "/agents/7", "output/report.pdf"},
		{"agent absolute", "/workspace/output/report.pdf", "/agents/7", "output/report.pdf"},
		{"bot absolute", "/agents/7/output/report.pdf", "/agents/7", "output/report.pdf"},
		{"bot absolute, workspace with slash", "/agents/7/r.txt", "/agents/7/", "r.txt"},
		{"top-level file", "result.txt", "/agents/7", "result.txt"},
		{"doubled slashes", "/workspace//output//a.txt", "/agents/7", "output/a.txt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NormalizeSendFilePath(tc.in, tc.ws)
			if err != nil {
				t.Fatalf("NormalizeSendFilePath(%q, %q): %v", tc.in, tc.ws, err)
			}
			if got != tc.want {
				t.Fatalf("NormalizeSendFilePath(%q, %q) = %q, want %q", tc.in, tc.ws, got, tc.want)
			}
		})
	}
}

func TestNormalizeSendFilePathRefused(t *testing.T) {
	for _, tc := range []struct{ name, in, ws string }{
		{"empty", "", "/agents/7"},
		{"blank", "  ", "/agents/7"},
		{"dotdot", "../secret", "/agents/7"},
		{"deep dotdot", "output/../../secret", "/agents/7"},
		{"workspace escape", "/workspace/../etc/passwd", "/agents/7"},
		{"other agent", "/agents/8/output/x", "/agents/7"},
		{"bot-side escape", "/agents/7/../8/x", "/agents/7"},
		{"prefix trick", "/agents/70/x", "/agents/7"},
		{"absolute elsewhere", "/etc/passwd", "/agents/7"},
		{"workspace itself", "/workspace", "/agents/7"},
		{"workspace root dot", ".", "/agents/7"},
		{"NUL byte", "output/a\x00b", "/agents/7"},
		{"no workspace path", "/agents/7/x", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NormalizeSendFilePath(tc.in, tc.ws)
			if !errors.Is(err, ErrUnsafePath) {
				t.Fatalf("NormalizeSendFilePath(%q, %q) = %q, %v; want ErrUnsafePath", tc.in, tc.ws, got, err)
			}
		})
	}
}
