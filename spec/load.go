package spec

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// DefaultPath is where a repo keeps its cluster specs, relative to its root.
const DefaultPath = "clusters"

// Load parses every cluster spec under paths. A path may be a file, parsed
// whatever its name, or a directory, walked recursively for *.yaml and
// *.yml files; directories whose names start with "." (.git) are skipped,
// and symbolic links to directories are not followed. Every YAML document
// found must be a RedisCluster.
//
// Load returns the valid clusters and every error, sorted; one bad file or
// document never hides the good ones. A cluster declared more than once
// (same namespace/name, in one file or several) is left out everywhere,
// with an error at each later declaration naming the first. A file that
// cannot be read is an Error whose Err is the *fs.PathError, so a caller
// can tell "cannot read" from "invalid" with errors.As.
func Load(paths ...string) ([]*RedisCluster, ErrorList) {
	var (
		docs []document
		errs ErrorList
		seen = map[string]bool{}
	)
	parse := func(file string) {
		if seen[filepath.Clean(file)] {
			return
		}
		seen[filepath.Clean(file)] = true
		data, err := os.ReadFile(file)
		if err != nil {
			errs = append(errs, readError(file, err))
			return
		}
		ds, es := parseFile(file, data)
		docs = append(docs, ds...)
		errs = append(errs, es...)
	}
	for _, root := range paths {
		info, err := os.Stat(root)
		if err != nil {
			errs = append(errs, readError(root, err))
			continue
		}
		if !info.IsDir() {
			parse(root)
			continue
		}
		err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			switch {
			case err != nil:
				errs = append(errs, readError(path, err))
				return nil // WalkDir skips what it could not read
			case d.IsDir() && path != root && strings.HasPrefix(d.Name(), "."):
				return filepath.SkipDir
			case d.IsDir() || !IsSpecFile(path):
				return nil
			case d.Type()&fs.ModeSymlink != 0:
				if info, err := os.Stat(path); err != nil || info.IsDir() {
					return nil // a broken link, or a link to a directory
				}
			}
			parse(path)
			return nil
		})
		if err != nil {
			errs = append(errs, readError(root, err))
		}
	}
	clusters, dups := keepValid(docs)
	errs = append(errs, dups...)
	errs.Sort()
	return clusters, errs
}

// IsSpecFile reports whether Load reads the file at path when it walks a
// directory: its name ends in .yaml or .yml.
func IsSpecFile(path string) bool {
	ext := strings.ToLower(filepath.Ext(path))
	return ext == ".yaml" || ext == ".yml"
}

func readError(path string, err error) Error {
	return Error{File: path, Message: "cannot read: " + unwrapPath(err), Err: err}
}

// unwrapPath drops the path an *fs.PathError repeats, since Error.File
// already names it.
func unwrapPath(err error) string {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Err.Error()
	}
	return err.Error()
}

// LoadFiles is Load over files already read (a Git tree, for instance),
// keyed by the path each error names. Every file is parsed, whatever its
// name; duplicates across files are handled as Load does.
func LoadFiles(files map[string][]byte) ([]*RedisCluster, ErrorList) {
	var (
		docs []document
		errs ErrorList
	)
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		ds, es := parseFile(name, files[name])
		docs = append(docs, ds...)
		errs = append(errs, es...)
	}
	clusters, dups := keepValid(docs)
	errs = append(errs, dups...)
	errs.Sort()
	return clusters, errs
}
