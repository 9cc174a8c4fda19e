package actors_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The map in doc.go names only files and declarations that exist (issue
// 20): every "file.go (Name, Name)" reference is checked against the
// file's top-level functions, methods and types.
func TestDocMap(t *testing.T) {
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(src)
	start := strings.Index(doc, "// # Map")
	if start < 0 {
		t.Fatal("doc.go has no # Map section")
	}
	ref := regexp.MustCompile(`([\w./]+\.go)(?:\s*//\s*|\s+)?(?:\(([^)]*)\))?`)
	refs := ref.FindAllStringSubmatch(strings.ReplaceAll(doc[start:], "\n//", ""), -1)
	if len(refs) < 30 {
		t.Fatalf("the map names %d files, fewer than expected: is the pattern still right?", len(refs))
	}
	decls := map[string]map[string]bool{}
	for _, r := range refs {
		path := filepath.Clean(r[1])
		names, ok := decls[path]
		if !ok {
			names, err = declared(path)
			if err != nil {
				t.Errorf("the map names %s: %v", r[1], err)
				continue
			}
			decls[path] = names
		}
		if r[2] == "" {
			continue
		}
		for _, name := range strings.Split(r[2], ",") {
			if name = strings.TrimSpace(name); name != "" && !names[name] {
				t.Errorf("the map names %s in %s, which does not declare it", name, r[1])
			}
		}
	}
}

// declared lists the top-level functions, methods and types of a Go file.
func declared(path string) (map[string]bool, error) {
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			names[d.Name.Name] = true
		case *ast.GenDecl:
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.TypeSpec:
					names[s.Name.Name] = true
				case *ast.ValueSpec:
					for _, n := range s.Names {
						names[n.Name] = true
					}
				}
			}
		}
	}
	return names, nil
}
