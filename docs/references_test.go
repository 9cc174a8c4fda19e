package docs

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// Every document the code or the README cites exists in the repository, and
// every requirement id cited (PRODUCT R3.9 and the like) is defined in
// requirements.md (issue 20).
func TestDocumentsCitedExist(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	defined := definedIDs(t, filepath.Join(root, "docs", "requirements.md"))
	mdRef := regexp.MustCompile(`(?:^|[^\w/:.-])((?:[\w.-]+/)*[\w-]+\.md)\b`)
	idRef := regexp.MustCompile(`\bR\d+(?:\.\d+)?\b`)
	// A document names source files by their path from the root.
	pathRef := regexp.MustCompile(`\b(?:actors|matrix|agents|workspace|persistence|config|cmd|test|deploy|docs)/[\w/.-]*\.(?:go|sh|yaml|conf|md)\b`)
	files, ids := 0, 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if name == ".git" || name == "testdata" || (strings.HasPrefix(name, ".") && name != ".ci" && path != root) {
				return filepath.SkipDir
			}
			return nil
		}
		if !cites(path, name) {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		files++
		text := string(data)
		for _, m := range mdRef.FindAllStringSubmatch(text, -1) {
			if !documentExists(root, filepath.Dir(path), m[1]) {
				t.Errorf("%s cites %s, which is not in the repository", rel, m[1])
			}
		}
		if filepath.Ext(name) == ".md" {
			for _, m := range pathRef.FindAllString(text, -1) {
				if _, err := os.Stat(filepath.Join(root, m)); err != nil {
					t.Errorf("%s names %s, which is not in the repository", rel, m)
				}
			}
		}
		if rel == filepath.Join("docs", "requirements.md") {
			return nil
		}
		for _, id := range idRef.FindAllString(text, -1) {
			ids++
			if !defined[id] {
				t.Errorf("%s cites requirement %s, which docs/requirements.md does not define", rel, id)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 50 || ids < 50 {
		t.Fatalf("read %d files citing %d requirement ids: fewer than expected, is the walk still right?", files, ids)
	}
}

// cites reports whether a file is one whose text may cite documents: code,
// documentation, configuration and scripts.
func cites(path, name string) bool {
	switch filepath.Ext(name) {
	case ".go", ".md", ".yaml", ".yml", ".sh":
		return true
	}
	return name == "Dockerfile" || filepath.Base(filepath.Dir(path)) == ".ci"
}

// documentExists resolves a cited document as a path from the repository
// root or from the citing file's folder.
func documentExists(root, dir, ref string) bool {
	for _, p := range []string{filepath.Join(root, ref), filepath.Join(dir, ref)} {
		if _, err := os.Stat(p); err == nil {
			return true
		}
	}
	return false
}

// definedIDs reads the requirement ids requirements.md defines: "**R3.9**"
// items and "## R3" group headings.
func definedIDs(t *testing.T, path string) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, m := range regexp.MustCompile(`\*\*(R\d+(?:\.\d+)?)\*\*|(?m)^## (R\d+)\b`).FindAllStringSubmatch(string(data), -1) {
		ids[m[1]+m[2]] = true
	}
	if len(ids) < 50 || !slices.Contains([]bool{ids["R1"], ids["R3.9"]}, true) {
		t.Fatalf("requirements.md defines %d ids: fewer than expected, is the pattern still right?", len(ids))
	}
	return ids
}
