package kubelet

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Image is what the sandbox runs for a container image: the host's programs,
// with the entrypoint, default command and working dir the real image has.
type Image struct {
	// Entrypoint and Cmd mirror the image's ENTRYPOINT and CMD: a container's
	// command replaces Entrypoint, its args replace Cmd.
	Entrypoint []string
	Cmd        []string
	WorkingDir string
	// Fix adjusts the final argv as the image's entrypoint script would
	// (redis's docker-entrypoint.sh prepends redis-server to bare flags).
	Fix func(argv []string) []string
	// Program, if set, is a host file (absolute path) that the image
	// carries: it is bind-mounted read-only at ProgramDir/<base name> in
	// the container, which is the image's Entrypoint and is first on its
	// PATH. Set by LocalProgram.
	Program string
	// AnyOwner makes a key without "/" match every repository whose last
	// path element it is: "kubectl" matches bitnami/kubectl and
	// registry.k8s.io/kubectl.
	AnyOwner bool
}

// ProgramDir is where a mapped local program appears inside its container;
// it lies in the container's own tmpfs root, never in a host directory.
const ProgramDir = "/sandbox/bin"

// LocalProgram is an image whose entrypoint is the host program at path
// (made absolute; it must be an executable regular file). Like a one-binary
// image (FROM scratch, distroless), it has no CMD: the container's command
// replaces the entrypoint, its args follow it.
func LocalProgram(program string) (Image, error) {
	abs, err := filepath.Abs(program)
	if err != nil {
		return Image{}, fmt.Errorf("program %s: %w", program, err)
	}
	// The real file: a symlink would be followed by the bind mount anyway,
	// and the status should say what runs.
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return Image{}, fmt.Errorf("program %s: %w", program, err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return Image{}, fmt.Errorf("program %s: not an executable file", program)
	}
	return Image{Program: abs, Entrypoint: []string{path.Join(ProgramDir, filepath.Base(program))}}, nil
}

// containerProgram is where Program is mounted in the container.
func (img Image) containerProgram() string {
	if img.Program == "" || len(img.Entrypoint) == 0 {
		return ""
	}
	return img.Entrypoint[0]
}

// programPath is the executable for argv0 in a container of this image:
// the image's own program when argv0 names it, bare (as found on the
// image's PATH) or by any absolute path ending in its name (the path the
// real image keeps it at, e.g. /usr/local/bin/redis-gitops); argv0 itself
// otherwise.
func (img Image) programPath(argv0 string) string {
	inside := img.containerProgram()
	if inside == "" {
		return argv0
	}
	base := path.Base(inside)
	if argv0 == base || (path.IsAbs(argv0) && path.Base(argv0) == base) {
		return inside
	}
	return argv0
}

// ImageTable maps image repository names (without registry, tag or digest)
// to local programs. Keys may end in "*" to match a prefix; a key whose
// Image has AnyOwner also matches repositories ending in "/"+key.
type ImageTable map[string]Image

// Clone returns a copy of t that can be extended without changing t.
func (t ImageTable) Clone() ImageTable {
	out := make(ImageTable, len(t))
	for k, v := range t {
		out[k] = v
	}
	return out
}

// ParseImageMapping parses NAME=PATH, as `sandbox up --image` takes it, into
// a table key and a LocalProgram image. NAME is an image repository without
// tag or digest; the registry is ignored, as for every sandbox image. A
// NAME without "/" matches that name under any owner
// ("redis-gitops" matches ghcr.io/redis-gitops/redis-gitops:dev), one with
// "/" that repository only. Every tag maps.
func ParseImageMapping(s string) (string, Image, error) {
	name, program, ok := strings.Cut(s, "=")
	name, program = strings.TrimSpace(name), strings.TrimSpace(program)
	if !ok || name == "" || program == "" {
		return "", Image{}, fmt.Errorf("image mapping %q: want NAME=PATH", s)
	}
	if strings.Contains(name, "@") || strings.LastIndex(name, ":") > strings.LastIndex(name, "/") {
		return "", Image{}, fmt.Errorf("image mapping %q: give the repository without tag or digest (every tag maps)", s)
	}
	key := repository(name)
	if key == "" || key == "." || strings.ContainsAny(key, " *") {
		return "", Image{}, fmt.Errorf("image mapping %q: invalid image name %q", s, name)
	}
	img, err := LocalProgram(program)
	if err != nil {
		return "", Image{}, fmt.Errorf("image mapping %q: %w", s, err)
	}
	img.AnyOwner = !strings.Contains(key, "/")
	return key, img, nil
}

// ParseImageList parses a comma-separated list of NAME=PATH, the form of
// the SANDBOX_IMAGES environment variable; empty items are skipped.
func ParseImageList(s string) (map[string]Image, error) {
	out := map[string]Image{}
	var errs []error
	for _, item := range strings.Split(s, ",") {
		if strings.TrimSpace(item) == "" {
			continue
		}
		k, img, err := ParseImageMapping(item)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out[k] = img
	}
	return out, errors.Join(errs...)
}

// ImageEntry is one row of an image table as `sandbox status` shows it.
type ImageEntry struct {
	// Name is the table key; "*/" before it means any owner.
	Name string `json:"name"`
	// Runs is the host program: an absolute path for a mapped local
	// program, else the command looked up on the host's PATH.
	Runs  string `json:"runs"`
	Local bool   `json:"local,omitempty"`
}

// Entries lists the table sorted by name.
func (t ImageTable) Entries() []ImageEntry {
	out := make([]ImageEntry, 0, len(t))
	for k, img := range t {
		e := ImageEntry{Name: k, Local: img.Program != ""}
		if img.AnyOwner {
			e.Name = "*/" + k
		}
		switch {
		case img.Program != "":
			e.Runs = img.Program
		case len(img.Entrypoint) > 0:
			e.Runs = img.Entrypoint[0]
		case len(img.Cmd) > 0:
			e.Runs = img.Cmd[0]
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// DefaultImages is the sandbox's image table: Redis and Valkey run the
// host's redis-server, redis_exporter runs Debian's
// prometheus-redis-exporter (the same program, 1.45, whose image's
// entrypoint is /redis_exporter with no CMD); a few base images run the
// host's shell. One known
// difference: the official redis image builds redis-server with protected
// mode off, Debian's has it on, so manifests that rely on the image's
// default must say `protected-mode no` (the blog's redis.conf does).
var DefaultImages = ImageTable{
	"redis":                    {Cmd: []string{"redis-server"}, WorkingDir: "/data", Fix: redisEntrypoint},
	"valkey":                   {Cmd: []string{"redis-server"}, WorkingDir: "/data", Fix: redisEntrypoint},
	"oliver006/redis_exporter": {Entrypoint: []string{"prometheus-redis-exporter"}},
	"busybox":                  {Cmd: []string{"sh"}},
	"debian":                   {Cmd: []string{"bash"}},
	"alpine":                   {Cmd: []string{"sh"}},
}

// redisEntrypoint is docker-entrypoint.sh of the official redis image: a
// first argument that is a flag or a .conf file means "redis-server ...".
func redisEntrypoint(argv []string) []string {
	if len(argv) > 0 && (strings.HasPrefix(argv[0], "-") || strings.HasSuffix(argv[0], ".conf")) {
		return append([]string{"redis-server"}, argv...)
	}
	return argv
}

// ErrImageNotMapped is returned for an image the sandbox cannot run; the
// kubelet reports it as ErrImagePull, as a real one would for a missing image.
type ErrImageNotMapped struct {
	Image string
	Known []string
}

func (e *ErrImageNotMapped) Error() string {
	return fmt.Sprintf("image %q has no local program in the sandbox's image table (known: %s; map one with `sandbox up --image NAME=PATH` or SANDBOX_IMAGES)", e.Image, strings.Join(e.Known, ", "))
}

// repository strips registry, tag and digest: "docker.io/library/redis:7" -> "redis".
func repository(image string) string {
	if i := strings.Index(image, "@"); i >= 0 {
		image = image[:i]
	}
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		image = image[:i]
	}
	parts := strings.Split(image, "/")
	if len(parts) > 1 && (strings.ContainsAny(parts[0], ".:") || parts[0] == "localhost") {
		parts = parts[1:]
	}
	if len(parts) > 1 && parts[0] == "library" {
		parts = parts[1:]
	}
	return path.Join(parts...)
}

// Resolve finds the image for a container image reference.
func (t ImageTable) Resolve(image string) (Image, error) {
	repo := repository(image)
	if img, ok := t[repo]; ok {
		return img, nil
	}
	if img, ok := t[path.Base(repo)]; ok && img.AnyOwner {
		return img, nil
	}
	for k, img := range t {
		if strings.HasSuffix(k, "*") && strings.HasPrefix(repo, strings.TrimSuffix(k, "*")) {
			return img, nil
		}
	}
	known := make([]string, 0, len(t))
	for _, e := range t.Entries() {
		known = append(known, e.Name)
	}
	return Image{}, &ErrImageNotMapped{Image: image, Known: known}
}

// Argv is the process's argument vector for a container, following the
// Kubernetes rules for command/args against the image's ENTRYPOINT/CMD.
func (img Image) Argv(command, args []string) []string {
	var argv []string
	switch {
	case len(command) > 0:
		argv = append(append(argv, command...), args...)
	case len(args) > 0:
		argv = append(append(argv, img.Entrypoint...), args...)
	default:
		argv = append(append(argv, img.Entrypoint...), img.Cmd...)
	}
	if img.Fix != nil && len(command) == 0 {
		argv = img.Fix(argv)
	}
	return argv
}

// MapProgram adds NAME=PATH to t as ParseImageMapping reads it.
func (t ImageTable) MapProgram(name, program string) error {
	k, img, err := ParseImageMapping(name + "=" + program)
	if err != nil {
		return err
	}
	t[k] = img
	return nil
}
