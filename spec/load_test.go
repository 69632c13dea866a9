package spec

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeTree writes files (path → content) under a new temporary directory
// and returns it.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		path := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func keys(clusters []*RedisCluster) []string {
	var ks []string
	for _, c := range clusters {
		ks = append(ks, c.Key())
	}
	slices.Sort(ks)
	return ks
}

func TestLoadWalksYAMLFilesRecursively(t *testing.T) {
	root := writeTree(t, map[string]string{
		"clusters/a.yaml":            doc("a", "  masters: 3\n"),
		"clusters/team/b.yml":        doc("b", "  masters: 3\n"),
		"clusters/team/deep/c.YAML":  doc("c", "  masters: 3\n"),
		"clusters/.hidden/h.yaml":    doc("h", "  masters: 3\n"),
		"clusters/README.md":         "# not a spec: " + doc("r", "  masters: 1\n"),
		"clusters/notes.txt":         "masters: one",
		"clusters/team/invalid.yaml": doc("bad", "  masters: 1\n"),
		"clusters/team/multi.yaml":   doc("d", "  masters: 3\n") + "---\n" + doc("e", "  masterz: 3\n"),
		"elsewhere/outside.yaml":     doc("x", "  masters: 3\n"),
	})
	clusters, errs := Load(filepath.Join(root, "clusters"))

	if got, want := keys(clusters), []string{"default/a", "default/b", "default/c", "default/d"}; !slices.Equal(got, want) {
		t.Errorf("clusters = %v, want %v", got, want)
	}
	if got, want := len(errs), 2; got != want {
		t.Fatalf("got %d errors, want %d:\n%v", got, want, errs)
	}
	for i, want := range []string{
		filepath.Join(root, "clusters/team/invalid.yaml") + ":7:12: spec.masters: must be at least 3",
		filepath.Join(root, "clusters/team/multi.yaml") + `:15:3: spec.masterz: unknown field; did you mean "masters"?`,
	} {
		if got := errs[i].Error(); !strings.HasPrefix(got, want) {
			t.Errorf("errs[%d] = %q, want it to start %q", i, got, want)
		}
	}
}

func TestLoadDropsAClusterDeclaredInTwoFiles(t *testing.T) {
	root := writeTree(t, map[string]string{
		"a.yaml": doc("cache", "  masters: 3\n"),
		"b.yaml": "# the same cluster again\n" + doc("cache", "  masters: 6\n"),
		"c.yaml": doc("other", "  masters: 3\n"),
	})
	clusters, errs := Load(root)
	if got, want := keys(clusters), []string{"default/other"}; !slices.Equal(got, want) {
		t.Errorf("clusters = %v, want %v", got, want)
	}
	want := filepath.Join(root, "b.yaml") + ":5:9: metadata.name: cluster default/cache is already declared at " + filepath.Join(root, "a.yaml") + ":4:9"
	if got := errs.Error(); !strings.HasPrefix(got, want) {
		t.Errorf("errors = %q, want one starting %q", got, want)
	}
	if got, want := errs[0].Cluster, "default/cache"; got != want {
		t.Errorf("Cluster = %q, want %q", got, want)
	}
}

func TestLoadTakesFilesAndDirectories(t *testing.T) {
	root := writeTree(t, map[string]string{
		"dir/a.yaml":  doc("a", "  masters: 3\n"),
		"single.spec": doc("s", "  masters: 3\n"),
	})
	dir, file := filepath.Join(root, "dir"), filepath.Join(root, "single.spec")
	// A file named on its own is read whatever its extension; a path given
	// twice is read once.
	clusters, errs := Load(dir, file, filepath.Join(dir, "a.yaml"))
	if errs != nil {
		t.Fatalf("Load: %v", errs)
	}
	if got, want := keys(clusters), []string{"default/a", "default/s"}; !slices.Equal(got, want) {
		t.Errorf("clusters = %v, want %v", got, want)
	}
}

func TestLoadReportsWhatItCannotRead(t *testing.T) {
	root := writeTree(t, map[string]string{"a.yaml": doc("a", "  masters: 3\n")})
	missing := filepath.Join(root, "missing")
	clusters, errs := Load(missing, root)
	if got, want := keys(clusters), []string{"default/a"}; !slices.Equal(got, want) {
		t.Errorf("clusters = %v, want %v (a missing path hides nothing else)", got, want)
	}
	if got, want := errs.Error(), missing+": cannot read: no such file or directory"; got != want {
		t.Errorf("errors = %q, want %q", got, want)
	}
	if !errors.Is(errs, fs.ErrNotExist) {
		t.Errorf("errors.Is(errs, fs.ErrNotExist) = false, want true")
	}
	var pe *fs.PathError
	if !errors.As(errs, &pe) {
		t.Errorf("errors.As(errs, *fs.PathError) = false, want true")
	}
}

func TestLoadSkipsLinksToDirectories(t *testing.T) {
	root := writeTree(t, map[string]string{"specs/a.yaml": doc("a", "  masters: 3\n")})
	// A link back to the root would loop; a link to a file is read.
	if err := os.Symlink(root, filepath.Join(root, "specs", "loop.yaml")); err != nil {
		t.Skip("no symlinks:", err)
	}
	if err := os.Symlink(filepath.Join(root, "specs", "a.yaml"), filepath.Join(root, "b.yaml")); err != nil {
		t.Fatal(err)
	}
	clusters, errs := Load(filepath.Join(root, "specs"))
	if errs != nil || len(clusters) != 1 {
		t.Errorf("Load(specs) = %v, %v; want default/a only", keys(clusters), errs)
	}
	_, errs = Load(root)
	if got, want := errs.Error(), "is already declared"; !strings.Contains(got, want) {
		t.Errorf("Load(root) errors = %q; want the linked file read as a second declaration", got)
	}
}

func TestLoadFilesMatchesLoad(t *testing.T) {
	dir := t.TempDir()
	a := "apiVersion: redis-gitops.dev/v1alpha1\nkind: RedisCluster\nmetadata: {name: a, namespace: x}\nspec: {masters: 3}\n"
	dup := a
	bad := "apiVersion: redis-gitops.dev/v1alpha1\nkind: RedisCluster\nmetadata: {name: b, namespace: x}\nspec: {masters: -1}\n"
	files := map[string][]byte{"one.yaml": []byte(a), "two.yaml": []byte(dup), "three.yaml": []byte(bad)}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c1, e1 := Load(dir)
	c2, e2 := LoadFiles(files)
	if len(c1) != len(c2) || len(e1) != len(e2) {
		t.Fatalf("Load: %d clusters %d errors; LoadFiles: %d clusters %d errors", len(c1), len(e1), len(c2), len(e2))
	}
	for i := range e2 {
		if got, want := e2[i].Error(), strings.ReplaceAll(e1[i].Error(), dir+"/", ""); got != want {
			t.Errorf("error %d: %q, want %q", i, got, want)
		}
	}
}

func TestSameIgnoresWhereASpecWasRead(t *testing.T) {
	doc := "apiVersion: redis-gitops.dev/v1alpha1\nkind: RedisCluster\nmetadata: {name: a, namespace: x}\nspec: {masters: 3}\n"
	a, _ := LoadFiles(map[string][]byte{"one.yaml": []byte(doc)})
	b, _ := LoadFiles(map[string][]byte{"moved/two.yaml": []byte("# a comment\n\n" + doc)})
	c, _ := LoadFiles(map[string][]byte{"one.yaml": []byte(strings.Replace(doc, "masters: 3", "masters: 4", 1))})
	if !a[0].Same(b[0]) {
		t.Error("a spec moved to another file, below a comment, is not the Same")
	}
	if a[0].Same(c[0]) {
		t.Error("masters 3 and 4 are the Same")
	}
}
